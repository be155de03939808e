import Foundation
import RampartModel

/// Lowers a configuration to the stages and rules both the nftables ruleset and the explain function read.
package enum PolicyCompiler {
    package static let allowlistSets = (v4: "allowlist_v4", v6: "allowlist_v6")
    package static let denylistSets = (v4: "denylist_v4", v6: "denylist_v6")

    /// ICMP types the gateway answers or needs, on IPv4 and IPv6 (neighbour discovery keeps IPv6 working at all).
    package static let icmpTypes = ["echo-request", "destination-unreachable", "time-exceeded", "parameter-problem"]
    package static let icmpv6Types = [
        "echo-request", "destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem",
        "nd-router-solicit", "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert",
    ]

    /// The counter a custom rule counts its hits into.
    package static func counterName(rule id: Int) -> String { "rule_\(id)" }

    /// Validates `configuration` and lowers it; list entries already expired at `now` are left out, the others
    /// carry what is left of their lifetime.
    package static func compile(
        _ configuration: FirewallConfiguration, environment: FirewallEnvironment, now: Date,
        allowOverlaps: Bool = false
    ) throws(FirewallValidationError) -> CompiledPolicy {
        let problems = configuration.validate(allowOverlaps: allowOverlaps)
        guard problems.isEmpty else { throw FirewallValidationError(problems) }
        let builder = Builder(configuration: configuration, environment: environment)
        let chains = StagePath.paths(for: configuration.deviceType).flatMap { path in
            Hook.allCases.map { hook in
                CompiledChain(
                    hook: hook, path: path,
                    stages: path.stages.map {
                        CompiledStage(stage: $0, rules: builder.rules($0, hook: hook, path: path))
                    }
                )
            }
        }
        return CompiledPolicy(
            deviceType: configuration.deviceType, environment: environment, chains: chains,
            sets: sets(configuration, now: now), portForwards: builder.portForwards(),
            masquerade: configuration.masquerade ? [.wan] : [])
    }

    private static func sets(_ configuration: FirewallConfiguration, now: Date) -> [CompiledSet] {
        func elements(_ list: [ListEntry], _ family: IPFamily) -> [CompiledSetElement] {
            list.compactMap { entry in
                guard case .success(let spec) = AddressSpec.parse(entry.address), spec.family == family else {
                    return nil
                }
                var timeout: Int?
                if let expires = entry.expires {
                    let left = expires.timeIntervalSince(now)
                    guard left > 0 else { return nil }
                    timeout = max(1, Int(left.rounded(.up)))
                }
                let comment =
                    entry.comment.isEmpty ? entry.source.rawValue : "\(entry.source.rawValue): \(entry.comment)"
                return CompiledSetElement(address: spec, timeoutSeconds: timeout, comment: comment)
            }
        }
        return [
            CompiledSet(name: allowlistSets.v4, family: .ipv4, elements: elements(configuration.allowlist, .ipv4)),
            CompiledSet(name: allowlistSets.v6, family: .ipv6, elements: elements(configuration.allowlist, .ipv6)),
            CompiledSet(name: denylistSets.v4, family: .ipv4, elements: elements(configuration.denylist, .ipv4)),
            CompiledSet(name: denylistSets.v6, family: .ipv6, elements: elements(configuration.denylist, .ipv6)),
        ]
    }

    /// Builds the rules of each stage; a stage without rules on a hook is an empty list.
    private struct Builder {
        var configuration: FirewallConfiguration
        var environment: FirewallEnvironment

        /// The zones a path's traffic comes from.
        func ingress(_ path: StagePath) -> [Ingress] {
            switch path {
            case .router: []
            case .internal: [.zone(.lan)]
            case .external: [.zone(.wan)]
            }
        }

        func rules(_ stage: Stage, hook: Hook, path: StagePath) -> [CompiledRule] {
            switch stage {
            case .diagnosticAllow: diagnostic(hook: hook, path: path)
            case .outgoingAllow: outgoing(hook: hook, path: path)
            case .presetAllow: presetAllow(hook: hook, path: path)
            case .vpnAllow: []
            case .applicationDeny: applicationDeny()
            case .emergencyDeny:
                configuration.emergency
                    ? [CompiledRule(id: "emergency", match: Match(), verdict: .drop, summary: "Emergency mode")] : []
            case .allowlist: listRules(PolicyCompiler.allowlistSets, id: "allowlist", verdict: .accept)
            case .denylist: listRules(PolicyCompiler.denylistSets, id: "denylist", verdict: .drop)
            case .natAllow: hook == .forward ? natAllow() : []
            case .customDeny: customRules(.deny)
            case .customAllow: customRules(.allow)
            case .presetServicesAllow: presetServices(hook: hook, path: path)
            case .established:
                [
                    CompiledRule(
                        id: "preset:established", match: with { $0.states = [.established, .related] },
                        verdict: .accept, summary: "Replies and related traffic of admitted connections")
                ]
            case .finalBlock:
                [CompiledRule(id: "final", match: Match(), verdict: .drop, summary: "Everything not admitted above")]
            }
        }

        func with(_ build: (inout Match) -> Void) -> Match {
            var match = Match()
            build(&match)
            return match
        }

        func diagnostic(hook: Hook, path: StagePath) -> [CompiledRule] {
            guard hook == .input else { return [] }
            var rules: [CompiledRule] = []
            if path != .external {
                rules.append(
                    CompiledRule(
                        id: "preset:loopback", match: with { $0.ingress = [.loopback] }, verdict: .accept,
                        summary: "The gateway's own loopback traffic"))
            }
            for (transport, id) in [(Transport.icmp, "preset:diagnostic-echo"), (.icmpv6, "preset:diagnostic-echo6")] {
                rules.append(
                    CompiledRule(
                        id: id,
                        match: with {
                            $0.ingress = ingress(path)
                            $0.transport = transport
                            $0.icmpTypes = ["echo-reply"]
                        }, verdict: .accept, summary: "Replies to the gateway's self-diagnostic pings"))
            }
            return rules
        }

        func outgoing(hook: Hook, path: StagePath) -> [CompiledRule] {
            switch path {
            case .router: []
            case .external:
                [
                    CompiledRule(
                        id: "preset:outgoing-replies", match: with { $0.states = [.established, .related] },
                        verdict: .accept, summary: "Replies to connections the internal network started")
                ]
            case .internal:
                hook == .forward
                    ? [
                        CompiledRule(
                            id: "preset:internal",
                            match: with {
                                $0.ingress = [.zone(.lan)]
                                $0.egress = .lan
                            }, verdict: .accept, summary: "Traffic between devices of the internal network")
                    ] : []
            }
        }

        func presetAllow(hook: Hook, path: StagePath) -> [CompiledRule] {
            guard hook == .input else { return [] }
            var rules: [CompiledRule] = [
                CompiledRule(
                    id: "preset:icmp",
                    match: with {
                        $0.ingress = ingress(path)
                        $0.transport = .icmp
                        $0.icmpTypes = PolicyCompiler.icmpTypes
                    }, verdict: .accept, summary: "ICMP to the gateway: echo and error messages"),
                CompiledRule(
                    id: "preset:icmpv6",
                    match: with {
                        $0.ingress = ingress(path)
                        $0.transport = .icmpv6
                        $0.icmpTypes = PolicyCompiler.icmpv6Types
                    }, verdict: .accept, summary: "ICMPv6 to the gateway: echo, errors and neighbour discovery"),
            ]
            if path == .external {
                rules.append(
                    CompiledRule(
                        id: "preset:dhcp-client",
                        match: with {
                            $0.ingress = ingress(path)
                            $0.family = .ipv4
                            $0.transport = .udp
                            $0.sourcePorts = [PortRange(67)]
                            $0.destinationPorts = [PortRange(68)]
                        }, verdict: .accept, summary: "DHCP answers for the gateway's WAN address"))
                return rules
            }
            rules += [
                CompiledRule(
                    id: "preset:carp",
                    match: with {
                        $0.ingress = ingress(path)
                        $0.transport = .vrrp
                    }, verdict: .accept, summary: "CARP/VRRP redundancy announcements"),
                CompiledRule(
                    id: "preset:web",
                    match: with {
                        $0.ingress = [.zone(.lan)]
                        $0.transport = .tcp
                        $0.destinationPorts = [PortRange(environment.webPort)]
                    }, verdict: .accept, summary: "Web UI and REST API from the LAN"),
                CompiledRule(
                    id: "preset:management",
                    match: with {
                        $0.ingress = ingress(path)
                        $0.transport = .tcp
                        $0.destinationPorts = [PortRange(environment.managementPort)]
                    }, verdict: .accept, summary: "Central management"),
            ]
            return rules
        }

        func applicationDeny() -> [CompiledRule] {
            ApplicationProtocol.catalogue.filter { configuration.blockedProtocols.contains($0.id) }.flatMap {
                application in
                application.services.map { service in
                    CompiledRule(
                        id: "app:\(application.id)",
                        match: with {
                            $0.transport = service.transport
                            $0.destinationPorts = service.ports
                        }, verdict: .drop, summary: "\(application.name) denied")
                }
            }
        }

        func listRules(
            _ names: (v4: String, v6: String), id: String, verdict: Verdict
        ) -> [CompiledRule] {
            let summary = verdict == .accept ? "Address on the allowlist" : "Address on the denylist"
            return [(names.v4, IPFamily.ipv4), (names.v6, .ipv6)].flatMap { name, family in
                [
                    CompiledRule(
                        id: id, match: with { $0.source = .set(name: name, family: family) }, verdict: verdict,
                        summary: summary),
                    CompiledRule(
                        id: id, match: with { $0.destination = .set(name: name, family: family) },
                        verdict: verdict, summary: summary),
                ]
            }
        }

        func portForwards() -> [CompiledPortForward] {
            configuration.natRules.filter(\.enabled).compactMap { rule in
                guard let transport = rule.protocol.singleTransport,
                    case .success(let ports) = PortRange.parse(rule.wanPort),
                    let target = IPAddress(rule.lanAddress)
                else { return nil }
                let targetPort: UInt16? =
                    rule.lanPort.isEmpty ? nil : (try? PortRange.parse(rule.lanPort).get())?.lower
                return CompiledPortForward(
                    id: "nat:\(rule.id)", ingress: .wan, transport: transport, ports: ports, target: target,
                    targetPort: targetPort)
            }
        }

        func natAllow() -> [CompiledRule] {
            portForwards().map { forward in
                let translated = forward.targetPort.map { PortRange($0) } ?? forward.ports
                return CompiledRule(
                    id: forward.id,
                    match: with {
                        $0.ingress = [.zone(forward.ingress)]
                        $0.destination = .spec(.host(forward.target))
                        $0.transport = forward.transport
                        $0.destinationPorts = [translated]
                        $0.translated = true
                    }, verdict: .accept,
                    summary: "Port forward \(forward.transport.rawValue.uppercased()) \(forward.ports) → "
                        + "\(forward.target):\(translated)")
            }
        }

        func customRules(_ action: RuleAction) -> [CompiledRule] {
            configuration.rules.filter { $0.enabled && $0.action == action }.flatMap { rule in
                var ignored: [FieldError] = []
                let parsed = rule.parse(field: "", errors: &ignored)
                var base = Match()
                base.ingress = [.zone(rule.zone)]
                base.source = parsed.source.map(AddressSelector.spec)
                base.destination = parsed.destination.map(AddressSelector.spec)
                base.sourcePorts = parsed.sourcePorts.map { [$0] } ?? []
                base.destinationPorts = parsed.destinationPorts.map { [$0] } ?? []
                // Stateful: a rule decides a connection by its first packet; its replies pass as established.
                base.states = [.new]
                let family = parsed.source?.family ?? parsed.destination?.family
                var transports: [Transport?]
                switch rule.protocol {
                case .any: transports = [nil]
                case .tcp: transports = [.tcp]
                case .udp: transports = [.udp]
                case .icmp:
                    transports = family.map { [$0 == .ipv4 ? .icmp : .icmpv6] } ?? [.icmp, .icmpv6]
                }
                let summary =
                    rule.comment.isEmpty
                    ? "Custom \(action.rawValue) rule \(rule.id)"
                    : "Custom \(action.rawValue) rule \(rule.id): \(rule.comment)"
                return transports.map { transport in
                    var match = base
                    match.transport = transport
                    return CompiledRule(
                        id: "rule:\(rule.id)", match: match, verdict: action == .allow ? .accept : .drop,
                        counter: PolicyCompiler.counterName(rule: rule.id), summary: summary)
                }
            }
        }

        func presetServices(hook: Hook, path: StagePath) -> [CompiledRule] {
            var rules: [CompiledRule] = []
            if hook == .input {
                if path == .router, !environment.mqttPorts.isEmpty {
                    rules.append(
                        CompiledRule(
                            id: "preset:mqtt",
                            match: with {
                                $0.transport = .tcp
                                $0.destinationPorts = environment.mqttPorts.sorted().map { PortRange($0) }
                            }, verdict: .accept, summary: "MQTT listeners of the active broker profile"))
                }
                if environment.dhcpServer {
                    rules.append(
                        CompiledRule(
                            id: "preset:dhcp-server",
                            match: with {
                                $0.ingress = [.zone(.lan)]
                                $0.family = .ipv4
                                $0.transport = .udp
                                $0.destinationPorts = [PortRange(67)]
                            }, verdict: .accept, summary: "DHCP requests from the LAN"))
                }
                if path == .router {
                    rules.append(
                        CompiledRule(
                            id: "preset:dhcp-client",
                            match: with {
                                $0.ingress = [.zone(.wan)]
                                $0.family = .ipv4
                                $0.transport = .udp
                                $0.sourcePorts = [PortRange(67)]
                                $0.destinationPorts = [PortRange(68)]
                            }, verdict: .accept, summary: "DHCP answers for the gateway's WAN address"))
                }
                if let syslog = environment.syslog {
                    rules.append(
                        CompiledRule(
                            id: "preset:syslog",
                            match: with {
                                $0.source = IPAddress(syslog.address).map { .spec(.host($0)) }
                                $0.transport = syslog.transport
                                $0.sourcePorts = [PortRange(syslog.port)]
                            }, verdict: .accept, summary: "Answers of the syslog receiver"))
                }
            }
            if path == .router {
                for transport in [Transport.udp, .tcp] {
                    rules.append(
                        CompiledRule(
                            id: "preset:dns",
                            match: with {
                                $0.ingress = hook == .forward ? [.zone(.lan)] : []
                                $0.transport = transport
                                if hook == .forward {
                                    $0.destinationPorts = [PortRange(53)]
                                } else {
                                    $0.sourcePorts = [PortRange(53)]
                                }
                            }, verdict: .accept,
                            summary: hook == .forward ? "DNS queries from the LAN" : "DNS answers to the gateway"))
                }
            }
            return rules
        }
    }
}
