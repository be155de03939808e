import BrokerServer
import NIOCore
import NIOPosix
import Synchronization

/// Who the null broker forwards to: subscribers by exact topic, and those of `#` (or any other wildcard filter,
/// which the null broker does not evaluate) for everything.
final class NullBrokerRoutes: Sendable {
    struct Table: Sendable {
        var exact: [ByteBuffer: [any Channel]] = [:]
        var everything: [any Channel] = []
    }

    private let table = Mutex(Table())

    init() {}

    func subscribe(_ channel: any Channel, filter: ByteBuffer) {
        let isWildcard =
            filter.readableBytesView.contains(UInt8(ascii: "#"))
            || filter.readableBytesView.contains(UInt8(ascii: "+"))
        table.withLock { table in
            if isWildcard {
                table.everything.append(channel)
            } else {
                table.exact[filter, default: []].append(channel)
            }
        }
    }

    func remove(_ channel: any Channel) {
        table.withLock { table in
            table.everything.removeAll { $0 === channel }
            for key in table.exact.keys {
                table.exact[key]?.removeAll { $0 === channel }
                if table.exact[key]?.isEmpty == true { table.exact[key] = nil }
            }
        }
    }

    /// A copy to route a read burst with, without holding the lock per message.
    var snapshot: Table { table.withLock { $0 } }
}

