import BrokerCore
import Synchronization

/// A `SessionConnection` that records what the broker asks of it, instead of hopping to an event loop.
///
/// In production `scheduleDrain` makes the connection call `ClientConnection.drain(now:limit:)` on its loop; tests
/// call `TestClient.drain(at:)` themselves and use the counters to check that the broker asked for it.
final class FakeConnection: SessionConnection {
    private struct Calls {
        var drains = 0
        var takeOvers = 0
        var resumes = 0
    }

    private let calls = Mutex(Calls())

    /// How many times the broker asked for a drain.
    var drainRequests: Int { calls.withLock { $0.drains } }
    /// How many times the broker said another connection took the session over.
    var takeOverNotices: Int { calls.withLock { $0.takeOvers } }

    /// How many times a subscriber queue this connection's publishing had filled asked it to resume.
    var resumeRequests: Int { calls.withLock { $0.resumes } }

    func resumePublishing() {
        calls.withLock { $0.resumes += 1 }
    }

    func scheduleDrain() {
        calls.withLock { $0.drains += 1 }
    }

    func sessionTakenOver() {
        calls.withLock { $0.takeOvers += 1 }
    }
}
