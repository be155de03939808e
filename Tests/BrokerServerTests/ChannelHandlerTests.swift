import BrokerCore
import Logging
import MQTTCodec
import NIOCore
import NIOEmbedded
import Testing

@testable import BrokerServer

/// `MQTTChannelHandler` on NIO `EmbeddedChannel`s: bytes in, bytes out, no sockets, time advanced by hand.
@Suite("MQTTChannelHandler")
struct ChannelHandlerTests {
    /// One embedded connection with the handler installed and the channel active.
    struct Connection {
        let channel: EmbeddedChannel
        let version: ProtocolVersion

        init(
            broker: Broker, registry: ConnectionRegistry = ConnectionRegistry(), version: ProtocolVersion = .v5,
            connectTimeout: TimeAmount = .seconds(10), loop: EmbeddedEventLoop = EmbeddedEventLoop()
        ) throws {
            self.version = version
            channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(
                MQTTChannelHandler(
                    settings: .init(
                        broker: broker, registry: registry, connectTimeout: connectTimeout,
                        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
            )
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1883)).wait()
        }

        func write(_ packet: MQTTPacket) throws {
            var buffer = ByteBuffer()
            try MQTTPacketEncoder.encode(packet, version: version, into: &buffer)
            try channel.writeInbound(buffer)
        }

        func writeBytes(_ bytes: [UInt8]) throws {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        }

        /// Every byte written to the socket so far.
        func outboundBytes() throws -> [UInt8] {
            var bytes: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                bytes += Array(buffer.readableBytesView)
            }
            return bytes
        }

        /// Every packet written to the socket so far, decoded.
        func outboundPackets() throws -> [MQTTPacket] {
            var buffer = ByteBuffer(bytes: try outboundBytes())
            var decoder = MQTTPacketDecoder(protocolVersion: version)
            var packets: [MQTTPacket] = []
            while let packet = try decoder.decode(buffer: &buffer) { packets.append(packet) }
            #expect(buffer.readableBytes == 0)
            return packets
        }