/// The connection handler of the null broker: the least a server can do for `rampart bench` to run against it.
///
/// It answers CONNECT, SUBSCRIBE, PINGREQ and the QoS 1/2 handshakes with fixed packets, and forwards every
/// PUBLISH frame byte for byte, without decoding its payload or matching filters, to the subscribers of exactly
/// its topic and to those of a wildcard. Forwarded bytes are gathered per subscriber over a read burst and written
/// once at its end; a subscriber whose channel is not writable loses the burst (as a broker drops QoS 0 for a slow
/// consumer) instead of growing memory. What it measures is therefore the generator's own ceiling, not a broker.
/// QoS 2 from several publishers to one subscriber is not supported: their packet identifiers may collide.
final class NullBrokerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let routes: NullBrokerRoutes
    private var cumulation: ByteBuffer?
    private var replies = ByteBuffer()
    private var isV5 = false
    private var table = NullBrokerRoutes.Table()
    private var forwards: [ObjectIdentifier: (channel: any Channel, bytes: ByteBuffer)] = [:]
    private var closeAfterFlush = false

    init(routes: NullBrokerRoutes) {
        self.routes = routes
    }

    func channelInactive(context: ChannelHandlerContext) {
        routes.remove(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var existing = cumulation {
            cumulation = nil
            existing.writeBuffer(&bytes)
            bytes = existing
        }
        table = routes.snapshot
        while let frame = Self.nextFrame(&bytes) {
            handle(frame.bytes, headerLength: frame.headerLength, context: context)
        }
        if bytes.readableBytes > 0 {
            bytes.discardReadBytes()
            cumulation = bytes
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if replies.readableBytes > 0 {
            context.writeAndFlush(wrapOutboundOut(replies), promise: nil)
            replies = context.channel.allocator.buffer(capacity: 0)
        }
        for (_, forward) in forwards where forward.channel.isWritable {
            forward.channel.writeAndFlush(forward.bytes, promise: nil)
        }
        forwards.removeAll(keepingCapacity: true)
        if closeAfterFlush { context.close(promise: nil) }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// One whole MQTT frame off the front of `buffer`, or nil when it holds no complete one yet.
    private static func nextFrame(_ buffer: inout ByteBuffer) -> (bytes: ByteBuffer, headerLength: Int)? {
        let start = buffer.readerIndex
        var remaining = 0
        var headerLength = 1
        while true {
            guard headerLength <= 4, let byte: UInt8 = buffer.getInteger(at: start + headerLength) else { return nil }
            remaining |= Int(byte & 0x7F) << (7 * (headerLength - 1))
            headerLength += 1
            if byte & 0x80 == 0 { break }
        }
        guard let bytes = buffer.readSlice(length: headerLength + remaining) else { return nil }
        return (bytes, headerLength)
    }

    private func handle(_ frame: ByteBuffer, headerLength: Int, context: ChannelHandlerContext) {
        let base = frame.readerIndex
        guard let first: UInt8 = frame.getInteger(at: base) else { return }
        let body = base + headerLength
        switch first >> 4 {
        case 1:  // CONNECT: the protocol level follows the 6-byte protocol name.
            isV5 = frame.getInteger(at: body + 6, as: UInt8.self) == 5
            replies.writeBytes(isV5 ? [0x20, 0x03, 0x00, 0x00, 0x00] : [0x20, 0x02, 0x00, 0x00])
        case 3:  // PUBLISH
            guard let topicLength = frame.getInteger(at: body, as: UInt16.self),
                let topic = frame.getSlice(at: body + 2, length: Int(topicLength))
            else { return }
            let qos = (first >> 1) & 0x03
            if qos > 0, let identifier = frame.getInteger(at: body + 2 + Int(topicLength), as: UInt16.self) {
                replies.writeInteger(UInt8(qos == 1 ? 0x40 : 0x50))
                replies.writeInteger(UInt8(2))
                replies.writeInteger(identifier)
            }
            for channel in table.exact[topic] ?? [] { forward(frame, to: channel) }
            for channel in table.everything { forward(frame, to: channel) }
        case 5, 6:  // PUBREC (from a subscriber of QoS 2) → PUBREL; PUBREL → PUBCOMP.
            guard let identifier = frame.getInteger(at: body, as: UInt16.self) else { return }
            replies.writeInteger(UInt8(first >> 4 == 5 ? 0x62 : 0x70))
            replies.writeInteger(UInt8(2))
            replies.writeInteger(identifier)
        case 8:  // SUBSCRIBE: grant every filter the QoS asked for.
            guard let identifier = frame.getInteger(at: body, as: UInt16.self) else { return }
            var position = body + 2
            if isV5 { position += Self.skipProperties(frame, at: position) }
            var codes: [UInt8] = []
            let end = frame.writerIndex
            while position + 2 < end, let length = frame.getInteger(at: position, as: UInt16.self),
                let filter = frame.getSlice(at: position + 2, length: Int(length)),
                let options = frame.getInteger(at: position + 2 + Int(length), as: UInt8.self)
            {
                routes.subscribe(context.channel, filter: filter)
                codes.append(options & 0x03)
                position += 3 + Int(length)
            }
            replies.writeInteger(UInt8(0x90))
            replies.writeInteger(UInt8(2 + (isV5 ? 1 : 0) + codes.count))
            replies.writeInteger(identifier)
            if isV5 { replies.writeInteger(UInt8(0)) }
            replies.writeBytes(codes)
        case 12:  // PINGREQ
            replies.writeBytes([0xD0, 0x00])
        case 14:  // DISCONNECT
            closeAfterFlush = true
        default:  // PUBACK and PUBCOMP from subscribers, UNSUBSCRIBE …: nothing to do.
            break
        }
    }

    /// The length of a v5 property block (its Variable Byte Integer length and the properties).
    private static func skipProperties(_ frame: ByteBuffer, at position: Int) -> Int {
        var value = 0
        var length = 0
        while length < 4, let byte: UInt8 = frame.getInteger(at: position + length) {
            value |= Int(byte & 0x7F) << (7 * length)
            length += 1
            if byte & 0x80 == 0 { break }
        }
        return length + value
    }

    private func forward(_ frame: ByteBuffer, to channel: any Channel) {
        let key = ObjectIdentifier(channel)
        var frame = frame
        if forwards[key] == nil {
            forwards[key] = (channel, channel.allocator.buffer(capacity: 16 * 1024))
        }
        forwards[key]?.bytes.writeBuffer(&frame)
    }
}

/// `rampart bench null-broker`: the null broker on a TCP port, until the process is stopped.
enum NullBroker {
    static func serve(host: String, port: Int, threads: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let routes = NullBrokerRoutes()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // The broker's receive buffers, so that its memory per idle connection is what NIO itself costs.
            .childChannelOption(.recvAllocator, value: MQTTServer.receiveBufferAllocator)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NullBrokerHandler(routes: routes))
                }
            }
            .bind(host: host, port: port)
            .get()
        print("null broker listening on \(host):\(channel.localAddress?.port ?? port)")
        try await channel.closeFuture.get()
        try await group.shutdownGracefully()
    }
}
