import BrokerCore
import Foundation
import Logging
import MQTTCodec
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// The MQTT listeners as one `Service`: accepts connections on every listener until graceful shutdown, then sends
/// every v5 client DISCONNECT 0x8B (server shutting down) and closes all connections.
package final class MQTTServer: Service, Sendable {
    /// Each connection keeps its receive buffer between reads: start small so that an idle connection costs 256
    /// bytes, not NIO's default of 2 KiB; a busy one grows it within a few reads (up to 64 KiB).
    package static let receiveBufferAllocator = AdaptiveRecvByteBufferAllocator(
        minimum: 64, initial: 256, maximum: 65536)

    package struct Configuration: Sendable {
        package var listeners: [ListenerConfiguration]
        /// How long shutdown waits for connections to close before it stops waiting.
        package var shutdownGrace: TimeAmount = .seconds(5)
        /// How long a new connection may take to send CONNECT before it is closed.
        package var connectTimeout: TimeAmount = .seconds(10)
        /// Largest WebSocket frame accepted.
        package var maxWebSocketFrameSize = 1 << 24
        /// Whether `run` fails when a listener cannot bind (standalone broker) or carries on with the others and
        /// reports it (gateway).
        package var failWhenAListenerCannotBind = true
        /// Log every packet at debug level, in the form of Mosquitto's verbose log.
        package var verbosePacketLog = false
        /// The durable store, when persistence is on: acknowledgements of QoS 1/2 messages wait for it.
        package var durability: (any DurabilityBarrier)?
        /// Told the state of each listener once the configured listeners were first bound (or failed to).
        package var onListening: (@Sendable ([ListenerState]) async -> Void)?

        package init(listeners: [ListenerConfiguration]) {
            self.listeners = listeners
        }

        /// One plain MQTT listener.
        package init(host: String, port: Int) {
            self.init(listeners: [ListenerConfiguration(host: host, port: port)])
        }
    }

    /// What became of one configured listener.
    package enum ListenerState: Sendable, Equatable, CustomStringConvertible {
        case listening(SocketAddress)
        /// The listener could not start: its address is taken, its TLS files are unusable …
        case failed(String)

        package var description: String {
            switch self {
            case .listening(let address): return "listening on \(address.ipAddress ?? "?"):\(address.port ?? 0)"
            case .failed(let reason): return "cannot bind: \(reason)"
            }
        }
    }

    package let broker: Broker
    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let listeners = Mutex<[RunningListener]>([])
    private let reconfiguring = Atomic<Bool>(false)

    /// One configured listener with its bound channel (nil when it could not start) and its connections.
    private struct RunningListener: Sendable {
        var configuration: ListenerConfiguration
        var key: ListenerKey
        var channel: (any Channel)?
        var registry: ConnectionRegistry
        var state: ListenerState
    }

    package init(broker: Broker, configuration: Configuration, group: any EventLoopGroup, logger: Logger) {
        self.broker = broker
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// The state of each configured listener, in configuration order, once `run` has started them.
    package var listenerStates: [ListenerState] { listeners.withLock { $0.map(\.state) } }

    /// The address of the first listener that is listening.
    package var localAddress: SocketAddress? {
        for state in listenerStates {
            if case .listening(let address) = state { return address }
        }
        return nil
    }

    /// Open connections across all listeners.
    package var connectionCount: Int { listeners.withLock { $0.reduce(0) { $0 + $1.registry.count } } }

    package func run() async throws {
        let states = try await reconfigure(configuration.listeners)
        await configuration.onListening?(states)
        if configuration.failWhenAListenerCannotBind,
            let failure = states.first(where: { if case .failed = $0 { true } else { false } })
        {
            await closeAll()
            throw ListenerFailure(description: "\(failure)")
        }

        let timers = startTimers(on: group.next())
        try? await gracefulShutdown()

        logger.info("MQTT listeners stopping", metadata: ["connections": "\(connectionCount)"])
        for timer in timers { timer.cancel() }
        await closeAll()
        logger.info("MQTT listeners stopped")
    }

    /// Makes the running listeners match `listeners`: a listener whose settings did not change keeps its socket
    /// and its connections (its security rules are swapped in place, so clients follow them at their next
    /// operation); a changed one is closed with its connections and bound again; a new one is bound; one no longer
    /// configured is closed. Not reentrant: one reconfiguration at a time.
    /// - Returns: the state of each listener, in order.
    @discardableResult
    package func reconfigure(_ desired: [ListenerConfiguration]) async throws -> [ListenerState] {
        guard reconfiguring.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw ListenerFailure(description: "another reconfiguration is in progress")
        }
        defer { reconfiguring.store(false, ordering: .releasing) }

        let current = listeners.withLock { $0 }
        var kept: [Int: RunningListener] = [:]
        var reused = Set<Int>()
        for (index, listener) in desired.enumerated() {
            let key = ListenerKey(listener)
            if let match = current.indices.first(where: {
                !reused.contains($0) && current[$0].key == key && current[$0].channel != nil
            }) {
                reused.insert(match)
                current[match].configuration.context.security.replace(with: listener.context.security.current)
                kept[index] = current[match]
            }
        }
        for index in current.indices where !reused.contains(index) {
            await close(current[index], reason: "reconfigured")
        }
        var next: [RunningListener] = []
        for (index, listener) in desired.enumerated() {
            if let existing = kept[index] {
                next.append(existing)
            } else {
                next.append(await start(listener))
            }
        }
        listeners.withLock { $0 = next }
        return next.map(\.state)
    }

    private func start(_ listener: ListenerConfiguration) async -> RunningListener {
        let registry = ConnectionRegistry()
        do {
            let channel = try await bind(listener, registry: registry)
            let address = channel.localAddress
            logger.info(
                "MQTT listener started",
                metadata: ["listener": "\(listener.displayName)", "address": "\(address.map { "\($0)" } ?? "?")"]
            )
            return RunningListener(
                configuration: listener,
                key: ListenerKey(listener),
                channel: channel,
                registry: registry,
                state: address.map { .listening($0) } ?? .failed("no local address")
            )
        } catch {
            logger.error(
                "MQTT listener cannot start",
                metadata: ["listener": "\(listener.displayName)", "error": "\(error)"]
            )
            return RunningListener(
                configuration: listener,
                key: ListenerKey(listener),
                channel: nil,
                registry: registry,
                state: .failed("\(listener.displayName): \(error)")
            )
        }
    }

    /// Stops accepting on a listener and closes its connections (v5 clients get DISCONNECT 0x8B).
    private func close(_ listener: RunningListener, reason: String) async {
        if let channel = listener.channel {
            try? await channel.close()
            logger.info(
                "MQTT listener closed",
                metadata: ["listener": "\(listener.configuration.displayName)", "reason": "\(reason)"])
        }
        for handle in listener.registry.all { handle.serverShuttingDown() }
        let deadline = NIODeadline.now() + configuration.shutdownGrace
        while listener.registry.count > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    private func closeAll() async {
        let all = listeners.withLock { listeners in
            defer { listeners.removeAll() }
            return listeners
        }
        for listener in all { await close(listener, reason: "shutdown") }
    }

    private func bind(_ listener: ListenerConfiguration, registry: ConnectionRegistry) async throws -> any Channel {
        let sslContext = try listener.tls.map(TLSContextFactory.makeContext)
        let host = try listener.interface.map(Self.address(ofInterface:)) ?? listener.host
        let broker = self.broker
        let logger = self.logger
        let connectTimeout = configuration.connectTimeout
        let maxFrameSize = configuration.maxWebSocketFrameSize
        let verbose = configuration.verbosePacketLog
        let durability = configuration.durability
        let counter = listener.maxConnections.map { ConnectionCounter(limit: $0) }
        let settings = MQTTChannelHandler.Settings(
            broker: broker,
            registry: registry,
            listener: listener.context,
            subjectAsUsername: listener.tls?.subjectAsUsername ?? false,
            verbosePacketLog: verbose,
            durability: durability,
            connectTimeout: connectTimeout,
            logger: logger
        )
        let makeHandler: @Sendable () -> MQTTChannelHandler = { MQTTChannelHandler(settings: settings) }
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelOption(.recvAllocator, value: Self.receiveBufferAllocator)
            .childChannelInitializer { channel in
                if let counter {
                    guard counter.acquire() else {
                        logger.warning(
                            "max_connections reached, connection refused",
                            metadata: [
                                "listener": "\(listener.displayName)"
                            ])
                        return channel.close()
                    }
                    channel.closeFuture.whenComplete { _ in counter.release() }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    switch listener.framing {
                    case .mqtt:
                        try pipeline.addHandler(makeHandler())
                    case .websockets:
                        try Self.configureWebSocket(
                            channel: channel,
                            maxFrameSize: maxFrameSize,
                            makeHandler: makeHandler
                        )
                    }
                }
            }
            .bind(host: host, port: listener.port)
            .get()
    }

    /// HTTP/1.1 until the client upgrades to WebSocket; then MQTT in binary frames. The `mqtt` subprotocol is
    /// echoed when offered (MQTT 5 §6: `mqtt`, and `mqttv3.1` from older clients).
    private static func configureWebSocket(
        channel: any Channel,
        maxFrameSize: Int,
        makeHandler: @escaping @Sendable () -> MQTTChannelHandler
    ) throws {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: maxFrameSize,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                var headers = HTTPHeaders()
                let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { String($0) }
                if let chosen = offered.first(where: { $0 == "mqtt" || $0 == "mqttv3.1" }) {
                    headers.add(name: "Sec-WebSocket-Protocol", value: chosen)
                }
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(WebSocketMQTTFraming())
                    try pipeline.addHandler(makeHandler())
                }
            }
        )
        let responderName = "rampart.upgrade-required"
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (
                upgraders: [upgrader],
                completionHandler: { context in
                    context.pipeline.removeHandler(name: responderName, promise: nil)
                }
            )
        )
        try channel.pipeline.syncOperations.addHandler(UpgradeRequiredResponder(), name: responderName)
    }

    /// The first IPv4 (else IPv6) address of a network interface, for `bind_interface`.
    private static func address(ofInterface name: String) throws -> String {
        let devices = try System.enumerateDevices().filter { $0.name == name }
        let addresses = devices.compactMap { $0.address }
        if let v4 = addresses.first(where: { $0.protocol == .inet }), let ip = v4.ipAddress { return ip }
        if let v6 = addresses.first(where: { $0.protocol == .inet6 }), let ip = v6.ipAddress { return ip }
        throw TLSContextFactory.Failure(description: "bind_interface \(name): no such interface with an address")
    }

    /// Periodic work: delayed wills and session expiry (every 100 ms), `$SYS` statistics every `sys_interval`.
    private func startTimers(on eventLoop: any EventLoop) -> [RepeatedTask] {
        let broker = self.broker
        var tasks = [
            eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
                broker.expire(now: .now())
            }
        ]
        let reclaimer = MemoryReclaimer()
        tasks.append(
            eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
                let count = connectionCount
                if reclaimer.observe(connections: count) {
                    logger.debug("memory returned to the system", metadata: ["connections": "\(count)"])
                }
            }
        )
        let interval = broker.configuration.sysInterval
        if interval > 0 {
            broker.publishSystemTopics(now: .now())
            tasks.append(
                eventLoop.scheduleRepeatedTask(
                    initialDelay: .seconds(Int64(interval)),
                    delay: .seconds(Int64(interval))
                ) { _ in
                    broker.publishSystemTopics(now: .now())
                }
            )
        }
        return tasks
    }
}

