import MQTTCodec
import Testing

@Suite("Topic")
struct TopicTests {
    @Test(
        "valid topic names (MQTT 5 §4.7)",
        arguments: [
            "a", "/", "a/b", "/a/", "a//b", "$SYS/broker", "caf\u{E9}/\u{1F600}", " ",
            String(repeating: "x", count: 65535),
        ])
    func validNames(_ name: String) {
        #expect(throws: Never.self) { try Topic.validateName(name) }
    }

    @Test(
        "invalid topic names [MQTT-4.7.0-1] [MQTT-4.7.3-1] [MQTT-4.7.3-2] [MQTT-4.7.3-3]",
        arguments: [
            "", "+", "#", "a/+", "a/#", "a+b", "a#", "a\u{0}b", String(repeating: "x", count: 65536),
        ])
    func invalidNames(_ name: String) {
        let error = #expect(throws: MQTTCodecError.self) { try Topic.validateName(name) }
        #expect(error?.code == .topicNameInvalid)
        #expect(error?.reasonCode == .topicNameInvalid)
    }

    @Test(
        "valid topic filters (MQTT 5 §4.7.1, §4.8.2)",
        arguments: [
            "#", "+", "/", "a", "a/#", "a/+", "+/+", "/+", "+/", "a/+/b/#", "//", "$SYS/#", "+/tennis/#",
            "$share/group/a/b", "$share/g/#", "$share/g/+/x", "$share/g//", "$sharex/+", "$share", "share/g/t",
        ])
    func validFilters(_ filter: String) {
        #expect(throws: Never.self) { try Topic.validateFilter(filter) }
    }

    @Test(
        "invalid topic filters [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.8.2-1] [MQTT-4.8.2-2]",
        arguments: [
            "", "a#", "#/a", "a/#/b", "a/b#", "##", "a+", "+a", "a/+b", "a/b+/c", "++", "a\u{0}",
            "$share/", "$share/g", "$share//t", "$share/g/", "$share/g+/t", "$share/g#/t", "$share/+/t", "$share/g/a#",
            String(repeating: "x", count: 65536),
        ])
    func invalidFilters(_ filter: String) {
        let error = #expect(throws: MQTTCodecError.self) { try Topic.validateFilter(filter) }
        #expect(error?.code == .topicFilterInvalid)
    }

    @Test("shared subscriptions split into group and filter (MQTT 5 §4.8.2)")
    func sharedSubscriptions() throws {
        let split = try #require(Topic.sharedSubscription("$share/consumers/sport/+/score"))
        #expect(split.group == "consumers")
        #expect(split.filter == "sport/+/score")
        let slashFilter = try #require(Topic.sharedSubscription("$share/g//"))
        #expect(slashFilter.group == "g")
        #expect(slashFilter.filter == "/")
        let unicode = try #require(Topic.sharedSubscription("$share/gr\u{FC}n/\u{1F600}"))
        #expect(unicode.group == "gr\u{FC}n")
        #expect(unicode.filter == "\u{1F600}")
        #expect(Topic.sharedSubscription("a/b") == nil)
        #expect(Topic.sharedSubscription("$share") == nil)
        #expect(Topic.sharedSubscription("$share/g") == nil)
        #expect(Topic.sharedSubscription("$SHARE/g/t") == nil)
        #expect(Topic.sharedSubscription("$sharex/g/t") == nil)
    }

    /// (filter, topic, matches) from MQTT 5 §4.7.1.2, §4.7.1.3, §4.7.2 and their non-normative examples.
    static let matchVectors: [(String, String, Bool)] = [
        // §4.7.1.2 multi-level wildcard
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
        ("sport/#", "sport", true),
        ("#", "sport/tennis", true),
        ("#", "/", true),
        ("#", "a", true),
        ("a/#", "a", true),
        ("a/#", "a/", true),
        ("a/#", "ab", false),
        ("a/#", "b/a", false),
        // §4.7.1.3 single-level wildcard
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player2", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("+", "a", true),
        ("+/#", "a", true),
        ("+/#", "a/b/c", true),
        ("a/+/c", "a//c", true),
        ("a/+/c", "a/b/c", true),
        ("a/+/c", "a/b/d", false),
        ("a/+/c", "a/b/c/d", false),
        ("+/+/+", "a/b", false),
        // literal levels
        ("a/b", "a/b", true),
        ("a/b", "a/b/", false),
        ("a/b/", "a/b", false),
        ("a/b", "a/bc", false),
        ("a/bc", "a/b", false),
        ("/", "/", true),
        ("//", "/", false),
        ("A", "a", false),
        ("caf\u{E9}/+", "caf\u{E9}/x", true),
        ("caf\u{E9}", "cafe\u{301}", false),  // bytes, not canonical equivalence
        // §4.7.2 topics beginning with $
        ("#", "$SYS/broker", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false),
        ("$SYS/#", "$SYS/monitor/Clients", true),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
        ("$SYS/#", "$SYS", true),
        ("+", "$", false),
        ("a/#", "a/$b", true),
        ("a/+", "a/$b", true),
    ]

    @Test("topic matching (MQTT 5 §4.7)", arguments: matchVectors)
    func matching(_ filter: String, _ topic: String, _ expected: Bool) {
        #expect(Topic.matches(filter: filter, topic: topic) == expected)
        // Substrings take the generic path.
        let paddedFilter = "x" + filter + "y"
        let paddedTopic = "x" + topic + "y"
        let filterSlice = paddedFilter.dropFirst().dropLast()
        let topicSlice = paddedTopic.dropFirst().dropLast()
        #expect(Topic.matches(filter: filterSlice, topic: topicSlice) == expected)
        #expect(Topic.matches(filter: filterSlice, topic: topic) == expected)
    }

    @Test("matching works on bridged/non-contiguous strings too")
    func nonContiguous() {
        // A Substring of a shared-subscription filter is the usual input from the broker.
        let shared = Topic.sharedSubscription("$share/g/sensors/+/temp")
        #expect(shared.map { Topic.matches(filter: $0.filter, topic: "sensors/k1/temp") } == true)
        #expect(shared.map { Topic.matches(filter: $0.filter, topic: "sensors/k1/hum") } == false)
    }
}
