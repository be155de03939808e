import Benchmark
import BenchmarkSupport
import BrokerCore
import MQTTCodec

/// Routing a topic to its subscriptions: `SubscriptionTrie.forEachMatch`, which every PUBLISH runs, with tries
/// of 1, 1,000 and 100,000 subscriptions; and `Topic.matches`, the filter test used for retained messages.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .rampart()

    // MARK: SubscriptionTrie

    for count in [1, 1_000, 100_000] {
        let name = "SubscriptionTrie-forEachMatch-\(count)-subscription\(count == 1 ? "" : "s")"
        Benchmark(name) { benchmark, trie in
            for _ in benchmark.scaledIterations {
                var matched = 0
                trie.forEachMatch(topic: SubscriptionMix.topic) { subscriber, _ in
                    matched += 1
                    blackHole(subscriber)
                }
                blackHole(matched)
            }
        } setup: {
            SubscriptionMix.trie(count: count)
        }
    }

    // MARK: Topic

    // `Fixtures.topic` (`sensors/plant1/line3/temp`) against one filter.
    let filters: [(name: String, filter: String, matches: Bool)] = [
        ("Topic.matches-exact", "sensors/plant1/line3/temp", true),
        ("Topic.matches-plus-wildcards", "sensors/+/line3/+", true),
        ("Topic.matches-hash-wildcard", "sensors/#", true),
        ("Topic.matches-no-match", "sensors/plant1/line4/temp", false),
    ]
    for (name, filter, matches) in filters {
        Benchmark(name) { benchmark, strings in
            for _ in benchmark.scaledIterations {
                blackHole(Topic.matches(filter: strings.filter, topic: strings.topic))
            }
        } setup: { () -> (filter: String, topic: String) in
            // Built at run time, so that the optimizer cannot fold the comparison.
            let strings = (
                filter: String(decoding: Array(filter.utf8), as: UTF8.self),
                topic: String(decoding: Array(Fixtures.topic.utf8), as: UTF8.self)
            )
            precondition(Topic.matches(filter: strings.filter, topic: strings.topic) == matches, "\(filter)")
            return strings
        }
    }
}

/// A realistic mix of subscriptions, one session each, on devices that publish `site/<s>/dev/<d>/temp` (100
/// devices per site), and the topic routed through it.
///
/// Of every 100 subscriptions, 97 are exact (`site/<s>/dev/<d>/temp`), 2 take a site's temperatures
/// (`site/<s>/dev/+/temp`) and 1 all of a site (`site/<s>/#`); one in 1,000 watches one device's alarms on every
/// site (`site/+/dev/<d>/alarm`), so that the matcher also walks a `+` branch at the second level. With at least
/// 1,000 subscriptions, `topic` matches 4 of them (one exact, two `+`, one `#`), whatever the size of the trie.
enum SubscriptionMix {
    static let topic = "site/7/dev/42/temp"

    /// The `count` filters; a single subscription is the exact filter of `topic`.
    static func filters(count: Int) -> [String] {
        guard count > 1 else { return [topic] }
        return (0..<count).map { index in
            let site = index / 100
            let device = index % 100
            if index % 1_000 == 500 { return "site/+/dev/\(index / 1_000)/alarm" }
            if index % 50 == 0 { return "site/\(site)/dev/+/temp" }
            if index % 100 == 1 { return "site/\(site)/#" }
            return "site/\(site)/dev/\(device)/temp"
        }
    }

    /// A trie of `count` subscriptions of as many sessions; checks that `topic` matches as many as documented.
    static func trie(count: Int) -> SubscriptionTrie {
        var trie = SubscriptionTrie()
        for (index, filter) in filters(count: count).enumerated() {
            let session = Session(clientID: "device-\(index)")
            let subscriber = Subscriber(session: session, options: SubscriptionOptions(qos: .atMostOnce))
            trie.insert(filter: filter, subscriber: subscriber)
        }
        var matched = 0
        trie.forEachMatch(topic: topic) { _, _ in matched += 1 }
        precondition(matched == (count == 1 ? 1 : 4), "\(topic) matches \(matched) of \(count) subscriptions")
        return trie
    }
}
