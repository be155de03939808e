import BrokerCore
import MQTTCodec
import NIOCore
import Testing

/// Hand-driven time: tests pass explicit deadlines and advance them; nothing reads the wall clock.
struct TestClock {
    private(set) var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    mutating func advance(seconds: Int64) {
        now = now + .seconds(seconds)
    }

    mutating func advance(milliseconds: Int64) {
        now = now + .milliseconds(milliseconds)
    }
}

/// One simulated MQTT client: owns a `ClientConnection` (the broker side of one network connection), sends it
/// packets, and decodes whatever the connection wrote to `outbound` back into packets.
final class TestClient {
    let broker: Broker
    let version: ProtocolVersion
    let handle = FakeConnection()
    let connection: ClientConnection
    private var decoder: MQTTPacketDecoder
    private var nextPacketIdentifier: UInt16 = 1
    /// The disposition of the last `send`.
    private(set) var lastDisposition: ClientConnection.Disposition = .keepOpen

    init(broker: Broker, version: ProtocolVersion = .v5) {
        self.broker = broker
        self.version = version
        self.connection = ClientConnection(broker: broker, handle: handle, allocator: ByteBufferAllocator())
        self.decoder = MQTTPacketDecoder(protocolVersion: version)
    }

    /// Hands one packet to the connection, as the channel handler does after decoding it.
    @discardableResult
    func send(_ packet: MQTTPacket, at now: NIODeadline) -> ClientConnection.Disposition {
        lastDisposition = connection.receive(packet, now: now)
        return lastDisposition
    }

    /// Decodes and returns everything the connection wrote since the last call.
    func received(sourceLocation: SourceLocation = #_sourceLocation) -> [MQTTPacket] {
        guard var bytes = connection.takeOutbound() else { return [] }
        var packets: [MQTTPacket] = []
        do {
            while let packet = try decoder.decode(buffer: &bytes) { packets.append(packet) }
        } catch {
            Issue.record("outbound bytes do not decode: \(error)", sourceLocation: sourceLocation)
        }
        #expect(bytes.readableBytes == 0, "incomplete packet left in outbound", sourceLocation: sourceLocation)
        return packets
    }

    /// Pulls queued deliveries as the channel handler does when the broker schedules a drain, and returns what was
    /// written.
    func drain(at now: NIODeadline, limit: Int = Int.max) -> [MQTTPacket] {
        _ = connection.drain(now: now, limit: limit)
        return received()
    }

    /// The PUBLISH packets among `drain(at:)`'s output.
    func drainPublishes(at now: NIODeadline) -> [PublishPacket] {
        drain(at: now).compactMap(\.publish)
    }

    func nextIdentifier() -> UInt16 {
        defer { nextPacketIdentifier = nextPacketIdentifier == UInt16.max ? 1 : nextPacketIdentifier + 1 }
        return nextPacketIdentifier
    }

    // MARK: Conveniences