        func connect(
            _ clientID: String, cleanStart: Bool = true, keepAlive: UInt16 = 60,
            will: WillMessage? = nil, properties: Properties = Properties()
        ) throws -> ConnAckPacket? {
            try write(
                .connect(
                    ConnectPacket(
                        protocolVersion: version, clientIdentifier: clientID,
                        cleanStart: cleanStart, keepAlive: keepAlive, will: will, properties: properties)))
            return try outboundPackets().first.flatMap { packet in
                if case .connack(let connack) = packet { return connack }
                return nil
            }
        }
    }

    private static func broker() -> Broker {
        Broker(configuration: BrokerConfiguration(), now: .now())
    }

    @Test func connectBytesAreAnsweredWithConnackBytes() throws {
        let connection = try Connection(broker: Self.broker(), version: .v3_1_1)
        // CONNECT, MQTT 3.1.1, clean session, keep-alive 60, client id "c".
        try connection.writeBytes([
            0x10, 0x0D, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C,
            0x00, 0x01, 0x63,
        ])
        #expect(try connection.outboundBytes() == [0x20, 0x02, 0x00, 0x00])
        #expect(connection.channel.isActive)
    }

    @Test func packetSplitAcrossReadsIsReassembled() throws {
        let connection = try Connection(broker: Self.broker(), version: .v3_1_1)
        let connect: [UInt8] = [
            0x10, 0x0D, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C,
            0x00, 0x01, 0x63,
        ]
        for byte in connect.dropLast() {
            try connection.writeBytes([byte])
            #expect(try connection.outboundBytes().isEmpty)
        }
        try connection.writeBytes([connect.last!])
        #expect(try connection.outboundBytes() == [0x20, 0x02, 0x00, 0x00])
    }

    @Test func severalPacketsInOneReadAreAllHandled() throws {
        let connection = try Connection(broker: Self.broker(), version: .v3_1_1)
        // CONNECT followed by two PINGREQs in one read.
        try connection.writeBytes([
            0x10, 0x0D, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C,
            0x00, 0x01, 0x63, 0xC0, 0x00, 0xC0, 0x00,
        ])
        #expect(try connection.outboundBytes() == [0x20, 0x02, 0x00, 0x00, 0xD0, 0x00, 0xD0, 0x00])
    }

    @Test func v5ConnectGetsAV5Connack() throws {
        let connection = try Connection(broker: Self.broker())
        let connack = try #require(try connection.connect("c"))
        #expect(connack.reasonCode == .success)
        #expect(connack.properties.receiveMaximum == 20)
    }

    @Test func malformedPacketClosesTheChannel() throws {
        let broker = Self.broker()
        let connection = try Connection(broker: broker)
        _ = try connection.connect("c")
        // Packet type 0 is reserved: malformed.
        try connection.writeBytes([0x00, 0x00])
        let packets = try connection.outboundPackets()
        #expect(packets.count == 1)
        if case .disconnect(let disconnect)? = packets.first {
            #expect(disconnect.reasonCode == .malformedPacket)
        } else {
            Issue.record("expected DISCONNECT 0x81, got \(packets)")
        }
        #expect(!connection.channel.isActive)
        #expect(broker.statistics.protocolErrors.load(ordering: .relaxed) == 1)
    }

    @Test func firstPacketNotConnectClosesWithoutAnswer() throws {
        let broker = Self.broker()
        let connection = try Connection(broker: broker)
        try connection.writeBytes([0xC0, 0x00])  // PINGREQ
        #expect(try connection.outboundBytes().isEmpty)
        #expect(!connection.channel.isActive)
        #expect(broker.sessionCount == 0)
    }

    @Test func unsupportedProtocolLevelIsRefusedWithReturnCode1() throws {
        let connection = try Connection(broker: Self.broker(), version: .v3_1_1)
        // CONNECT with protocol level 6.
        try connection.writeBytes([
            0x10, 0x0D, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x3C,
            0x00, 0x01, 0x63,
        ])
        #expect(try connection.outboundBytes() == [0x20, 0x02, 0x00, 0x01])
        #expect(!connection.channel.isActive)
    }

    @Test func connectionWithoutConnectIsClosedAfterTheTimeout() throws {
        let loop = EmbeddedEventLoop()
        let connection = try Connection(broker: Self.broker(), connectTimeout: .seconds(5), loop: loop)
        loop.advanceTime(by: .seconds(4))
        #expect(connection.channel.isActive)
        loop.advanceTime(by: .seconds(1))
        #expect(!connection.channel.isActive)
    }

    @Test func connectedClientIsNotClosedByTheConnectTimeout() throws {
        let loop = EmbeddedEventLoop()
        let connection = try Connection(broker: Self.broker(), connectTimeout: .seconds(5), loop: loop)
        _ = try connection.connect("c", keepAlive: 0)
        loop.advanceTime(by: .seconds(60))
        #expect(connection.channel.isActive)
    }

    /// A session connection that never drains: its queue stays full.
    private final class StalledConnection: SessionConnection {
        func scheduleDrain() {}
        func sessionTakenOver() {}
    }

    @Test func pausedPublisherIsNotClosedForKeepAliveWhileTheBrokerIsNotReading() throws {
        var configuration = BrokerConfiguration()
        configuration.maxQueuedMessages = 2
        let broker = Broker(configuration: configuration, now: .now())
        let loop = EmbeddedEventLoop()
        let stalled = broker.attach(
            clientID: "stalled", cleanStart: true, expiryInterval: 0, will: nil, connection: StalledConnection(),
            now: loop.now)
        _ = broker.subscribe(
            session: stalled.session,
            subscriptions: [TopicSubscription(filter: "t", options: SubscriptionOptions(qos: .atLeastOnce))],
            identifier: nil, now: loop.now)

        let publisher = try Connection(broker: broker, loop: loop)
        _ = try publisher.connect("pub", keepAlive: 1)
        var bytes = ByteBuffer()
        for index in 0..<4 {
            try MQTTPacketEncoder.encode(
                .publish(PublishPacket(topic: "t", payload: ByteBuffer(string: "\(index)"), qos: .atMostOnce)),
                version: .v5, into: &bytes)
        }
        try publisher.channel.writeInbound(bytes)
        // The third message filled the queue: the fourth waits, undecoded, while the publisher is paused.
        #expect(broker.statistics.publisherPauses.load(ordering: .relaxed) == 1)
        #expect(broker.statistics.messagesReceived.load(ordering: .relaxed) == 3)

        // The pause ends after 1 s; the fourth message, the queue still full, pauses it once more (full for 1 s,
        // not longer: not yet stalled) until 2 s. The keep-alive (1.5 s) is not counted while paused.
        loop.advanceTime(by: .milliseconds(1600))
        #expect(publisher.channel.isActive, "closed for keep-alive although the broker was not reading")
        #expect(broker.statistics.messagesReceived.load(ordering: .relaxed) == 4)
        #expect(broker.statistics.publisherPauses.load(ordering: .relaxed) == 2)
        loop.advanceTime(by: .milliseconds(1000))
        #expect(publisher.channel.isActive, "the keep-alive counts from the end of the pause (2 s)")
        // Silent for 1.5 s after reading resumed: now it is the client's silence.
        loop.advanceTime(by: .milliseconds(1000))
        #expect(!publisher.channel.isActive)
    }

    @Test func publishIsDeliveredToAnotherConnectionOnItsLoop() throws {
        let broker = Self.broker()
        let loop = EmbeddedEventLoop()
        let subscriber = try Connection(broker: broker, loop: loop)
        _ = try subscriber.connect("sub")
        try subscriber.write(
            .subscribe(
                SubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [
                        TopicSubscription(filter: "t/#", options: SubscriptionOptions(qos: .atLeastOnce))
                    ])))
        #expect(
            try subscriber.outboundPackets() == [
                .suback(
                    SubAckPacket(
                        packetIdentifier: 1,
                        reasonCodes: [.grantedQoS1]))
            ])

        let publisher = try Connection(broker: broker, loop: loop)
        _ = try publisher.connect("pub")
        try publisher.write(
            .publish(
                PublishPacket(
                    topic: "t/x", payload: ByteBuffer(string: "hi"), qos: .atLeastOnce,
                    packetIdentifier: 5)))
        #expect(try publisher.outboundPackets() == [.puback(AckPacket(packetIdentifier: 5))])

        // The broker asked the subscriber's handle for a drain, which runs on its event loop.
        loop.run()
        let delivered = try subscriber.outboundPackets()
        #expect(delivered.count == 1)
        guard case .publish(let publish)? = delivered.first else {
            Issue.record("expected PUBLISH, got \(delivered)")
            return
        }
        #expect(publish.topic == "t/x")
        #expect(String(buffer: publish.payload) == "hi")
        #expect(publish.qos == .atLeastOnce)
    }

    @Test func sessionTakeOverDisconnectsTheOldChannel() throws {
        let broker = Self.broker()
        let loop = EmbeddedEventLoop()
        let registry = ConnectionRegistry()
        let old = try Connection(broker: broker, registry: registry, loop: loop)
        _ = try old.connect("c")
        let new = try Connection(broker: broker, registry: registry, loop: loop)
        let connack = try #require(try new.connect("c", cleanStart: false))
        #expect(connack.reasonCode == .success)
        loop.run()
        #expect(try old.outboundPackets() == [.disconnect(DisconnectPacket(reasonCode: .sessionTakenOver))])
        #expect(!old.channel.isActive)
        #expect(new.channel.isActive)
        #expect(broker.session(clientID: "c")?.isConnected == true)
        #expect(registry.count == 1)
    }

    @Test func closedChannelPublishesTheWillAndLeavesTheRegistry() throws {
        let broker = Self.broker()
        let loop = EmbeddedEventLoop()
        let registry = ConnectionRegistry()
        let watcher = try Connection(broker: broker, registry: registry, loop: loop)
        _ = try watcher.connect("watcher")
        try watcher.write(
            .subscribe(
                SubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [
                        TopicSubscription(filter: "will", options: SubscriptionOptions(qos: .atMostOnce))
                    ])))
        _ = try watcher.outboundPackets()

        let client = try Connection(broker: broker, registry: registry, loop: loop)
        _ = try client.connect(
            "c",
            will: WillMessage(
                topic: "will", payload: ByteBuffer(string: "bye"),
                qos: .atMostOnce, retain: false))
        #expect(registry.count == 2)
        // The peer vanishes without DISCONNECT.
        _ = try client.channel.finish()
        loop.run()
        let delivered = try watcher.outboundPackets()
        guard case .publish(let will)? = delivered.first else {
            Issue.record("expected the will, got \(delivered)")
            return
        }
        #expect(String(buffer: will.payload) == "bye")
        #expect(registry.count == 1)
        #expect(broker.statistics.clientsConnected.load(ordering: .relaxed) == 1)
    }

    @Test func serverShuttingDownSendsDisconnect0x8B() throws {
        let loop = EmbeddedEventLoop()
        let registry = ConnectionRegistry()
        let connection = try Connection(broker: Self.broker(), registry: registry, loop: loop)
        _ = try connection.connect("c")
        for handle in registry.all { handle.serverShuttingDown() }
        loop.run()
        #expect(try connection.outboundPackets() == [.disconnect(DisconnectPacket(reasonCode: .serverShuttingDown))])
        #expect(!connection.channel.isActive)
    }

    @Test func bytesReceivedAreCounted() throws {
        let broker = Self.broker()
        let connection = try Connection(broker: broker, version: .v3_1_1)
        try connection.writeBytes([
            0x10, 0x0D, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3C,
            0x00, 0x01, 0x63,
        ])
        _ = try connection.outboundBytes()
        #expect(broker.statistics.bytesReceived.load(ordering: .relaxed) == 15)
        #expect(broker.statistics.bytesSent.load(ordering: .relaxed) == 4)
    }
}
