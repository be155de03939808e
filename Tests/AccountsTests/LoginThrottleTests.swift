import Foundation
import Testing

@testable import Accounts

@Suite("Log-in throttle")
struct LoginThrottleTests {
    private let t0 = Fixture.now

    @Test func aFirstAttemptIsAllowed() {
        let throttle = LoginThrottle()
        #expect(throttle.admit(source: "192.0.2.1", user: "admin", now: t0) == .allowed)
        #expect(throttle.trackedCounts == (0, 0))
    }

    @Test func delaysDoubleAfterEachFailureUpToTheMaximum() {
        let throttle = LoginThrottle()
        var now = t0
        for expected: Double in [1, 2, 4, 8, 16, 30, 30] {
            throttle.recordFailure(source: "192.0.2.1", user: "admin", now: now)
            #expect(throttle.admit(source: "192.0.2.1", user: "admin", now: now) == .delayed(until: now.plus(expected)))
            #expect(
                throttle.admit(source: "192.0.2.1", user: "admin", now: now.plus(expected - 0.001))
                    == .delayed(until: now.plus(expected)))
            now = now.plus(expected)
            #expect(throttle.admit(source: "192.0.2.1", user: "admin", now: now) == .allowed)
        }
    }

    @Test func theDelayFormulaCapsWithoutOverflow() {
        let throttle = LoginThrottle()
        #expect(throttle.delay(afterFailures: 0) == .zero)
        #expect(throttle.delay(afterFailures: 1) == .seconds(1))
        #expect(throttle.delay(afterFailures: 5) == .seconds(16))
        #expect(throttle.delay(afterFailures: 6) == .seconds(30))
        #expect(throttle.delay(afterFailures: 1_000) == .seconds(30))
        #expect(throttle.delay(afterFailures: .max) == .seconds(30))
    }

    @Test func theDelayIsPerSourceAndUser() {
        let throttle = LoginThrottle()
        throttle.recordFailure(source: "192.0.2.1", user: "admin", now: t0)
        #expect(throttle.admit(source: "192.0.2.1", user: "admin", now: t0) != .allowed)
        #expect(throttle.admit(source: "192.0.2.2", user: "admin", now: t0) == .allowed)
        #expect(throttle.admit(source: "192.0.2.1", user: "operator", now: t0) == .allowed)
    }

    @Test func tenFailuresFromAnywhereLockTheUserForFifteenMinutes() {
        let throttle = LoginThrottle()
        for attempt in 0..<9 {
            throttle.recordFailure(source: "198.51.100.\(attempt)", user: "admin", now: t0.plus(Double(attempt)))
        }
        #expect(throttle.admit(source: "203.0.113.9", user: "admin", now: t0.plus(9)) == .allowed)
        throttle.recordFailure(source: "198.51.100.9", user: "admin", now: t0.plus(9))
        let until = t0.plus(9 + 15 * 60)
        #expect(throttle.admit(source: "203.0.113.9", user: "admin", now: t0.plus(10)) == .locked(until: until))
        #expect(throttle.admit(source: "203.0.113.9", user: "admin", now: until.plus(-0.001)) == .locked(until: until))
        #expect(throttle.admit(source: "203.0.113.9", user: "operator", now: t0.plus(10)) == .allowed)
        // Unlocked afterwards, with a fresh count: one more failure does not lock again.
        #expect(throttle.admit(source: "203.0.113.9", user: "admin", now: until) == .allowed)
        throttle.recordFailure(source: "203.0.113.9", user: "admin", now: until)
        #expect(throttle.admit(source: "203.0.113.10", user: "admin", now: until.plus(1)) == .allowed)
    }

    @Test func failuresWhileLockedDoNotExtendTheLock() {
        let throttle = LoginThrottle(configuration: .init(lockThreshold: 2, lockDuration: .seconds(60)))
        throttle.recordFailure(source: "a", user: "admin", now: t0)
        throttle.recordFailure(source: "b", user: "admin", now: t0)
        throttle.recordFailure(source: "c", user: "admin", now: t0.plus(30))
        #expect(throttle.admit(source: "d", user: "admin", now: t0.plus(59)) == .locked(until: t0.plus(60)))
        #expect(throttle.admit(source: "d", user: "admin", now: t0.plus(60)) == .allowed)
    }

    @Test func aSuccessClearsTheKeyAndTheUser() {
        let throttle = LoginThrottle()
        for attempt in 0..<9 {
            throttle.recordFailure(source: "192.0.2.1", user: "admin", now: t0.plus(Double(attempt) * 60))
        }
        let later = t0.plus(9 * 60)
        throttle.recordSuccess(source: "192.0.2.1", user: "admin")
        #expect(throttle.admit(source: "192.0.2.1", user: "admin", now: later) == .allowed)
        #expect(throttle.trackedCounts == (0, 0))
        // The next failure starts again at 1 s, and nine more do not lock.
        for attempt in 0..<9 {
            throttle.recordFailure(source: "192.0.2.1", user: "admin", now: later.plus(Double(attempt) * 60))
        }
        let last = later.plus(8 * 60)
        #expect(throttle.admit(source: "192.0.2.2", user: "admin", now: last) == .allowed)
    }

    @Test func userNamesAreComparedIgnoringCase() {
        let throttle = LoginThrottle(configuration: .init(lockThreshold: 2))
        throttle.recordFailure(source: "a", user: "Admin", now: t0)
        throttle.recordFailure(source: "b", user: "ADMIN", now: t0)
        #expect(throttle.admit(source: "c", user: "admin", now: t0) == .locked(until: t0.plus(15 * 60)))
    }

    @Test func failuresFurtherApartThanTheWindowAreNotConsecutive() {
        let throttle = LoginThrottle(configuration: .init(lockThreshold: 2, failureWindow: .seconds(600)))
        throttle.recordFailure(source: "a", user: "admin", now: t0)
        let later = t0.plus(600)
        throttle.recordFailure(source: "a", user: "admin", now: later)
        #expect(throttle.admit(source: "a", user: "admin", now: later) == .delayed(until: later.plus(1)))
        #expect(throttle.admit(source: "b", user: "admin", now: later.plus(1)) == .allowed)
    }

    @Test func theLimitsAreConfigurable() {
        let throttle = LoginThrottle(
            configuration: .init(
                baseDelay: .milliseconds(500), maximumDelay: .seconds(3), lockThreshold: 5,
                lockDuration: .seconds(120)))
        var now = t0
        for expected: Double in [0.5, 1, 2, 3] {
            throttle.recordFailure(source: "a", user: "u", now: now)
            #expect(throttle.admit(source: "a", user: "u", now: now) == .delayed(until: now.plus(expected)))
            now = now.plus(expected)
        }
        throttle.recordFailure(source: "a", user: "u", now: now)
        #expect(throttle.admit(source: "a", user: "u", now: now) == .locked(until: now.plus(120)))
    }

    @Test func sprayingSourcesAndUsersCannotGrowMemoryBeyondTheCap() {
        let throttle = LoginThrottle(configuration: .init(maximumTrackedKeys: 100))
        for attempt in 0..<5_000 {
            throttle.recordFailure(
                source: "10.0.\(attempt / 256).\(attempt % 256)", user: "user\(attempt % 3_000)",
                now: t0.plus(Double(attempt) * 0.01))
            let counts = throttle.trackedCounts
            #expect(counts.keys <= 100 && counts.users <= 100)
        }
        // The most recent key is still tracked (eviction takes the oldest).
        let last = t0.plus(Double(4_999) * 0.01)
        #expect(throttle.admit(source: "10.0.19.135", user: "user1999", now: last) == .delayed(until: last.plus(1)))
    }

    @Test func floodingUserNamesDoesNotUnlockALockedUser() {
        let throttle = LoginThrottle(configuration: .init(lockThreshold: 3, maximumTrackedKeys: 50))
        for source in ["a", "b", "c"] {
            throttle.recordFailure(source: source, user: "admin", now: t0)
        }
        for attempt in 0..<1_000 {
            throttle.recordFailure(source: "flood", user: "fake\(attempt)", now: t0.plus(1))
        }
        #expect(throttle.trackedCounts.users <= 50)
        #expect(throttle.admit(source: "d", user: "admin", now: t0.plus(2)) == .locked(until: t0.plus(15 * 60)))
    }

    @Test func expiredStateIsForgottenFirst() {
        let throttle = LoginThrottle(configuration: .init(failureWindow: .seconds(60), maximumTrackedKeys: 10))
        for attempt in 0..<10 {
            throttle.recordFailure(source: "s\(attempt)", user: "u\(attempt)", now: t0)
        }
        #expect(throttle.trackedCounts == (10, 10))
        throttle.recordFailure(source: "new", user: "new", now: t0.plus(61))
        #expect(throttle.trackedCounts == (1, 1))
        // And admit forgets an expired counter it looks at.
        throttle.recordSuccess(source: "new", user: "new")
        throttle.recordFailure(source: "x", user: "y", now: t0.plus(100))
        #expect(throttle.admit(source: "x", user: "y", now: t0.plus(200)) == .allowed)
        #expect(throttle.trackedCounts == (0, 0))
    }
}
