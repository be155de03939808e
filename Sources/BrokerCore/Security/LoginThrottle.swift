import NIOCore
import Synchronization

/// Counts failed log-ins per source address and refuses further attempts from an address for a while once it
/// has failed too often, so that passwords cannot be guessed at network speed.
///
/// The penalty doubles with each failure beyond the allowance, up to `maximumPenalty`; a success clears the
/// address. Memory is bounded: at most `capacity` addresses are tracked, the oldest forgotten first.
package final class LoginThrottle: Sendable {
    package struct Configuration: Sendable, Hashable {
        /// Failures allowed before an address is held back.
        package var allowance: Int = 5
        package var basePenalty: TimeAmount = .seconds(1)
        package var maximumPenalty: TimeAmount = .seconds(60)
        package var capacity: Int = 10_000

        package init() {}
    }

    private struct Entry {
        var failures: Int
        var blockedUntil: NIODeadline
        var lastFailure: NIODeadline
    }

    package let configuration: Configuration
    private let entries = Mutex<[String: Entry]>([:])

    package init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Whether `address` may try to log in at `now`.
    package func mayAttempt(from address: String, now: NIODeadline) -> Bool {
        entries.withLock { entries in
            guard let entry = entries[address] else { return true }
            return entry.blockedUntil <= now
        }
    }

    /// Records a failed log-in from `address`.
    /// - Returns: the number of failures from this address in a row.
    @discardableResult
    package func recordFailure(from address: String, now: NIODeadline) -> Int {
        let configuration = self.configuration
        return entries.withLock { entries in
            var entry = entries[address] ?? Entry(failures: 0, blockedUntil: now, lastFailure: now)
            entry.failures += 1
            entry.lastFailure = now
            let excess = entry.failures - configuration.allowance
            if excess > 0 {
                let factor = Int64(1) << Int64(min(excess - 1, 30))
                let penalty = min(
                    configuration.basePenalty.nanoseconds * factor, configuration.maximumPenalty.nanoseconds)
                entry.blockedUntil = now + .nanoseconds(penalty)
            }
            entries[address] = entry
            if entries.count > configuration.capacity,
                let oldest = entries.min(by: { $0.value.lastFailure < $1.value.lastFailure })?.key
            {
                entries[oldest] = nil
            }
            return entry.failures
        }
    }

    /// Forgets the failures of `address` after a successful log-in.
    package func recordSuccess(from address: String) {
        _ = entries.withLock { $0.removeValue(forKey: address) }
    }
}