struct ListenerFailure: Error, CustomStringConvertible {
    var description: String
}

/// What makes two listener configurations the same listener: everything but the security rules, which are
/// swapped in place. Certificate files are compared by content, so a renewed certificate restarts the listener.
struct ListenerKey: Hashable, Sendable {
    var host: String
    var port: Int
    var interface: String?
    var framing: ListenerConfiguration.Framing
    var tls: ListenerConfiguration.TLS?
    var tlsFiles: [Data?]
    var maxConnections: Int?
    var mountPoint: String
    var useCertificateIdentityAsUsername: Bool
    var maximumQoS: QoS?
    var topicAliasMaximum: UInt16?
    var throttled: Bool

    init(_ listener: ListenerConfiguration) {
        host = listener.host
        port = listener.port
        interface = listener.interface
        framing = listener.framing
        tls = listener.tls
        tlsFiles = [listener.tls?.certificateFile, listener.tls?.keyFile, listener.tls?.caFile].map { path in
            path.flatMap { FileManager.default.contents(atPath: $0) }
        }
        maxConnections = listener.maxConnections
        mountPoint = listener.context.mountPoint
        useCertificateIdentityAsUsername = listener.context.useCertificateIdentityAsUsername
        maximumQoS = listener.context.maximumQoS
        topicAliasMaximum = listener.context.topicAliasMaximum
        throttled = listener.context.loginThrottle != nil
    }
}

/// Connections open on one listener, against its `max_connections`.
private final class ConnectionCounter: Sendable {
    private let open = Atomic<Int>(0)
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func acquire() -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = open.compareExchange(
                expected: current,
                desired: current + 1,
                ordering: .relaxed
            )
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}
