import Foundation
import Synchronization

/// The network security events kept in memory (EVT-1): the newest `capacity` events, oldest forgotten first.
package final class NetworkEventRing: Sendable {
    package struct Query: Sendable, Hashable {
        package enum Order: String, Sendable, CaseIterable {
            case timeAscending = "time"
            case timeDescending = "-time"
            case entity
            case type
            case title
        }

        package var entities: Set<String> = []
        package var types: Set<String> = []
        package var since: Date?
        package var until: Date?
        /// Only events after this sequence number (a live view's resume point).
        package var after: UInt64?
        package var order: Order = .timeDescending

        package init() {}

        package func matches(_ event: SecurityEvent) -> Bool {
            if !entities.isEmpty, !entities.contains(event.entity) { return false }
            if !types.isEmpty, !types.contains(event.type) { return false }
            if let since, event.time < since { return false }
            if let until, event.time > until { return false }
            if let after, event.sequence <= after { return false }
            return true
        }
    }

    private struct State {
        var events: [SecurityEvent] = []
        var start = 0
        var total = 0
    }

    package let capacity: Int
    private let state = Mutex(State())

    package init(capacity: Int) {
        precondition(capacity > 0, "a ring holds at least one event")
        self.capacity = capacity
    }

    package func append(_ event: SecurityEvent) {
        state.withLock { state in
            state.total += 1
            if state.events.count < capacity {
                state.events.append(event)
            } else {
                state.events[state.start] = event
                state.start = (state.start + 1) % capacity
            }
        }
    }

    /// The events held, oldest first.
    package func snapshot() -> [SecurityEvent] {
        state.withLock { state in Array(state.events[state.start...] + state.events[..<state.start]) }
    }

    /// Events held now (at most `capacity`).
    package var count: Int { state.withLock { $0.events.count } }

    /// Events registered since start, including those forgotten.
    package var totalCount: Int { state.withLock { $0.total } }

    /// The events that match `query`, in its order.
    package func events(matching query: Query) -> [SecurityEvent] {
        let matching = snapshot().filter(query.matches)
        switch query.order {
        case .timeAscending: return matching
        case .timeDescending: return matching.reversed()
        case .entity: return matching.sorted { ($0.entity, $0.sequence) < ($1.entity, $1.sequence) }
        case .type: return matching.sorted { ($0.type, $0.sequence) < ($1.type, $1.sequence) }
        case .title: return matching.sorted { ($0.title, $0.sequence) < ($1.title, $1.sequence) }
        }
    }

    /// How many events each entity has in the ring (the dashboard's block).
    package func countsByEntity() -> [String: Int] {
        snapshot().reduce(into: [:]) { $0[$1.entity, default: 0] += 1 }
    }

    /// Feeds the ring from `events` until the stream ends.
    package func consume(_ events: AsyncStream<SecurityEvent>) async {
        for await event in events where event.stream == .network { append(event) }
    }
}
