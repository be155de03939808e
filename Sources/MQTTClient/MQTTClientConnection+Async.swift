import MQTTCodec
import NIOCore

/// async/await conveniences over the EventLoopFuture core. Each call costs a promise and a continuation, which is
/// fine for a bridge's control path; `rampart bench` uses the future (or promise-less) forms on the event loop.
extension MQTTClientConnection {
    /// Connects, sends CONNECT and waits for CONNACK; throws `MQTTClientError` on failure.
    package static func connect(
        configuration: MQTTClientConfiguration,
        eventLoopGroup: any EventLoopGroup,
        onMessage: @escaping @Sendable (PublishPacket) -> Void
    ) async throws -> MQTTClientConnection {
        try await connect(configuration: configuration, eventLoopGroup: eventLoopGroup, onMessage: onMessage).get()
    }

    /// Publishes and waits for the flow to end: written (QoS 0), PUBACK (QoS 1) or PUBCOMP (QoS 2).
    @discardableResult
    package func publish(
        topic: String,
        payload: ByteBuffer,
        qos: QoS = .atMostOnce,
        retain: Bool = false,
        properties: Properties = Properties()
    ) async throws -> ReasonCode {
        let packet = PublishPacket(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        return try await publish(packet).get()
    }

    package func subscribe(
        _ subscriptions: [TopicSubscription],
        properties: Properties = Properties()
    ) async throws -> SubAckPacket {
        try await subscribe(subscriptions, properties: properties).get()
    }

    package func unsubscribe(
        _ filters: [String],
        properties: Properties = Properties()
    ) async throws -> UnsubAckPacket {
        try await unsubscribe(filters, properties: properties).get()
    }

    package func disconnect(
        reason: ReasonCode = .normalDisconnection,
        properties: Properties = Properties()
    ) async throws {
        try await disconnect(reason: reason, properties: properties).get()
    }
}
