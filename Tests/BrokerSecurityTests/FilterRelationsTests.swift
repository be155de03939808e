import MQTTCodec
import Testing

@testable import BrokerSecurity

@Suite("Filter relations")
struct FilterRelationsTests {
    @Test(arguments: [
        ("a/#", "a/b/#", true), ("a/#", "a", true), ("a/#", "a/+", true), ("a/+/#", "a/+", true),
        ("+/x", "a/x", true), ("+/x", "$SYS/x", false), ("#", "$SYS/#", false), ("$SYS/#", "$SYS/+/x", true),
        ("a/b/#", "a/#", false), ("a/+", "a/#", false), ("a/+", "a/b/c", false), ("a/b", "a/+", false),
        ("a/b", "a/b", true), ("a", "a/b", false), ("a/b", "a", false), ("#", "#", true), ("#", "+/+/#", true),
        ("+", "#", false), ("a/+/c", "a/+/c", true), ("a//b", "a/+/b", false), ("a/+/b", "a//b", true),
    ])
    func covers(outer: String, inner: String, expected: Bool) {
        #expect(FilterRelations.covers(outer, inner) == expected)
    }

    /// Checks `covers` against its definition by brute force over a small universe: every filter of up to
    /// three levels over {a, $x, +, #} and every topic of up to four levels over {a, c, $x}, with matching done by
    /// MQTTCodec's `Topic.matches`. `c` stands for "any other level", the fourth level for "deeper than any filter".
    @Test func agreeWithTopicMatchingByBruteForce() {
        let topicLevels = ["a", "c", "$x"]
        var topics: [String] = []
        var frontier = [""]
        for depth in 1...4 {
            frontier = frontier.flatMap { prefix in topicLevels.map { depth == 1 ? $0 : "\(prefix)/\($0)" } }
            topics += frontier
        }
        var filters: [String] = []
        var open = [""]
        for depth in 1...3 {
            var next: [String] = []
            for prefix in open {
                for level in ["a", "$x", "+", "#"] {
                    let filter = depth == 1 ? level : "\(prefix)/\(level)"
                    filters.append(filter)
                    if level != "#" { next.append(filter) }
                }
            }
            open = next
        }
        let matched = filters.map { filter in
            Set(topics.indices.filter { Topic.matches(filter: filter, topic: topics[$0]) })
        }
        var failures = 0
        for (i, outer) in filters.enumerated() {
            for (j, inner) in filters.enumerated() {
                let covers = matched[j].isSubset(of: matched[i])
                if FilterRelations.covers(outer, inner) != covers {
                    failures += 1
                    if failures <= 10 {
                        Issue.record("\(outer) vs \(inner): covers \(covers)")
                    }
                }
            }
        }
        #expect(failures == 0)
        #expect(filters.count == 52)
    }
}
