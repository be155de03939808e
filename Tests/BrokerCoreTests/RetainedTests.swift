import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("Retained messages")
struct RetainedTests {
    @Test func setReplaceAndDeleteWithEmptyPayload() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("r/t", "first", qos: .atLeastOnce, retain: true, at: clock.now)
        #expect(broker.retainedCount == 1)
        publisher.publish("r/t", "second", qos: .atLeastOnce, retain: true, at: clock.now)
        #expect(broker.retainedCount == 1)
        #expect(
            broker.retainedMessages(matching: "r/t", now: clock.now).map { String(buffer: $0.payload) } == ["second"])

        let late = TestClient(broker: broker)
        late.connect("late", at: clock.now)
        late.subscribe("r/#", qos: .atLeastOnce, at: clock.now)
        let retained = try #require(late.drainPublishes(at: clock.now).first)
        #expect(retained.payloadString == "second")
        #expect(retained.retain)

        publisher.publish("r/t", "", qos: .atMostOnce, retain: true, at: clock.now)
        #expect(broker.retainedCount == 0)
        let later = TestClient(broker: broker)
        later.connect("later", at: clock.now)
        later.subscribe("r/#", at: clock.now)
        #expect(later.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func nonRetainedPublishDoesNotReplaceTheRetainedMessage() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("t", "kept", retain: true, at: clock.now)
        publisher.publish("t", "transient", retain: false, at: clock.now)
        #expect(broker.retainedMessages(matching: "t", now: clock.now).map { String(buffer: $0.payload) } == ["kept"])
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func retainedCopyHasRetainSetAndLiveForwardingDoesNot(version: ProtocolVersion) throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let publisher = TestClient(broker: broker, version: version)
        publisher.connect("pub", at: clock.now)
        publisher.publish("t", "old", qos: .atLeastOnce, retain: true, at: clock.now)

        let subscriber = TestClient(broker: broker, version: version)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        let first = subscriber.drainPublishes(at: clock.now)
        #expect(first.map(\.retain) == [true])
        let id = try #require(first.first?.packetIdentifier)
        subscriber.send(.puback(AckPacket(packetIdentifier: id)), at: clock.now)
        _ = subscriber.received()

        publisher.publish("t", "live", qos: .atLeastOnce, retain: true, at: clock.now)
        let live = subscriber.drainPublishes(at: clock.now)
        #expect(live.map(\.payloadString) == ["live"])
        #expect(live.map(\.retain) == [false])
    }

    @Test func retainAsPublishedKeepsTheFlagOnLiveMessages() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", retainAsPublished: true, at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("t", "retained", retain: true, at: clock.now)
        publisher.publish("t", "plain", retain: false, at: clock.now)
        let delivered = subscriber.drainPublishes(at: clock.now)
        #expect(delivered.map(\.payloadString) == ["retained", "plain"])
        #expect(delivered.map(\.retain) == [true, false])
    }

    @Test func retainHandling0SendsOnEverySubscribe() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "r"), qos: .atMostOnce, retain: true),
            now: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", retainHandling: .sendOnSubscribe, at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).count == 1)
        subscriber.subscribe("t", retainHandling: .sendOnSubscribe, at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).count == 1)
    }

    @Test func retainHandling1SendsOnlyForANewSubscription() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "r"), qos: .atMostOnce, retain: true),
            now: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", retainHandling: .sendIfNewSubscription, at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).count == 1)
        subscriber.subscribe("t", retainHandling: .sendIfNewSubscription, at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func retainHandling2NeverSends() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "r"), qos: .atMostOnce, retain: true),
            now: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", retainHandling: .doNotSend, at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func retainedMessagesAreNotSentToSharedSubscriptions() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "r"), qos: .atMostOnce, retain: true),
            now: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        #expect(subscriber.subscribe("$share/g/t", at: clock.now) == [.grantedQoS0])
        #expect(subscriber.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func retainedCopyQoSIsTheMinimumOfMessageAndSubscription() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "r"), qos: .exactlyOnce, retain: true),
            now: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).map(\.qos) == [.atLeastOnce])
    }

    @Test func wildcardSubscribeGetsEveryMatchingRetainedMessageButNotSystemTopics() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        for topic in ["a/1", "a/2", "b/1", "$SYS/x"] {
            broker.publish(
                Message(topic: topic, payload: ByteBuffer(string: topic), qos: .atMostOnce, retain: true),
                now: clock.now)
        }
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("a/+", at: clock.now)
        #expect(Set(subscriber.drainPublishes(at: clock.now).map(\.topic)) == ["a/1", "a/2"])
        subscriber.subscribe("#", at: clock.now)
        #expect(Set(subscriber.drainPublishes(at: clock.now).map(\.topic)) == ["a/1", "a/2", "b/1"])
    }

    @Test func expiredRetainedMessageIsNotSentAndIsRemoved() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        var properties = Properties()
        properties.messageExpiryInterval = 10
        publisher.publish("t", "short", retain: true, properties: properties, at: clock.now)
        clock.advance(seconds: 4)
        let early = TestClient(broker: broker)
        early.connect("early", at: clock.now)
        early.subscribe("t", at: clock.now)
        let copy = early.drainPublishes(at: clock.now)
        #expect(copy.map(\.properties.messageExpiryInterval) == [6])

        clock.advance(seconds: 6)
        let late = TestClient(broker: broker)
        late.connect("late", at: clock.now)
        late.subscribe("t", at: clock.now)
        #expect(late.drainPublishes(at: clock.now).isEmpty)
        #expect(broker.retainedCount == 0)
    }

    @Test func retainRefusedWhenNotAvailable() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.retainAvailable = false }
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("c", at: clock.now))
        #expect(connack.properties.retainAvailable == 0)
        let replies = client.publish("t", "x", retain: true, at: clock.now)
        #expect(client.lastDisposition == .close)
        #expect(replies.first?.disconnect?.reasonCode == .retainNotSupported)
        #expect(broker.retainedCount == 0)
    }
}
