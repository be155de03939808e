import FirewallPolicy

/// One compiled rule as one nft statement line. Each condition of the `Match` becomes the expression that selects
/// the same packets in the kernel as `CompiledPolicy.matches` selects in the explain function; the comment is the
/// rule's id, which is how a counter or a read-back is tied to the rule.
enum RuleStatement {
    /// The statement of `rule`, or nil when it can match no packet at all (it selects a zone without interfaces,
    /// or a transport with conditions that transport cannot have): nft has no empty set to write for the first,
    /// and leaving such a rule out selects the same packets, none.
    static func text(_ rule: CompiledRule, environment: FirewallEnvironment) -> String? {
        let match = rule.match
        var parts: [String] = []

        if !match.ingress.isEmpty {
            let names = interfaceNames(match.ingress, environment: environment)
            guard !names.isEmpty else { return nil }
            parts.append(match.ingress == [.loopback] ? "iifname \"lo\"" : "iifname " + NFTText.interfaceSet(names))
        }
        if let egress = match.egress {
            let names = unique(environment.interfaces(of: egress))
            guard !names.isEmpty else { return nil }
            parts.append("oifname " + NFTText.interfaceSet(names))
        }

        // The family the other expressions already tie the rule to: `ip`/`ip6` addresses and ICMP types carry an
        // implicit family check. `meta l4proto icmp` does not (an IPv6 packet can carry protocol 1), so a family
        // that only the transport implies is written out, as explain applies it.
        let addressFamily = match.source?.family ?? match.destination?.family
        let icmpKeyword = icmpKeyword(match)
        let impliedFamily = addressFamily ?? icmpKeyword.map { $0 == "icmpv6" ? IPFamily.ipv6 : .ipv4 }
        if let family = match.effectiveFamily, family != impliedFamily {
            parts.append("meta nfproto " + (family == .ipv4 ? "ipv4" : "ipv6"))
        }

        if let source = match.source { parts.append(address(source, direction: "saddr")) }
        if let destination = match.destination { parts.append(address(destination, direction: "daddr")) }

        guard let transport = transport(match, icmpKeyword: icmpKeyword) else { return nil }
        parts += transport

        if !match.states.isEmpty {
            parts.append("ct state " + NFTText.valueOrSet(match.states.map(\.rawValue)))
        }
        if match.translated { parts.append("ct status dnat") }
        if let counter = rule.counter { parts.append("counter name \"" + counter + "\"") }
        parts.append(rule.verdict.rawValue)

        var line = parts.joined(separator: " ")
        NFTText.appendComment(rule.id, to: &line)
        return line
    }

    /// The interface names of `ingress`, in order and without repeats (`lo` for the loopback).
    static func interfaceNames(_ ingress: [Ingress], environment: FirewallEnvironment) -> [String] {
        unique(
            ingress.flatMap { ingress -> [String] in
                switch ingress {
                case .loopback: ["lo"]
                case .zone(let zone): environment.interfaces(of: zone)
                }
            })
    }

    private static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    private static func address(_ selector: AddressSelector, direction: String) -> String {
        var text = selector.family == .ipv4 ? "ip " : "ip6 "
        text.append(direction)
        text.append(" ")
        switch selector {
        case .spec(let spec): NFTText.appendAddress(spec, to: &text)
        case .set(let name, _):
            text.append("@")
            text.append(name)
        }
        return text
    }

    /// `icmp` or `icmpv6` when the match selects ICMP types. The compiler pairs types with their ICMP transport; a
    /// match with types but another transport falls back on its family.
    private static func icmpKeyword(_ match: Match) -> String? {
        guard !match.icmpTypes.isEmpty else { return nil }
        switch match.transport {
        case .icmp: return "icmp"
        case .icmpv6: return "icmpv6"
        default: return match.effectiveFamily == .ipv6 ? "icmpv6" : "icmp"
        }
    }

    /// The protocol, port and ICMP type expressions, or nil for a combination no packet has (ports on a transport
    /// without ports, ICMP types on TCP or UDP), which explain never matches either. The compiler pairs ports with
    /// TCP or UDP and types with their ICMP; ports without a transport select either (`th`: the transport header).
    private static func transport(_ match: Match, icmpKeyword: String?) -> [String]? {
        let hasPorts = !match.sourcePorts.isEmpty || !match.destinationPorts.isEmpty
        var parts: [String] = []
        let portProtocol: String
        switch match.transport {
        case .some(let transport) where transport.hasPorts:
            guard icmpKeyword == nil else { return nil }
            if !hasPorts { parts.append("meta l4proto " + transport.rawValue) }
            portProtocol = transport.rawValue
        case nil:
            guard !(hasPorts && icmpKeyword != nil) else { return nil }
            if hasPorts { parts.append("meta l4proto { tcp, udp }") }
            portProtocol = "th"
        case .some(let transport):
            guard !hasPorts else { return nil }
            switch transport {
            case .icmp: if icmpKeyword == nil { parts.append("meta l4proto icmp") }
            case .icmpv6: if icmpKeyword == nil { parts.append("meta l4proto ipv6-icmp") }
            default:
                guard icmpKeyword == nil else { return nil }
                parts.append("meta l4proto 112")
            }
            portProtocol = ""
        }
        if !match.sourcePorts.isEmpty {
            parts.append(portProtocol + " sport " + NFTText.valueOrSet(match.sourcePorts.map(\.description)))
        }
        if !match.destinationPorts.isEmpty {
            parts.append(portProtocol + " dport " + NFTText.valueOrSet(match.destinationPorts.map(\.description)))
        }
        if let icmpKeyword {
            parts.append(icmpKeyword + " type " + NFTText.valueOrSet(match.icmpTypes))
        }
        return parts
    }
}
