import BrokerCore
import MQTTCodec
import NIOCore

/// The durable state as the records written so far describe it.
///
/// The writer thread applies every record to it as it encodes it, which gives three things: compaction writes a
/// snapshot from it without asking the broker for anything; the writer knows whether a message is already
/// stored (and writes only its identifier) or not (and writes it whole); and records that replay would ignore
/// (for sessions or identifiers that do not exist) are not written at all. Recovery builds the same model by
/// replaying the files, so that the writer continues from exactly the state on disk.
package struct StoreModel: Sendable {
    /// A stored message and the number of queue, in-flight and retained entries that refer to it.
    private struct StoredMessage: Sendable {
        var message: Message
        var references: Int
    }

    package struct StoredSession: Sendable {
        package var expiryInterval: UInt32
        package var subscriptions: [String: Subscription] = [:]
        package var queue = DeliveryQueue()
        /// In the order sent. A plain array: in-flight windows are small (the client's receive maximum), and
        /// acknowledgements arrive mostly in order, so the linear searches below stop early.
        package var inflight: [(packetIdentifier: UInt16, message: InflightMessage)] = []
        package var incomingQoS2: Set<UInt16> = []
    }

    private var messages: [UInt64: StoredMessage] = [:]
    package private(set) var retained: [String: Message] = [:]
    package private(set) var sessions: [String: StoredSession] = [:]
    /// The largest message identifier ever seen, stored or not, for `Message.reserveIdentifiers(through:)`.
    package private(set) var largestMessageID: UInt64 = 0

    package init() {}

    /// Number of distinct stored messages (payloads), for statistics and tests.
    package var storedMessageCount: Int { messages.count }

    /// Whether the message with `id` is stored (so that a record referring to it needs only the identifier).
    package func storedMessage(_ id: UInt64) -> Message? { messages[id]?.message }

    /// What applying a record did.
    package enum Outcome: Equatable, Sendable {
        /// Nothing: unknown session, packet identifier or message. Such a record need not be written.
        case ignored
        /// The state changed; `storesMessage` when the record's message was not stored before (it must be
        /// written whole).
        case applied(storesMessage: Bool)
    }

    /// Applies one record with the semantics documented on `PersistenceRecord`.
    @discardableResult
    package mutating func apply(_ record: PersistenceRecord) -> Outcome {
        switch record {
        case .retained(let message):
            let (stored, isNew) = reference(message)
            if let previous = retained.updateValue(stored, forKey: message.topic) { release(previous.id) }
            return .applied(storesMessage: isNew)
        case .retainedCleared(let topic):
            guard let previous = retained.removeValue(forKey: topic) else { return .ignored }
            release(previous.id)
        case .sessionOpened(let clientID, let expiryInterval):
            if sessions[clientID] != nil {
                sessions[clientID]?.expiryInterval = expiryInterval
            } else {
                sessions[clientID] = StoredSession(expiryInterval: expiryInterval)
            }
        case .sessionEnded(let clientID):
            guard let session = sessions.removeValue(forKey: clientID) else { return .ignored }
            for delivery in session.queue { release(delivery.message.id) }
            for entry in session.inflight { release(entry.message.delivery.message.id) }
        case .subscribed(let clientID, let filter, let subscription):
            guard sessions[clientID] != nil else { return .ignored }
            sessions[clientID]?.subscriptions[filter] = subscription
        case .unsubscribed(let clientID, let filter):
            guard sessions[clientID]?.subscriptions.removeValue(forKey: filter) != nil else { return .ignored }
        case .queued(let clientID, var delivery):
            guard sessions[clientID] != nil else { return .ignored }
            let (stored, isNew) = reference(delivery.message)
            delivery.message = stored
            sessions[clientID]?.queue.append(delivery)
            return .applied(storesMessage: isNew)
        case .dequeued(let clientID, let messageID):
            guard let removed = sessions[clientID]?.queue.removeFirst(messageID: messageID) else { return .ignored }
            release(removed.message.id)
        case .sent(let clientID, let messageID, let packetIdentifier):
            guard let delivery = sessions[clientID]?.queue.removeFirst(messageID: messageID) else { return .ignored }
            if let index = sessions[clientID]?.inflight.firstIndex(where: { $0.packetIdentifier == packetIdentifier }),
                let replaced = sessions[clientID]?.inflight.remove(at: index)
            {
                release(replaced.message.delivery.message.id)
            }
            let message = InflightMessage(delivery: delivery, stage: .awaitingAcknowledgement)
            sessions[clientID]?.inflight.append((packetIdentifier, message))
        case .releasePending(let clientID, let packetIdentifier):
            guard
                let index = sessions[clientID]?.inflight.firstIndex(where: { $0.packetIdentifier == packetIdentifier })
            else { return .ignored }
            sessions[clientID]?.inflight[index].message.stage = .awaitingCompletion
        case .completed(let clientID, let packetIdentifier):
            guard
                let index = sessions[clientID]?.inflight.firstIndex(where: { $0.packetIdentifier == packetIdentifier }),
                let removed = sessions[clientID]?.inflight.remove(at: index)
            else { return .ignored }
            release(removed.message.delivery.message.id)
        case .incomingReceived(let clientID, let packetIdentifier):
            guard sessions[clientID]?.incomingQoS2.insert(packetIdentifier).inserted == true else { return .ignored }
        case .incomingReleased(let clientID, let packetIdentifier):
            guard sessions[clientID]?.incomingQoS2.remove(packetIdentifier) != nil else { return .ignored }
        }
        return .applied(storesMessage: false)
    }

    /// Counts one more reference to `message`, returning the stored instance (one object per message however
    /// many entries share it) and whether it was not stored before.
    private mutating func reference(_ message: Message) -> (Message, Bool) {
        largestMessageID = max(largestMessageID, message.id)
        if let stored = messages[message.id] {
            messages[message.id]?.references += 1
            return (stored.message, false)
        }
        messages[message.id] = StoredMessage(message: message, references: 1)
        return (message, true)
    }

    /// Drops one reference; the message is forgotten (its payload garbage) with the last one.
    private mutating func release(_ id: UInt64) {
        guard let stored = messages[id] else { return }
        if stored.references <= 1 {
            messages.removeValue(forKey: id)
        } else {
            messages[id]?.references = stored.references - 1
        }
    }

    /// Notes an identifier seen in the files without storing anything (records that were skipped).
    package mutating func noteMessageID(_ id: UInt64) {
        largestMessageID = max(largestMessageID, id)
    }

    /// Drops what expired while the broker was down: retained messages and queued deliveries whose message has
    /// expired (MQTT 5 §3.3.2.3.3). In-flight deliveries stay: their onward delivery had started, and the
    /// PUBREL/PUBCOMP exchange must be able to finish. Returns the number of entries dropped.
    package mutating func dropExpired(at now: NIODeadline) -> Int {
        var dropped = 0
        for (topic, message) in retained where message.isExpired(at: now) {
            retained.removeValue(forKey: topic)
            release(message.id)
            dropped += 1
        }
        for clientID in Array(sessions.keys) {
            guard let expired = sessions[clientID]?.queue.removeAll(where: { $0.message.isExpired(at: now) }) else {
                continue
            }
            for delivery in expired { release(delivery.message.id) }
            dropped += expired.count
        }
        return dropped
    }

    /// The state for `Broker.restore`, sessions sorted by client identifier and retained messages by topic.
    package var recoveredState: RecoveredState {
        let retainedMessages = retained.keys.sorted().compactMap { self.retained[$0] }
        let recoveredSessions = sessions.keys.sorted().compactMap { clientID -> RecoveredState.RecoveredSession? in
            guard let session = self.sessions[clientID] else { return nil }
            return RecoveredState.RecoveredSession(
                clientID: clientID,
                expiryInterval: session.expiryInterval,
                subscriptions: session.subscriptions,
                queue: Array(session.queue),
                inflight: session.inflight,
                incomingQoS2: session.incomingQoS2
            )
        }
        return RecoveredState(retained: retainedMessages, sessions: recoveredSessions)
    }

    /// The records that rebuild this state from nothing, in an order replay accepts: for each message, the
    /// first record mentioning it (`isFirstReference`) must carry it whole. Calls `body` for each.
    package func forEachRecord(_ body: (_ record: PersistenceRecord, _ isFirstReference: Bool) -> Void) {
        var written = Set<UInt64>()
        func first(_ message: Message) -> Bool { written.insert(message.id).inserted }
        for topic in retained.keys.sorted() {
            guard let message = retained[topic] else { continue }
            body(.retained(message), first(message))
        }
        for clientID in sessions.keys.sorted() {
            guard let session = sessions[clientID] else { continue }
            body(.sessionOpened(clientID: clientID, expiryInterval: session.expiryInterval), false)
            for filter in session.subscriptions.keys.sorted() {
                guard let subscription = session.subscriptions[filter] else { continue }
                body(.subscribed(clientID: clientID, filter: filter, subscription: subscription), false)
            }
            // In-flight first, each as queued + sent (+ releasePending): the queue is empty while they are
            // written, so `sent` moves exactly that delivery.
            for (packetIdentifier, inflight) in session.inflight {
                let delivery = inflight.delivery
                body(.queued(clientID: clientID, delivery: delivery), first(delivery.message))
                body(
                    .sent(clientID: clientID, messageID: delivery.message.id, packetIdentifier: packetIdentifier), false
                )
                if inflight.stage == .awaitingCompletion {
                    body(.releasePending(clientID: clientID, packetIdentifier: packetIdentifier), false)
                }
            }
            for delivery in session.queue {
                body(.queued(clientID: clientID, delivery: delivery), first(delivery.message))
            }
            for packetIdentifier in session.incomingQoS2.sorted() {
                body(.incomingReceived(clientID: clientID, packetIdentifier: packetIdentifier), false)
            }
        }
    }
}

