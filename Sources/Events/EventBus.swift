import Synchronization

/// Carries every security event and audit record from the components that register them to the subscribers
/// that keep, forward or show them (the network-event ring, the forwarders, the UI's live stream).
///
/// Publishing never blocks and never waits for a subscriber: each subscriber has its own bounded queue, and an
/// event that does not fit is dropped for that subscriber alone and counted, so a stalled syslog receiver cannot
/// slow down the broker that reports an inspection drop.
package final class EventBus: Sendable {
    /// What a subscriber has received and lost.
    package struct SubscriberStatistics: Sendable, Codable, Hashable {
        package var name: String
        package var capacity: Int
        package var delivered: Int
        package var dropped: Int
    }

    private final class Subscriber: Sendable {
        let id: Int
        let name: String
        let capacity: Int
        let streams: Set<EventStream>
        let continuation: AsyncStream<SecurityEvent>.Continuation
        let delivered = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)

        init(
            id: Int, name: String, capacity: Int, streams: Set<EventStream>,
            continuation: AsyncStream<SecurityEvent>.Continuation
        ) {
            self.id = id
            self.name = name
            self.capacity = capacity
            self.streams = streams
            self.continuation = continuation
        }
    }

    private struct State {
        var subscribers: [Subscriber] = []
        var nextID = 0
        /// Counts of subscribers that went away, so the totals do not shrink.
        var retiredDropped = 0
    }

    private let state = Mutex(State())
    private let sequence = Atomic<UInt64>(0)
    private let published = Atomic<Int>(0)

    package init() {}

    /// Publishes `event` to every subscriber of its stream. A network event gets the bus's next sequence number;
    /// an audit record keeps the one the audit log gave it.
    /// - Returns: the event as delivered (with its sequence number).
    @discardableResult
    package func publish(_ event: SecurityEvent) -> SecurityEvent {
        var event = event
        if event.stream == .network {
            event.sequence = sequence.add(1, ordering: .relaxed).newValue
        }
        published.add(1, ordering: .relaxed)
        let subscribers = state.withLock { $0.subscribers }
        for subscriber in subscribers where subscriber.streams.contains(event.stream) {
            switch subscriber.continuation.yield(event) {
            case .enqueued: subscriber.delivered.add(1, ordering: .relaxed)
            case .dropped: subscriber.dropped.add(1, ordering: .relaxed)
            case .terminated: break
            @unknown default: break
            }
        }
        return event
    }

    /// A new subscriber: the events published from now on, in order, through a queue of `capacity` events.
    /// Iterating the returned stream consumes the queue; ending the iteration (or dropping the stream) unsubscribes.
    package func subscribe(
        name: String, capacity: Int, streams: Set<EventStream> = Set(EventStream.allCases)
    ) -> AsyncStream<SecurityEvent> {
        let (stream, continuation) = AsyncStream<SecurityEvent>.makeStream(
            bufferingPolicy: .bufferingOldest(max(1, capacity)))
        let id = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.subscribers.append(
                Subscriber(
                    id: id, name: name, capacity: max(1, capacity), streams: streams, continuation: continuation))
            return id
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return stream
    }

    private func unsubscribe(_ id: Int) {
        state.withLock { state in
            guard let index = state.subscribers.firstIndex(where: { $0.id == id }) else { return }
            state.retiredDropped += state.subscribers[index].dropped.load(ordering: .relaxed)
            state.subscribers.remove(at: index)
        }
    }

    /// Every current subscriber's counts.
    package func statistics() -> [SubscriberStatistics] {
        state.withLock { $0.subscribers }.map { subscriber in
            SubscriberStatistics(
                name: subscriber.name, capacity: subscriber.capacity,
                delivered: subscriber.delivered.load(ordering: .relaxed),
                dropped: subscriber.dropped.load(ordering: .relaxed))
        }
    }

    /// Events published since start.
    package var publishedCount: Int { published.load(ordering: .relaxed) }

    /// Events dropped since start, over all subscribers, including those that left.
    package var droppedCount: Int {
        state.withLock { state in
            state.retiredDropped + state.subscribers.reduce(0) { $0 + $1.dropped.load(ordering: .relaxed) }
        }
    }

    /// Ends every subscription (at shutdown): each subscriber's iteration finishes after its queue.
    package func finish() {
        for subscriber in state.withLock({ $0.subscribers }) { subscriber.continuation.finish() }
    }
}
