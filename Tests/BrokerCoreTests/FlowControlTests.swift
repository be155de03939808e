import BrokerCore
import MQTTCodec
import NIOCore
import Testing

/// Publisher flow control: a full queue of a connected subscriber pauses the publisher instead of dropping, until the
/// queue drains to half; a subscriber that stays full past the pause limit is stalled and its overflow dropped.
@Suite("Publisher flow control")
struct FlowControlTests {
    private static let limit = 4

    /// A broker with a small queue, a connected QoS 1 subscriber to `t` with a one-message in-flight window
    /// (3.1.1 clients get `maxInflightMessages`), and a publisher.
    private static func setUp(at now: NIODeadline) -> (Broker, subscriber: TestClient, publisher: TestClient) {
        let broker = makeBroker(at: now) {
            $0.maxQueuedMessages = limit
            $0.maxInflightMessages = 1
        }
        let subscriber = TestClient(broker: broker, version: .v3_1_1)
        subscriber.connect("sub", at: now)
        subscriber.subscribe("t", qos: .atLeastOnce, at: now)
        let publisher = TestClient(broker: broker, version: .v3_1_1)
        publisher.connect("pub", at: now)
        return (broker, subscriber, publisher)
    }

    private static var dropped: (Broker) -> Int { { $0.statistics.messagesDropped.load(ordering: .relaxed) } }

    @Test(arguments: [QoS.atMostOnce, .atLeastOnce])
    func fullQueuePausesThePublisherAndLosesNothing(qos: QoS) {
        var clock = TestClock()
        let (broker, subscriber, publisher) = Self.setUp(at: clock.now)
        // The first delivery goes in flight at the first drain; until then all wait in the queue.
        for index in 1...Self.limit {
            publisher.publish("t", "\(index)", qos: qos, at: clock.now)
            #expect(!publisher.connection.takePublishingPause(), "paused below the limit at \(index)")
        }
        publisher.publish("t", "\(Self.limit + 1)", qos: qos, at: clock.now)
        #expect(publisher.connection.takePublishingPause(), "not paused at a full queue")
        #expect(Self.dropped(broker) == 0)
        #expect(broker.sessionState("sub")?.queue.count == Self.limit + 1)

        // Draining to half the limit resumes the publisher, once.
        clock.advance(milliseconds: 10)
        var received = subscriber.drainPublishes(at: clock.now)
        #expect(publisher.handle.resumeRequests == (qos == .atMostOnce ? 1 : 0))
        if qos == .atLeastOnce {
            // One in flight at a time: each PUBACK lets one more out.
            while received.count < 3 {
                let last = received[received.count - 1]
                subscriber.send(.puback(AckPacket(packetIdentifier: last.packetIdentifier ?? 0)), at: clock.now)
                received += subscriber.received().publishes
            }
            #expect(broker.sessionState("sub")?.queue.count == 2)
            #expect(publisher.handle.resumeRequests == 1)
        }
        // Once resumed, the publisher goes on; everything arrives once and in order.
        publisher.publish("t", "\(Self.limit + 2)", qos: qos, at: clock.now)
        #expect(!publisher.connection.takePublishingPause())
        while received.count < Self.limit + 2 {
            if qos == .atLeastOnce, let last = received.last {
                subscriber.send(.puback(AckPacket(packetIdentifier: last.packetIdentifier ?? 0)), at: clock.now)
                received += subscriber.received().publishes
            } else {
                let more = subscriber.drainPublishes(at: clock.now)
                if more.isEmpty { break }
                received += more
            }
        }
        #expect(received.map(\.payloadString) == (1...(Self.limit + 2)).map { "\($0)" })
        #expect(Self.dropped(broker) == 0)
    }

    @Test func stalledSubscriberIsDroppedForAfterThePauseLimit() {
        var clock = TestClock()
        let (broker, _, publisher) = Self.setUp(at: clock.now)
        for index in 1...(Self.limit + 1) {
            publisher.publish("t", "\(index)", qos: .atLeastOnce, at: clock.now)
        }
        #expect(publisher.connection.takePublishingPause())
        // The subscriber never reads: once the pause limit has passed, the publisher (resumed by its timer in the
        // server) carries on and the overflow is dropped and counted, without pausing it again.
        clock.advance(milliseconds: QueueLimits.defaultPublisherPauseLimit.nanoseconds / 1_000_000 + 1)
        let replies = publisher.publish("t", "late", qos: .atLeastOnce, at: clock.now)
        #expect(replies.compactMap(\.puback).count == 1, "a dropped QoS 1 message is still acknowledged")
        #expect(!publisher.connection.takePublishingPause())
        #expect(Self.dropped(broker) == 1)
        #expect(broker.sessionState("sub")?.droppedMessages == 1)
    }

    @Test func aClientIsNeverPausedForItsOwnSession() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maxQueuedMessages = Self.limit }
        let client = TestClient(broker: broker, version: .v3_1_1)
        client.connect("echo", at: clock.now)
        client.subscribe("t", qos: .atLeastOnce, at: clock.now)
        for index in 1...(3 * Self.limit) {
            client.publish("t", "\(index)", qos: .atLeastOnce, at: clock.now)
            #expect(!client.connection.takePublishingPause())
        }
        // QoS 1 to itself is kept up to the hard limit (twice the queue limit), then dropped.
        #expect(broker.sessionState("echo")?.queue.count == 2 * Self.limit)
        #expect(Self.dropped(broker) == Self.limit)
    }

    @Test func subscriberLeavingResumesPausedPublishers() {
        let clock = TestClock()
        let (broker, subscriber, publisher) = Self.setUp(at: clock.now)
        for index in 1...(Self.limit + 1) {
            publisher.publish("t", "\(index)", qos: .atMostOnce, at: clock.now)
        }
        #expect(publisher.connection.takePublishingPause())
        subscriber.dropConnection(at: clock.now)
        #expect(publisher.handle.resumeRequests == 1)
        // Offline, the clean session is gone: nothing left to pause for.
        publisher.publish("t", "after", qos: .atMostOnce, at: clock.now)
        #expect(!publisher.connection.takePublishingPause())
        _ = broker
    }

    @Test func manyPausedPublishersAreBoundedByTheHardLimit() {
        let clock = TestClock()
        let (broker, _, first) = Self.setUp(at: clock.now)
        for index in 1...Self.limit {
            first.publish("t", "\(index)", qos: .atLeastOnce, at: clock.now)
        }
        var paused = 0
        for index in 0..<(2 * Self.limit) {
            let publisher = TestClient(broker: broker, version: .v3_1_1)
            publisher.connect("p\(index)", at: clock.now)
            publisher.publish("t", "x", qos: .atLeastOnce, at: clock.now)
            if publisher.connection.takePublishingPause() { paused += 1 }
        }
        // Each paused publisher adds one message above the limit, up to twice the limit; the rest are dropped.
        #expect(paused == Self.limit)
        #expect(broker.sessionState("sub")?.queue.count == 2 * Self.limit)
        #expect(Self.dropped(broker) == Self.limit)
    }
}
