import BrokerCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The MQTT listener as a `Service`: accepts connections until graceful shutdown, then sends every v5 client
/// DISCONNECT 0x8B (server shutting down) and closes all connections.
package final class MQTTServer: Service, Sendable {
    package struct Configuration: Sendable {
        package var host: String
        package var port: Int
        /// How long shutdown waits for connections to close before it stops waiting.
        package var shutdownGrace: TimeAmount = .seconds(5)
        /// How long a new connection may take to send CONNECT before it is closed.
        package var connectTimeout: TimeAmount = .seconds(10)

        package init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    package let broker: Broker
    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let registry = ConnectionRegistry()
    private let boundAddress = Mutex<SocketAddress?>(nil)

    package init(broker: Broker, configuration: Configuration, group: any EventLoopGroup, logger: Logger) {
        self.broker = broker
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// The address the listener is bound to, once `run` has bound it.
    package var localAddress: SocketAddress? { boundAddress.withLock { $0 } }

    package func run() async throws {
        let broker = self.broker
        let registry = self.registry
        let logger = self.logger
        let connectTimeout = configuration.connectTimeout
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        MQTTChannelHandler(
                            broker: broker,
                            registry: registry,
                            connectTimeout: connectTimeout,
                            logger: logger
                        )
                    )
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        boundAddress.withLock { $0 = channel.localAddress }
        logger.info(
            "MQTT listener started",
            metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "protocol": "mqtt"]
        )

        let timers = startTimers(on: channel.eventLoop)
        try? await gracefulShutdown()

        logger.info("MQTT listener stopping", metadata: ["connections": "\(registry.count)"])
        for timer in timers { timer.cancel() }
        try? await channel.close()
        let handles = registry.all
        for handle in handles { handle.serverShuttingDown() }
        let deadline = NIODeadline.now() + configuration.shutdownGrace
        while registry.count > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        logger.info("MQTT listener stopped")
    }

    /// Periodic work: delayed wills and session expiry (every 100 ms), `$SYS` statistics every `sys_interval`.
    private func startTimers(on eventLoop: any EventLoop) -> [RepeatedTask] {
        let broker = self.broker
        var tasks = [
            eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
                broker.expire(now: .now())
            }
        ]
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
