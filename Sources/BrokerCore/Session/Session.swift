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
    /// A subscriber queue this connection's publishing had filled has drained: read from the client again.
    func resumePublishing()
}

extension SessionConnection {
    package func resumePublishing() {}
}

/// What became of a delivery offered to a session's queue.
package enum EnqueueOutcome: Equatable, Sendable {
    case queued
    /// Queued above the queue's limit: the publisher has been registered to be resumed and must stop reading
    /// until then (publisher flow control).
    case queuedPausePublisher
    /// Dropped and counted: queue full and the subscriber stalled or offline, or QoS 0 for an offline session.
    case dropped
}

/// The state of one client session (MQTT 5 §4.1), which outlives its network connections when persistent.
///
/// Publishers on any event loop add deliveries to its bounded queue; the connection it is attached to drains the
/// queue on its own event loop.
///
/// Flow control: when the queue of a connected subscriber is full, the delivery is still queued and the publisher
/// is paused (it stops reading from its socket) until the queue has drained to half its limit, so a subscriber that
/// keeps up on average loses nothing. A subscriber whose queue stays full for longer than
/// `QueueLimits.publisherPauseLimit` counts as stalled: its further deliveries are dropped and counted, and
/// publishers are not paused for it again until it has drained; an offline session's full queue drops at once.
/// A slow or absent subscriber therefore holds a publisher back for at most that limit.
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
        let (detached, paused) = state.withLock { state -> (Bool, [any SessionConnection]) in
            guard state.epoch == epoch, state.connection != nil else { return (false, []) }
            state.connection = nil
            return (true, state.endCongestion())
        }
        Self.resume(paused)
        if detached { connected.store(false, ordering: .relaxed) }
        return detached
    }

    /// Detaches whatever connection is attached and returns it (session take-over).
    package func detachAny() -> (any SessionConnection)? {
        let (previous, paused) = state.withLock { state in
            let previous = state.connection
            state.connection = nil
            state.epoch &+= 1
            return (previous, state.endCongestion())
        }
        Self.resume(paused)
        connected.store(false, ordering: .relaxed)
        return previous
    }

    /// Queues one delivery and wakes the attached connection if it is idle.
    /// - Parameters:
    ///   - now: the time of publication, for stall detection.
    ///   - publisher: the connection that published the message, paused rather than the delivery dropped when
    ///     the queue is full; nil for the broker's own messages (wills, `$SYS`, bridges, retained on subscribe).
    @discardableResult
    package func enqueue(
        _ delivery: Delivery,
        limits: QueueLimits,
        now: NIODeadline,
        publisher: (any SessionConnection)? = nil
    ) -> EnqueueOutcome {
        let clientID = self.clientID
        let (outcome, wake): (EnqueueOutcome, (any SessionConnection)?) = state.withLock { state in
            guard let connection = state.connection else {
                if delivery.qos == .atMostOnce && !limits.queueQoS0WhileOffline
                    || state.queue.count >= limits.maxQueuedMessages
                {
                    state.droppedMessages &+= 1
                    return (.dropped, nil)
                }
                state.queue.append(delivery)
                if delivery.qos != .atMostOnce { state.record(.queued(clientID: clientID, delivery: delivery)) }
                return (.queued, nil)
            }
            var outcome = EnqueueOutcome.queued
            if state.queue.count >= limits.maxQueuedMessages {
                let since = state.congestedSince ?? now
                state.congestedSince = since
                state.resumeThreshold = limits.resumeThreshold
                // A client is never paused for its own session: that queue drains on acknowledgements it would
                // stop reading. The broker's own messages have no one to pause.
                let pausable = publisher != nil && publisher !== connection
                if now - since > limits.publisherPauseLimit || state.queue.count >= limits.hardQueueLimit
                    || (!pausable && delivery.qos == .atMostOnce)
                {
                    state.droppedMessages &+= 1
                    return (.dropped, nil)
                }
                if pausable, let publisher {
                    if !state.pausedPublishers.contains(where: { $0 === publisher }) {
                        state.pausedPublishers.append(publisher)
                    }
                    outcome = .queuedPausePublisher
                }
            }
            state.queue.append(delivery)
            if delivery.qos != .atMostOnce { state.record(.queued(clientID: clientID, delivery: delivery)) }
            guard !state.drainScheduled else { return (outcome, nil) }
            state.drainScheduled = true
            return (outcome, connection)
        }
        wake?.scheduleDrain()
        return outcome
    }

    /// Resumes the publishers paused for this session (it drained, or its connection went away).
    package static func resume(_ publishers: [any SessionConnection]) {
        for publisher in publishers { publisher.resumePublishing() }
    }
}

/// Limits on a session's queue of undelivered messages.
package struct QueueLimits: Sendable {
    /// Messages waiting beyond the in-flight window; at this many a publisher is paused, or the message dropped and
    /// counted (see `Session`).
    package var maxQueuedMessages: Int
    /// Whether QoS 0 messages are kept for a disconnected persistent session.
    package var queueQoS0WhileOffline: Bool

    /// How long a connected subscriber's queue may stay full while publishers wait for it; after that it counts as
    /// stalled and its overflow is dropped.
    package var publisherPauseLimit: TimeAmount

    package init(
        maxQueuedMessages: Int,
        queueQoS0WhileOffline: Bool,
        publisherPauseLimit: TimeAmount = QueueLimits.defaultPublisherPauseLimit
    ) {
        self.maxQueuedMessages = maxQueuedMessages
        self.queueQoS0WhileOffline = queueQoS0WhileOffline
        self.publisherPauseLimit = publisherPauseLimit
    }

    package static let defaultPublisherPauseLimit = TimeAmount.seconds(1)

    /// Beyond this even a paused publisher's deliveries are dropped: each paused publisher adds at most one message
    /// above `maxQueuedMessages`, and this bounds what many of them can add.
    package var hardQueueLimit: Int {
        maxQueuedMessages > Int.max / 2 ? Int.max : maxQueuedMessages * 2
    }

    /// Once a congested queue is down to this, paused publishers resume.
    package var resumeThreshold: Int { maxQueuedMessages / 2 }
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
    /// When the queue of the attached connection reached its limit; nil while it is below the resume threshold.
    package var congestedSince: NIODeadline?
    /// Publishers paused because this queue was full, resumed once it drains to `resumeThreshold`.
    package var pausedPublishers: [any SessionConnection] = []
    package var resumeThreshold = 0

    /// Ends congestion once the queue has drained far enough, returning the publishers to resume.
    package mutating func endCongestionIfDrained() -> [any SessionConnection] {
        guard congestedSince != nil, queue.count <= resumeThreshold else { return [] }
        return endCongestion()
    }

    /// Ends congestion whatever the queue holds (the connection went away), returning the publishers to resume.
    package mutating func endCongestion() -> [any SessionConnection] {
        congestedSince = nil
        defer { pausedPublishers = [] }
        return pausedPublishers
    }
    package var nextPacketIdentifier: UInt16 = 1
    package var droppedMessages = 0
    /// Session expiry interval in seconds; `UInt32.max` never expires (MQTT 5 §3.1.2.11.2).
    package var expiryInterval: UInt32 = 0
    /// The will of the attached connection (MQTT 5 §3.1.3.2).
    package var will: WillMessage? {
        get { willBox?.will }
        set { willBox = newValue.map(WillBox.init) }
    }
    /// Boxed: a will with its properties is ~300 bytes, which every session would carry inline.
    private var willBox: WillBox?
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

private final class WillBox: Sendable {
    let will: WillMessage

    init(_ will: WillMessage) {
        self.will = will
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
