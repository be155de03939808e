import DequeModule
import MQTTCodec
import NIOCore
import OrderedCollections
import Synchronization

/// What the broker needs from the network connection a session is attached to.
///
/// Implemented by the server's channel handler; every call may come from any thread and must hop to the
/// connection's own event loop.
package protocol SessionConnection: AnyObject, Sendable {
    /// Asks the connection to pull queued deliveries from its session on its own event loop.
    func scheduleDrain()
    /// Another connection took the session over: send DISCONNECT 0x8E (v5) and close (MQTT 5 §3.1.4).
    func sessionTakenOver()
}

/// The state of one client session (MQTT 5 §4.1), which outlives its network connections when persistent.
///
/// Publishers on any event loop add deliveries to its bounded queue; the connection it is attached to drains the
/// queue on its own event loop. A full queue drops the new delivery and counts it: a slow or absent subscriber
/// never blocks a publisher.
package final class Session: Sendable {
    package let clientID: String
    package let state: Mutex<SessionState>
    private let connected = Atomic<Bool>(false)

    package init(clientID: String) {
        self.clientID = clientID
        self.state = Mutex(SessionState())
    }

    /// Whether a network connection is attached (read without the lock, for shared-subscription choice).
    package var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// Attaches `connection`, returning the new epoch that identifies this attachment.
    package func attach(_ connection: any SessionConnection) -> UInt64 {
        let epoch = state.withLock { state in
            state.connection = connection
            state.epoch &+= 1
            state.drainScheduled = false
            return state.epoch
        }
        connected.store(true, ordering: .relaxed)
        return epoch
    }

    /// Detaches the connection of `epoch`; returns false when a newer connection has taken the session over.
    package func detach(epoch: UInt64) -> Bool {
        let detached = state.withLock { state in
            guard state.epoch == epoch, state.connection != nil else { return false }
            state.connection = nil
            return true
        }
        if detached { connected.store(false, ordering: .relaxed) }
        return detached
    }

    /// Detaches whatever connection is attached and returns it (session take-over).
    package func detachAny() -> (any SessionConnection)? {
        let previous = state.withLock { state in
            let previous = state.connection
            state.connection = nil
            state.epoch &+= 1
            return previous
        }
        connected.store(false, ordering: .relaxed)
        return previous
    }

    /// Queues one delivery and wakes the attached connection if it is idle.
    /// - Returns: false when the delivery was dropped (queue full, or QoS 0 for an offline session).
    @discardableResult
    package func enqueue(_ delivery: Delivery, limits: QueueLimits) -> Bool {
        let clientID = self.clientID
        let (accepted, wake): (Bool, (any SessionConnection)?) = state.withLock { state in
            if state.connection == nil && delivery.qos == .atMostOnce && !limits.queueQoS0WhileOffline {
                state.droppedMessages &+= 1
                return (false, nil)
            }
            if state.queue.count >= limits.maxQueuedMessages {
                state.droppedMessages &+= 1
                return (false, nil)
            }
            state.queue.append(delivery)
            if delivery.qos != .atMostOnce { state.record(.queued(clientID: clientID, delivery: delivery)) }
            guard let connection = state.connection, !state.drainScheduled else { return (true, nil) }
            state.drainScheduled = true
            return (true, connection)
        }
        wake?.scheduleDrain()
        return accepted
    }
}

/// Limits on a session's queue of undelivered messages.
package struct QueueLimits: Sendable {
    /// Messages waiting beyond the in-flight window; further ones are dropped and counted.
    package var maxQueuedMessages: Int
    /// Whether QoS 0 messages are kept for a disconnected persistent session.
    package var queueQoS0WhileOffline: Bool

    package init(maxQueuedMessages: Int, queueQoS0WhileOffline: Bool) {
        self.maxQueuedMessages = maxQueuedMessages
        self.queueQoS0WhileOffline = queueQoS0WhileOffline
    }
}

/// A QoS 1/2 message sent to the client and not yet completed (MQTT 5 §4.3).
package struct InflightMessage: Sendable {
    package enum Stage: Sendable {
        /// QoS 1 sent, PUBACK expected; or QoS 2 sent, PUBREC expected.
        case awaitingAcknowledgement
        /// QoS 2: PUBREC received and PUBREL sent, PUBCOMP expected.
        case awaitingCompletion
    }

    package var delivery: Delivery
    package var stage: Stage

    package init(delivery: Delivery, stage: Stage) {
        self.delivery = delivery
        self.stage = stage
    }
}

/// The mutable part of a session, guarded by `Session.state`.
package struct SessionState: Sendable {
    package var connection: (any SessionConnection)?
    /// Increases with every attach, so that a connection that was taken over cannot detach its successor.
    package var epoch: UInt64 = 0
    /// The session's subscriptions by filter (including `$share/…` filters).
    package var subscriptions: [String: Subscription] = [:]
    /// Deliveries not yet sent, oldest first.
    package var queue: Deque<Delivery> = []
    /// Deliveries sent and not yet acknowledged, in the order they were sent (resent in that order).
    package var inflight: OrderedDictionary<UInt16, InflightMessage> = [:]
    /// Packet identifiers of QoS 2 messages received from the client, PUBREC sent, PUBREL not yet received.
    package var incomingQoS2: Set<UInt16> = []
    package var drainScheduled = false
    package var nextPacketIdentifier: UInt16 = 1
    package var droppedMessages = 0
    /// Session expiry interval in seconds; `UInt32.max` never expires (MQTT 5 §3.1.2.11.2).
    package var expiryInterval: UInt32 = 0
    /// The will of the attached connection (MQTT 5 §3.1.3.2).
    package var will: WillMessage?
    /// Where changes of this session are recorded while it is durable (persistence on and an expiry interval
    /// above 0); nil otherwise.
    package var persistence: (any PersistenceSink)?

    package init() {}

    /// Ends the flow of an in-flight delivery (acknowledged, refused or dropped) and records it.
    package mutating func completeInflight(_ packetIdentifier: UInt16, clientID: String) {
        inflight[packetIdentifier] = nil
        record(.completed(clientID: clientID, packetIdentifier: packetIdentifier))
    }

    /// Records `record` if the session is durable.
    package func record(_ record: @autoclosure () -> PersistenceRecord) {
        persistence?.append(record())
    }

    /// The next free packet identifier for an outgoing message (MQTT 5 §2.2.1), skipping those in flight.
    package mutating func allocatePacketIdentifier() -> UInt16? {
        guard inflight.count < Int(UInt16.max) else { return nil }
        while true {
            let candidate = nextPacketIdentifier
            nextPacketIdentifier = candidate == UInt16.max ? 1 : candidate + 1
            if inflight[candidate] == nil { return candidate }
        }
    }
}

/// One subscription as the session remembers it, to restore, replace or remove it.
package struct Subscription: Sendable, Hashable {
    package var options: SubscriptionOptions
    package var identifier: UInt32?

    package init(options: SubscriptionOptions, identifier: UInt32? = nil) {
        self.options = options
        self.identifier = identifier
    }
}