/// A FIFO of deliveries with O(1) append and removal at the front, and removal anywhere by message identifier
/// (expiry, trimming). A small array-with-head instead of `Deque` so that BrokerServer needs no new dependency.
package struct DeliveryQueue: Sendable, Sequence {
    private var storage: [Delivery?] = []
    private var head = 0

    package init() {}

    package var count: Int { storage.count - head }
    package var isEmpty: Bool { count == 0 }

    package mutating func append(_ delivery: Delivery) { storage.append(delivery) }

    /// Removes the oldest delivery of message `messageID` (almost always the front: deliveries leave in order).
    package mutating func removeFirst(messageID: UInt64) -> Delivery? {
        guard let index = storage[head...].firstIndex(where: { $0?.message.id == messageID }),
            let delivery = storage[index]
        else { return nil }
        if index == head {
            storage[head] = nil
            head += 1
            if head == storage.count {
                storage.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= storage.count {
                storage.removeFirst(head)
                head = 0
            }
        } else {
            storage.remove(at: index)
        }
        return delivery
    }

    /// Removes every delivery matching `predicate`, returning them (nil when none matched).
    package mutating func removeAll(where predicate: (Delivery) -> Bool) -> [Delivery]? {
        var removed: [Delivery] = []
        var kept: [Delivery?] = []
        kept.reserveCapacity(count)
        for case let delivery? in storage[head...] {
            if predicate(delivery) { removed.append(delivery) } else { kept.append(delivery) }
        }
        guard !removed.isEmpty else { return nil }
        storage = kept
        head = 0
        return removed
    }

    package func makeIterator() -> some IteratorProtocol<Delivery> {
        storage[head...].lazy.compactMap { $0 }.makeIterator()
    }
}
