import BrokerCore
import Logging
import MQTTCodec
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import BrokerServer

/// One `MQTTServer` for real on 127.0.0.1, port 0, with a raw NIO client socket. Every wait is bounded.
@Suite("MQTTServer over TCP")
struct MQTTServerTests {
    struct Timeout: Error {}

    /// Collects the bytes a client socket receives; fulfils `connack` once `expected` bytes arrived and `closed`
    /// with everything when the server closes the connection.
    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        private var received = ByteBuffer()
        private let expected: Int
        private let firstBytes: EventLoopPromise<ByteBuffer>
        private let closed: EventLoopPromise<ByteBuffer>

        init(expected: Int, firstBytes: EventLoopPromise<ByteBuffer>, closed: EventLoopPromise<ByteBuffer>) {
            self.expected = expected
            self.firstBytes = firstBytes
            self.closed = closed
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            let before = received.readableBytes
            received.writeBuffer(&bytes)
            if before < expected && received.readableBytes >= expected {
                firstBytes.succeed(received.getSlice(at: received.readerIndex, length: expected) ?? ByteBuffer())
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            firstBytes.fail(Timeout())
            closed.succeed(received)
            context.fireChannelInactive()
        }
    }

    private static let silentLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `body` against a started server, then stops the server by cancelling its task.
    private static func withServer(
        _ body: (MQTTServer, any EventLoopGroup, SocketAddress) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = MQTTServer.Configuration(host: "127.0.0.1", port: 0)
        configuration.shutdownGrace = .seconds(2)
        var brokerConfiguration = BrokerConfiguration()
        brokerConfiguration.sysInterval = 0
        let server = MQTTServer(
            broker: Broker(configuration: brokerConfiguration, now: .now()),
            configuration: configuration, group: group, logger: silentLogger)
        let task = Task { try await server.run() }
        do {
            // Wait (bounded) for the listener to be bound.
            let deadline = NIODeadline.now() + .seconds(10)
            var address = server.localAddress
            while address == nil && NIODeadline.now() < deadline {
                await Task.yield()
                address = server.localAddress
            }
            let bound = try #require(address)
            try await body(server, group, bound)
        } catch {
            task.cancel()
            _ = await task.result
            try await group.shutdownGracefully()
            throw error
        }
        task.cancel()
        _ = await task.result
        try await group.shutdownGracefully()
    }

    private static func connectClient(
        group: any EventLoopGroup,
        to address: SocketAddress,
        expecting count: Int
    ) async throws -> (
        channel: any Channel, firstBytes: EventLoopFuture<ByteBuffer>, closed: EventLoopFuture<ByteBuffer>
    ) {
        let loop = group.next()
        let firstBytes = loop.makePromise(of: ByteBuffer.self)
        let closed = loop.makePromise(of: ByteBuffer.self)
        // Bound every wait: fail the promises after 10 s (a no-op once they are fulfilled).
        loop.scheduleTask(in: .seconds(10)) {
            firstBytes.fail(Timeout())
            closed.fail(Timeout())
        }
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Collector(expected: count, firstBytes: firstBytes, closed: closed))
                }
            }
            .connect(to: address)
            .get()
        return (channel, firstBytes.futureResult, closed.futureResult)
    }

    private static func encode(_ packet: MQTTPacket, version: ProtocolVersion) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try MQTTPacketEncoder.encode(packet, version: version, into: &buffer)
        return buffer
    }

    @Test(.timeLimit(.minutes(1)))
    func connectOverTCPIsAnsweredWithConnack() async throws {
        try await Self.withServer { server, group, address in
            let client = try await Self.connectClient(group: group, to: address, expecting: 4)
            let connect = ConnectPacket(
                protocolVersion: .v3_1_1, clientIdentifier: "tcp", cleanStart: true,
                keepAlive: 30)
            try await client.channel.writeAndFlush(Self.encode(.connect(connect), version: .v3_1_1)).get()
            let connack = try await client.firstBytes.get()
            #expect(Array(connack.readableBytesView) == [0x20, 0x02, 0x00, 0x00])
            #expect(server.broker.session(clientID: "tcp") != nil)

            // DISCONNECT: the server closes the connection and ends the clean session.
            try await client.channel.writeAndFlush(Self.encode(.disconnect(DisconnectPacket()), version: .v3_1_1))
                .get()
            _ = try await client.closed.get()
            try await client.channel.closeFuture.get()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func shutdownSendsDisconnect0x8BToV5Clients() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = MQTTServer.Configuration(host: "127.0.0.1", port: 0)
        configuration.shutdownGrace = .seconds(5)
        var brokerConfiguration = BrokerConfiguration()
        brokerConfiguration.sysInterval = 0
        let server = MQTTServer(
            broker: Broker(configuration: brokerConfiguration, now: .now()),
            configuration: configuration, group: group, logger: Self.silentLogger)
        let task = Task { try await server.run() }
        let deadline = NIODeadline.now() + .seconds(10)
        var address = server.localAddress
        while address == nil && NIODeadline.now() < deadline {
            await Task.yield()
            address = server.localAddress
        }
        let bound = try #require(address)
        let client = try await Self.connectClient(group: group, to: bound, expecting: 1)
        let connect = ConnectPacket(protocolVersion: .v5, clientIdentifier: "v5", cleanStart: true, keepAlive: 30)
        try await client.channel.writeAndFlush(Self.encode(.connect(connect), version: .v5)).get()
        _ = try await client.firstBytes.get()

        task.cancel()  // run() treats cancellation like graceful shutdown
        var received = try await client.closed.get()
        _ = await task.result
        var decoder = MQTTPacketDecoder(protocolVersion: .v5)
        var packets: [MQTTPacket] = []
        while let packet = try decoder.decode(buffer: &received) { packets.append(packet) }
        #expect(packets.count == 2)
        #expect(packets.first?.type == .connack)
        #expect(packets.last == .disconnect(DisconnectPacket(reasonCode: .serverShuttingDown)))
        try await group.shutdownGracefully()
    }
}
