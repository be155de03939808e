import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("Message expiry, packet size and properties")
struct MessageDeliveryTests {
    private static func expiring(_ seconds: UInt32) -> Properties {
        var properties = Properties()
        properties.messageExpiryInterval = seconds
        return properties
    }

    @Test func expiredQueuedMessageIsDroppedAtDrain() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", properties: connectProperties(sessionExpiry: 600), at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        subscriber.dropConnection(at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("t", "short", qos: .atLeastOnce, properties: Self.expiring(5), at: clock.now)
        publisher.publish("t", "long", qos: .atLeastOnce, properties: Self.expiring(100), at: clock.now)
        publisher.publish("t", "forever", qos: .atLeastOnce, at: clock.now)
        let droppedBefore = broker.statistics.messagesDropped.load(ordering: .relaxed)

        clock.advance(seconds: 10)
        let again = TestClient(broker: broker)
        again.send(
            .connect(
                ConnectPacket(
                    protocolVersion: .v5, clientIdentifier: "sub", cleanStart: false,
                    keepAlive: 60, properties: connectProperties(sessionExpiry: 600))), at: clock.now)
        let delivered = again.received().publishes
        #expect(delivered.map(\.payloadString) == ["long", "forever"])
        // The remaining interval is what is left of the original one.
        #expect(delivered.map(\.properties.messageExpiryInterval) == [90, nil])
        #expect(broker.statistics.messagesDropped.load(ordering: .relaxed) == droppedBefore + 1)
    }

    @Test func remainingExpiryRoundsUp() {
        var clock = TestClock()
        let start = clock.now
        let message = Message(
            topic: "t", payload: ByteBuffer(), qos: .atMostOnce, retain: false,
            expiresAt: start + .seconds(10))
        clock.advance(milliseconds: 1500)
        #expect(message.remainingExpiry(at: clock.now) == 9)
        #expect(!message.isExpired(at: clock.now))
        clock.advance(milliseconds: 8500)
        #expect(message.isExpired(at: clock.now))
        #expect(message.remainingExpiry(at: clock.now) == 0)
    }

    @Test func applicationPropertiesAreForwarded() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        var properties = Properties()
        properties.payloadFormatIndicator = 1
        properties.contentType = "application/json"
        properties.responseTopic = "replies"
        properties.correlationData = ByteBuffer(string: "corr")
        properties.userProperties = [UserProperty(name: "a", value: "1"), UserProperty(name: "a", value: "2")]
        publisher.publish("t", "{}", properties: properties, at: clock.now)
        let delivered = try #require(subscriber.drainPublishes(at: clock.now).first)
        #expect(delivered.properties.payloadFormatIndicator == 1)
        #expect(delivered.properties.contentType == "application/json")
        #expect(delivered.properties.responseTopic == "replies")
        #expect(delivered.properties.correlationData == ByteBuffer(string: "corr"))
        #expect(delivered.properties.userProperties == properties.userProperties)
    }

    @Test func v3SubscriberGetsNoProperties() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker, version: .v3_1_1)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        var properties = Properties()
        properties.contentType = "text/plain"
        publisher.publish("t", "x", properties: properties, at: clock.now)
        let delivered = try #require(subscriber.drainPublishes(at: clock.now).first)
        #expect(delivered.properties.isEmpty)
        #expect(delivered.payloadString == "x")
    }

    // MARK: Maximum Packet Size

    @Test func publishOverTheClientsMaximumPacketSizeIsNotWritten() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", properties: connectProperties(maximumPacketSize: 64), at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        let big = String(repeating: "x", count: 100)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: big), qos: .atMostOnce, retain: false),
            now: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "small"), qos: .atMostOnce, retain: false),
            now: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).map(\.payloadString) == ["small"])
        #expect(broker.statistics.messagesOversized.load(ordering: .relaxed) == 1)
    }

    @Test func oversizedQoS1DeliveryEndsItsFlow() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", properties: connectProperties(maximumPacketSize: 64), at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        broker.publish(
            Message(
                topic: "t", payload: ByteBuffer(string: String(repeating: "x", count: 100)),
                qos: .atLeastOnce, retain: false), now: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).isEmpty)
        #expect(broker.sessionState("sub")?.inflight.isEmpty == true)
        #expect(broker.statistics.messagesOversized.load(ordering: .relaxed) == 1)
    }

    @Test func packetExactlyAtTheMaximumIsWritten() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        // PUBLISH QoS 0 v5, topic "t": fixed header 2 + topic 3 + properties length 1 + payload.
        let payload = String(repeating: "y", count: 20)
        let size = UInt32(2 + 3 + 1 + payload.utf8.count)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", properties: connectProperties(maximumPacketSize: size), at: clock.now)
        subscriber.subscribe("t", at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: payload), qos: .atMostOnce, retain: false),
            now: clock.now)
        broker.publish(
            Message(
                topic: "t", payload: ByteBuffer(string: payload + "z"), qos: .atMostOnce,
                retain: false), now: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).map(\.payloadString) == [payload])
    }

    // MARK: Statistics

    @Test func countersFollowTraffic() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("t", "1", at: clock.now)
        publisher.publish("t", "2", at: clock.now)
        _ = subscriber.drainPublishes(at: clock.now)
        #expect(broker.statistics.messagesReceived.load(ordering: .relaxed) == 2)
        #expect(broker.statistics.messagesSent.load(ordering: .relaxed) == 2)
        #expect(broker.statistics.bytesSent.load(ordering: .relaxed) > 0)
        #expect(broker.subscriptionCount == 1)
        #expect(broker.sessionCount == 2)
    }
}
