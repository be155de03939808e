import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("QoS flows")
struct QoSFlowTests {
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func qos0IsForwardedWithoutAcknowledgement(version: ProtocolVersion) throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker, version: version)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .exactlyOnce, at: clock.now)
        let publisher = TestClient(broker: broker, version: version)
        publisher.connect("pub", at: clock.now)

        #expect(publisher.publish("t", "hello", at: clock.now).isEmpty)
        #expect(subscriber.handle.drainRequests == 1)
        let delivered = subscriber.drainPublishes(at: clock.now)
        #expect(delivered.count == 1)
        let message = try #require(delivered.first)
        #expect(message.qos == .atMostOnce)
        #expect(message.packetIdentifier == nil)
        #expect(message.payloadString == "hello")
        #expect(message.topic == "t")
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func qos1BothDirections(version: ProtocolVersion) throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker, version: version)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        let publisher = TestClient(broker: broker, version: version)
        publisher.connect("pub", at: clock.now)

        let replies = publisher.publish("t", "one", qos: .atLeastOnce, packetIdentifier: 7, at: clock.now)
        #expect(replies == [.puback(AckPacket(packetIdentifier: 7))])

        let delivered = subscriber.drainPublishes(at: clock.now)
        let message = try #require(delivered.first)
        #expect(delivered.count == 1)
        #expect(message.qos == .atLeastOnce)
        #expect(message.dup == false)
        let id = try #require(message.packetIdentifier)
        #expect(broker.sessionState("sub")?.inflight.count == 1)

        subscriber.send(.puback(AckPacket(packetIdentifier: id)), at: clock.now)
        #expect(subscriber.received().isEmpty)
        #expect(broker.sessionState("sub")?.inflight.count == 0)
    }

    @Test func qos1WithoutSubscribersAnswersNoMatchingSubscribersInV5() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        let replies = publisher.publish("nobody", "x", qos: .atLeastOnce, packetIdentifier: 3, at: clock.now)
        #expect(replies == [.puback(AckPacket(packetIdentifier: 3, reasonCode: .noMatchingSubscribers))])
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func qos2BothDirections(version: ProtocolVersion) throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker, version: version)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .exactlyOnce, at: clock.now)
        let publisher = TestClient(broker: broker, version: version)
        publisher.connect("pub", at: clock.now)

        // Inbound: PUBLISH → PUBREC, PUBREL → PUBCOMP.
        #expect(
            publisher.publish("t", "two", qos: .exactlyOnce, packetIdentifier: 9, at: clock.now)
                == [.pubrec(AckPacket(packetIdentifier: 9))])
        publisher.send(.pubrel(AckPacket(packetIdentifier: 9)), at: clock.now)
        #expect(publisher.received() == [.pubcomp(AckPacket(packetIdentifier: 9))])

        // Outbound: PUBLISH, client PUBREC → PUBREL, client PUBCOMP ends the flow.
        let message = try #require(subscriber.drainPublishes(at: clock.now).first)
        #expect(message.qos == .exactlyOnce)
        let id = try #require(message.packetIdentifier)
        subscriber.send(.pubrec(AckPacket(packetIdentifier: id)), at: clock.now)
        #expect(subscriber.received() == [.pubrel(AckPacket(packetIdentifier: id))])
        #expect(broker.sessionState("sub")?.inflight[id]?.stage == .awaitingCompletion)
        subscriber.send(.pubcomp(AckPacket(packetIdentifier: id)), at: clock.now)
        #expect(subscriber.received().isEmpty)
        #expect(broker.sessionState("sub")?.inflight.isEmpty == true)
    }

    @Test func resentQoS2PublishIsNotRoutedTwice() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .atMostOnce, at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)

        #expect(
            publisher.publish("t", "once", qos: .exactlyOnce, packetIdentifier: 5, at: clock.now)
                == [.pubrec(AckPacket(packetIdentifier: 5))])
        // The PUBREC was lost: the client resends the PUBLISH with DUP.
        let resend = PublishPacket(
            topic: "t", payload: ByteBuffer(string: "once"), qos: .exactlyOnce, dup: true,
            packetIdentifier: 5)
        publisher.send(.publish(resend), at: clock.now)
        #expect(publisher.received() == [.pubrec(AckPacket(packetIdentifier: 5))])
        #expect(subscriber.drainPublishes(at: clock.now).map(\.payloadString) == ["once"])

        // After PUBREL the identifier is free again and a new message with it is routed.
        publisher.send(.pubrel(AckPacket(packetIdentifier: 5)), at: clock.now)
        #expect(publisher.received() == [.pubcomp(AckPacket(packetIdentifier: 5))])
        publisher.publish("t", "again", qos: .exactlyOnce, packetIdentifier: 5, at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).map(\.payloadString) == ["again"])
    }

    @Test func pubrelForUnknownIdentifierAnswersPacketIdentifierNotFound() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        #expect(client.send(.pubrel(AckPacket(packetIdentifier: 42)), at: clock.now) == .keepOpen)
        let replies = client.received()
        guard case .pubcomp(let pubcomp)? = replies.first, replies.count == 1 else {
            Issue.record("expected one PUBCOMP, got \(replies)")
            return
        }
        #expect(pubcomp.packetIdentifier == 42)
        #expect(pubcomp.reasonCode == .packetIdentifierNotFound)
        // Request Problem Information defaults to 1: the failure is explained.
        #expect(pubcomp.properties.reasonString != nil)
    }

    @Test func noReasonStringOnAcknowledgementsWhenProblemInformationIsNotRequested() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", properties: connectProperties(requestProblemInformation: 0), at: clock.now)
        client.send(.pubrel(AckPacket(packetIdentifier: 42)), at: clock.now)
        client.send(.pubrec(AckPacket(packetIdentifier: 43)), at: clock.now)
        #expect(
            client.received() == [
                .pubcomp(AckPacket(packetIdentifier: 42, reasonCode: .packetIdentifierNotFound)),
                .pubrel(AckPacket(packetIdentifier: 43, reasonCode: .packetIdentifierNotFound)),
            ])
    }

    @Test func pubrelForUnknownIdentifierInV311IsStillCompleted() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker, version: .v3_1_1)
        client.connect("c", at: clock.now)
        client.send(.pubrel(AckPacket(packetIdentifier: 42)), at: clock.now)
        #expect(client.received() == [.pubcomp(AckPacket(packetIdentifier: 42))])
    }

    @Test func pubrecForUnknownIdentifierAnswersPubrelNotFound() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        client.send(.pubrec(AckPacket(packetIdentifier: 11)), at: clock.now)
        let replies = client.received()
        guard case .pubrel(let pubrel)? = replies.first, replies.count == 1 else {
            Issue.record("expected one PUBREL, got \(replies)")
            return
        }
        #expect(pubrel.packetIdentifier == 11)
        #expect(pubrel.reasonCode == .packetIdentifierNotFound)
    }

    @Test func pubrecWithFailureEndsTheFlowWithoutPubrel() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .exactlyOnce, at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, retain: false),
            now: clock.now)
        let id = try #require(subscriber.drainPublishes(at: clock.now).first?.packetIdentifier)
        subscriber.send(.pubrec(AckPacket(packetIdentifier: id, reasonCode: .unspecifiedError)), at: clock.now)
        #expect(subscriber.received().isEmpty)
        #expect(broker.sessionState("sub")?.inflight.isEmpty == true)
    }

    @Test func deliveryQoSIsTheMinimumOfMessageAndSubscription() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let low = TestClient(broker: broker)
        low.connect("low", at: clock.now)
        low.subscribe("t", qos: .atLeastOnce, at: clock.now)
        let high = TestClient(broker: broker)
        high.connect("high", at: clock.now)
        high.subscribe("t", qos: .exactlyOnce, at: clock.now)
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("t", "q2", qos: .exactlyOnce, at: clock.now)
        publisher.publish("t", "q0", qos: .atMostOnce, at: clock.now)
        #expect(low.drainPublishes(at: clock.now).map(\.qos) == [.atLeastOnce, .atMostOnce])
        #expect(high.drainPublishes(at: clock.now).map(\.qos) == [.exactlyOnce, .atMostOnce])
    }

    @Test func subscriptionQoSIsCappedByMaximumQoS() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maximumQoS = .atLeastOnce }
        let client = TestClient(broker: broker)
        let connack = client.connect("c", at: clock.now)
        #expect(connack?.properties.maximumQoS == 1)
        #expect(client.subscribe("t", qos: .exactlyOnce, at: clock.now) == [.grantedQoS1])
        // A QoS 2 PUBLISH above the maximum is refused with DISCONNECT 0x9B.
        client.publish("t", "x", qos: .exactlyOnce, at: clock.now)
        #expect(client.lastDisposition == .close)
    }

    // MARK: In-flight window

    @Test func inflightWindowIsTheClientsReceiveMaximum() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", properties: connectProperties(receiveMaximum: 2), at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        for index in 1...5 {
            broker.publish(
                Message(
                    topic: "t", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce,
                    retain: false), now: clock.now)
        }
        let first = subscriber.drainPublishes(at: clock.now)
        #expect(first.map(\.payloadString) == ["1", "2"])
        // Nothing more while both are unacknowledged.
        #expect(subscriber.drainPublishes(at: clock.now).isEmpty)
        #expect(broker.sessionState("sub")?.queue.count == 3)

        // Each PUBACK lets exactly one more out, in order.
        let firstID = try #require(first[0].packetIdentifier)
        subscriber.send(.puback(AckPacket(packetIdentifier: firstID)), at: clock.now)
        let next = subscriber.received().publishes
        #expect(next.map(\.payloadString) == ["3"])
        let secondID = try #require(first[1].packetIdentifier)
        subscriber.send(.puback(AckPacket(packetIdentifier: secondID)), at: clock.now)
        #expect(subscriber.received().publishes.map(\.payloadString) == ["4"])
    }

    @Test func inflightWindowForV3IsMaxInflightMessages() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maxInflightMessages = 1 }
        let subscriber = TestClient(broker: broker, version: .v3_1_1)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", qos: .exactlyOnce, at: clock.now)
        for index in 1...3 {
            broker.publish(
                Message(
                    topic: "t", payload: ByteBuffer(string: "\(index)"), qos: .exactlyOnce,
                    retain: false), now: clock.now)
        }
        let first = try #require(subscriber.drainPublishes(at: clock.now).first)
        #expect(first.payloadString == "1")
        #expect(subscriber.drainPublishes(at: clock.now).isEmpty)
        let id = try #require(first.packetIdentifier)
        // PUBREC does not free the window, PUBCOMP does.
        subscriber.send(.pubrec(AckPacket(packetIdentifier: id)), at: clock.now)
        #expect(subscriber.received() == [.pubrel(AckPacket(packetIdentifier: id))])
        #expect(subscriber.drainPublishes(at: clock.now).isEmpty)
        subscriber.send(.pubcomp(AckPacket(packetIdentifier: id)), at: clock.now)
        #expect(subscriber.received().publishes.map(\.payloadString) == ["2"])
    }

    @Test func drainLimitMovesAtMostThatManyAndReportsMore() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", at: clock.now)
        subscriber.subscribe("t", at: clock.now)
        for index in 1...5 {
            broker.publish(
                Message(
                    topic: "t", payload: ByteBuffer(string: "\(index)"), qos: .atMostOnce,
                    retain: false), now: clock.now)
        }
        // Only the first publish asks for a drain while one is pending.
        #expect(subscriber.handle.drainRequests == 1)
        #expect(subscriber.connection.drain(now: clock.now, limit: 2))
        #expect(subscriber.received().publishes.map(\.payloadString) == ["1", "2"])
        #expect(subscriber.connection.drain(now: clock.now, limit: 2))
        #expect(!subscriber.connection.drain(now: clock.now, limit: 2))
        #expect(subscriber.received().publishes.map(\.payloadString) == ["3", "4", "5"])
    }

    @Test func incomingQoS2BeyondReceiveMaximumDisconnectsWith0x93() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.receiveMaximum = 2 }
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("c", at: clock.now))
        #expect(connack.properties.receiveMaximum == 2)
        client.publish("t", "1", qos: .exactlyOnce, packetIdentifier: 1, at: clock.now)
        client.publish("t", "2", qos: .exactlyOnce, packetIdentifier: 2, at: clock.now)
        #expect(client.lastDisposition == .keepOpen)
        let replies = client.publish("t", "3", qos: .exactlyOnce, packetIdentifier: 3, at: clock.now)
        #expect(client.lastDisposition == .close)
        #expect(replies.first?.disconnect?.reasonCode == .receiveMaximumExceeded)
    }

    @Test func releasingAQoS2MessageMakesRoomUnderReceiveMaximum() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.receiveMaximum = 1 }
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        client.publish("t", "1", qos: .exactlyOnce, packetIdentifier: 1, at: clock.now)
        client.send(.pubrel(AckPacket(packetIdentifier: 1)), at: clock.now)
        _ = client.received()
        #expect(
            client.publish("t", "2", qos: .exactlyOnce, packetIdentifier: 2, at: clock.now)
                == [.pubrec(AckPacket(packetIdentifier: 2, reasonCode: .noMatchingSubscribers))])
        #expect(client.lastDisposition == .keepOpen)
    }
}
