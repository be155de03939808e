import Synchronization

/// A setting that every connection reads on every packet and that changes rarely (a reload, a profile switch).
///
/// Readers keep the `Snapshot` they last saw and ask `snapshot(reusing:)` for the current one: while nothing
/// changed that is one atomic load of the version, with no lock taken and no cache line written, so connections on
/// different cores do not contend for it. A replacement takes the lock and then publishes the new version.
package final class SharedSetting<Value: Sendable>: Sendable {
    /// One version of the value, shared by reference between the readers that hold it.
    package final class Snapshot: Sendable {
        package let value: Value
        package let version: UInt64

        init(value: Value, version: UInt64) {
            self.value = value
            self.version = version
        }
    }

    private let current: Mutex<Snapshot>
    private let version = Atomic<UInt64>(0)

    package init(_ value: Value) {
        self.current = Mutex(Snapshot(value: value, version: 0))
    }

    /// The value in force.
    package var value: Value { current.withLock { $0.value } }

    /// The snapshot in force: `cached` when it is still current, else the new one.
    package func snapshot(reusing cached: Snapshot?) -> Snapshot {
        if let cached, cached.version == version.load(ordering: .acquiring) { return cached }
        return current.withLock { $0 }
    }

    /// Replaces the value; readers see it at their next `snapshot(reusing:)`.
    package func replace(with value: Value) {
        let next = current.withLock { snapshot in
            snapshot = Snapshot(value: value, version: snapshot.version &+ 1)
            return snapshot.version
        }
        // After the value: a reader that sees the new version then reads the new value under the lock.
        version.store(next, ordering: .releasing)
    }
}
