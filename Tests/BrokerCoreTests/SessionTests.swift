import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("Sessions")
struct SessionTests {
    private static func message(_ topic: String, _ payload: String, qos: QoS) -> Message {
        Message(topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: false)
    }

    @Test func resendAfterReconnectCarriesDupAndPubrel() throws {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let first = TestClient(broker: broker)
        first.connect("sub", properties: connectProperties(sessionExpiry: 300), at: clock.now)
        first.subscribe("t", qos: .exactlyOnce, at: clock.now)
        broker.publish(Self.message("t", "q1", qos: .atLeastOnce), now: clock.now)
        broker.publish(Self.message("t", "q2", qos: .exactlyOnce), now: clock.now)
        broker.publish(Self.message("t", "q2-received", qos: .exactlyOnce), now: clock.now)
        let sent = first.drainPublishes(at: clock.now)
        let ids = sent.compactMap(\.packetIdentifier)
        try #require(ids.count == 3)
        first.send(.pubrec(AckPacket(packetIdentifier: ids[2])), at: clock.now)
        _ = first.received()
        first.dropConnection(at: clock.now)

        clock.advance(seconds: 10)
        let second = TestClient(broker: broker)
        second.send(
            .connect(
                ConnectPacket(
                    protocolVersion: .v5, clientIdentifier: "sub", cleanStart: false,
                    keepAlive: 60, properties: connectProperties(sessionExpiry: 300))), at: clock.now)
        let replies = second.received()
        try #require(replies.count == 4)
        #expect(replies[0].connack?.sessionPresent == true)
        let resent = replies[1...2].compactMap(\.publish)
        #expect(resent.map(\.payloadString) == ["q1", "q2"])
        #expect(resent.map(\.dup) == [true, true])
        #expect(resent.map(\.packetIdentifier) == [ids[0], ids[1]])
        #expect(resent.map(\.qos) == [.atLeastOnce, .exactlyOnce])
        #expect(replies[3] == .pubrel(AckPacket(packetIdentifier: ids[2])))
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func persistentSessionQueuesQoS1And2WhileOfflineButNotQoS0(version: ProtocolVersion) throws {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let persistent = version == .v5 ? connectProperties(sessionExpiry: 3600) : Properties()
        let subscriber = TestClient(broker: broker, version: version)
        subscriber.connect("sub", cleanStart: version == .v5, properties: persistent, at: clock.now)
        subscriber.subscribe("t", qos: .exactlyOnce, at: clock.now)
        subscriber.disconnect(at: clock.now)
        #expect(broker.sessionCount == 1)

        broker.publish(Self.message("t", "zero", qos: .atMostOnce), now: clock.now)
        broker.publish(Self.message("t", "one", qos: .atLeastOnce), now: clock.now)
        broker.publish(Self.message("t", "two", qos: .exactlyOnce), now: clock.now)
        #expect(broker.statistics.messagesDropped.load(ordering: .relaxed) == 1)

        clock.advance(seconds: 5)
        let again = TestClient(broker: broker, version: version)
        again.send(
            .connect(
                ConnectPacket(
                    protocolVersion: version, clientIdentifier: "sub", cleanStart: false,
                    keepAlive: 60, properties: persistent)), at: clock.now)
        let replies = again.received()
        #expect(replies.first?.connack?.sessionPresent == true)
        #expect(replies.publishes.map(\.payloadString) == ["one", "two"])
        #expect(replies.publishes.map(\.qos) == [.atLeastOnce, .exactlyOnce])
    }

    @Test func queueQoS0MessagesKeepsQoS0WhileOffline() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.queueQoS0Messages = true }
        let subscriber = TestClient(broker: broker, version: .v3_1_1)
        subscriber.connect("sub", cleanStart: false, at: clock.now)
        subscriber.subscribe("t", qos: .atMostOnce, at: clock.now)
        subscriber.disconnect(at: clock.now)
        broker.publish(Self.message("t", "zero", qos: .atMostOnce), now: clock.now)
        let again = TestClient(broker: broker, version: .v3_1_1)
        again.send(
            .connect(
                ConnectPacket(
                    protocolVersion: .v3_1_1, clientIdentifier: "sub", cleanStart: false,
                    keepAlive: 60)), at: clock.now)
        #expect(again.received().publishes.map(\.payloadString) == ["zero"])
        #expect(broker.statistics.messagesDropped.load(ordering: .relaxed) == 0)
    }

    @Test func boundedQueueDropsAndCounts() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maxQueuedMessages = 3 }
        let subscriber = TestClient(broker: broker, version: .v3_1_1)
        subscriber.connect("sub", cleanStart: false, at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        subscriber.disconnect(at: clock.now)
        for index in 1...5 {
            broker.publish(Self.message("t", "\(index)", qos: .atLeastOnce), now: clock.now)
        }
        #expect(broker.statistics.messagesDropped.load(ordering: .relaxed) == 2)
        #expect(broker.sessionState("sub")?.droppedMessages == 2)
        let again = TestClient(broker: broker, version: .v3_1_1)
        again.send(
            .connect(
                ConnectPacket(
                    protocolVersion: .v3_1_1, clientIdentifier: "sub", cleanStart: false,
                    keepAlive: 60)), at: clock.now)
        // The oldest are kept; the newest were dropped.
        #expect(again.received().publishes.map(\.payloadString) == ["1", "2", "3"])
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func cleanStartDiscardsTheSession(version: ProtocolVersion) {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let persistent = version == .v5 ? connectProperties(sessionExpiry: 3600) : Properties()
        let subscriber = TestClient(broker: broker, version: version)
        subscriber.connect("sub", cleanStart: false, properties: persistent, at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        subscriber.disconnect(at: clock.now)
        broker.publish(Self.message("t", "queued", qos: .atLeastOnce), now: clock.now)
        #expect(broker.subscriptionCount == 1)

        let fresh = TestClient(broker: broker, version: version)
        fresh.send(
            .connect(
                ConnectPacket(
                    protocolVersion: version, clientIdentifier: "sub", cleanStart: true,
                    keepAlive: 60, properties: persistent)), at: clock.now)
        let replies = fresh.received()
        #expect(replies.first?.connack?.sessionPresent == false)
        #expect(replies.publishes.isEmpty)
        #expect(broker.subscriptionCount == 0)
        // The old subscription is gone: new messages do not reach the new session.
        broker.publish(Self.message("t", "after", qos: .atLeastOnce), now: clock.now)
        #expect(fresh.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func sessionExpiresAfterItsInterval() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", properties: connectProperties(sessionExpiry: 30), at: clock.now)
        client.subscribe("t", qos: .atLeastOnce, at: clock.now)
        client.dropConnection(at: clock.now)
        #expect(broker.sessionCount == 1)

        clock.advance(seconds: 29)
        broker.expire(now: clock.now)
        #expect(broker.sessionCount == 1)
        #expect(broker.subscriptionCount == 1)

        clock.advance(seconds: 1)
        broker.expire(now: clock.now)
        #expect(broker.sessionCount == 0)
        #expect(broker.subscriptionCount == 0)
        #expect(broker.publish(Self.message("t", "x", qos: .atLeastOnce), now: clock.now) == 0)
    }

    @Test func reconnectingCancelsTheExpiry() throws {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", properties: connectProperties(sessionExpiry: 30), at: clock.now)
        client.dropConnection(at: clock.now)
        clock.advance(seconds: 20)
        let again = TestClient(broker: broker)
        let connack = try #require(
            again.connect(
                "c", cleanStart: false, properties: connectProperties(sessionExpiry: 30),
                at: clock.now))
        #expect(connack.sessionPresent)
        clock.advance(seconds: 20)
        broker.expire(now: clock.now)
        #expect(broker.sessionCount == 1)
    }

    @Test func sessionExpiryZeroEndsTheSessionAtDisconnect() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", cleanStart: false, at: clock.now)
        client.subscribe("t", at: clock.now)
        client.disconnect(at: clock.now)
        #expect(broker.sessionCount == 0)
        #expect(broker.subscriptionCount == 0)
    }

    @Test func disconnectCanChangeTheSessionExpiry() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", properties: connectProperties(sessionExpiry: 10), at: clock.now)
        var properties = Properties()
        properties.sessionExpiryInterval = 100
        client.disconnect(properties: properties, at: clock.now)
        clock.advance(seconds: 50)
        broker.expire(now: clock.now)
        #expect(broker.sessionCount == 1)
        clock.advance(seconds: 50)
        broker.expire(now: clock.now)
        #expect(broker.sessionCount == 0)
    }

    @Test func disconnectSettingExpiryAfterZeroIsAProtocolError() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        var properties = Properties()
        properties.sessionExpiryInterval = 100
        client.send(.disconnect(DisconnectPacket(properties: properties)), at: clock.now)
        #expect(client.lastDisposition == .close)
        #expect(client.received().first?.disconnect?.reasonCode == .protocolError)
    }

    @Test func v3PersistentSessionNeverExpires() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker, version: .v3_1_1)
        client.connect("c", cleanStart: false, at: clock.now)
        client.subscribe("t", qos: .atLeastOnce, at: clock.now)
        client.dropConnection(at: clock.now)
        clock.advance(seconds: 10 * 365 * 24 * 3600)
        broker.expire(now: clock.now)
        #expect(broker.sessionCount == 1)
        #expect(broker.subscriptionCount == 1)
    }

    @Test func maximumSessionExpiryCapsAndIsAnnounced() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maximumSessionExpiry = 60 }
        let client = TestClient(broker: broker)
        let connack = try #require(
            client.connect(
                "c", properties: connectProperties(sessionExpiry: 3600),
                at: clock.now))
        #expect(connack.properties.sessionExpiryInterval == 60)
    }

    // MARK: Take-over

    @Test func takeOverNotifiesTheOldConnection() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let old = TestClient(broker: broker)
        old.connect("c", properties: connectProperties(sessionExpiry: 60), at: clock.now)
        old.subscribe("t", qos: .atLeastOnce, at: clock.now)
        let new = TestClient(broker: broker)
        let connack = try #require(
            new.connect(
                "c", cleanStart: false, properties: connectProperties(sessionExpiry: 60),
                at: clock.now))
        #expect(connack.sessionPresent)
        #expect(old.handle.takeOverNotices == 1)
        #expect(new.handle.takeOverNotices == 0)

        // The old connection, told by its handle, sends DISCONNECT 0x8E and closes.
        #expect(old.connection.sessionTakenOver() == .close)
        #expect(old.received() == [.disconnect(DisconnectPacket(reasonCode: .sessionTakenOver))])
        // Its close does not detach the new connection.
        old.dropConnection(at: clock.now)
        #expect(broker.session(clientID: "c")?.isConnected == true)
        broker.publish(Self.message("t", "to-new", qos: .atLeastOnce), now: clock.now)
        #expect(new.handle.drainRequests == 1)
        #expect(new.drainPublishes(at: clock.now).map(\.payloadString) == ["to-new"])
    }

    /// A drain scheduled on the old connection's loop before it learns of the take-over must not pull the
    /// session's messages onto the dying socket.
    @Test
    func takenOverConnectionDoesNotDrainTheSession() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let old = TestClient(broker: broker)
        old.connect("c", properties: connectProperties(sessionExpiry: 60), at: clock.now)
        old.subscribe("t", qos: .atLeastOnce, at: clock.now)
        let new = TestClient(broker: broker)
        new.connect("c", cleanStart: false, properties: connectProperties(sessionExpiry: 60), at: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "m"), qos: .atLeastOnce, retain: false),
            now: clock.now)
        // The old connection's loop runs a drain scheduled before it learnt of the take-over.
        #expect(old.drainPublishes(at: clock.now).isEmpty, "the replaced connection stole the message")
        #expect(new.drainPublishes(at: clock.now).map(\.payloadString) == ["m"])
    }

    @Test func takeOverOfV3ConnectionClosesWithoutDisconnect() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let old = TestClient(broker: broker, version: .v3_1_1)
        old.connect("c", at: clock.now)
        let new = TestClient(broker: broker, version: .v3_1_1)
        new.connect("c", at: clock.now)
        #expect(old.handle.takeOverNotices == 1)
        #expect(old.connection.sessionTakenOver() == .close)
        #expect(old.received().isEmpty)
    }

    @Test func sessionIsConnectedTracksAttachment() {
        let session = Session(clientID: "s")
        #expect(!session.isConnected)
        let epoch = session.attach(FakeConnection())
        #expect(session.isConnected)
        let newer = session.attach(FakeConnection())
        #expect(!session.detach(epoch: epoch))
        #expect(session.isConnected)
        #expect(session.detach(epoch: newer))
        #expect(!session.isConnected)
    }

    @Test func packetIdentifiersWrapAndSkipZero() {
        var state = SessionState()
        state.nextPacketIdentifier = UInt16.max
        #expect(state.allocatePacketIdentifier() == UInt16.max)
        #expect(state.allocatePacketIdentifier() == 1)
        #expect(state.allocatePacketIdentifier() == 2)
    }
}
