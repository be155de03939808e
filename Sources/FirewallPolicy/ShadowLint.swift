import RampartModel

/// A custom rule that can never decide a packet, and the rule that decides its packets first.
package struct ShadowFinding: Hashable, Sendable, CustomStringConvertible {
    package var ruleID: Int
    package var shadowedBy: Int
    package var message: String

    package var description: String { message }
}

extension FirewallConfiguration {
    /// Enabled custom rules every packet of which an earlier rule already decides. Deny rules run as a stage before
    /// allow rules (seed order), so any deny rule that covers an allow rule shadows it, wherever it stands.
    package func shadowedRules() -> [ShadowFinding] {
        var findings: [ShadowFinding] = []
        // A rule whose selectors do not parse decides nothing (validation refuses it): it is left out rather than read
        // as a wildcard.
        let active = rules.filter { rule in
            var problems: [FieldError] = []
            _ = rule.parse(field: "", errors: &problems)
            return rule.enabled && problems.isEmpty
        }
        var ignored: [FieldError] = []
        let parsed = active.map { $0.parse(field: "", errors: &ignored) }
        for (index, rule) in active.enumerated() {
            let candidates = active.indices.filter { other in
                if active[other].action == rule.action { return other < index }
                return active[other].action == .deny
            }
            guard
                let cover = candidates.first(where: {
                    Self.covers(active[$0], parsed[$0], rule, parsed[index])
                })
            else { continue }
            let coveringRule = active[cover]
            let reason =
                coveringRule.action == rule.action
                ? "it comes after rule \(coveringRule.id), which matches all of its traffic"
                : "deny rule \(coveringRule.id) matches all of its traffic, and deny rules run before allow rules"
            findings.append(
                ShadowFinding(
                    ruleID: rule.id, shadowedBy: coveringRule.id,
                    message: "Rule \(rule.id) can never match: \(reason)"))
        }
        return findings
    }

    private static func covers(
        _ outer: CustomRule, _ outerParsed: CustomRule.Parsed, _ inner: CustomRule, _ innerParsed: CustomRule.Parsed
    ) -> Bool {
        guard outer.zone == inner.zone else { return false }
        guard outer.protocol == .any || outer.protocol == inner.protocol else { return false }
        func addressCovers(_ outer: AddressSpec?, _ inner: AddressSpec?, innerFamily: IPFamily?) -> Bool {
            guard let outer else { return true }
            // An inner rule without this address but limited to one family by its other address selects every
            // address of that family here, which only a family-wide outer selector (`0.0.0.0/0`, `::/0`) holds.
            guard let inner else {
                return outer.family == innerFamily
                    && outer.bounds == 0...IPAddress.mask(family: outer.family, length: outer.family.bitWidth)
            }
            return outer.covers(inner)
        }
        func portsCover(_ outer: PortRange?, _ inner: PortRange?) -> Bool {
            guard let outer else { return true }
            guard let inner else { return false }
            return outer.covers(inner)
        }
        let innerFamily = innerParsed.source?.family ?? innerParsed.destination?.family
        // An outer rule limited to one family covers only rules of that family.
        if let outerFamily = outerParsed.source?.family ?? outerParsed.destination?.family, outerFamily != innerFamily {
            return false
        }
        return addressCovers(outerParsed.source, innerParsed.source, innerFamily: innerFamily)
            && addressCovers(outerParsed.destination, innerParsed.destination, innerFamily: innerFamily)
            && portsCover(outerParsed.sourcePorts, innerParsed.sourcePorts)
            && portsCover(outerParsed.destinationPorts, innerParsed.destinationPorts)
    }
}
