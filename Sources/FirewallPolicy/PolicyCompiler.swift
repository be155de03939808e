import Foundation
import RampartModel

/// Lowers a configuration to the stages and rules both the nftables ruleset and the explain function read.
package enum PolicyCompiler {
    /// The lists a configuration holds, each kept in four kernel sets.
    package enum List: String, Sendable, CaseIterable {
        case allowlist
        case denylist
    }

    /// The set an entry of `list` lives in: single addresses in a hash set, networks and ranges in an interval set,
    /// one of each per family. Both are one lookup whatever their size; keeping single addresses out of the interval
    /// set keeps an addition (what the IPS does) a single kernel operation — nftables reads an interval set's
    /// elements back before every addition to it, which takes seconds at 100,000 elements.
    package static func setName(_ list: List, family: IPFamily, interval: Bool) -> String {
        "\(list.rawValue)_\(family == .ipv4 ? "v4" : "v6")\(interval ? "_net" : "")"
    }

    package static func setName(_ list: List, for spec: AddressSpec) -> String {
        if case .host = spec { return setName(list, family: spec.family, interval: false) }
        return setName(list, family: spec.family, interval: true)
    }

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
        var sets: [String: CompiledSet] = [:]
        var order: [String] = []
        for list in List.allCases {
            for family in IPFamily.allCases {
                for interval in [false, true] {
                    let name = setName(list, family: family, interval: interval)
                    sets[name] = CompiledSet(name: name, family: family, interval: interval, elements: [])
                    order.append(name)
                }
            }
            for entry in list == .allowlist ? configuration.allowlist : configuration.denylist {
                guard case .success(let spec) = AddressSpec.parse(entry.address) else { continue }
                var timeout: Int?
                if let expires = entry.expires {
                    let left = expires.timeIntervalSince(now)
                    guard left > 0 else { continue }
                    timeout = max(1, Int(left.rounded(.up)))
                }
                let comment =
                    entry.comment.isEmpty ? entry.source.rawValue : "\(entry.source.rawValue): \(entry.comment)"
                sets[setName(list, for: spec)]?.elements.append(
                    CompiledSetElement(address: spec, timeoutSeconds: timeout, comment: comment))
            }
        }
        return order.compactMap { sets[$0] }
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
            case .allowlist: listRules(.allowlist, verdict: .accept)
            case .denylist: listRules(.denylist, verdict: .drop)
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

        func listRules(_ list: List, verdict: Verdict) -> [CompiledRule] {
            let summary = verdict == .accept ? "Address on the allowlist" : "Address on the denylist"
            return IPFamily.allCases.flatMap { family in
                [false, true].flatMap { interval in
                    let set = AddressSelector.set(
                        name: PolicyCompiler.setName(list, family: family, interval: interval), family: family)
                    return [
                        CompiledRule(
                            id: list.rawValue, match: with { $0.source = set }, verdict: verdict, summary: summary),
                        CompiledRule(
                            id: list.rawValue, match: with { $0.destination = set }, verdict: verdict, summary: summary),
                    ]
                }
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
            }
            if hook == .forward {
                if let syslog = environment.syslog {
                    rules.append(
                        CompiledRule(
                            id: "preset:syslog",
                            match: with {
                                $0.ingress = [.zone(.lan)]
                                $0.destination = IPAddress(syslog.address).map { .spec(.host($0)) }
                                $0.transport = syslog.transport
                                $0.destinationPorts = [PortRange(syslog.port)]
                            }, verdict: .accept, summary: "Syslog from the LAN to the gateway's syslog receiver"))
                }
                if path == .router {
                    for transport in [Transport.udp, .tcp] {
                        rules.append(
                            CompiledRule(
                                id: "preset:dns",
                                match: with {
                                    $0.ingress = [.zone(.lan)]
                                    $0.transport = transport
                                    $0.destinationPorts = [PortRange(53)]
                                }, verdict: .accept, summary: "DNS queries from the LAN"))
                    }
                }
            }
            return rules
        }
    }
}
