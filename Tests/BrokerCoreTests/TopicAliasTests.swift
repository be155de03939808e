import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("Topic aliases")
struct TopicAliasTests {
    private static func aliasProperties(_ alias: UInt16) -> Properties {
        var properties = Properties()
        properties.topicAlias = alias
        return properties
    }

    @Test func inboundAliasIsSetThenUsedWithAnEmptyTopic() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("long/topic/name", at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("long/topic/name", "1", properties: Self.aliasProperties(3), at: clock.now)
        publisher.publish("", "2", properties: Self.aliasProperties(3), at: clock.now)
        #expect(publisher.lastDisposition == .keepOpen)
        let delivered = subscriber.drainPublishes(at: clock.now)
        #expect(delivered.map(\.topic) == ["long/topic/name", "long/topic/name"])
        #expect(delivered.map(\.payloadString) == ["1", "2"])
    }

    @Test func inboundAliasCanBeRemapped() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("#", at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("a", "1", properties: Self.aliasProperties(1), at: clock.now)
        publisher.publish("b", "2", properties: Self.aliasProperties(1), at: clock.now)
        publisher.publish("", "3", properties: Self.aliasProperties(1), at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).map(\.topic) == ["a", "b", "b"])
    }

    @Test func inboundAliasAboveMaximumDisconnectsWith0x94() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.topicAliasMaximum = 2 }
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        let replies = publisher.publish("t", "x", properties: Self.aliasProperties(3), at: clock.now)
        #expect(publisher.lastDisposition == .close)
        #expect(replies.first?.disconnect?.reasonCode == .topicAliasInvalid)
    }

    @Test func unknownInboundAliasDisconnectsWith0x82() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        let replies = publisher.publish("", "x", properties: Self.aliasProperties(1), at: clock.now)
        #expect(publisher.lastDisposition == .close)
        #expect(replies.first?.disconnect?.reasonCode == .protocolError)
    }

    @Test func inboundAliasesDoNotOutliveTheConnection() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", properties: connectProperties(sessionExpiry: 60), at: clock.now)
        publisher.publish("t", "x", properties: Self.aliasProperties(1), at: clock.now)
        publisher.dropConnection(at: clock.now)
        let again = TestClient(broker: broker)
        again.connect("pub", cleanStart: false, properties: connectProperties(sessionExpiry: 60), at: clock.now)
        again.publish("", "y", properties: Self.aliasProperties(1), at: clock.now)
        #expect(again.lastDisposition == .close)
    }

    @Test func outboundAliasFirstCarriesTopicThenOnlyTheAlias() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", properties: connectProperties(topicAliasMaximum: 5), at: clock.now)
        subscriber.subscribe("t/#", at: clock.now)
        for payload in ["1", "2"] {
            broker.publish(
                Message(
                    topic: "t/a", payload: ByteBuffer(string: payload), qos: .atMostOnce,
                    retain: false), now: clock.now)
        }
        let delivered = subscriber.drainPublishes(at: clock.now)
        try #require(delivered.count == 2)
        let alias = try #require(delivered[0].properties.topicAlias)
        #expect(delivered[0].topic == "t/a")
        #expect(delivered[1].topic == "")
        #expect(delivered[1].properties.topicAlias == alias)
        #expect((1...5).contains(alias))
    }

    @Test func outboundAliasesNeverExceedTheClientsMaximum() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", properties: connectProperties(topicAliasMaximum: 2), at: clock.now)
        subscriber.subscribe("#", at: clock.now)
        for round in 0..<2 {
            for topic in ["a", "b", "c", "d"] {
                broker.publish(
                    Message(
                        topic: topic, payload: ByteBuffer(string: "\(round)"), qos: .atMostOnce,
                        retain: false), now: clock.now)
            }
        }
        let delivered = subscriber.drainPublishes(at: clock.now)
        #expect(delivered.count == 8)
        let aliases = delivered.compactMap(\.properties.topicAlias)
        #expect(Set(aliases).count == 2)
        #expect(aliases.allSatisfy { (1...2).contains($0) })
        // Every PUBLISH can be resolved by a client that tracks the aliases it was given.
        var known: [UInt16: String] = [:]
        var resolved: [String] = []
        for publish in delivered {
            if let alias = publish.properties.topicAlias {
                if publish.topic.isEmpty {
                    resolved.append(known[alias] ?? "?")
                } else {
                    known[alias] = publish.topic
                    resolved.append(publish.topic)
                }
            } else {
                resolved.append(publish.topic)
            }
        }
        #expect(resolved == ["a", "b", "c", "d", "a", "b", "c", "d"])
    }

    @Test func noOutboundAliasesWhenTheClientAllowsNone() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", at: clock.now)
        for _ in 0..<2 {
            broker.publish(
                Message(topic: "t", payload: ByteBuffer(string: "x"), qos: .atMostOnce, retain: false),
                now: clock.now)
        }
        let delivered = subscriber.drainPublishes(at: clock.now)
        #expect(delivered.map(\.topic) == ["t", "t"])
        #expect(delivered.allSatisfy { $0.properties.topicAlias == nil })
    }
}
