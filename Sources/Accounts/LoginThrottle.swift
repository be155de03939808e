import Foundation
import Synchronization

/// Slows down and stops password guessing at the web log-in.
///
/// Two counters of consecutive failures:
/// - per **key** (source address and user name): after the n-th failure the key must wait
///   `min(baseDelay × 2^(n-1), maximumDelay)` from that failure before its next attempt (1 s, 2 s, 4 s … 30 s by
///   default). This slows one client down without affecting anyone else.
/// - per **user** (from any source): after `lockThreshold` failures (10) the account is locked for `lockDuration`
///   (15 minutes), even for the right password. This stops a guesser that spreads over many addresses.
///
/// A success clears both counters of that key and user. Failures further apart than `failureWindow` are not
/// consecutive: a counter whose last failure is older is forgotten, which is also what keeps memory bounded in
/// normal use. Against an attacker spraying source addresses or user names, at most `maximumTrackedKeys` keys and
/// as many users are kept: when full, expired entries go first, then the least recently failed (locked users last,
/// so flooding cannot unlock an account).
///
/// How the web layer uses it, per log-in request: `admit` → if `.allowed`, check the password (also for unknown
/// users, so the answer does not reveal which users exist) → `recordSuccess` or `recordFailure`.
/// User names are compared case-insensitively, so "Admin" and "admin" share a counter.
///
/// Safe to share between tasks and threads (a `Mutex` guards the state).
package final class LoginThrottle: Sendable {
    /// The throttle's limits.
    package struct Configuration: Sendable, Equatable {
        /// Wait after the first consecutive failure of a key; each further failure doubles it.
        package var baseDelay: Duration
        /// Longest wait per key.
        package var maximumDelay: Duration
        /// Consecutive failures for one user (from any source) that lock the account.
        package var lockThreshold: Int
        /// How long a lock lasts.
        package var lockDuration: Duration
        /// Failures further apart than this are not consecutive; counters idle this long are forgotten.
        package var failureWindow: Duration
        /// Most keys (and, separately, most users) tracked at once.
        package var maximumTrackedKeys: Int

        package init(
            baseDelay: Duration = .seconds(1),
            maximumDelay: Duration = .seconds(30),
            lockThreshold: Int = 10,
            lockDuration: Duration = .seconds(15 * 60),
            failureWindow: Duration = .seconds(15 * 60),
            maximumTrackedKeys: Int = 10_000
        ) {
            self.baseDelay = baseDelay
            self.maximumDelay = maximumDelay
            self.lockThreshold = lockThreshold
            self.lockDuration = lockDuration
            self.failureWindow = failureWindow
            self.maximumTrackedKeys = maximumTrackedKeys
        }
    }

    /// Whether a log-in attempt may go ahead.
    package enum Decision: Sendable, Equatable {
        /// Check the password.
        case allowed
        /// This source tried this user too often too fast: refuse without checking, and say when to retry.
        case delayed(until: Date)
        /// The user is locked after too many failures: refuse without checking, even a right password.
        case locked(until: Date)
    }

    package let configuration: Configuration
    private let state: Mutex<State>

    package init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.state = Mutex(State())
    }

    /// Whether `user` may try to log in from `source` at `now`. A lock is reported before a per-key delay.
    package func admit(source: String, user: String, now: Date) -> Decision {
        let key = Key(source: source, user: user)
        return state.withLock { state in
            if let entry = state.users[key.user] {
                if let lockedUntil = entry.lockedUntil {
                    if now < lockedUntil { return .locked(until: lockedUntil) }
                    state.users[key.user] = nil
                } else if isExpired(lastFailure: entry.lastFailure, now: now) {
                    state.users[key.user] = nil
                }
            }
            if let entry = state.keys[key] {
                let until = entry.lastFailure.adding(delay(afterFailures: entry.failures))
                if now < until { return .delayed(until: until) }
                if isExpired(lastFailure: entry.lastFailure, now: now) { state.keys[key] = nil }
            }
            return .allowed
        }
    }

    /// Counts a wrong password (or unknown user) for `source` and `user` at `now`. Failures while the user is
    /// locked do not extend the lock (`admit` refuses those attempts anyway).
    package func recordFailure(source: String, user: String, now: Date) {
        let key = Key(source: source, user: user)
        state.withLock { state in
            let previous = state.keys[key].flatMap { isExpired(lastFailure: $0.lastFailure, now: now) ? nil : $0 }
            if state.keys[key] == nil { makeRoom(in: &state.keys, now: now) }
            state.keys[key] = Counter(failures: (previous?.failures ?? 0) + 1, lastFailure: now)

            var userEntry = state.users[key.user]
            if let lockedUntil = userEntry?.lockedUntil, now < lockedUntil { return }
            if let entry = userEntry, entry.lockedUntil != nil || isExpired(lastFailure: entry.lastFailure, now: now) {
                userEntry = nil
            }
            var updated = UserCounter(failures: (userEntry?.failures ?? 0) + 1, lastFailure: now)
            if updated.failures >= configuration.lockThreshold {
                updated.lockedUntil = now.adding(configuration.lockDuration)
            }
            if state.users[key.user] == nil { makeRoom(in: &state.users, now: now) }
            state.users[key.user] = updated
        }
    }

    /// Clears the counters of this key and of this user after a right password.
    package func recordSuccess(source: String, user: String) {
        let key = Key(source: source, user: user)
        state.withLock { state in
            state.keys[key] = nil
            state.users[key.user] = nil
        }
    }

    /// How many keys and users have counters now (for tests and metrics).
    package var trackedCounts: (keys: Int, users: Int) {
        state.withLock { ($0.keys.count, $0.users.count) }
    }

    /// The wait after `failures` consecutive failures: `baseDelay × 2^(failures-1)`, at most `maximumDelay`.
    package func delay(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        // 2^30 × any sane base already exceeds any sane maximum; capping the exponent avoids overflow.
        let factor = 1 << min(failures - 1, 30)
        return min(configuration.baseDelay * factor, configuration.maximumDelay)
    }

    // MARK: - Private

    private struct Key: Hashable, Sendable {
        var source: String
        var user: String

        init(source: String, user: String) {
            self.source = source
            self.user = user.lowercased()
        }
    }

    private struct Counter: Sendable {
        var failures: Int
        var lastFailure: Date
    }

    private struct UserCounter: Sendable {
        var failures: Int
        var lastFailure: Date
        var lockedUntil: Date?
    }

    private struct State: Sendable {
        var keys: [Key: Counter] = [:]
        var users: [String: UserCounter] = [:]
    }

    private func isExpired(lastFailure: Date, now: Date) -> Bool {
        now >= lastFailure.adding(max(configuration.failureWindow, configuration.maximumDelay))
    }

    /// Makes room for one more key: drops expired entries, then the least recently failed tenth.
    private func makeRoom(in keys: inout [Key: Counter], now: Date) {
        guard keys.count >= configuration.maximumTrackedKeys else { return }
        keys = keys.filter { !isExpired(lastFailure: $0.value.lastFailure, now: now) }
        guard keys.count >= configuration.maximumTrackedKeys else { return }
        // Evicting a batch, not one, keeps a flood of new keys from sorting the table on every failure.
        let excess = keys.count - configuration.maximumTrackedKeys + 1
        let batch = max(excess, configuration.maximumTrackedKeys / 10)
        for (key, _) in keys.sorted(by: { $0.value.lastFailure < $1.value.lastFailure }).prefix(batch) {
            keys[key] = nil
        }
    }

    /// `makeRoom` for users; unlocked users go before locked ones.
    private func makeRoom(in users: inout [String: UserCounter], now: Date) {
        guard users.count >= configuration.maximumTrackedKeys else { return }
        users = users.filter { entry in
            if let lockedUntil = entry.value.lockedUntil { return now < lockedUntil }
            return !isExpired(lastFailure: entry.value.lastFailure, now: now)
        }
        guard users.count >= configuration.maximumTrackedKeys else { return }
        let excess = users.count - configuration.maximumTrackedKeys + 1
        let batch = max(excess, configuration.maximumTrackedKeys / 10)
        let order = users.sorted { lhs, rhs in
            let (leftLocked, rightLocked) = (lhs.value.lockedUntil != nil, rhs.value.lockedUntil != nil)
            if leftLocked != rightLocked { return !leftLocked }
            return lhs.value.lastFailure < rhs.value.lastFailure
        }
        for (user, _) in order.prefix(batch) {
            users[user] = nil
        }
    }
}
