import BrokerCore
import DequeModule
import Logging
import MQTTCodec
import NIOCore
import NIOSSL
import NIOTLS

/// The channel handler of one MQTT connection: decodes packets from the byte stream, hands them to the
/// connection's `ClientConnection`, writes what it answers, and keeps the keep-alive timer.
///
/// Everything runs on the channel's event loop. Replies produced while handling one read burst are written
/// together and flushed once, at `channelReadComplete`.
final class MQTTChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Most deliveries moved from the session queue per event-loop turn, so one busy subscriber shares its loop.
    private static let drainBatch = 256

    /// What every connection of one listener shares, held once per listener rather than copied into each handler.
    final class Settings: Sendable {
        let broker: Broker
        let registry: ConnectionRegistry
        let listener: ListenerContext
        let subjectAsUsername: Bool
        let verbosePacketLog: Bool
        let durability: (any DurabilityBarrier)?
        let connectTimeout: TimeAmount
        let logger: Logger

        init(
            broker: Broker,
            registry: ConnectionRegistry,
            listener: ListenerContext = ListenerContext(),
            subjectAsUsername: Bool = false,
            verbosePacketLog: Bool = false,
            durability: (any DurabilityBarrier)? = nil,
            connectTimeout: TimeAmount,
            logger: Logger
        ) {
            self.broker = broker
            self.registry = registry
            self.listener = listener
            self.subjectAsUsername = subjectAsUsername
            self.verbosePacketLog = verbosePacketLog
            self.durability = durability
            self.connectTimeout = connectTimeout
            self.logger = logger
        }
    }

    private let settings: Settings
    private var broker: Broker { settings.broker }
    private var registry: ConnectionRegistry { settings.registry }
    private var connectTimeout: TimeAmount { settings.connectTimeout }
    private var logger: Logger { settings.logger }
    private var listener: ListenerContext { settings.listener }
    private var subjectAsUsername: Bool { settings.subjectAsUsername }
    private var verbosePacketLog: Bool { settings.verbosePacketLog }
    private var durability: (any DurabilityBarrier)? { settings.durability }

    private var decoder: MQTTPacketDecoder
    private var cumulation: ByteBuffer?
    private var connection: ClientConnection?
    private var handle: ConnectionHandle?
    private var context: ChannelHandlerContext?
    private var keepAliveTask: Scheduled<Void>?
    private var lastPacketAt = NIODeadline.uptimeNanoseconds(0)
    private var closing = false
    private var pendingFlush = false
    private var readInProgress = false
    /// Set while reading is paused for a full subscriber queue; fires at the pause limit.
    private var pauseTask: Scheduled<Void>?

    /// Replies that acknowledge messages not yet on disk, each with the barrier it waits for (the durability rule:
    /// no PUBACK/PUBREC before the message is synced). Later replies queue behind them to keep their order.
    /// A Deque, which allocates nothing while empty: most connections never hold a reply.
    private var held = Deque<(bytes: ByteBuffer, barrier: Int)>()
    private var barriersRequested = 0
    private var barriersCompleted = 0
    private var closeWhenReleased = false

    init(settings: Settings) {
        self.settings = settings
        self.decoder = MQTTPacketDecoder(maximumPacketSize: settings.broker.configuration.decoderMaximumPacketSize)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let handle = ConnectionHandle(eventLoop: context.eventLoop, handler: self)
        self.handle = handle
        let connection = ClientConnection(
            broker: broker,
            handle: handle,
            allocator: context.channel.allocator,
            listener: listener
        )
        if let remote = context.channel.remoteAddress {
            connection.remoteAddress = remote.ipAddress ?? "\(remote)"
        }
        if verbosePacketLog {
            let logger = self.logger
            connection.packetObserver = { [unowned connection] direction, packet in
                logger.debug(
                    "\(PacketLogFormatter.describe(packet, direction: direction, client: connection.clientID))"
                )
            }
        }
        // With a WebSocket listener the handler is added after the upgrade, once the TLS handshake is done.
        connection.certificateIdentity = peerIdentity(context: context)
        self.connection = connection
        registry.add(handle)
        armConnectTimeout(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        keepAliveTask?.cancel()
        keepAliveTask = nil
        pauseTask?.cancel()
        pauseTask = nil
        if let handle {
            registry.remove(handle)
            handle.release()
        }
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepAliveTask?.cancel()
        keepAliveTask = nil
        if let connection, connection.phase != .awaitingConnect || !connection.clientID.isEmpty {
            logger.debug("client disconnected", metadata: metadata())
        }
        connection?.connectionClosed(now: context.eventLoop.now)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var bytes = unwrapInboundIn(data)
        BrokerStatistics.add(broker.statistics.bytesReceived, bytes.readableBytes)
        MQTTPacketDecoder.append(&bytes, to: &cumulation)
        readInProgress = true
        lastPacketAt = context.eventLoop.now
        // While paused, bytes already on their way are kept and handled on resumption.
        if pauseTask == nil { handleBuffered(context: context) }
    }

    /// Decodes and handles the packets buffered so far, until they run out, the connection closes, or a publish
    /// fills a subscriber's queue and reading pauses.
    private func handleBuffered(context: ChannelHandlerContext) {
        guard let connection else { return }
        let now = context.eventLoop.now
        while !closing {
            let packet: MQTTPacket
            do {
                guard let next = try decoder.next(from: &cumulation) else { break }
                packet = next
            } catch {
                logger.info("protocol error, closing", metadata: metadata(["error": "\(error)"]))
                finish(connection.decodingFailed(error))
                return
            }
            let wasConnected = connection.phase == .connected
            let disposition = connection.receive(packet, now: now)
            if !wasConnected && connection.phase == .connected {
                logger.debug(
                    "client connected",
                    metadata: metadata([
                        "version": "\(connection.protocolVersion)", "keepalive": "\(connection.keepAlive)",
                    ]))
                armKeepAlive(now: now)
            }
            if disposition == .close {
                finish(.close)
                return
            }
            if connection.takePublishingPause() {
                pausePublishing(context: context)
                break
            }
        }
        writeOutbound(context: context)
    }

    /// Stops reading from the client until the subscriber queue it filled drains, or the pause limit passes
    /// (publisher flow control, see `Session`).
    private func pausePublishing(context: ChannelHandlerContext) {
        guard pauseTask == nil else { return }
        BrokerStatistics.add(broker.statistics.publisherPauses)
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        let limit = broker.configuration.queueLimits.publisherPauseLimit
        pauseTask = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [self] in
            resumePublishing()
        }
    }

    /// Reads from the client again and handles what arrived meanwhile.
    func resumePublishing() {
        guard let context, let task = pauseTask else { return }
        task.cancel()
        pauseTask = nil
        guard !closing else { return }
        lastPacketAt = context.eventLoop.now  // the keep-alive counts from when reading resumed
        handleBuffered(context: context)
        if !readInProgress { flushIfNeeded(context: context) }
        if pauseTask == nil {
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readInProgress = false
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { drain() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            connection?.certificateIdentity = peerIdentity(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The username the verified client certificate stands for, if the connection is TLS with one.
    private func peerIdentity(context: ChannelHandlerContext) -> String? {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
            let certificate = tls.peerCertificate
        else { return nil }
        return TLSContextFactory.identity(of: certificate, wholeSubject: subjectAsUsername)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: metadata(["error": "\(error)"]))
        context.close(promise: nil)
    }

    // MARK: Calls from the broker, on this event loop

    /// Moves queued deliveries out, a batch per loop turn, while the socket keeps up.
    func drain() {
        guard let context, let connection, !closing else { return }
        guard context.channel.isWritable else { return }  // resumed by channelWritabilityChanged
        let more = connection.drain(now: context.eventLoop.now, limit: Self.drainBatch)
        writeOutbound(context: context)
        if !readInProgress { flushIfNeeded(context: context) }
        if more {
            context.eventLoop.assumeIsolated().execute { self.drain() }
        }
    }

    func sessionTakenOver() {
        guard let connection, !closing else { return }
        logger.info("session taken over by a new connection", metadata: metadata())
        finish(connection.sessionTakenOver())
    }

    func serverShuttingDown() {
        guard let connection, !closing else { return }
        finish(connection.serverShuttingDown())
    }

    // MARK: Internals

    /// The connection's peer and client identifier for a log line, with `extra`. Built only when a line is logged:
    /// a logger per connection would cost every idle connection its metadata dictionary.
    private func metadata(_ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var metadata = extra
        if let remote = context?.channel.remoteAddress { metadata["peer"] = "\(remote)" }
        if let clientID = connection?.clientID, !clientID.isEmpty { metadata["client"] = "\(clientID)" }
        return metadata
    }

    private func writeOutbound(context: ChannelHandlerContext) {
        guard let connection, let bytes = connection.takeOutbound() else { return }
        if connection.takeDurabilityRequest(), let durability {
            barriersRequested += 1
            let barrier = barriersRequested
            durability.whenDurable(on: context.eventLoop).assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success:
                    release(through: barrier)
                case .failure(let error):
                    // Not on disk: the client must not hear an acknowledgement; it resends after reconnecting.
                    logger.error(
                        "durable store failed; closing without acknowledging", metadata: metadata(["error": "\(error)"])
                    )
                    held.removeAll()
                    self.context?.close(promise: nil)
                }
            }
        }
        if barriersCompleted < barriersRequested {
            held.append((bytes, barriersRequested))
        } else {
            context.write(wrapOutboundOut(bytes), promise: nil)
            pendingFlush = true
        }
    }

    /// Writes the replies whose barrier has completed, in order.
    private func release(through barrier: Int) {
        barriersCompleted = max(barriersCompleted, barrier)
        guard let context else { return }
        var wrote = false
        while let first = held.first, first.barrier <= barriersCompleted {
            held.removeFirst()
            context.write(wrapOutboundOut(first.bytes), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
        if closeWhenReleased && held.isEmpty { context.close(promise: nil) }
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard pendingFlush else { return }
        pendingFlush = false
        context.flush()
    }

    /// Writes what is pending, then closes when the connection asked to.
    private func finish(_ disposition: ClientConnection.Disposition) {
        guard let context else { return }
        writeOutbound(context: context)
        flushIfNeeded(context: context)
        guard disposition == .close, !closing else { return }
        closing = true
        keepAliveTask?.cancel()
        if held.isEmpty {
            context.close(promise: nil)
        } else {
            closeWhenReleased = true  // after the held acknowledgements, which are owed to the client
        }
    }

    /// Closes a connection that has not sent CONNECT in time, so idle sockets cannot pile up (MQTT 5 §4.13.1
    /// lets a server close a connection that does not start properly).
    private func armConnectTimeout(context: ChannelHandlerContext) {
        let timeout = connectTimeout
        keepAliveTask = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard connection?.phase == .awaitingConnect, !closing else { return }
            logger.info(
                "no CONNECT in time, closing", metadata: metadata(["timeout_ms": "\(timeout.nanoseconds / 1_000_000)"]))
            finish(.close)
        }
    }

    /// Closes the connection when no packet arrives within 1.5 × keep-alive (MQTT 5 §3.1.2.10).
    private func armKeepAlive(now: NIODeadline) {
        guard let connection, connection.keepAlive > 0, let context else { return }
        let grace = TimeAmount.milliseconds(Int64(connection.keepAlive) * 1500)
        keepAliveTask?.cancel()
        keepAliveTask = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastPacketAt + grace) { [self] in
            let now = context.eventLoop.now
            // While publishing is paused the broker is not reading: the client's silence is not the client's.
            if pauseTask != nil { lastPacketAt = now }
            if lastPacketAt + grace <= now {
                logger.info("keep-alive expired, closing", metadata: metadata())
                finish(connection.keepAliveExpired())
            } else {
                armKeepAlive(now: now)
            }
        }
    }
}

/// The broker's handle on one connection, usable from any thread: every call hops to the connection's loop.
final class ConnectionHandle: SessionConnection, Hashable {
    let eventLoop: any EventLoop
    private let handler: NIOLoopBoundBox<MQTTChannelHandler?>

    init(eventLoop: any EventLoop, handler: MQTTChannelHandler) {
        self.eventLoop = eventLoop
        self.handler = NIOLoopBoundBox(handler, eventLoop: eventLoop)
    }

    /// Breaks the handler ↔ handle cycle once the channel is gone.
    func release() {
        handler.value = nil
    }

    func scheduleDrain() {
        eventLoop.execute { self.handler.value?.drain() }
    }

    func sessionTakenOver() {
        eventLoop.execute { self.handler.value?.sessionTakenOver() }
    }

    func serverShuttingDown() {
        eventLoop.execute { self.handler.value?.serverShuttingDown() }
    }

    func resumePublishing() {
        eventLoop.execute { self.handler.value?.resumePublishing() }
    }

    static func == (lhs: ConnectionHandle, rhs: ConnectionHandle) -> Bool { lhs === rhs }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
