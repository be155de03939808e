import CMallocTrim
import Synchronization

/// Gives memory back to the system after many connections have closed.
///
/// glibc keeps freed memory in its per-thread arenas, so a broker that once held 10,000 connections would stay at
/// that size after they left. Checked once a second: when the number of connections has fallen to half of the
/// highest count since the last reclaim (and by at least `minimumDrop`) and stayed there for a second check (the
/// closed connections' memory is freed on their event loops meanwhile), `malloc_trim(0)` returns the free pages
/// of every arena. Costs nothing while the count is steady or growing.
final class MemoryReclaimer: Sendable {
    /// Fewer closed connections than this are not worth a trim.
    static let minimumDrop = 500

    private struct State {
        /// The highest connection count since the last reclaim.
        var peak = 0
        /// Whether the previous check saw a drop worth a reclaim.
        var dropSeen = false
    }

    private let state = Mutex(State())

    /// Notes the current connection count; returns true when a reclaim ran.
    func observe(connections: Int) -> Bool {
        let reclaim = state.withLock { state in
            state.peak = max(state.peak, connections)
            guard connections <= state.peak / 2, state.peak - connections >= Self.minimumDrop else {
                state.dropSeen = false
                return false
            }
            guard state.dropSeen else {
                state.dropSeen = true
                return false
            }
            state = State(peak: connections)
            return true
        }
        if reclaim { _ = rampart_malloc_trim() }
        return reclaim
    }
}
