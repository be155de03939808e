/// One nftables ruleset, as text for `nft -f` and as the manifest of what it holds, so whoever loads it can check the
/// kernel's read-back (`nft -j list table`) against what was meant to be loaded.
package struct Ruleset: Sendable, Hashable {
    /// The whole file: it replaces the table in one transaction, so the kernel holds either the old ruleset or this
    /// one, never a mix.
    package var text: String
    /// Every chain of the table and the number of rules it holds, as nft counts them (one per statement line; the
    /// base chains' `type … hook …` line is not a rule).
    package var chains: [String: Int]
    /// The named sets, in the order of the text.
    package var sets: [String]
    /// The named counters, in the order of the text.
    package var counters: [String]

    package init(text: String, chains: [String: Int], sets: [String], counters: [String]) {
        self.text = text
        self.chains = chains
        self.sets = sets
        self.counters = counters
    }
}
