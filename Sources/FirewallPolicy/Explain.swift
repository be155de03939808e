/// A packet as an operator describes it to the packet tracer (SPEC FW-4).
package struct PacketDescription: Hashable, Sendable {
    package var ingress: Ingress
    /// The zone the packet leaves through; nil: it is addressed to the gateway itself.
    package var egress: Zone?
    package var source: IPAddress
    package var destination: IPAddress
    package var transport: Transport
    package var sourcePort: UInt16?
    package var destinationPort: UInt16?
    /// ICMP or ICMPv6 type name as nftables spells it (`echo-request`).
    package var icmpType: String?
    package var state: ConnectionState

    package init(
        ingress: Ingress, egress: Zone?, source: IPAddress, destination: IPAddress, transport: Transport,
        sourcePort: UInt16? = nil, destinationPort: UInt16? = nil, icmpType: String? = nil,
        state: ConnectionState = .new
    ) {
        self.ingress = ingress
        self.egress = egress
        self.source = source
        self.destination = destination
        self.transport = transport
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.icmpType = icmpType
        self.state = state
    }

    package var family: IPFamily { source.family }
}

/// The answer to "why was this packet accepted or dropped?": the deciding stage and rule, and the stages that were
/// passed without a match.
package struct Explanation: Hashable, Sendable {
    /// A destination rewrite by a port forward, before filtering.
    package struct Translation: Hashable, Sendable {
        package var ruleID: String
        package var destination: IPAddress
        package var destinationPort: UInt16?
    }

    package var verdict: Verdict
    package var hook: Hook
    package var path: StagePath
    package var chain: String
    package var stage: Stage
    package var ruleID: String
    package var summary: String
    /// The counter of the deciding rule, when it has one.
    package var counter: String?
    /// The stages checked before the deciding one, in order; none of their rules matched.
    package var passed: [Stage]
    package var translation: Translation?
}

extension CompiledPolicy {
    /// The path a packet entering at `ingress` takes.
    package func path(for ingress: Ingress) -> StagePath {
        guard deviceType == .unidirectional else { return .router }
        if case .zone(.wan) = ingress { return .external }
        return .internal
    }

    /// Walks the same stages and rules the ruleset holds and says which one decides `packet`.
    package func explain(_ packet: PacketDescription) -> Explanation {
        var packet = packet
        var translation: Explanation.Translation?
        if packet.egress == nil, let forward = portForward(for: packet) {
            let port = forward.targetPort ?? packet.destinationPort
            translation = .init(ruleID: forward.id, destination: forward.target, destinationPort: port)
            packet.destination = forward.target
            packet.destinationPort = port
            packet.egress = .lan
        }
        let hook: Hook = packet.egress == nil ? .input : .forward
        let path = path(for: packet.ingress)
        let chain = chain(hook, path) ?? CompiledChain(hook: hook, path: path, stages: [])
        var passed: [Stage] = []
        for stage in chain.stages {
            if let rule = stage.rules.first(where: { matches($0.match, packet, translated: translation != nil) }) {
                return Explanation(
                    verdict: rule.verdict, hook: hook, path: path, chain: chain.name, stage: stage.stage,
                    ruleID: rule.id, summary: rule.summary, counter: rule.counter, passed: passed,
                    translation: translation)
            }
            passed.append(stage.stage)
        }
        // The base chains' policy is drop; the final stage always matches, so this is only reached by a chain
        // without stages.
        return Explanation(
            verdict: .drop, hook: hook, path: path, chain: chain.name, stage: .finalBlock, ruleID: "policy",
            summary: "Chain policy", counter: nil, passed: passed, translation: translation)
    }

    private func portForward(for packet: PacketDescription) -> CompiledPortForward? {
        guard let port = packet.destinationPort, packet.family == .ipv4 else { return nil }
        return portForwards.first { forward in
            packet.ingress == .zone(forward.ingress) && packet.transport == forward.transport
                && forward.ports.contains(port)
        }
    }

    func matches(_ match: Match, _ packet: PacketDescription, translated: Bool) -> Bool {
        if !match.ingress.isEmpty && !match.ingress.contains(packet.ingress) { return false }
        if let egress = match.egress, packet.egress != egress { return false }
        if let family = match.effectiveFamily, family != packet.family { return false }
        if let transport = match.transport, transport != packet.transport { return false }
        if let source = match.source, !contains(source, packet.source) { return false }
        if let destination = match.destination, !contains(destination, packet.destination) { return false }
        if !match.sourcePorts.isEmpty {
            guard packet.transport.hasPorts, let port = packet.sourcePort,
                match.sourcePorts.contains(where: { $0.contains(port) })
            else { return false }
        }
        if !match.destinationPorts.isEmpty {
            guard packet.transport.hasPorts, let port = packet.destinationPort,
                match.destinationPorts.contains(where: { $0.contains(port) })
            else { return false }
        }
        if !match.icmpTypes.isEmpty {
            guard let type = packet.icmpType, match.icmpTypes.contains(type) else { return false }
        }
        if !match.states.isEmpty && !match.states.contains(packet.state) { return false }
        if match.translated && !translated { return false }
        return true
    }

    private func contains(_ selector: AddressSelector, _ address: IPAddress) -> Bool {
        switch selector {
        case .spec(let spec): return spec.contains(address)
        case .set(let name, _): return set(name, contains: address)
        }
    }
}
