import MQTTCodec
import NIOCore
import Synchronization

/// One application message as the broker routes it: immutable and shared by reference between every
/// subscriber it is delivered to, so a fan-out never copies the topic, payload or properties.
package final class Message: Sendable {
    /// Identifies the message in the durable store, so that a fan-out to many persistent sessions stores its
    /// payload once. Unique within a broker's lifetime, and above every identifier recovered at start-up.
    package let id: UInt64
    package let topic: String
    package let payload: ByteBuffer
    package let qos: QoS
    package let retain: Bool
    /// Application properties forwarded unchanged (payload format, content type, response topic, correlation
    /// data, user properties). Message expiry is carried by `expiresAt`; per-delivery properties (topic alias,
    /// subscription identifiers) are added when the message is encoded for one subscriber.
    package let properties: Properties
    /// When the message expires (MQTT 5 §3.3.2.3.3); nil for messages that never expire.
    package let expiresAt: NIODeadline?
    /// Client identifier of the publisher, for no-local subscriptions (MQTT 5 §3.8.3.1); nil for the broker's own.
    package let publisherID: String?

    package init(
        topic: String,
        payload: ByteBuffer,
        qos: QoS,
        retain: Bool,
        properties: Properties = Properties(),
        expiresAt: NIODeadline? = nil,
        publisherID: String? = nil,
        id: UInt64? = nil
    ) {
        self.id = id ?? Self.nextID.wrappingAdd(1, ordering: .relaxed).newValue
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.expiresAt = expiresAt
        self.publisherID = publisherID
    }

    private static let nextID = Atomic<UInt64>(0)

    /// Makes later identifiers larger than `id` (after recovering stored messages).
    package static func reserveIdentifiers(through id: UInt64) {
        var current = nextID.load(ordering: .relaxed)
        while current < id {
            let (exchanged, original) = nextID.compareExchange(expected: current, desired: id, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Builds the routed message from a received PUBLISH whose topic alias has already been resolved.
    package convenience init(publish: PublishPacket, topic: String, publisherID: String?, now: NIODeadline) {
        var properties = Properties()
        properties.payloadFormatIndicator = publish.properties.payloadFormatIndicator
        properties.contentType = publish.properties.contentType
        properties.responseTopic = publish.properties.responseTopic
        properties.correlationData = publish.properties.correlationData
        properties.userProperties = publish.properties.userProperties
        let expiresAt = publish.properties.messageExpiryInterval.map { now + .seconds(Int64($0)) }
        self.init(
            topic: topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            properties: properties,
            expiresAt: expiresAt,
            publisherID: publisherID
        )
    }

    /// Whether the message has expired at `now`.
    package func isExpired(at now: NIODeadline) -> Bool {
        guard let expiresAt else { return false }
        return expiresAt <= now
    }

    /// The remaining expiry interval in whole seconds, rounded up, for the copy sent at `now` (MQTT 5 §3.3.2.3.3).
    package func remainingExpiry(at now: NIODeadline) -> UInt32? {
        guard let expiresAt else { return nil }
        let remaining = expiresAt - now
        let nanos = max(remaining.nanoseconds, 0)
        return UInt32(clamping: (nanos + 999_999_999) / 1_000_000_000)
    }
}

/// One message on its way to one session: the message with the QoS and retain flag this subscriber gets.
package struct Delivery: Sendable {
    package var message: Message
    package var qos: QoS
    package var retain: Bool
    /// Identifiers of every subscription of this session that matched (MQTT 5 §3.3.4).
    package var subscriptionIdentifiers: [UInt32]

    package init(message: Message, qos: QoS, retain: Bool, subscriptionIdentifiers: [UInt32] = []) {
        self.message = message
        self.qos = qos
        self.retain = retain
        self.subscriptionIdentifiers = subscriptionIdentifiers
    }
}