    /// Sends CONNECT and returns the CONNACK (nil when none came).
    @discardableResult
    func connect(
        _ clientID: String,
        cleanStart: Bool = true,
        keepAlive: UInt16 = 60,
        will: WillMessage? = nil,
        properties: Properties = Properties(),
        at now: NIODeadline,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> ConnAckPacket? {
        let packet = ConnectPacket(
            protocolVersion: version,
            clientIdentifier: clientID,
            cleanStart: cleanStart,
            keepAlive: keepAlive,
            will: will,
            properties: properties
        )
        send(.connect(packet), at: now)
        let replies = received(sourceLocation: sourceLocation)
        guard case .connack(let connack)? = replies.first else {
            Issue.record("no CONNACK, got \(replies)", sourceLocation: sourceLocation)
            return nil
        }
        return connack
    }

    /// Sends SUBSCRIBE for one filter and returns the SUBACK reason codes.
    @discardableResult
    func subscribe(
        _ filter: String,
        qos: QoS = .atMostOnce,
        noLocal: Bool = false,
        retainAsPublished: Bool = false,
        retainHandling: RetainHandling = .sendOnSubscribe,
        identifier: UInt32? = nil,
        at now: NIODeadline,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [ReasonCode] {
        let options = SubscriptionOptions(
            qos: qos,
            noLocal: noLocal,
            retainAsPublished: retainAsPublished,
            retainHandling: retainHandling
        )
        return subscribe(
            [TopicSubscription(filter: filter, options: options)], identifier: identifier, at: now,
            sourceLocation: sourceLocation)
    }

    @discardableResult
    func subscribe(
        _ subscriptions: [TopicSubscription],
        identifier: UInt32? = nil,
        at now: NIODeadline,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [ReasonCode] {
        var properties = Properties()
        if let identifier { properties.subscriptionIdentifiers = [identifier] }
        let id = nextIdentifier()
        send(
            .subscribe(SubscribePacket(packetIdentifier: id, subscriptions: subscriptions, properties: properties)),
            at: now)
        // The SUBACK comes first; retained messages queued by the subscribe stay in the session until a drain.
        let replies = received(sourceLocation: sourceLocation)
        guard case .suback(let suback)? = replies.first, suback.packetIdentifier == id else {
            Issue.record("no SUBACK for \(id), got \(replies)", sourceLocation: sourceLocation)
            return []
        }
        return suback.reasonCodes
    }

    /// Sends PUBLISH; returns what the connection answered (PUBACK / PUBREC / DISCONNECT …).
    @discardableResult
    func publish(
        _ topic: String,
        _ payload: String,
        qos: QoS = .atMostOnce,
        retain: Bool = false,
        packetIdentifier: UInt16? = nil,
        properties: Properties = Properties(),
        at now: NIODeadline
    ) -> [MQTTPacket] {
        let id = qos == .atMostOnce ? nil : (packetIdentifier ?? nextIdentifier())
        let packet = PublishPacket(
            topic: topic,
            payload: ByteBuffer(string: payload),
            qos: qos,
            retain: retain,
            packetIdentifier: id,
            properties: properties
        )
        send(.publish(packet), at: now)
        return received()
    }

    /// Sends a normal DISCONNECT and tells the connection the network connection is gone.
    func disconnect(
        reason: ReasonCode = .normalDisconnection, properties: Properties = Properties(),
        at now: NIODeadline
    ) {
        send(.disconnect(DisconnectPacket(reasonCode: reason, properties: properties)), at: now)
        connection.connectionClosed(now: now)
    }

    /// The network connection drops without DISCONNECT.
    func dropConnection(at now: NIODeadline) {
        connection.connectionClosed(now: now)
    }
}

// MARK: - Packet accessors

extension MQTTPacket {
    var publish: PublishPacket? {
        if case .publish(let packet) = self { return packet }
        return nil
    }

    var disconnect: DisconnectPacket? {
        if case .disconnect(let packet) = self { return packet }
        return nil
    }

    var connack: ConnAckPacket? {
        if case .connack(let packet) = self { return packet }
        return nil
    }

    var puback: AckPacket? {
        if case .puback(let packet) = self { return packet }
        return nil
    }
}

extension PublishPacket {
    var payloadString: String { String(buffer: payload) }
}

extension Array where Element == MQTTPacket {
    var publishes: [PublishPacket] { compactMap(\.publish) }
    var types: [PacketType] { map(\.type) }
}

/// A broker with a configuration tweaked by `configure`.
func makeBroker(at now: NIODeadline, _ configure: (inout BrokerConfiguration) -> Void = { _ in }) -> Broker {
    var configuration = BrokerConfiguration()
    configure(&configuration)
    return Broker(configuration: configuration, now: now)
}

/// Properties with only the given fields set, for CONNECT.
func connectProperties(
    sessionExpiry: UInt32? = nil,
    receiveMaximum: UInt16? = nil,
    maximumPacketSize: UInt32? = nil,
    topicAliasMaximum: UInt16? = nil,
    requestProblemInformation: UInt8? = nil
) -> Properties {
    var properties = Properties()
    properties.sessionExpiryInterval = sessionExpiry
    properties.receiveMaximum = receiveMaximum
    properties.maximumPacketSize = maximumPacketSize
    properties.topicAliasMaximum = topicAliasMaximum
    properties.requestProblemInformation = requestProblemInformation
    return properties
}

extension Broker {
    /// A copy of the state of `clientID`'s session, for assertions.
    func sessionState(_ clientID: String) -> SessionState? {
        session(clientID: clientID)?.state.withLock { $0 }
    }
}
