import FirewallPolicy

/// Why the kernel refused a ruleset or a set update: nft's message, and the line of the ruleset it points at.
package struct FirewallApplyError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var line: Int?
    package var lineText: String?

    package init(message: String, line: Int? = nil, lineText: String? = nil) {
        self.message = message
        self.line = line
        self.lineText = lineText
    }

    package var description: String {
        guard let line else { return message }
        return
            "\(message) (ruleset line \(line)\(lineText.map { ": \($0.trimmingCharacters(in: .whitespaces))" } ?? ""))"
    }
}

/// Hits of one named counter.
package struct RuleHits: Sendable, Codable, Equatable {
    package var packets: UInt64
    package var bytes: UInt64

    package init(packets: UInt64, bytes: UInt64) {
        self.packets = packets
        self.bytes = bytes
    }
}

/// The kernel side of the firewall, implemented by the application with nftables. The service decides what to
/// apply; the backend only applies it, whole or as set updates, and reads back what the kernel holds.
package protocol FirewallBackend: Sendable {
    /// The ruleset text for `policy` (shown even when it cannot be applied).
    func ruleset(for policy: CompiledPolicy) -> String
    /// nil when rulesets can be applied; otherwise why not ("CAP_NET_ADMIN missing …").
    func unavailableReason() async -> String?
    /// Checks and applies the whole ruleset as one transaction; on failure the previous ruleset stays.
    func apply(_ policy: CompiledPolicy) async throws(FirewallApplyError)
    /// Adds elements to a set of the applied ruleset, leaving everything else as it is.
    func add(_ elements: [CompiledSetElement], to set: String) async throws(FirewallApplyError)
    /// Removes elements from a set of the applied ruleset.
    func remove(_ addresses: [AddressSpec], from set: String) async throws(FirewallApplyError)
    /// The named counters of the applied ruleset.
    func counters() async -> [String: RuleHits]
    /// The ruleset as the kernel lists it; nil when none is applied.
    func appliedRuleset() async -> String?
}
