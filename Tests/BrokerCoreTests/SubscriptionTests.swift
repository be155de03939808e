import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("Subscriptions and routing")
struct SubscriptionTests {
    @Test(arguments: [
        ("sport/+/score", "sport/tennis/score", true),
        ("sport/#", "sport", true),
        ("sport/#", "sports", false),
        ("#", "$SYS/broker/load", false),
        ("+/broker/load", "$SYS/broker/load", false),
        ("$SYS/broker/+", "$SYS/broker/load", true),
        ("+/+", "a/b", true),
    ])
    func wildcardRouting(filter: String, topic: String, delivered: Bool) {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe(filter, at: clock.now)
        broker.publish(
            Message(topic: topic, payload: ByteBuffer(string: "x"), qos: .atMostOnce, retain: false),
            now: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).count == (delivered ? 1 : 0))
    }

    @Test func overlappingSubscriptionsDeliverOnceAtTheHighestQoSInV311() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker, version: .v3_1_1)
        subscriber.connect("sub", at: clock.now)
        let codes = subscriber.subscribe(
            [
                TopicSubscription(filter: "a/+", options: SubscriptionOptions(qos: .atMostOnce)),
                TopicSubscription(filter: "a/#", options: SubscriptionOptions(qos: .exactlyOnce)),
                TopicSubscription(filter: "a/b", options: SubscriptionOptions(qos: .atLeastOnce)),
            ], at: clock.now)
        #expect(codes == [.grantedQoS0, .grantedQoS2, .grantedQoS1])
        let publisher = TestClient(broker: broker, version: .v3_1_1)
        publisher.connect("pub", at: clock.now)
        publisher.publish("a/b", "x", qos: .exactlyOnce, at: clock.now)
        let delivered = subscriber.drainPublishes(at: clock.now)
        #expect(delivered.count == 1)
        #expect(delivered.first?.qos == .exactlyOnce)
    }

    @Test func overlappingSubscriptionsCarryEverySubscriptionIdentifierInOnePublish() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("a/+", qos: .atMostOnce, identifier: 1, at: clock.now)
        subscriber.subscribe("a/#", qos: .atLeastOnce, identifier: 2, at: clock.now)
        subscriber.subscribe("a/b", qos: .atMostOnce, at: clock.now)  // no identifier
        broker.publish(
            Message(topic: "a/b", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, retain: false),
            now: clock.now)
        let delivered = subscriber.drainPublishes(at: clock.now)
        #expect(delivered.count == 1)
        let publish = try #require(delivered.first)
        #expect(publish.properties.subscriptionIdentifiers.sorted() == [1, 2])
        #expect(publish.qos == .atLeastOnce)
    }

    @Test func subscriptionIdentifierIsSentOnlyForItsSubscription() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("x", identifier: 77, at: clock.now)
        subscriber.subscribe("y", at: clock.now)
        broker.publish(
            Message(topic: "x", payload: ByteBuffer(string: "1"), qos: .atMostOnce, retain: false),
            now: clock.now)
        broker.publish(
            Message(topic: "y", payload: ByteBuffer(string: "2"), qos: .atMostOnce, retain: false),
            now: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).map(\.properties.subscriptionIdentifiers) == [[77], []])
    }

    @Test func resubscribingReplacesTheQoS() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .exactlyOnce, at: clock.now)
        subscriber.subscribe("t", qos: .atMostOnce, at: clock.now)
        #expect(broker.subscriptionCount == 1)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, retain: false),
            now: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).map(\.qos) == [.atMostOnce])
    }

    @Test func unsubscribeReasonCodes() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        client.subscribe("a", at: clock.now)
        client.subscribe("$share/g/b", at: clock.now)
        client.send(
            .unsubscribe(UnsubscribePacket(packetIdentifier: 9, filters: ["a", "nope", "$share/g/b"])),
            at: clock.now)
        #expect(
            client.received() == [
                .unsuback(
                    UnsubAckPacket(packetIdentifier: 9, reasonCodes: [.success, .noSubscriptionExisted, .success]))
            ])
        #expect(broker.subscriptionCount == 0)
        #expect(broker.sessionState("c")?.subscriptions.isEmpty == true)
        broker.publish(
            Message(topic: "a", payload: ByteBuffer(string: "x"), qos: .atMostOnce, retain: false),
            now: clock.now)
        #expect(client.drainPublishes(at: clock.now).isEmpty)
    }

    // MARK: No-local

    @Test func noLocalSuppressesTheClientsOwnMessages() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        client.subscribe("t", noLocal: true, at: clock.now)
        let other = TestClient(broker: broker)
        other.connect("other", at: clock.now)
        client.publish("t", "mine", at: clock.now)
        other.publish("t", "theirs", at: clock.now)
        #expect(client.drainPublishes(at: clock.now).map(\.payloadString) == ["theirs"])
    }

    @Test func withoutNoLocalTheClientGetsItsOwnMessages() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        client.subscribe("t", at: clock.now)
        client.publish("t", "mine", at: clock.now)
        #expect(client.drainPublishes(at: clock.now).map(\.payloadString) == ["mine"])
    }

    @Test func noLocalOnASharedSubscriptionIsAProtocolError() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        let options = SubscriptionOptions(qos: .atMostOnce, noLocal: true)
        client.send(
            .subscribe(
                SubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [
                        TopicSubscription(filter: "$share/g/t", options: options)
                    ])), at: clock.now)
        #expect(client.lastDisposition == .close)
        #expect(client.received().first?.disconnect?.reasonCode == .protocolError)
        #expect(broker.subscriptionCount == 0)
    }

    // MARK: Shared subscriptions

    @Test func sharedSubscriptionRoundRobinsWithinAGroup() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let members = ["m1", "m2"].map { id -> TestClient in
            let client = TestClient(broker: broker)
            client.connect(id, at: clock.now)
            client.subscribe("$share/workers/jobs", qos: .atLeastOnce, at: clock.now)
            return client
        }
        let other = TestClient(broker: broker)
        other.connect("other", at: clock.now)
        other.subscribe("$share/audit/jobs", at: clock.now)
        for index in 1...6 {
            broker.publish(
                Message(
                    topic: "jobs", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce,
                    retain: false), now: clock.now)
        }
        let first = members[0].drainPublishes(at: clock.now).map(\.payloadString)
        let second = members[1].drainPublishes(at: clock.now).map(\.payloadString)
        #expect(first.count == 3)
        #expect(second.count == 3)
        #expect(Set(first + second) == Set((1...6).map { "\($0)" }))
        // Alternating members: consecutive messages never go to the same member.
        #expect(first == ["1", "3", "5"] || first == ["2", "4", "6"])
        // Another group gets its own copy of every message.
        #expect(other.drainPublishes(at: clock.now).count == 6)
    }

    @Test func sharedSubscriptionPrefersConnectedMembers() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let away = TestClient(broker: broker)
        away.connect("away", properties: connectProperties(sessionExpiry: 600), at: clock.now)
        away.subscribe("$share/g/t", qos: .atLeastOnce, at: clock.now)
        away.dropConnection(at: clock.now)
        let here = TestClient(broker: broker)
        here.connect("here", at: clock.now)
        here.subscribe("$share/g/t", qos: .atLeastOnce, at: clock.now)
        for index in 1...4 {
            broker.publish(
                Message(
                    topic: "t", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce,
                    retain: false), now: clock.now)
        }
        #expect(here.drainPublishes(at: clock.now).count == 4)
        #expect(broker.sessionState("away")?.queue.count == 0)
    }

    @Test func sharedAndPlainSubscriptionOfOneSessionAreNotMerged() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        client.subscribe("t", at: clock.now)
        client.subscribe("$share/g/t", at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "x"), qos: .atMostOnce, retain: false),
            now: clock.now)
        #expect(client.drainPublishes(at: clock.now).count == 2)
    }

    // MARK: $SYS

    @Test func clientPublishesToSysAreNotRouted() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("$SYS/#", at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        let replies = client.publish(
            "$SYS/broker/version", "fake", qos: .atLeastOnce, retain: true, packetIdentifier: 4,
            at: clock.now)
        #expect(replies == [.puback(AckPacket(packetIdentifier: 4, reasonCode: .noMatchingSubscribers))])
        #expect(subscriber.drainPublishes(at: clock.now).isEmpty)
        #expect(broker.retainedCount == 0)
    }
}
