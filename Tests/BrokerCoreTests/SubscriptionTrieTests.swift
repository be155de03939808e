import BrokerCore
import MQTTCodec
import Testing

@Suite("SubscriptionTrie")
struct SubscriptionTrieTests {
    private static func subscriber(_ clientID: String, qos: QoS = .atMostOnce) -> Subscriber {
        Subscriber(session: Session(clientID: clientID), options: SubscriptionOptions(qos: qos))
    }

    private static func matches(_ trie: SubscriptionTrie, _ topic: String) -> [String] {
        var clients: [String] = []
        trie.forEachMatch(topic: topic) { subscriber, _ in clients.append(subscriber.session.clientID) }
        return clients.sorted()
    }

    @Test func insertRemoveAndCount() {
        var trie = SubscriptionTrie()
        #expect(trie.count == 0)
        let inserted1 = trie.insert(filter: "a/b", subscriber: Self.subscriber("c1"))
        #expect(inserted1)
        let inserted2 = trie.insert(filter: "a/b", subscriber: Self.subscriber("c2"))
        #expect(inserted2)
        let inserted3 = trie.insert(filter: "a/+", subscriber: Self.subscriber("c1"))
        #expect(inserted3)
        #expect(trie.count == 3)
        // Replacing the same client's subscription on the same filter is not new and does not count twice.
        let inserted4 = trie.insert(filter: "a/b", subscriber: Self.subscriber("c1", qos: .exactlyOnce))
        #expect(!inserted4)
        #expect(trie.count == 3)

        let removed5 = trie.remove(filter: "a/b", clientID: "c1")
        #expect(removed5)
        let removed6 = trie.remove(filter: "a/b", clientID: "c1")
        #expect(!removed6)
        let removed7 = trie.remove(filter: "x/y", clientID: "c1")
        #expect(!removed7)
        #expect(trie.count == 2)
        #expect(Self.matches(trie, "a/b") == ["c1", "c2"])  // c1 through a/+ only
        let removed8 = trie.remove(filter: "a/+", clientID: "c1")
        #expect(removed8)
        let removed9 = trie.remove(filter: "a/b", clientID: "c2")
        #expect(removed9)
        #expect(trie.count == 0)
        #expect(Self.matches(trie, "a/b").isEmpty)
    }

    @Test func replacedSubscriptionKeepsTheNewOptions() {
        var trie = SubscriptionTrie()
        trie.insert(filter: "t", subscriber: Self.subscriber("c", qos: .atMostOnce))
        trie.insert(filter: "t", subscriber: Self.subscriber("c", qos: .exactlyOnce))
        var granted: [QoS] = []
        trie.forEachMatch(topic: "t") { subscriber, _ in granted.append(subscriber.options.qos) }
        #expect(granted == [.exactlyOnce])
    }

    @Test(arguments: [
        ("a/b/c", "a/b/c", true),
        ("a/b/c", "a/b", false),
        ("a/b", "a/b/c", false),
        ("a/+/c", "a/b/c", true),
        ("a/+/c", "a/b/d", false),
        ("a/+", "a/", true),
        ("+", "a", true),
        ("+", "a/b", false),
        ("+/+", "/a", true),
        ("/+", "/a", true),
        ("#", "a/b/c", true),
        ("a/#", "a", true),
        ("a/#", "a/b/c", true),
        ("a/#", "ab", false),
        ("a/b/#", "a", false),
        ("+/#", "a", true),
        ("+/b/#", "a/b", true),
        ("#", "$SYS/broker/uptime", false),
        ("+/broker/uptime", "$SYS/broker/uptime", false),
        ("+/#", "$SYS/x", false),
        ("$SYS/#", "$SYS/broker/uptime", true),
        ("$SYS/+/uptime", "$SYS/broker/uptime", true),
        ("a/+/#", "$a/b", false),
        ("A/b", "a/b", false),
    ])
    func matching(filter: String, topic: String, expected: Bool) {
        var trie = SubscriptionTrie()
        trie.insert(filter: filter, subscriber: Self.subscriber("c"))
        #expect((Self.matches(trie, topic) == ["c"]) == expected, "\(filter) vs \(topic)")
        // The trie and Topic.matches agree.
        #expect(Topic.matches(filter: filter, topic: topic) == expected, "Topic.matches \(filter) vs \(topic)")
    }

