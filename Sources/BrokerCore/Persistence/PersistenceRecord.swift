import MQTTCodec

/// One change of the broker's durable state, as the broker core reports it to a `PersistenceSink`.
///
/// Records of one session are appended while that session's lock is held, so their order in the sink is the
/// order in which they happened. Replaying every record from an empty state rebuilds the durable state: retained
/// messages, persistent sessions with their subscriptions, queued and in-flight QoS 1/2 messages, and the QoS 2
/// messages received from clients but not yet released.
package enum PersistenceRecord: Sendable {
    /// A retained message was set (MQTT 5 §3.3.1.3).
    case retained(Message)
    /// The retained message of a topic was deleted.
    case retainedCleared(topic: String)
    /// A persistent session was created, resumed or changed its expiry interval.
    case sessionOpened(clientID: String, expiryInterval: UInt32)
    /// A session ended: everything recorded for it is gone.
    case sessionEnded(clientID: String)
    case subscribed(clientID: String, filter: String, subscription: Subscription)
    case unsubscribed(clientID: String, filter: String)
    /// A QoS 1/2 delivery joined a persistent session's queue.
    case queued(clientID: String, delivery: Delivery)
    /// A queued delivery was dropped before it was sent (expired, or its session queue was trimmed).
    case dequeued(clientID: String, messageID: UInt64)
    /// A queued delivery was sent with a packet identifier and is in flight.
    case sent(clientID: String, messageID: UInt64, packetIdentifier: UInt16)
    /// PUBREC arrived for an in-flight QoS 2 delivery: PUBREL is due, then PUBCOMP is awaited.
    case releasePending(clientID: String, packetIdentifier: UInt16)
    /// An in-flight delivery completed (PUBACK, PUBCOMP, a failed PUBREC) or was dropped.
    case completed(clientID: String, packetIdentifier: UInt16)
    /// A QoS 2 PUBLISH from the client was routed and PUBREC sent; a resend must not be routed again.
    case incomingReceived(clientID: String, packetIdentifier: UInt16)
    /// The client released a QoS 2 message with PUBREL.
    case incomingReleased(clientID: String, packetIdentifier: UInt16)
}

/// Where the broker core sends `PersistenceRecord`s. Implemented by the server's durable store; `append` must be
/// cheap and non-blocking (it is called on event loops, under session locks).
package protocol PersistenceSink: Sendable {
    func append(_ record: PersistenceRecord)
}

/// The durable state read back at start-up, to be handed to `Broker.restore(_:now:)`.
package struct RecoveredState: Sendable {
    package struct RecoveredSession: Sendable {
        package var clientID: String
        package var expiryInterval: UInt32
        package var subscriptions: [String: Subscription]
        /// Deliveries not yet sent, oldest first.
        package var queue: [Delivery]
        /// Deliveries in flight, in the order they were sent.
        package var inflight: [(packetIdentifier: UInt16, message: InflightMessage)]
        package var incomingQoS2: Set<UInt16>

        package init(
            clientID: String,
            expiryInterval: UInt32,
            subscriptions: [String: Subscription] = [:],
            queue: [Delivery] = [],
            inflight: [(packetIdentifier: UInt16, message: InflightMessage)] = [],
            incomingQoS2: Set<UInt16> = []
        ) {
            self.clientID = clientID
            self.expiryInterval = expiryInterval
            self.subscriptions = subscriptions
            self.queue = queue
            self.inflight = inflight
            self.incomingQoS2 = incomingQoS2
        }
    }

    package var retained: [Message]
    package var sessions: [RecoveredSession]

    package init(retained: [Message] = [], sessions: [RecoveredSession] = []) {
        self.retained = retained
        self.sessions = sessions
    }
}
