import BrokerCore
import MQTTCodec
import NIOCore
import Testing

/// Regression tests: each one failed against an earlier version of the broker core and documents the bug it caught.
@Suite("Regressions")
struct RegressionTests {
    /// With a full in-flight window, an oversized QoS 1 message is dropped after it took the last window slot.
    /// `drain` has already decided (under the lock) that the window is full and set `drainScheduled = true`, so the
    /// next queued message is not sent, `drain` returns false (no reschedule), and no PUBACK will ever come to wake
    /// the session: delivery stalls until the client reconnects.
    @Test(
        .bug(
            id: "core-1",
            "ClientConnection+Publish.swift drain/sendPublish: oversize drop frees the window but the queue stalls"))
    func oversizedMessageDoesNotStallTheQueueBehindIt() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect(
            "sub", properties: connectProperties(receiveMaximum: 1, maximumPacketSize: 64),
            at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        broker.publish(
            Message(
                topic: "t", payload: ByteBuffer(string: String(repeating: "x", count: 100)),
                qos: .atLeastOnce, retain: false), now: clock.now)
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "small"), qos: .atLeastOnce, retain: false),
            now: clock.now)
        // One scheduled drain, as the channel handler runs it.
        let more = subscriber.connection.drain(now: clock.now, limit: 256)
        let delivered = subscriber.received().publishes.map(\.payloadString)
        #expect(delivered == ["small"] || more, "small message stuck: delivered \(delivered), more = \(more)")
        // And a later publish must still wake the connection.
        let requestsBefore = subscriber.handle.drainRequests
        broker.publish(
            Message(topic: "t", payload: ByteBuffer(string: "later"), qos: .atLeastOnce, retain: false),
            now: clock.now)
        #expect(
            delivered == ["small"] || subscriber.handle.drainRequests > requestsBefore,
            "session never asks for a drain again")
    }

    /// MQTT 5 §3.3.2.3.3 [MQTT-3.3.2-6]: every PUBLISH the server sends carries the remaining Message Expiry
    /// Interval. The DUP resend after reconnect is sent with `now: nil`, so the property is left out and the
    /// message looks as if it never expired.
    @Test(
        .bug(
            id: "core-2",
            "ClientConnection+Publish.swift resendInflight(): DUP resend drops the Message Expiry Interval"))
    func resentMessageKeepsItsRemainingExpiry() throws {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let subscriber = TestClient(broker: broker)
        subscriber.connect("sub", properties: connectProperties(sessionExpiry: 600), at: clock.now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: clock.now)
        var properties = Properties()
        properties.messageExpiryInterval = 100
        let publisher = TestClient(broker: broker)
        publisher.connect("pub", at: clock.now)
        publisher.publish("t", "x", qos: .atLeastOnce, properties: properties, at: clock.now)
        #expect(subscriber.drainPublishes(at: clock.now).map(\.properties.messageExpiryInterval) == [100])
        subscriber.dropConnection(at: clock.now)

        clock.advance(seconds: 30)
        let again = TestClient(broker: broker)
        again.send(
            .connect(
                ConnectPacket(
                    protocolVersion: .v5, clientIdentifier: "sub", cleanStart: false,
                    keepAlive: 60, properties: connectProperties(sessionExpiry: 600))), at: clock.now)
        let resent = try #require(again.received().publishes.first)
        #expect(resent.dup)
        #expect(resent.properties.messageExpiryInterval == 70)
    }

    /// `maximumSessionExpiry` caps the interval asked for in CONNECT, but a v5 DISCONNECT can raise it past the
    /// cap: `handleDisconnect` stores the client's value unchecked.
    @Test(.bug(id: "core-3", "ClientConnection+Subscribe.swift handleDisconnect: DISCONNECT session expiry not capped"))
    func disconnectCannotRaiseSessionExpiryAboveTheMaximum() {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maximumSessionExpiry = 60 }
        let client = TestClient(broker: broker)
        client.connect("c", properties: connectProperties(sessionExpiry: 30), at: clock.now)
        var properties = Properties()
        properties.sessionExpiryInterval = UInt32.max
        client.disconnect(properties: properties, at: clock.now)
        clock.advance(seconds: 61)
        broker.expire(now: clock.now)
        #expect(broker.sessionCount == 0, "session outlived maximumSessionExpiry")
    }

    /// A session whose expiry deadline has passed is resumed (sessionPresent = 1, old queue delivered) when the
    /// client reconnects before the periodic `expire(now:)` has run. `attach` should treat a session with
    /// `expiries[clientID] <= now` as gone.
    @Test(.bug(id: "core-4", "Broker.swift attach(): an expired session is resumed if expire(now:) has not run yet"))
    func expiredSessionIsNotResumedBeforeTheSweep() throws {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", properties: connectProperties(sessionExpiry: 10), at: clock.now)
        client.dropConnection(at: clock.now)
        clock.advance(seconds: 11)
        let again = TestClient(broker: broker)
        let connack = try #require(
            again.connect(
                "c", cleanStart: false, properties: connectProperties(sessionExpiry: 10),
                at: clock.now))
        #expect(!connack.sessionPresent)
    }

    /// MQTT 5 §3.1.3.2.4: the will's Message Expiry Interval is "the lifetime of the Will Message … when the
    /// Server publishes the Will Message". `Broker.detach` builds the `Message` (and its `expiresAt`) at disconnect
    /// time and stores it in `pendingWills`, so a delayed will loses the delay from its lifetime, and one whose
    /// delay exceeds its expiry is already expired when it is finally published: nobody receives it.
    @Test(.bug(id: "core-5", "Broker.swift detach(): delayed will's expiry counted from disconnect, not publication"))
    func delayedWillExpiryStartsWhenItIsPublished() throws {
        var clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let watcher = TestClient(broker: broker)
        watcher.connect("watcher", at: clock.now)
        watcher.subscribe("will/#", qos: .atLeastOnce, at: clock.now)
        var willProperties = Properties()
        willProperties.willDelayInterval = 10
        willProperties.messageExpiryInterval = 5
        let will = WillMessage(
            topic: "will/t", payload: ByteBuffer(string: "gone"), qos: .atLeastOnce,
            retain: false, properties: willProperties)
        let client = TestClient(broker: broker)
        client.connect("c", will: will, properties: connectProperties(sessionExpiry: 100), at: clock.now)
        client.dropConnection(at: clock.now)
        clock.advance(seconds: 10)
        broker.expire(now: clock.now)
        let delivered = watcher.drainPublishes(at: clock.now)
        #expect(delivered.map(\.payloadString) == ["gone"])
        #expect(delivered.first?.properties.messageExpiryInterval == 5)
    }

    /// [MQTT-3.4.2-2], [MQTT-3.5.2-2], [MQTT-3.6.2-2], [MQTT-3.7.2-2], [MQTT-3.14.2-3]: a Reason String (or User
    /// Property) must be left out when it would make the packet exceed the client's Maximum Packet Size. `send`
    /// drops the whole packet instead, so a client with a small maximum never gets the PUBCOMP for its PUBREL and
    /// its QoS 2 flow never completes.
    @Test(
        .bug(id: "core-6", "ClientConnection.swift send(_:version:): drops the whole ack instead of its reason string"))
    func acknowledgementIsSentWithoutReasonStringWhenItWouldBeTooLarge() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", properties: connectProperties(maximumPacketSize: 16), at: clock.now)
        client.send(.pubrel(AckPacket(packetIdentifier: 42)), at: clock.now)
        #expect(client.received() == [.pubcomp(AckPacket(packetIdentifier: 42, reasonCode: .packetIdentifierNotFound))])
    }
}
