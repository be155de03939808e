import BrokerCore
import Logging
import MQTTClient
import MQTTCodec
import NIOCore
import ServiceLifecycle

/// A bridge to another broker (mosquitto.conf `connection`), as a `Service`.
///
/// On this side the bridge is an ordinary persistent session — `localClientID`, driven in-process through a
/// `ClientConnection` — so outbound messages get every guarantee a client gets: they queue (bounded) while the
/// remote broker is away, QoS 1/2 messages stay in flight until the remote broker has acknowledged them, and
/// are sent again after a reconnection. Inbound messages are published here as that session's own, so a `both`
/// route never echoes them back (no-local). The remote side is an `MQTTClientConnection`, reconnected with
/// backoff. Everything runs on one event loop.
package final class MQTTBridge: Service, Sendable {
    private let configuration: BridgeConfiguration
    private let broker: Broker
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let state: NIOLoopBoundBox<State>

    private final class State {
        var local: ClientConnection?
        var remote: MQTTClientConnection?
        var nextPacketIdentifier: UInt16 = 0
        var shuttingDown = false
    }

    package init(configuration: BridgeConfiguration, broker: Broker, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.broker = broker
        self.eventLoop = eventLoop
        var logger = logger
        logger[metadataKey: "bridge"] = "\(configuration.name)"
        self.logger = logger
        self.state = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    package func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.connectLoop() }
        let remote = try? await eventLoop.submit { () -> MQTTClientConnection? in
            self.state.value.shuttingDown = true
            return self.state.value.remote
        }.get()
        if let remote { try? await remote.disconnect().get() }
        try? await eventLoop.submit { self.detached() }.get()
    }

    /// Connects, serves until the connection drops, waits, and connects again — to the next address in turn
    /// with `round_robin`, else starting again from the first.
    private func connectLoop() async throws {
        var failures = 0
        var index = 0
        while !Task.isCancelled {
            let address = configuration.addresses[index % configuration.addresses.count]
            do {
                let remote = try await connect(to: address).get()
                logger.notice("bridge connected", metadata: ["remote": "\(address.host):\(address.port)"])
                failures = 0
                try await eventLoop.submit { self.attached(remote) }.get()
                try? await remote.closeFuture.get()
                try await eventLoop.submit { self.detached() }.get()
                logger.warning(
                    "bridge disconnected",
                    metadata: [
                        "remote": "\(address.host):\(address.port)",
                        "reason":
                            "\(remote.disconnectReason.map { "\($0)" } ?? remote.closeError.map { "\($0)" } ?? "closed")",
                    ]
                )
                index = configuration.roundRobin ? index + 1 : 0
                if configuration.connectOnce {
                    logger.notice("bridge not restarted (start_type once)")
                    return
                }
            } catch {
                logger.warning(
                    "bridge cannot connect",
                    metadata: ["remote": "\(address.host):\(address.port)", "error": "\(error)"]
                )
                failures += 1
                index += 1
            }
            try await Task.sleep(for: delay(afterFailures: failures))
        }
    }

    /// `restart_timeout`: constant, or doubling from base to cap with jitter so that many gateways do not
    /// reconnect in step.
    private func delay(afterFailures failures: Int) -> Duration {
        let base = configuration.restartBase.nanoseconds
        let cap = configuration.restartCap.nanoseconds
        guard cap > base, failures > 0 else { return .nanoseconds(base) }
        let grown = min(cap, base << min(Int64(failures - 1), 16))
        return .nanoseconds(Int64.random(in: (grown / 2)...grown))
    }

    private func connect(to address: (host: String, port: Int)) -> EventLoopFuture<MQTTClientConnection> {
        var client = configuration.client
        client.host = address.host
        client.port = address.port
        if configuration.notifications && !configuration.notificationsLocalOnly {
            client.will = WillMessage(
                topic: configuration.notificationTopic,
                payload: ByteBuffer(string: "0"),
                qos: .atLeastOnce,
                retain: true
            )
        }
        return MQTTClientConnection.connect(configuration: client, eventLoopGroup: eventLoop) { publish in
            self.received(publish)
        }
    }

    // MARK: On the event loop

    /// The remote broker answered: start the local session and the subscriptions on both sides.
    private func attached(_ remote: MQTTClientConnection) {
        let state = self.state.value
        guard !state.shuttingDown else {
            _ = remote.disconnect()
            return
        }
        state.remote = remote
        let local = ClientConnection(
            broker: broker,
            handle: BridgeHandle(bridge: self),
            allocator: ByteBufferAllocator(),
            listener: ListenerContext(name: "bridge:\(configuration.name)")
        )
        local.packetObserver = { [unowned self] direction, packet in
            if direction == .sent { self.forward(packet) }
        }
        state.local = local
        var properties = Properties()
        properties.sessionExpiryInterval = UInt32.max
        properties.receiveMaximum = configuration.inflightWindow
        _ = local.receive(
            .connect(
                ConnectPacket(
                    protocolVersion: .v5,
                    clientIdentifier: configuration.localClientID,
                    cleanStart: false,
                    keepAlive: 0,
                    properties: properties
                )
            ),
            now: eventLoop.now
        )
        for (index, route) in configuration.routes.enumerated() where route.sendsOut {
            var subscription = Properties()
            // The identifier tells which route a delivery came through, to rewrite its topic.
            subscription.subscriptionIdentifiers = [UInt32(index + 1)]
            let options = SubscriptionOptions(
                qos: route.qos,
                noLocal: true,
                retainAsPublished: true,
                retainHandling: .sendIfNewSubscription
            )
            _ = local.receive(
                .subscribe(
                    SubscribePacket(
                        packetIdentifier: nextPacketIdentifier(),
                        subscriptions: [TopicSubscription(filter: route.localFilter, options: options)],
                        properties: subscription
                    )
                ),
                now: eventLoop.now
            )
        }
        _ = local.takeOutbound()
        let inbound = configuration.routes.filter(\.receivesIn).map { route in
            TopicSubscription(
                filter: route.remoteFilter,
                options: SubscriptionOptions(qos: route.qos, noLocal: configuration.client.protocolVersion == .v5)
            )
        }
        if !inbound.isEmpty {
            remote.subscribe(inbound).whenFailure { [logger] error in
                logger.warning("bridge subscription failed", metadata: ["error": "\(error)"])
            }
        }
        notify(connected: true, remote: remote)
    }

    /// The remote connection is gone: the local session stays, queueing what is to be sent.
    private func detached() {
        let state = self.state.value
        guard let local = state.local else { return }
        local.connectionClosed(now: eventLoop.now)
        state.local = nil
        state.remote = nil
        notify(connected: false, remote: nil)
    }

    /// A delivery of the local session: send it to the remote broker; acknowledge it here once the remote
    /// broker has.
    private func forward(_ packet: MQTTPacket) {
        guard case .publish(let publish) = packet, let local = state.value.local, let remote = state.value.remote
        else { return }
        let routeIndex = publish.properties.subscriptionIdentifiers.min().map { Int($0) - 1 }
        let route =
            routeIndex.flatMap { configuration.routes.indices.contains($0) ? configuration.routes[$0] : nil }
        guard let route, let topic = route.remoteTopic(for: publish.topic) else {
            complete(publish, on: local)
            return
        }
        var properties = publish.properties
        properties.subscriptionIdentifiers = []
        properties.topicAlias = nil
        let outgoing = PublishPacket(
            topic: topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: configuration.outgoingRetain && publish.retain,
            properties: properties
        )
        guard publish.qos != .atMostOnce else {
            remote.publish(outgoing, promise: nil)
            return
        }
        // The client runs on this bridge's event loop, so its futures complete here.
        remote.publish(outgoing).assumeIsolated().whenSuccess { _ in
            // Acknowledged remotely: the message has crossed; it leaves the local session now.
            guard self.state.value.local === local else { return }
            self.complete(publish, on: local)
        }
    }

    private func complete(_ publish: PublishPacket, on local: ClientConnection) {
        guard let packetIdentifier = publish.packetIdentifier else { return }
        let now = eventLoop.now
        switch publish.qos {
        case .atMostOnce:
            return
        case .atLeastOnce:
            _ = local.receive(.puback(AckPacket(packetIdentifier: packetIdentifier)), now: now)
        case .exactlyOnce:
            _ = local.receive(.pubrec(AckPacket(packetIdentifier: packetIdentifier)), now: now)
            _ = local.receive(.pubcomp(AckPacket(packetIdentifier: packetIdentifier)), now: now)
        }
        _ = local.takeOutbound()
    }

    /// A message from the remote broker: publish it here as the bridge's own.
    private func received(_ publish: PublishPacket) {
        guard let local = state.value.local,
            let (route, topic) = configuration.routes.lazy.filter(\.receivesIn)
                .compactMap({ route in route.localTopic(for: publish.topic).map { (route, $0) } }).first
        else { return }
        var properties = publish.properties
        properties.subscriptionIdentifiers = []
        properties.topicAlias = nil
        let qos = min(publish.qos, route.qos)
        let packetIdentifier = qos == .atMostOnce ? nil : nextPacketIdentifier()
        let now = eventLoop.now
        _ = local.receive(
            .publish(
                PublishPacket(
                    topic: topic,
                    payload: publish.payload,
                    qos: qos,
                    retain: publish.retain,
                    packetIdentifier: packetIdentifier,
                    properties: properties
                )
            ),
            now: now
        )
        if qos == .exactlyOnce, let packetIdentifier {
            _ = local.receive(.pubrel(AckPacket(packetIdentifier: packetIdentifier)), now: now)
        }
        _ = local.takeOutbound()
    }

    fileprivate func drain() {
        guard let local = state.value.local else { return }
        let more = local.drain(now: eventLoop.now, limit: 256)
        _ = local.takeOutbound()
        if more { eventLoop.execute { self.drain() } }
    }

    private func nextPacketIdentifier() -> UInt16 {
        let state = self.state.value
        state.nextPacketIdentifier = state.nextPacketIdentifier == UInt16.max ? 1 : state.nextPacketIdentifier + 1
        return state.nextPacketIdentifier
    }

    /// `notifications`: `1` (connected) or `0` as a retained message here and, unless local only, on the remote
    /// broker (where the will says `0` when the bridge vanishes).
    private func notify(connected: Bool, remote: MQTTClientConnection?) {
        guard configuration.notifications else { return }
        let payload = ByteBuffer(string: connected ? "1" : "0")
        broker.publish(
            Message(topic: configuration.notificationTopic, payload: payload, qos: .atLeastOnce, retain: true),
            now: eventLoop.now
        )
        if let remote, !configuration.notificationsLocalOnly {
            remote.publish(
                PublishPacket(
                    topic: configuration.notificationTopic, payload: payload, qos: .atLeastOnce, retain: true),
                promise: nil
            )
        }
    }
}

/// The local session's view of the bridge: wake-ups hop to the bridge's event loop.
private final class BridgeHandle: SessionConnection {
    private let bridge: MQTTBridge

    init(bridge: MQTTBridge) {
        self.bridge = bridge
    }

    func scheduleDrain() {
        bridge.scheduleDrain()
    }

    func sessionTakenOver() {
        // Another client used the bridge's local client identifier; the bridge carries on with its next
        // connection.
    }
}

extension MQTTBridge {
    fileprivate func scheduleDrain() {
        eventLoop.execute { self.drain() }
    }
}
