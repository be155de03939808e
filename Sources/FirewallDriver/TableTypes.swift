/// What the compiled policy says the table must hold once applied; the driver compares the kernel's table with it.
package struct ExpectedTable: Sendable, Equatable {
    /// Chain name → number of rules in it.
    package var chains: [String: Int]
    package var sets: Set<String>
    /// Named counters.
    package var counters: Set<String>

    package init(chains: [String: Int], sets: Set<String> = [], counters: Set<String> = []) {
        self.chains = chains
        self.sets = sets
        self.counters = counters
    }

    /// Every way `listing` differs from what is expected, one sentence each, in a stable order; empty when it
    /// matches.
    package func differences(from listing: TableListing) -> [String] {
        var found: [String: Int] = [:]
        for chain in listing.chains { found[chain.name] = chain.ruleComments.count }
        var differences: [String] = []
        for (name, rules) in chains.sorted(by: { $0.key < $1.key }) {
            switch found[name] {
            case nil: differences.append("chain \(name) is missing")
            case let count? where count != rules:
                differences.append("chain \(name) has \(count) rules, expected \(rules)")
            default: break
            }
        }
        for name in found.keys.sorted() where chains[name] == nil {
            differences.append("chain \(name) is there but not expected")
        }
        differences += Self.differences(kind: "set", expected: sets, found: Set(listing.sets))
        differences += Self.differences(kind: "counter", expected: counters, found: Set(listing.counters.keys))
        return differences
    }

    private static func differences(kind: String, expected: Set<String>, found: Set<String>) -> [String] {
        expected.subtracting(found).sorted().map { "\(kind) \($0) is missing" }
            + found.subtracting(expected).sorted().map { "\(kind) \($0) is there but not expected" }
    }
}

/// A chain as the kernel holds it.
package struct ListedChain: Sendable, Equatable {
    package var name: String
    /// The netfilter hook of a base chain (`input`, `forward`, …); nil for a regular chain.
    package var hook: String?
    /// The policy of a base chain (`accept`, `drop`).
    package var policy: String?
    /// One entry per rule, in order: the rule's comment, nil for a rule without one.
    package var ruleComments: [String?]

    package init(name: String, hook: String? = nil, policy: String? = nil, ruleComments: [String?] = []) {
        self.name = name
        self.hook = hook
        self.policy = policy
        self.ruleComments = ruleComments
    }
}

/// A named counter's values.
package struct CounterValue: Sendable, Equatable {
    package var packets: UInt64
    package var bytes: UInt64

    package init(packets: UInt64, bytes: UInt64) {
        self.packets = packets
        self.bytes = bytes
    }
}

/// The table's structure as read back from the kernel, without set elements.
package struct TableListing: Sendable, Equatable {
    /// In the kernel's order.
    package var chains: [ListedChain]
    package var sets: [String]
    package var counters: [String: CounterValue]

    package init(chains: [ListedChain] = [], sets: [String] = [], counters: [String: CounterValue] = [:]) {
        self.chains = chains
        self.sets = sets
        self.counters = counters
    }
}

/// A ruleset that is in the kernel and was verified.
package struct AppliedTable: Sendable {
    /// `nft list table` of the applied table, without set elements (a set of 100,000 addresses would make it
    /// megabytes; `NFTablesDriver.elements(of:)` lists them).
    package var text: String
    package var listing: TableListing
    /// From the start of the check to the end of the verification.
    package var duration: Duration

    package var chains: [ListedChain] { listing.chains }
}

/// An element to add to a set: an address, a prefix or a range, optionally expiring and commented.
package struct SetElement: Sendable, Equatable {
    /// `192.0.2.5`, `192.0.2.0/24`, `192.0.2.5-192.0.2.9`, `2001:db8::/64`.
    package var text: String
    /// The kernel removes the element after this long (the set needs the `timeout` flag).
    package var timeout: Duration?
    /// Shown next to the element in listings; at most 128 bytes are kept.
    package var comment: String?

    package init(_ text: String, timeout: Duration? = nil, comment: String? = nil) {
        self.text = text
        self.timeout = timeout
        self.comment = comment
    }
}

/// An element of a set as the kernel lists it.
package struct ListedElement: Sendable, Equatable {
    /// In nft's notation: `192.0.2.5`, `192.0.2.0/24`, `192.0.2.5-192.0.2.9`.
    package var text: String
    /// As nft lists it, which may be to the second.
    package var timeout: Duration?
    /// How long until the kernel removes it (as precise as `timeout`).
    package var expires: Duration?
    package var comment: String?

    package init(text: String, timeout: Duration? = nil, expires: Duration? = nil, comment: String? = nil) {
        self.text = text
        self.timeout = timeout
        self.expires = expires
        self.comment = comment
    }
}
