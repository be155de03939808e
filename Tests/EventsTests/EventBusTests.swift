import Foundation
import Testing

@testable import Events

@Suite struct EventBusTests {
    private func event(_ title: String, stream: EventStream = .network, entity: String = EventEntity.authServer)
        -> SecurityEvent
    {
        SecurityEvent(stream: stream, severity: .warning, entity: entity, type: "LoginError", title: title)
    }

    @Test func everySubscriberGetsEveryEventInOrderWithASequence() async {
        let bus = EventBus()
        let first = bus.subscribe(name: "a", capacity: 10)
        let second = bus.subscribe(name: "b", capacity: 10)
        for index in 1...3 { bus.publish(event("e\(index)")) }
        bus.finish()
        var seen: [[String]] = []
        for stream in [first, second] {
            var titles: [String] = []
            var sequences: [UInt64] = []
            for await event in stream {
                titles.append(event.title)
                sequences.append(event.sequence)
            }
            seen.append(titles)
            #expect(sequences == [1, 2, 3])
        }
        #expect(seen == [["e1", "e2", "e3"], ["e1", "e2", "e3"]])
    }

    /// A subscriber that does not read loses the overflow, and only it: publishing never waits.
    @Test func aFullSubscriberDropsAndCountsWithoutHoldingOthersBack() async {
        let bus = EventBus()
        let slow = bus.subscribe(name: "slow", capacity: 2)
        let fast = bus.subscribe(name: "fast", capacity: 100)
        for index in 1...10 { bus.publish(event("e\(index)")) }
        let statistics = Dictionary(uniqueKeysWithValues: bus.statistics().map { ($0.name, $0) })
        #expect(statistics["slow"]?.dropped == 8)
        #expect(statistics["slow"]?.delivered == 2)
        #expect(statistics["fast"]?.dropped == 0)
        #expect(bus.droppedCount == 8)
        bus.finish()
        var slowTitles: [String] = []
        for await event in slow { slowTitles.append(event.title) }
        #expect(slowTitles == ["e1", "e2"])
        var fastCount = 0
        for await _ in fast { fastCount += 1 }
        #expect(fastCount == 10)
    }

    @Test func subscribersChooseTheirStreams() async {
        let bus = EventBus()
        let audit = bus.subscribe(name: "audit", capacity: 10, streams: [.audit])
        bus.publish(event("n"))
        var record = event("a", stream: .audit)
        record.sequence = 42
        let delivered = bus.publish(record)
        #expect(delivered.sequence == 42)
        bus.finish()
        var titles: [String] = []
        for await event in audit { titles.append(event.title) }
        #expect(titles == ["a"])
    }

    @Test func aRingKeepsTheNewestAndFilters() {
        let ring = NetworkEventRing(capacity: 3)
        let bus = EventBus()
        for index in 1...5 {
            ring.append(bus.publish(event("e\(index)", entity: index.isMultiple(of: 2) ? "B" : "A")))
        }
        #expect(ring.snapshot().map(\.title) == ["e3", "e4", "e5"])
        #expect(ring.totalCount == 5)
        var query = NetworkEventRing.Query()
        query.entities = ["A"]
        #expect(ring.events(matching: query).map(\.title) == ["e5", "e3"])
        query.order = .timeAscending
        #expect(ring.events(matching: query).map(\.title) == ["e3", "e5"])
        query = NetworkEventRing.Query()
        query.after = 4
        #expect(ring.events(matching: query).map(\.title) == ["e5"])
        #expect(ring.countsByEntity() == ["A": 2, "B": 1])
    }
}
