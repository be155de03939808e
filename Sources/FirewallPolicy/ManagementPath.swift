/// The checks that keep the operator in (SPEC FW-5), made on the policy before and after a change with the same
/// tracer the kernel's ruleset agrees with.
package enum ManagementPath {
    /// More changed entries and rules than this and a change counts as one to the management path without tracing
    /// each (a bulk import then needs a confirmation, which is the safe side).
    package static let tracedChangesLimit = 256

    /// How the operator's web UI traffic fares under `after` when `before` admitted it and `after` drops it; nil when
    /// the change leaves it alone. Both a new and an established connection are traced: the session must go on, and
    /// the next one must get in.
    /// - Parameters:
    ///   - ingress: where the operator's packets enter (loopback, or the zone the kernel routes the address to).
    ///   - local: the gateway's address the operator connects to, when known.
    package static func lockout(
        of source: IPAddress, from ingress: Ingress, at local: IPAddress?, before: CompiledPolicy,
        after: CompiledPolicy
    ) -> Explanation? {
        let destination = local.flatMap { $0.family == source.family ? $0 : nil } ?? placeholder(source.family)
        for state in [ConnectionState.new, .established] {
            let packet = PacketDescription(
                ingress: ingress, egress: nil, source: source, destination: destination, transport: .tcp,
                sourcePort: 49152, destinationPort: after.environment.webPort, state: state)
            let cut = after.explain(packet)
            if cut.verdict == .drop && before.explain(packet).verdict == .accept { return cut }
        }
        return nil
    }

    /// Whether a change alters what reaches the web UI or the management port: both policies decide probe packets
    /// from and to the addresses the change concerns (and the operator's own), from either zone, and any different
    /// verdict counts.
    package static func reachabilityChanges(
        before: CompiledPolicy, after: CompiledPolicy, source: IPAddress?, local: IPAddress?,
        changing old: FirewallConfiguration, to new: FirewallConfiguration
    ) -> Bool {
        func bounds(_ text: String) -> [IPAddress] {
            guard case .success(let spec) = AddressSpec.parse(text) else { return [] }
            return [spec.bounds.lowerBound, spec.bounds.upperBound].map { IPAddress(family: spec.family, value: $0) }
        }
        let gateways = [local, placeholder(.ipv4), placeholder(.ipv6)].compactMap { $0 }
        var pairs = gateways.map { (placeholder($0.family), $0) }
        if let source { pairs += gateways.map { (source, $0) } }

        var changedAddresses: [String] = []
        for (oldList, newList) in [(old.allowlist, new.allowlist), (old.denylist, new.denylist)] {
            changedAddresses += Set(oldList).symmetricDifference(newList).map(\.address)
        }
        let oldPositions = Dictionary(
            old.rules.enumerated().map { ($1.id, ($0, $1)) }, uniquingKeysWith: { first, _ in first })
        let newPositions = Dictionary(
            new.rules.enumerated().map { ($1.id, ($0, $1)) }, uniquingKeysWith: { first, _ in first })
        let changedRules = Set(oldPositions.keys).union(newPositions.keys).compactMap { id -> CustomRule? in
            let earlier = oldPositions[id]
            let later = newPositions[id]
            if let earlier, let later, earlier.0 == later.0, earlier.1 == later.1 { return nil }
            return later?.1 ?? earlier?.1
        }.filter { $0.protocol == .any || $0.protocol == .tcp }
        guard changedAddresses.count + changedRules.count <= tracedChangesLimit else { return true }

        for address in changedAddresses.flatMap(bounds) {
            pairs += gateways.map { (address, $0) }
            pairs.append((placeholder(address.family), address))
        }
        for rule in changedRules {
            let sources = bounds(rule.source)
            let destinations = bounds(rule.destination)
            for source in sources.isEmpty ? [placeholder(.ipv4), placeholder(.ipv6)] : sources {
                for destination in destinations.isEmpty ? gateways : destinations {
                    pairs.append((source, destination))
                }
            }
        }
        let ports = [after.environment.webPort, after.environment.managementPort]
        for (source, destination) in pairs where source.family == destination.family {
            for ingress in [Ingress.zone(.lan), .zone(.wan)] {
                for port in ports {
                    let packet = PacketDescription(
                        ingress: ingress, egress: nil, source: source, destination: destination, transport: .tcp,
                        sourcePort: 49152, destinationPort: port, state: .new)
                    if before.explain(packet).verdict != after.explain(packet).verdict { return true }
                }
            }
        }
        return false
    }

    package static func isLoopback(_ address: IPAddress) -> Bool {
        address.family == .ipv4 ? address.value >> 24 == 127 : address.value == 1
    }

    /// An address of the documentation ranges that stands for "any other address": 203.0.113.77, 2001:db8:ffff::77.
    static func placeholder(_ family: IPFamily) -> IPAddress {
        family == .ipv4
            ? IPAddress(family: .ipv4, value: 0xCB00_7100 | 77)
            : IPAddress(family: .ipv6, value: (UInt128(0x2001_0DB8_FFFF) << 80) | 77)
    }
}
