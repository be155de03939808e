import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// One open connection to a syslog receiver (for UDP: a connected socket).
struct SyslogLink: Sendable {
    let channel: any Channel
    let transport: SyslogDestination.Transport
    /// Bytes handed to the socket so far, TLS records included.
    let wireBytes: SyslogWireByteCounter

    /// Opens a link. The future succeeds once messages can go: UDP socket connected, TCP connected, TLS handshake
    /// completed; it fails with a `SyslogSendError`.
    /// - Parameters:
    ///   - timeout: bounds connect and handshake together.
    ///   - onError: every error the channel reports later (connection reset, TLS alert, ICMP port unreachable …).
    ///   - onWritable: the channel became writable again after its outbound buffer filled up.
    static func open(
        to destination: SyslogDestination, tls: SyslogTLSContext?, on loop: any EventLoop, timeout: TimeAmount,
        onError: @escaping @Sendable (any Error) -> Void, onWritable: @escaping @Sendable () -> Void
    ) -> EventLoopFuture<SyslogLink> {
        let counter = SyslogWireByteCounter()
        let handshake = tls == nil ? nil : loop.makePromise(of: Void.self)
        let isDatagram = destination.transport == .udp
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                if !isDatagram {
                    try pipeline.addHandler(SyslogWireByteCountingHandler(counter: counter))
                }
                if let tls {
                    try pipeline.addHandler(
                        NIOSSLClientHandler(context: tls.sslContext, serverHostname: tls.serverHostname))
                }
                try pipeline.addHandler(
                    SyslogLinkHandler(
                        handshake: handshake, closesOnError: !isDatagram, onError: onError, onWritable: onWritable))
            }
        }

        let connected: EventLoopFuture<any Channel>
        if isDatagram {
            connected = DatagramBootstrap(group: loop).channelInitializer(initializer)
                .connect(host: destination.host, port: destination.port)
        } else {
            connected = ClientBootstrap(group: loop).connectTimeout(timeout).channelInitializer(initializer)
                .connect(host: destination.host, port: destination.port)
        }
        connected.whenFailure { handshake?.fail($0) }

        let result = loop.makePromise(of: SyslogLink.self)
        let timer = loop.scheduleTask(in: timeout) {
            result.fail(SyslogSendError.timedOut(destination, after: timeout))
        }
        connected.flatMap { channel in
            (handshake?.futureResult ?? loop.makeSucceededVoidFuture()).map {
                SyslogLink(channel: channel, transport: destination.transport, wireBytes: counter)
            }
        }.whenComplete { outcome in
            timer.cancel()
            switch outcome {
            case .success(let link): result.succeed(link)
            case .failure(let error): result.fail(SyslogSendError.describing(error, destination: destination))
            }
        }
        // A link that failed (or timed out) after its socket connected is closed here.
        result.futureResult.whenFailure { _ in connected.whenSuccess { $0.close(promise: nil) } }
        return result.futureResult
    }

    /// Writes framed messages and flushes: one datagram each for UDP, octet-counted frames for TCP and TLS.
    /// - Returns: for each message, its write's completion (UDP); or the completion of the last write (TCP, TLS:
    ///   stream writes complete in order).
    func write(_ messages: [String]) -> [EventLoopFuture<Void>] {
        let allocator = channel.allocator
        var completions: [EventLoopFuture<Void>] = []
        if transport == .udp {
            for message in messages {
                let promise = channel.eventLoop.makePromise(of: Void.self)
                channel.write(SyslogFraming.datagram(message, allocator: allocator), promise: promise)
                completions.append(promise.futureResult)
            }
        } else if !messages.isEmpty {
            let promise = channel.eventLoop.makePromise(of: Void.self)
            for (index, message) in messages.enumerated() {
                channel.write(
                    SyslogFraming.octetCounted(message, allocator: allocator),
                    promise: index == messages.count - 1 ? promise : nil)
            }
            completions.append(promise.futureResult)
        }
        channel.flush()
        return completions
    }

    /// How many of the bytes handed to the socket the receiver's TCP has acknowledged, or nil where this cannot be
    /// read (not Linux, Linux before 4.1, UDP).
    func acknowledgedWireBytes() -> EventLoopFuture<Int?> {
        #if os(Linux)
            guard transport != .udp, let provider = channel as? any SocketOptionProvider else {
                return channel.eventLoop.makeSucceededFuture(nil)
            }
            return provider.unsafeGetSocketOption(level: .tcp, name: .tcp_info).map { (info: KernelTCPInfo) in
                info.acknowledgedDataBytes
            }.recover { _ in nil }
        #else
            return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }
}

#if os(Linux)
    /// The kernel's `struct tcp_info` (<linux/tcp.h>) up to `tcpi_notsent_bytes`, as raw storage. NIOCore's
    /// `getTCPInfo()` returns glibc's copy of the struct, which ends at `tcpi_total_retrans` and so lacks
    /// `tcpi_bytes_acked`; getsockopt fills as much of this larger buffer as the kernel knows and leaves the rest
    /// zero (NIO zeroes it first).
    private struct KernelTCPInfo: Sendable {
        private var storage:
            (
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
            ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

        /// `tcpi_bytes_acked` (Linux 4.1 and later), at offset 120.
        private var bytesAcked: UInt64 {
            withUnsafeBytes(of: storage) { $0.load(fromByteOffset: 120, as: UInt64.self) }
        }

        /// Data bytes acknowledged. `tcpi_bytes_acked` counts the SYN too, so it is at least 1 on an established
        /// connection; 0 means the kernel does not report it.
        var acknowledgedDataBytes: Int? {
            let acked = bytesAcked
            return acked == 0 ? nil : Int(truncatingIfNeeded: acked - 1)
        }
    }
#endif

/// Counts the bytes a connection hands to its socket.
final class SyslogWireByteCounter: Sendable {
    private let total = Atomic<Int>(0)

    var value: Int { total.load(ordering: .relaxed) }

    func add(_ bytes: Int) {
        total.add(bytes, ordering: .relaxed)
    }
}

/// First in the pipeline (next to the socket), so that it sees what goes on the wire: TLS records, not plaintext.
private final class SyslogWireByteCountingHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let counter: SyslogWireByteCounter

    init(counter: SyslogWireByteCounter) {
        self.counter = counter
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        counter.add(unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }
}

/// Last in the pipeline: reports the TLS handshake's completion, errors and writability; discards what the receiver
/// sends (syslog receivers do not talk back).
private final class SyslogLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let handshake: EventLoopPromise<Void>?
    private let closesOnError: Bool
    private let onError: @Sendable (any Error) -> Void
    private let onWritable: @Sendable () -> Void

    init(
        handshake: EventLoopPromise<Void>?, closesOnError: Bool, onError: @escaping @Sendable (any Error) -> Void,
        onWritable: @escaping @Sendable () -> Void
    ) {
        self.handshake = handshake
        self.closesOnError = closesOnError
        self.onError = onError
        self.onWritable = onWritable
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // NIOSSL announces the end of the handshake, after the certificate chain and the name were verified.
        if let handshake, case .handshakeCompleted = event as? TLSUserEvent {
            handshake.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake?.fail(error)
        onError(error)
        if closesOnError {
            context.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            onWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake?.fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshake?.fail(ChannelError.eof)
    }
}
