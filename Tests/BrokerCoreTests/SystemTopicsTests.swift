import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("$SYS topics")
struct SystemTopicsTests {
    private static func values(_ messages: [Message]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: messages.map { ($0.topic, String(buffer: $0.payload)) })
    }

    @Test func systemMessagesReportVersionAndCounters() throws {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("t", "x", retain: true, at: clock.now)
        _ = subscriber.drainPublishes(at: clock.now)
        clock.advance(seconds: 42)

        let messages = broker.systemMessages(now: clock.now)
        #expect(messages.allSatisfy { $0.retain && $0.qos == .atMostOnce && $0.topic.hasPrefix("$SYS/broker/") })
        let values = Self.values(messages)
        let version = try #require(values["$SYS/broker/version"])
        #expect(version.hasPrefix("Rampart "))
        #expect(values["$SYS/broker/uptime"] == "42 seconds")
        #expect(values["$SYS/broker/clients/connected"] == "2")
        #expect(values["$SYS/broker/clients/total"] == "2")
        #expect(values["$SYS/broker/messages/received"] == "1")
        #expect(values["$SYS/broker/messages/sent"] == "1")
        #expect(values["$SYS/broker/subscriptions/count"] == "1")
        #expect(values["$SYS/broker/retained messages/count"] == "1")
        #expect(values["$SYS/broker/messages/dropped"] == "0")
    }

    @Test func publishSystemTopicsReachesSysSubscribersButNotHash() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let sys = TestClient(broker: broker)
        sys.connect("sys", at: clock.now)
        sys.subscribe("$SYS/broker/#", at: clock.now)
        let all = TestClient(broker: broker)
        all.connect("all", at: clock.now)
        all.subscribe("#", at: clock.now)

        broker.publishSystemTopics(now: clock.now)
        let delivered = sys.drainPublishes(at: clock.now)
        #expect(delivered.count == broker.systemMessages(now: clock.now).count)
        #expect(delivered.contains { $0.topic == "$SYS/broker/version" })
        #expect(all.drainPublishes(at: clock.now).isEmpty)
        // The broker's own messages are not counted as received.
        #expect(broker.statistics.messagesReceived.load(ordering: .relaxed) == 0)
        // They are retained: a later subscriber gets them.
        let late = TestClient(broker: broker)
        late.connect("late", at: clock.now)
        late.subscribe("$SYS/broker/version", at: clock.now)
        let version = late.drainPublishes(at: clock.now)
        #expect(version.count == 1)
        #expect(version.first?.retain == true)
    }
}
