import BrokerCore
import NIOCore
import Testing

@Suite("Failed log-in throttling")
struct LoginThrottleTests {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    private func throttle(allowance: Int = 3, capacity: Int = 100) -> LoginThrottle {
        var configuration = LoginThrottle.Configuration()
        configuration.allowance = allowance
        configuration.basePenalty = .seconds(1)
        configuration.maximumPenalty = .seconds(8)
        configuration.capacity = capacity
        return LoginThrottle(configuration: configuration)
    }

    @Test func failuresWithinTheAllowanceDoNotHoldBack() {
        let throttle = throttle()
        for _ in 0..<3 { throttle.recordFailure(from: "192.0.2.1", now: start) }
        #expect(throttle.mayAttempt(from: "192.0.2.1", now: start))
    }

    @Test func eachFailureBeyondTheAllowanceDoublesTheWaitUpToTheMaximum() {
        let throttle = throttle()
        for _ in 0..<3 { throttle.recordFailure(from: "192.0.2.1", now: start) }
        var now = start
        for expected: Int64 in [1, 2, 4, 8, 8] {
            throttle.recordFailure(from: "192.0.2.1", now: now)
            #expect(!throttle.mayAttempt(from: "192.0.2.1", now: now + .milliseconds(expected * 1000 - 1)))
            #expect(throttle.mayAttempt(from: "192.0.2.1", now: now + .seconds(expected)))
            now = now + .seconds(expected)
        }
    }

    @Test func addressesAreCountedApartAndASuccessClearsOne() {
        let throttle = throttle(allowance: 0)
        throttle.recordFailure(from: "192.0.2.1", now: start)
        #expect(!throttle.mayAttempt(from: "192.0.2.1", now: start))
        #expect(throttle.mayAttempt(from: "192.0.2.2", now: start))
        throttle.recordSuccess(from: "192.0.2.1")
        #expect(throttle.mayAttempt(from: "192.0.2.1", now: start))
        #expect(throttle.recordFailure(from: "192.0.2.1", now: start) == 1)
    }

    @Test func memoryIsBoundedByForgettingTheOldestAddress() {
        let throttle = throttle(allowance: 0, capacity: 2)
        throttle.recordFailure(from: "192.0.2.1", now: start)
        throttle.recordFailure(from: "192.0.2.2", now: start + .seconds(1))
        throttle.recordFailure(from: "192.0.2.3", now: start + .seconds(2))
        #expect(throttle.mayAttempt(from: "192.0.2.1", now: start + .seconds(2)))  // forgotten
        #expect(!throttle.mayAttempt(from: "192.0.2.3", now: start + .seconds(2)))
    }
}

@Suite("Listener mount points")
struct MountPointTests {
    @Test(arguments: [
        ("", "a/b", "a/b"), ("site1/", "a/b", "site1/a/b"), ("site1/", "", "site1/"),
    ])
    func topicsAreMountedAndUnmounted(mountPoint: String, topic: String, mounted: String) {
        let context = ListenerContext(mountPoint: mountPoint)
        #expect(context.mount(topic) == mounted)
        #expect(context.unmount(mounted) == topic)
    }

    @Test func sharedSubscriptionsKeepTheirGroupInFront() {
        let context = ListenerContext(mountPoint: "site1/")
        #expect(context.mount(filter: "$share/g/sensors/#") == "$share/g/site1/sensors/#")
        #expect(context.mount(filter: "sensors/+") == "site1/sensors/+")
    }

    @Test func aTopicOutsideTheMountPointIsLeftAlone() {
        #expect(ListenerContext(mountPoint: "site1/").unmount("site2/a") == "site2/a")
    }
}
