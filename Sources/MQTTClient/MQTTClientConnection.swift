import MQTTCodec
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// One MQTT client connection to a server (a bridge's upstream broker, or the broker under `rampart bench`).
///
/// The core is EventLoopFuture based and allocation-lean: a publish from the connection's own event loop encodes
/// straight into a write batch that is flushed once per loop turn, and `publish(_:promise:)` with a nil promise
/// allocates nothing beyond the encoded bytes. Calls from other threads hop to `eventLoop`. The async methods in
/// `MQTTClientConnection+Async.swift` wrap the futures.
///
/// Messages from the server are handed to `onMessage` on `eventLoop`, in order, with any topic alias resolved;
/// `onMessage` must not block. QoS 1 messages are acknowledged once it returns.
///
/// One instance is one network connection: it does not reconnect. When `closeFuture` completes, every pending
/// operation has failed with `MQTTClientError` (code `.closed`, `.timeout` or `.protocolError`); in-flight QoS 1/2
/// publishes are not resent on another connection. The owner (the bridge) runs its own reconnect loop, connecting
/// again with `cleanStart: false` when it wants the server to resume the session (MQTT 5 §4.4).
package final class MQTTClientConnection: Sendable {
    /// State written on the event loop and read from anywhere.
    final class SharedState: Sendable {
        private struct Values {
            var disconnectReason: ReasonCode?
            var disconnectReasonString: String?
            var closeError: MQTTClientError?
        }
        private let values = Mutex(Values())

        init() {}

        func recordDisconnect(reason: ReasonCode, reasonString: String?) {
            values.withLock {
                $0.disconnectReason = reason
                $0.disconnectReasonString = reasonString
            }
        }

        func recordClose(_ error: MQTTClientError) {
            values.withLock { $0.closeError = $0.closeError ?? error }
        }

        var disconnectReason: ReasonCode? { values.withLock { $0.disconnectReason } }
        var disconnectReasonString: String? { values.withLock { $0.disconnectReasonString } }
        var closeError: MQTTClientError? { values.withLock { $0.closeError } }
    }

    /// The server's CONNACK: session present, assigned client identifier, Receive Maximum, Topic Alias Maximum …
    package let connAck: ConnAckPacket
    package let eventLoop: any EventLoop
    package let protocolVersion: ProtocolVersion
    /// The client identifier in force: the one configured, or the one the server assigned (MQTT 5 §3.2.2.3.7).
    package let clientIdentifier: String
    private let channel: any Channel
    private let handler: NIOLoopBound<MQTTClientHandler>
    private let shared: SharedState

    init(
        channel: any Channel,
        handler: NIOLoopBound<MQTTClientHandler>,
        connAck: ConnAckPacket,
        configuration: MQTTClientConfiguration,
        shared: SharedState
    ) {
        self.channel = channel
        self.eventLoop = channel.eventLoop
        self.handler = handler
        self.connAck = connAck
        self.protocolVersion = configuration.protocolVersion
        self.clientIdentifier = connAck.properties.assignedClientIdentifier ?? configuration.clientIdentifier
        self.shared = shared
    }

    // MARK: Connecting

    /// Connects, sends CONNECT and waits for CONNACK.
    ///
    /// Fails with `MQTTClientError`: `.connectionRefused(reason)` with the server's reason string when CONNACK
    /// refuses, `.timeout` when TCP, TLS and CONNACK together take longer than `connectTimeout`, `.transport` with
    /// the underlying error when the network or TLS fails.
    /// - Parameter onMessage: called on the connection's event loop for every PUBLISH from the server.
    package static func connect(
        configuration: MQTTClientConfiguration,
        eventLoopGroup: any EventLoopGroup,
        onMessage: @escaping @Sendable (PublishPacket) -> Void
    ) -> EventLoopFuture<MQTTClientConnection> {
        let eventLoop = eventLoopGroup.next()
        let sslContext: NIOSSLContext?
        do {
            sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        } catch {
            return eventLoop.makeFailedFuture(
                MQTTClientError(.transport, "cannot set up TLS", underlying: error))
        }
        let deadline = NIODeadline.now() + configuration.connectTimeout
        let established = eventLoop.makePromise(of: MQTTClientConnection.self)
        let serverHostname = configuration.effectiveServerHostname
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname))
                    }
                    try pipeline.addHandler(
                        MQTTClientHandler(
                            configuration: configuration,
                            connectDeadline: deadline,
                            established: established,
                            shared: SharedState(),
                            onMessage: onMessage
                        )
                    )
                }
            }
        // An IP literal is connected to directly: resolving it (getaddrinfo on NIO's offload queue, Happy
        // Eyeballs) is what limited a load generator to ~5,000 connections/s.
        let connecting: EventLoopFuture<any Channel>
        if let address = try? SocketAddress(ipAddress: configuration.host, port: configuration.port) {
            connecting = bootstrap.connect(to: address)
        } else {
            connecting = bootstrap.connect(host: configuration.host, port: configuration.port)
        }
        connecting.whenFailure { error in
            established.fail(Self.connectError(error))
        }
        return established.futureResult
    }

    private static func connectError(_ error: any Error) -> MQTTClientError {
        if let error = error as? MQTTClientError { return error }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return MQTTClientError(.timeout, "TCP connect timed out", underlying: error)
        }
        return MQTTClientError(.transport, "cannot connect", underlying: error)
    }

    // MARK: State

    /// Completes when the connection is gone, for any reason (never fails).
    package var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// The reason code of a DISCONNECT the server sent (v5), e.g. 0x8B when it shuts down; nil otherwise.
    package var disconnectReason: ReasonCode? { shared.disconnectReason }
    /// The Reason String of that DISCONNECT, if the server sent one.
    package var disconnectReasonString: String? { shared.disconnectReasonString }
    /// Why the connection ended, once it has.
    package var closeError: MQTTClientError? { shared.closeError }

    package var isActive: Bool { channel.isActive }
    /// False while the socket's send buffer is above NIO's high-water mark: a load generator can pause then.
    package var isWritable: Bool { channel.isWritable }

    /// Calls `callback` on the connection's event loop once the channel is writable again (at once if it is), so a
    /// producer can wait for the socket instead of polling it. Must be called on the event loop; one callback at a
    /// time (a second replaces the first).
    package func whenWritable(_ callback: @escaping () -> Void) {
        eventLoop.preconditionInEventLoop()
        if channel.isWritable {
            callback()
        } else {
            handler.value.whenWritable = callback
        }
    }

    // MARK: Operations

    /// Publishes a message. `packetIdentifier` is assigned here; `dup` is sent as given.
    ///
    /// The future succeeds with the final reason code: for QoS 0 once the packet is written (`.success`), for QoS 1
    /// on PUBACK, for QoS 2 on PUBCOMP (PUBREC/PUBREL are handled inside) or on a PUBREC that refuses the message.
    /// A v5 server may answer 0x10 (no matching subscribers) or a failure code: both are results, not errors.
    /// Publishes beyond the server's Receive Maximum wait in a local queue of `maximumQueuedPublishes`; past that
    /// the future fails at once with `.queueFull`.
    package func publish(_ publish: PublishPacket) -> EventLoopFuture<ReasonCode> {
        let promise = eventLoop.makePromise(of: ReasonCode.self)
        self.publish(publish, promise: promise)
        return promise.futureResult
    }

    /// The allocation-free form of `publish(_:)`: with a nil promise nothing beyond the encoded bytes is
    /// allocated when called on `eventLoop` (QoS 0 fire-and-forget for load generation). QoS 1/2 publishes with
    /// a nil promise still take an in-flight slot until acknowledged.
    package func publish(_ publish: PublishPacket, promise: EventLoopPromise<ReasonCode>?) {
        if eventLoop.inEventLoop {
            handler.value.publish(publish, promise: promise)
        } else {
            eventLoop.execute { self.handler.value.publish(publish, promise: promise) }
        }
    }

    /// Subscribes (MQTT 5 §3.8). The SUBACK's reason codes say what was granted; failures there are results.
    package func subscribe(
        _ subscriptions: [TopicSubscription],
        properties: Properties = Properties()
    ) -> EventLoopFuture<SubAckPacket> {
        let promise = eventLoop.makePromise(of: SubAckPacket.self)
        onLoop { $0.subscribe(subscriptions, properties: properties, promise: promise) }
        return promise.futureResult
    }

    /// Unsubscribes (MQTT 5 §3.10). In 3.1.1 the UNSUBACK carries no reason codes.
    package func unsubscribe(
        _ filters: [String],
        properties: Properties = Properties()
    ) -> EventLoopFuture<UnsubAckPacket> {
        let promise = eventLoop.makePromise(of: UnsubAckPacket.self)
        onLoop { $0.unsubscribe(filters, properties: properties, promise: promise) }
        return promise.futureResult
    }

    /// Sends DISCONNECT (v5: with `reason` and `properties`; 0x04 asks the server to publish the will, MQTT 5
    /// §3.14.2.1) after everything already published, then closes. Publishes waiting in the local queue and
    /// unacknowledged QoS 1/2 publishes fail with `.closed`. Succeeds once the connection is closed, also when it
    /// already was.
    package func disconnect(
        reason: ReasonCode = .normalDisconnection,
        properties: Properties = Properties()
    ) -> EventLoopFuture<Void> {
        onLoop { $0.disconnect(reason: reason, properties: properties) }
        return channel.closeFuture
    }

    /// Runs `body` with the handler on the event loop.
    private func onLoop(_ body: @escaping @Sendable (MQTTClientHandler) -> Void) {
        if eventLoop.inEventLoop {
            body(handler.value)
        } else {
            eventLoop.execute { body(self.handler.value) }
        }
    }

    /// Test hook: `body` runs on the event loop for every PINGRESP.
    func onPingResponse(_ body: @escaping @Sendable () -> Void) {
        onLoop { $0.onPingResponse = body }
    }
}
