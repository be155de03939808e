import MQTTCodec
import NIOCore

/// The channel handler of one client connection: sends CONNECT, decodes what the server sends, runs the QoS 1/2
/// flows in both directions, keeps the connection alive and batches writes.
///
/// Everything runs on the channel's event loop; `MQTTClientConnection` hops there for callers on other threads.
/// Writes are encoded into one `outbound` buffer and written and flushed once per event-loop turn (or per read burst,
/// at `channelReadComplete`), so a publisher looping on the event loop pays for one syscall per batch, not per packet.
final class MQTTClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// CONNECT sent (or about to be), waiting for CONNACK.
        case connecting
        case connected
        /// DISCONNECT sent or a failure seen: nothing more is sent; the channel is closing.
        case closing
        case closed
    }

    /// What a packet identifier in use waits for.
    private enum Inflight {
        /// QoS 1 PUBLISH waiting for PUBACK.
        case puback(EventLoopPromise<ReasonCode>?)
        /// QoS 2 PUBLISH waiting for PUBREC.
        case pubrec(EventLoopPromise<ReasonCode>?)
        /// QoS 2 PUBLISH released, waiting for PUBCOMP; keeps the PUBREC's reason code (e.g. 0x10 no matching
        /// subscribers), which is the more telling result when PUBCOMP says success.
        case pubcomp(EventLoopPromise<ReasonCode>?, ReasonCode)
        case suback(EventLoopPromise<SubAckPacket>)
        case unsuback(EventLoopPromise<UnsubAckPacket>)
    }

    private struct QueuedPublish {
        var packet: PublishPacket
        var promise: EventLoopPromise<ReasonCode>?
    }

    private let configuration: MQTTClientConfiguration
    private let version: ProtocolVersion
    private let onMessage: @Sendable (PublishPacket) -> Void
    private let shared: MQTTClientConnection.SharedState
    private var established: EventLoopPromise<MQTTClientConnection>?
    private var becameActive = false
    private let connectDeadline: NIODeadline

    private var phase = Phase.connecting
    private var connectSent = false
    private var context: ChannelHandlerContext?
    private var decoder: MQTTPacketDecoder
    private var cumulation: ByteBuffer?
    /// Why the connection ends, to fail what is still pending with; the first cause wins.
    private var closeError: MQTTClientError?

    // Writes.
    private var outbound: ByteBuffer
    /// QoS 0 publishes encoded into `outbound` whose caller wants to know when they are written.
    private var outboundWritePromises: [EventLoopPromise<ReasonCode>] = []
    private var flushScheduled = false
    private var readInProgress = false

    // Outgoing flows.
    private var inflight: [UInt16: Inflight] = [:]
    private var nextPacketIdentifier: UInt16 = 1
    /// QoS 1/2 PUBLISH packets not yet acknowledged: what the server's Receive Maximum bounds (MQTT 5 §4.9).
    private var inflightPublishes = 0
    private var sendWindow: Int
    private var queue = CircularBuffer<QueuedPublish>()

    // What the server announced in CONNACK (MQTT 5 §3.2.2.3).
    private var serverMaximumQoS = QoS.exactlyOnce
    private var serverRetainAvailable = true
    private var serverMaximumPacketSize = Int.max
    private var outboundAliasMaximum = 0
    private var outboundAliases: [String: UInt16] = [:]

    // Incoming flows.
    /// QoS 2 packet identifiers delivered but not yet released by PUBREL: a resent PUBLISH is not delivered again
    /// (MQTT 5 §4.3.3, [MQTT-4.3.3-10]).
    private var receivedQoS2 = Set<UInt16>()
    private let inboundAliasMaximum: UInt16
    private var inboundAliases: [UInt16: String] = [:]

    // Keep-alive (MQTT 5 §3.1.2.10).
    private var keepAlive = TimeAmount.zero
    private var pingTimeout = TimeAmount.zero
    private var lastSentAt = NIODeadline.uptimeNanoseconds(0)
    private var lastReceivedAt = NIODeadline.uptimeNanoseconds(0)
    private var pingSentAt: NIODeadline?
    private var timer: Scheduled<Void>?
    /// Test hook: called on every PINGRESP.
    var onPingResponse: (() -> Void)?

    init(
        configuration: MQTTClientConfiguration,
        connectDeadline: NIODeadline,
        established: EventLoopPromise<MQTTClientConnection>,
        shared: MQTTClientConnection.SharedState,
        onMessage: @escaping @Sendable (PublishPacket) -> Void
    ) {
        self.configuration = configuration
        self.version = configuration.protocolVersion
        self.connectDeadline = connectDeadline
        self.established = established
        self.shared = shared
        self.onMessage = onMessage
        let isV5 = configuration.protocolVersion == .v5
        let maximumPacketSize = isV5 ? configuration.connectProperties.maximumPacketSize.map(Int.init) : nil
        self.decoder = MQTTPacketDecoder(
            protocolVersion: configuration.protocolVersion,
            maximumPacketSize: maximumPacketSize ?? 268_435_460
        )
        self.inboundAliasMaximum = isV5 ? configuration.connectProperties.topicAliasMaximum ?? 0 : 0
        self.sendWindow = max(1, min(configuration.maximumInflight, 65_535))
        self.outbound = ByteBuffer()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        outbound = context.channel.allocator.buffer(capacity: 0)
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: connectDeadline) { [self] in
            guard phase == .connecting else { return }
            fail(MQTTClientError(.timeout, "no CONNACK within the connect timeout"))
        }
        if context.channel.isActive { sendConnect(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A channel that never became active gets no channelInactive: settle everything here too.
        connectionGone()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        becameActive = true
        sendConnect(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionGone()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS handshake failures, connection resets …: the connection cannot go on.
        if closeError == nil {
            let code: MQTTClientError.Code = phase == .connecting ? .transport : .closed
            closeError = MQTTClientError(code, "connection failed", underlying: error)
        }
        phase = phase == .closed ? .closed : .closing
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase == .connecting || phase == .connected else { return }
        var bytes = unwrapInboundIn(data)
        MQTTPacketDecoder.append(&bytes, to: &cumulation)
        readInProgress = true
        lastReceivedAt = context.eventLoop.now
        while phase == .connecting || phase == .connected {
            let packet: MQTTPacket?
            do {
                packet = try decoder.next(from: &cumulation)
            } catch {
                protocolViolation(error.reasonCode, "cannot decode a packet from the server: \(error)")
                return
            }
            guard let packet else { break }
            if phase == .connecting {
                handleConnAck(packet, context: context)
            } else {
                handle(packet)
            }
        }
    }

    /// Called once, on the event loop, the next time the channel becomes writable again.
    var whenWritable: (() -> Void)?

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let callback = whenWritable {
            whenWritable = nil
            callback()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readInProgress = false
        writeOutbound(flush: true)
        context.fireChannelReadComplete()
    }

    // MARK: Connecting

    private func sendConnect(context: ChannelHandlerContext) {
        guard phase == .connecting, !connectSent else { return }
        connectSent = true
        let start = outbound.writerIndex
        do {
            try MQTTPacketEncoder.encode(.connect(configuration.connectPacket), version: version, into: &outbound)
        } catch {
            fail(MQTTClientError(.protocolError, "cannot encode CONNECT: \(error)"))
            return
        }
        if configuration.bridgeProtocolBit { Self.setBridgeBit(in: &outbound, packetStart: start, version: version) }
        writeOutbound(flush: true)
    }

    /// Sets the high bit of the protocol level byte of an encoded CONNECT, as Mosquitto's `try_private` does.
    private static func setBridgeBit(in buffer: inout ByteBuffer, packetStart: Int, version: ProtocolVersion) {
        // Fixed header: 1 type byte and a 1–4 byte remaining length (MQTT 5 §2.1.4); then the protocol name.
        var offset = packetStart + 1
        while let byte: UInt8 = buffer.getInteger(at: offset) {
            offset += 1
            if byte & 0x80 == 0 { break }
        }
        offset += 2 + version.protocolName.utf8.count
        if let level: UInt8 = buffer.getInteger(at: offset) {
            buffer.setInteger(level | 0x80, at: offset)
        }
    }

    /// The first packet from the server must be CONNACK (MQTT 5 §3.2: [MQTT-3.2.0-1]).
    private func handleConnAck(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        guard case .connack(let connAck) = packet else {
            protocolViolation(.protocolError, "expected CONNACK, got \(packet.type)")
            return
        }
        guard !connAck.reasonCode.isFailure else {
            let error = MQTTClientError(
                .connectionRefused(connAck.reasonCode),
                "the server refused the connection with \(connAck.reasonCode)",
                reasonString: connAck.properties.reasonString
            )
            fail(error)
            return
        }
        let properties = connAck.properties
        if version == .v5 {
            if let receiveMaximum = properties.receiveMaximum {
                sendWindow = min(sendWindow, max(1, Int(receiveMaximum)))
            }
            if let maximumQoS = properties.maximumQoS { serverMaximumQoS = QoS(rawValue: maximumQoS) ?? .atMostOnce }
            serverRetainAvailable = properties.retainAvailable != 0
            if let size = properties.maximumPacketSize { serverMaximumPacketSize = Int(size) }
            if configuration.outboundTopicAliases {
                outboundAliasMaximum = Int(properties.topicAliasMaximum ?? 0)
            }
        }
        // A v5 Server Keep Alive replaces the client's value [MQTT-3.2.2-21].
        let seconds = (version == .v5 ? properties.serverKeepAlive : nil) ?? configuration.keepAlive
        keepAlive = .seconds(Int64(seconds))
        pingTimeout = configuration.pingTimeout ?? max(.seconds(1), .milliseconds(Int64(seconds) * 500))

        phase = .connected
        timer?.cancel()
        timer = nil
        armKeepAlive()
        let connection = MQTTClientConnection(
            channel: context.channel,
            handler: NIOLoopBound(self, eventLoop: context.eventLoop),
            connAck: connAck,
            configuration: configuration,
            shared: shared
        )
        let promise = established
        established = nil
        promise?.succeed(connection)
    }

    // MARK: Incoming packets

    private func handle(_ packet: MQTTPacket) {
        switch packet {
        case .publish(let publish):
            handlePublish(publish)
        case .puback(let ack):
            guard case .puback(let promise) = inflight.removeValue(forKey: ack.packetIdentifier) else {
                // A stray PUBACK is harmless; MQTT 5 gives no reply for it.
                return
            }
            publishFinished()
            promise?.succeed(ack.reasonCode)
        case .pubrec(let ack):
            handlePubRec(ack)
        case .pubrel(let ack):
            // Release the identifier and complete the flow (MQTT 5 §4.3.3). An unknown identifier is answered with
            // success too: after a session resumed, the id set of the previous connection is not known here.
            receivedQoS2.remove(ack.packetIdentifier)
            try? send(.pubcomp(AckPacket(packetIdentifier: ack.packetIdentifier)))
        case .pubcomp(let ack):
            guard case .pubcomp(let promise, let received) = inflight.removeValue(forKey: ack.packetIdentifier) else {
                return
            }
            publishFinished()
            promise?.succeed(ack.reasonCode == .success ? received : ack.reasonCode)
        case .suback(let suback):
            guard case .suback(let promise) = inflight.removeValue(forKey: suback.packetIdentifier) else {
                protocolViolation(.protocolError, "SUBACK for unknown packet identifier \(suback.packetIdentifier)")
                return
            }
            promise.succeed(suback)
        case .unsuback(let unsuback):
            guard case .unsuback(let promise) = inflight.removeValue(forKey: unsuback.packetIdentifier) else {
                protocolViolation(
                    .protocolError, "UNSUBACK for unknown packet identifier \(unsuback.packetIdentifier)")
                return
            }
            promise.succeed(unsuback)
        case .pingresp:
            pingSentAt = nil
            onPingResponse?()
        case .disconnect(let disconnect):
            // Server-initiated DISCONNECT (MQTT 5 §3.14, v5 only): remember why, then the server closes.
            let reasonString = disconnect.properties.reasonString
            shared.recordDisconnect(reason: disconnect.reasonCode, reasonString: reasonString)
            fail(
                MQTTClientError(
                    .closed, "the server sent DISCONNECT \(disconnect.reasonCode)", reasonString: reasonString))
        case .connack, .connect, .subscribe, .unsubscribe, .pingreq, .auth:
            // A second CONNACK, client-only packets, or AUTH (enhanced authentication is not offered).
            protocolViolation(.protocolError, "unexpected \(packet.type) from the server")
        }
    }

    private func handlePublish(_ incoming: PublishPacket) {
        var publish = incoming
        if let alias = publish.properties.topicAlias {
            // [MQTT-3.3.2-8]: alias 0 is a protocol error; [MQTT-3.3.2-11]/[MQTT-3.3.2-12]: the server must stay
            // within the Topic Alias Maximum the client announced (0 when it announced none).
            guard alias > 0, alias <= inboundAliasMaximum else {
                protocolViolation(.topicAliasInvalid, "topic alias \(alias) outside 1…\(inboundAliasMaximum)")
                return
            }
            if publish.topic.isEmpty {
                guard let topic = inboundAliases[alias] else {
                    // MQTT 5 §3.3.4: an alias without an established mapping is a protocol error.
                    protocolViolation(.protocolError, "unknown topic alias \(alias)")
                    return
                }
                publish.topic = topic
            } else {
                inboundAliases[alias] = publish.topic
            }
            // The alias belongs to this connection only: drop it so that a forwarded message does not carry it.
            publish.properties.topicAlias = nil
        }
        switch publish.qos {
        case .atMostOnce:
            onMessage(publish)
        case .atLeastOnce:
            let packetIdentifier = publish.packetIdentifier ?? 0
            onMessage(publish)
            // PUBACK only once the message has been handed over (MQTT 5 §4.3.2).
            try? send(.puback(AckPacket(packetIdentifier: packetIdentifier)))
        case .exactlyOnce:
            let packetIdentifier = publish.packetIdentifier ?? 0
            if receivedQoS2.insert(packetIdentifier).inserted {
                onMessage(publish)
            }
            try? send(.pubrec(AckPacket(packetIdentifier: packetIdentifier)))
        }
    }

    private func handlePubRec(_ ack: AckPacket) {
        guard case .pubrec(let promise) = inflight[ack.packetIdentifier] else {
            if version == .v5 {
                // MQTT 5 §3.6.2.1: answer an unknown identifier with PUBREL 0x92.
                try? send(
                    .pubrel(AckPacket(packetIdentifier: ack.packetIdentifier, reasonCode: .packetIdentifierNotFound)))
            } else {
                try? send(.pubrel(AckPacket(packetIdentifier: ack.packetIdentifier)))
            }
            return
        }
        if ack.reasonCode.isFailure {
            // The server refused the message: the flow ends here and the slot is free (MQTT 5 §4.3.3, §4.9).
            inflight[ack.packetIdentifier] = nil
            publishFinished()
            promise?.succeed(ack.reasonCode)
            return
        }
        inflight[ack.packetIdentifier] = .pubcomp(promise, ack.reasonCode)
        try? send(.pubrel(AckPacket(packetIdentifier: ack.packetIdentifier)))
    }

    /// One QoS 1/2 flow ended: its in-flight slot goes to the next queued publish.
    private func publishFinished() {
        inflightPublishes -= 1
        drainQueue()
    }

    // MARK: Outgoing requests (from MQTTClientConnection, on this loop)

    func publish(_ packet: PublishPacket, promise: EventLoopPromise<ReasonCode>?) {
        guard phase == .connected else {
            promise?.fail(closeError ?? .closedError)
            return
        }
        // [MQTT-3.2.2-11] / [MQTT-3.2.2-14]: stay within what the server announced.
        if packet.qos > serverMaximumQoS {
            let message = "QoS \(packet.qos.rawValue) is above the server's Maximum QoS \(serverMaximumQoS.rawValue)"
            promise?.fail(MQTTClientError(.protocolError, message))
            return
        }
        if packet.retain && !serverRetainAvailable {
            promise?.fail(MQTTClientError(.protocolError, "the server does not support retained messages"))
            return
        }
        // QoS 0 messages queue behind waiting QoS 1/2 ones so that publishing order is kept (MQTT 5 §4.6).
        if queue.isEmpty && (packet.qos == .atMostOnce || hasPublishSlot) {
            sendPublish(packet, promise: promise)
            return
        }
        guard queue.count < configuration.maximumQueuedPublishes else {
            promise?.fail(
                MQTTClientError(
                    .queueFull,
                    "\(queue.count) publishes already wait for the server's Receive Maximum of \(sendWindow)"))
            return
        }
        queue.append(QueuedPublish(packet: packet, promise: promise))
    }

    func subscribe(
        _ subscriptions: [TopicSubscription], properties: Properties, promise: EventLoopPromise<SubAckPacket>
    ) {
        guard phase == .connected else { return promise.fail(closeError ?? .closedError) }
        guard let packetIdentifier = allocatePacketIdentifier() else {
            return promise.fail(MQTTClientError(.queueFull, "all packet identifiers are in use"))
        }
        let packet = SubscribePacket(
            packetIdentifier: packetIdentifier, subscriptions: subscriptions, properties: properties)
        do { try send(.subscribe(packet)) } catch { return promise.fail(error) }
        inflight[packetIdentifier] = .suback(promise)
    }

    func unsubscribe(_ filters: [String], properties: Properties, promise: EventLoopPromise<UnsubAckPacket>) {
        guard phase == .connected else { return promise.fail(closeError ?? .closedError) }
        guard let packetIdentifier = allocatePacketIdentifier() else {
            return promise.fail(MQTTClientError(.queueFull, "all packet identifiers are in use"))
        }
        let packet = UnsubscribePacket(packetIdentifier: packetIdentifier, filters: filters, properties: properties)
        do { try send(.unsubscribe(packet)) } catch { return promise.fail(error) }
        inflight[packetIdentifier] = .unsuback(promise)
    }

    /// Sends DISCONNECT after what is already queued for writing, then closes (MQTT 5 §3.14.4). Publishes still
    /// waiting for an in-flight slot are failed: they were never sent.
    func disconnect(reason: ReasonCode, properties: Properties) {
        guard phase == .connected || phase == .connecting else { return }
        if closeError == nil { closeError = MQTTClientError(.closed, "disconnected by the client") }
        phase = .closing
        failQueue()
        try? send(.disconnect(DisconnectPacket(reasonCode: reason, properties: properties)))
        guard let context else { return }
        // Close once DISCONNECT is on the wire, not before: closing drops writes still pending. A server that
        // stops reading cannot hold the connection open for longer than the connect timeout.
        let written = context.eventLoop.makePromise(of: Void.self)
        let closeTimer = context.eventLoop.scheduleTask(in: configuration.connectTimeout) {
            written.fail(MQTTClientError(.timeout, "DISCONNECT not written in time"))
        }
        written.futureResult.assumeIsolated().whenComplete { [self] _ in
            closeTimer.cancel()
            self.context?.close(promise: nil)
        }
        writeOutbound(flush: true, then: written)
    }

    // MARK: Sending

    private var hasPublishSlot: Bool { inflightPublishes < sendWindow && inflight.count < 65_535 }

    /// Moves queued publishes out while the window has room.
    private func drainQueue() {
        while phase == .connected, let head = queue.first, head.packet.qos == .atMostOnce || hasPublishSlot {
            queue.removeFirst()
            sendPublish(head.packet, promise: head.promise)
        }
    }

    private func sendPublish(_ original: PublishPacket, promise: EventLoopPromise<ReasonCode>?) {
        var packet = original
        var packetIdentifier: UInt16?
        if packet.qos != .atMostOnce {
            // `hasPublishSlot` was checked: an identifier is free.
            guard let identifier = allocatePacketIdentifier() else {
                promise?.fail(MQTTClientError(.queueFull, "all packet identifiers are in use"))
                return
            }
            packetIdentifier = identifier
            packet.packetIdentifier = identifier
        } else {
            packet.packetIdentifier = nil
        }
        var newAlias: UInt16?
        if outboundAliasMaximum > 0 {
            // Outbound topic aliases (MQTT 5 §3.3.2.3.4), first come first served up to the server's maximum.
            if let alias = outboundAliases[packet.topic] {
                packet.properties.topicAlias = alias
                packet.topic = ""
            } else if outboundAliases.count < outboundAliasMaximum {
                let alias = UInt16(outboundAliases.count + 1)
                packet.properties.topicAlias = alias
                newAlias = alias
            }
        }
        do {
            try send(.publish(packet))
        } catch {
            promise?.fail(error)
            return
        }
        if let newAlias { outboundAliases[original.topic] = newAlias }
        if let packetIdentifier {
            inflight[packetIdentifier] = packet.qos == .atLeastOnce ? .puback(promise) : .pubrec(promise)
            inflightPublishes += 1
        } else if let promise {
            outboundWritePromises.append(promise)
        }
    }

    /// A free packet identifier (1…65535, MQTT 5 §2.2.1), or nil when all are in use. Identifiers are handed out
    /// round-robin, so one just freed is not reused at once.
    private func allocatePacketIdentifier() -> UInt16? {
        guard inflight.count < 65_535 else { return nil }
        while true {
            let candidate = nextPacketIdentifier
            nextPacketIdentifier = candidate == UInt16.max ? 1 : candidate + 1
            if inflight[candidate] == nil { return candidate }
        }
    }

    /// Encodes `packet` into the write batch; nothing is written when it cannot be encoded or is larger than the
    /// server's Maximum Packet Size [MQTT-3.1.2-24].
    /// Typed throws keep the success path free of an optional error to copy and destroy.
    private func send(_ packet: MQTTPacket) throws(MQTTClientError) {
        let start = outbound.writerIndex
        do {
            try MQTTPacketEncoder.encode(packet, version: version, into: &outbound)
        } catch {
            let code: MQTTClientError.Code = error.code == .packetTooLarge ? .packetTooLarge : .protocolError
            throw MQTTClientError(code, "cannot encode \(packet.type): \(error)")
        }
        let size = outbound.writerIndex - start
        if size > serverMaximumPacketSize {
            outbound.moveWriterIndex(to: start)
            throw MQTTClientError(
                .packetTooLarge,
                "\(packet.type) of \(size) bytes exceeds the server's Maximum Packet Size of \(serverMaximumPacketSize)"
            )
        }
        if outbound.readableBytes >= configuration.writeBatchSize {
            writeOutbound(flush: true)
        } else if !readInProgress && !flushScheduled, let context {
            // Flush once this event-loop turn is over, after whatever else the caller publishes in it.
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute { [self] in
                flushScheduled = false
                writeOutbound(flush: true)
            }
        }
    }

    /// Writes the batch (and flushes when asked); QoS 0 publishers with a promise learn when it is written.
    private func writeOutbound(flush: Bool, then completion: EventLoopPromise<Void>? = nil) {
        guard let context, outbound.readableBytes > 0 else {
            completion?.succeed()
            return
        }
        let bytes = outbound
        outbound = context.channel.allocator.buffer(capacity: 0)
        if outboundWritePromises.isEmpty {
            context.write(wrapOutboundOut(bytes), promise: completion)
        } else {
            let waiting = outboundWritePromises
            outboundWritePromises.removeAll(keepingCapacity: true)
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success:
                    for promise in waiting { promise.succeed(.success) }
                case .failure(let error):
                    let failure = closeError ?? MQTTClientError(.closed, "the write failed", underlying: error)
                    for promise in waiting { promise.fail(failure) }
                }
            }
            if let completion { written.futureResult.cascade(to: completion) }
            context.write(wrapOutboundOut(bytes), promise: written)
        }
        if flush {
            lastSentAt = context.eventLoop.now
            context.flush()
        }
    }

    // MARK: Keep-alive

    /// One timer: at the next PINGREQ due time, or at the PINGRESP deadline while a PINGREQ is unanswered.
    private func armKeepAlive() {
        guard keepAlive > .zero, phase == .connected, let context else { return }
        let deadline = pingSentAt.map { $0 + pingTimeout } ?? lastSentAt + keepAlive
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            keepAliveTimerFired()
        }
    }

    private func keepAliveTimerFired() {
        guard phase == .connected, let context else { return }
        let now = context.eventLoop.now
        if let sentAt = pingSentAt {
            if lastReceivedAt >= sentAt {
                pingSentAt = nil  // any packet shows the server is alive
            } else if now >= sentAt + pingTimeout {
                // MQTT 5 §3.1.2.10: no PINGRESP within a reasonable time → close the network connection.
                fail(MQTTClientError(.timeout, "no PINGRESP within \(pingTimeout.nanoseconds / 1_000_000) ms"))
                return
            }
        }
        // [MQTT-3.1.2-20]: a PINGREQ when nothing else was sent within the keep-alive.
        if pingSentAt == nil && now >= lastSentAt + keepAlive {
            try? send(.pingreq)
            writeOutbound(flush: true)
            pingSentAt = now
        }
        armKeepAlive()
    }

    // MARK: Closing

    /// A protocol error by the server: v5 servers get DISCONNECT with the reason (MQTT 5 §4.13.1), then close.
    private func protocolViolation(_ reason: ReasonCode, _ message: String) {
        if version == .v5 && phase == .connected {
            try? send(.disconnect(DisconnectPacket(reasonCode: reason)))
        }
        fail(MQTTClientError(.protocolError, message))
    }

    /// Ends the connection because of `error`: what is pending fails with it once the channel is gone.
    private func fail(_ error: MQTTClientError) {
        guard phase == .connecting || phase == .connected else { return }
        if closeError == nil { closeError = error }
        phase = .closing
        cumulation = nil
        failQueue()
        writeOutbound(flush: true)
        context?.close(promise: nil)
    }

    private func failQueue() {
        guard !queue.isEmpty else { return }
        let waiting = queue
        queue.removeAll()
        let error = closeError ?? .closedError
        for entry in waiting { entry.promise?.fail(error) }
    }

    /// The channel is gone: fail everything still waiting, exactly once.
    private func connectionGone() {
        guard phase != .closed else { return }
        phase = .closed
        timer?.cancel()
        timer = nil
        cumulation = nil
        let error = closeError ?? .closedError
        closeError = error
        shared.recordClose(error)
        // A channel that never became active failed to connect: `connect` fails `established` with the
        // connect error itself, which says more than "closed".
        if becameActive, let promise = established {
            established = nil
            promise.fail(error)
        }
        failQueue()
        let pending = inflight
        inflight.removeAll()
        inflightPublishes = 0
        for entry in pending.values {
            switch entry {
            case .puback(let promise), .pubrec(let promise), .pubcomp(let promise, _): promise?.fail(error)
            case .suback(let promise): promise.fail(error)
            case .unsuback(let promise): promise.fail(error)
            }
        }
        let writes = outboundWritePromises
        outboundWritePromises.removeAll()
        for promise in writes { promise.fail(error) }
    }
}