    @Test func overlappingFiltersReportEachSubscription() {
        var trie = SubscriptionTrie()
        trie.insert(filter: "a/b", subscriber: Self.subscriber("c"))
        trie.insert(filter: "a/+", subscriber: Self.subscriber("c"))
        trie.insert(filter: "#", subscriber: Self.subscriber("c"))
        trie.insert(filter: "a/#", subscriber: Self.subscriber("d"))
        #expect(Self.matches(trie, "a/b") == ["c", "c", "c", "d"])
    }

    @Test func copyTakenBeforeAnInsertDoesNotSeeIt() {
        var trie = SubscriptionTrie()
        trie.insert(filter: "a/b", subscriber: Self.subscriber("c1"))
        let snapshot = trie
        trie.insert(filter: "a/b", subscriber: Self.subscriber("c2"))
        trie.insert(filter: "a/#", subscriber: Self.subscriber("c3"))
        trie.remove(filter: "a/b", clientID: "c1")
        #expect(Self.matches(snapshot, "a/b") == ["c1"])
        #expect(snapshot.count == 1)
        #expect(Self.matches(trie, "a/b") == ["c2", "c3"])
        #expect(trie.count == 2)
    }

    @Test func sharedGroupDeliversToOneMemberRoundRobin() {
        var trie = SubscriptionTrie()
        let sessions = ["m1", "m2", "m3"].map { Session(clientID: $0) }
        for session in sessions {
            _ = session.attach(FakeConnection())
            trie.insert(
                filter: "$share/g/jobs/+",
                subscriber: Subscriber(
                    session: session,
                    options: SubscriptionOptions(qos: .atLeastOnce)))
        }
        #expect(trie.count == 3)
        var chosen: [String] = []
        for _ in 0..<6 {
            var matched: [(String, Bool)] = []
            trie.forEachMatch(topic: "jobs/1") { subscriber, shared in
                matched.append((subscriber.session.clientID, shared))
            }
            #expect(matched.count == 1)
            #expect(matched.first?.1 == true)
            if let first = matched.first { chosen.append(first.0) }
        }
        // Every member gets exactly two of six messages, in turn.
        for member in ["m1", "m2", "m3"] { #expect(chosen.filter { $0 == member }.count == 2) }
        #expect(Array(chosen[0..<3]) == Array(chosen[3..<6]))
    }

    @Test func sharedGroupPrefersConnectedMembers() {
        var trie = SubscriptionTrie()
        let online = Session(clientID: "online")
        _ = online.attach(FakeConnection())
        let offline = Session(clientID: "offline")
        for session in [offline, online] {
            trie.insert(
                filter: "$share/g/t",
                subscriber: Subscriber(
                    session: session,
                    options: SubscriptionOptions(qos: .atLeastOnce)))
        }
        for _ in 0..<4 {
            #expect(Self.matches(trie, "t") == ["online"])
        }
    }

    @Test func distinctSharedGroupsEachGetTheMessage() {
        var trie = SubscriptionTrie()
        trie.insert(filter: "$share/g1/t", subscriber: Self.subscriber("a"))
        trie.insert(filter: "$share/g2/t", subscriber: Self.subscriber("b"))
        trie.insert(filter: "t", subscriber: Self.subscriber("c"))
        var shared: [String: Bool] = [:]
        trie.forEachMatch(topic: "t") { subscriber, isShared in shared[subscriber.session.clientID] = isShared }
        #expect(shared == ["a": true, "b": true, "c": false])
        let removed10 = trie.remove(filter: "$share/g1/t", clientID: "a")
        #expect(removed10)
        let removed11 = trie.remove(filter: "$share/g1/t", clientID: "a")
        #expect(!removed11)
        #expect(Self.matches(trie, "t") == ["b", "c"])
    }
}
