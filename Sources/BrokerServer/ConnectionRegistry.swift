import Synchronization

/// The open MQTT connections, so that a shutdown can say goodbye to each one.
final class ConnectionRegistry: Sendable {
    private let handles = Mutex<Set<ConnectionHandle>>([])

    func add(_ handle: ConnectionHandle) {
        _ = handles.withLock { $0.insert(handle) }
    }

    func remove(_ handle: ConnectionHandle) {
        _ = handles.withLock { $0.remove(handle) }
    }

    var count: Int { handles.withLock { $0.count } }

    var all: [ConnectionHandle] { handles.withLock { Array($0) } }
}
