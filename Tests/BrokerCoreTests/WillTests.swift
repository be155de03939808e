import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("Wills")
struct WillTests {
    private static func will(_ payload: String = "gone", delay: UInt32? = nil, retain: Bool = false) -> WillMessage {
        var properties = Properties()
        properties.willDelayInterval = delay
        return WillMessage(
            topic: "will/t", payload: ByteBuffer(string: payload), qos: .atLeastOnce, retain: retain,
            properties: properties)
    }

    /// A connected watcher subscribed to the will topic.
    private static func watcher(_ broker: Broker, at now: NIODeadline) -> TestClient {
        let watcher = TestClient(broker: broker)
        watcher.connect("watcher", at: now)
        watcher.subscribe("will/#", qos: .atLeastOnce, at: now)
        return watcher
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func abnormalClosePublishesTheWill(version: ProtocolVersion) {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker, version: version)
        client.connect("c", will: Self.will(), at: clock.now)
        client.dropConnection(at: clock.now)
        let delivered = watcher.drainPublishes(at: clock.now)
        #expect(delivered.map(\.payloadString) == ["gone"])
        #expect(delivered.map(\.topic) == ["will/t"])
    }

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func normalDisconnectDiscardsTheWill(version: ProtocolVersion) {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker, version: version)
        client.connect("c", will: Self.will(), at: clock.now)
        client.disconnect(at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func disconnectWithWillMessagePublishesTheWill() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", will: Self.will(), at: clock.now)
        client.disconnect(reason: .disconnectWithWillMessage, at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).map(\.payloadString) == ["gone"])
    }

    @Test func keepAliveExpiryPublishesTheWill() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", will: Self.will(), at: clock.now)
        #expect(client.connection.keepAliveExpired() == .close)
        #expect(client.received() == [.disconnect(DisconnectPacket(reasonCode: .keepAliveTimeout))])
        client.dropConnection(at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).map(\.payloadString) == ["gone"])
    }

    @Test func retainedWillIsStored() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", will: Self.will(retain: true), at: clock.now)
        client.dropConnection(at: clock.now)
        #expect(broker.retainedMessages(matching: "will/t", now: clock.now).count == 1)
    }

    @Test func delayedWillIsPublishedAfterTheDelay() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker)
        client.connect(
            "c", will: Self.will(delay: 10), properties: connectProperties(sessionExpiry: 100),
            at: clock.now)
        client.dropConnection(at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).isEmpty)
        clock.advance(seconds: 9)
        broker.expire(now: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).isEmpty)
        clock.advance(seconds: 1)
        broker.expire(now: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).map(\.payloadString) == ["gone"])
        // Only once.
        clock.advance(seconds: 50)
        broker.expire(now: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func reconnectWithinTheDelayCancelsTheWill() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker)
        client.connect(
            "c", will: Self.will(delay: 10), properties: connectProperties(sessionExpiry: 100),
            at: clock.now)
        client.dropConnection(at: clock.now)
        clock.advance(seconds: 5)
        let again = TestClient(broker: broker)
        again.connect("c", cleanStart: false, properties: connectProperties(sessionExpiry: 100), at: clock.now)
        clock.advance(seconds: 10)
        broker.expire(now: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func reconnectWithCleanStartWithinTheDelayPublishesTheWillAtOnce() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker)
        client.connect(
            "c", will: Self.will(delay: 10), properties: connectProperties(sessionExpiry: 100),
            at: clock.now)
        client.dropConnection(at: clock.now)
        clock.advance(seconds: 5)
        let again = TestClient(broker: broker)
        again.connect("c", cleanStart: true, at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).map(\.payloadString) == ["gone"])
        clock.advance(seconds: 10)
        broker.expire(now: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).isEmpty)
    }

    @Test func willIsPublishedWhenTheSessionExpiresBeforeTheDelay() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker)
        client.connect(
            "c", will: Self.will(delay: 100), properties: connectProperties(sessionExpiry: 10),
            at: clock.now)
        client.dropConnection(at: clock.now)
        clock.advance(seconds: 10)
        broker.expire(now: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).map(\.payloadString) == ["gone"])
        #expect(broker.session(clientID: "c") == nil)
    }

    @Test func willIsPublishedAtOnceWhenTheSessionEndsAtClose() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let client = TestClient(broker: broker)
        // Session expiry 0: the session ends with the connection, so the delay does not apply.
        client.connect("c", will: Self.will(delay: 100), at: clock.now)
        client.dropConnection(at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).map(\.payloadString) == ["gone"])
    }

    @Test func takeOverPublishesTheOldConnectionsUndelayedWill() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        let old = TestClient(broker: broker)
        old.connect("c", will: Self.will("old"), properties: connectProperties(sessionExpiry: 100), at: clock.now)
        let new = TestClient(broker: broker)
        new.connect(
            "c", cleanStart: false, will: Self.will("new"), properties: connectProperties(sessionExpiry: 100),
            at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).map(\.payloadString) == ["old"])
        // The old connection learns of the take-over and closes: no second will.
        _ = old.connection.sessionTakenOver()
        old.dropConnection(at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).isEmpty)
        // The new connection's will is the one in force.
        new.dropConnection(at: clock.now)
        #expect(watcher.drainPublishes(at: clock.now).map(\.payloadString) == ["new"])
    }

    @Test func willPropertiesAreForwarded() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = Self.watcher(broker, at: clock.now)
        var will = Self.will()
        will.properties.contentType = "text/plain"
        will.properties.responseTopic = "reply/here"
        will.properties.userProperties = [UserProperty(name: "k", value: "v")]
        will.properties.messageExpiryInterval = 60
        let client = TestClient(broker: broker)
        client.connect("c", will: will, at: clock.now)
        client.dropConnection(at: clock.now)
        let delivered = try #require(watcher.drainPublishes(at: clock.now).first)
        #expect(delivered.properties.contentType == "text/plain")
        #expect(delivered.properties.responseTopic == "reply/here")
        #expect(delivered.properties.userProperties == [UserProperty(name: "k", value: "v")])
        #expect(delivered.properties.messageExpiryInterval == 60)
        #expect(delivered.properties.willDelayInterval == nil)
    }

    @Test func willAboveMaximumQoSIsRefused() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maximumQoS = .atMostOnce }
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("c", will: Self.will(), at: clock.now))
        #expect(connack.reasonCode == .qosNotSupported)
        #expect(client.lastDisposition == .close)
        #expect(broker.sessionCount == 0)
    }
}
