import BrokerCore
import BrokerServer
import MQTTCodec
import NIOCore
import NIOPosix
import Testing

@Suite("Durable store: replay, durability, compaction")
struct DurableStoreTests {
    /// Appends one of every record type (and some that must be ignored), reopens, and checks the state.
    @Test(arguments: [false, true])
    func everyRecordTypeReplays(compactOnOpen: Bool) async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (store, initial) = try StoreFixtures.open(directory)
        #expect(initial.sessions.isEmpty && initial.retained.isEmpty)

        var properties = Properties()
        properties.payloadFormatIndicator = 1
        properties.contentType = "text/plain"
        properties.responseTopic = "reply/here"
        properties.correlationData = ByteBuffer(string: "corr")
        properties.userProperties = [UserProperty(name: "k", value: "v"), UserProperty(name: "k", value: "w")]
        let rich = Message(
            topic: "rich",
            payload: ByteBuffer(string: "rich payload"),
            qos: .exactlyOnce,
            retain: true,
            properties: properties,
            publisherID: nil
        )
        let m1 = StoreFixtures.message("a/1", "one")
        let m2 = StoreFixtures.message("a/2", "two", qos: .exactlyOnce)
        let m3 = StoreFixtures.message("a/3", "three")
        let m4 = StoreFixtures.message("a/4", "four")
        let m5 = StoreFixtures.message("a/5", "five")
        let retained1 = StoreFixtures.message("t/1", "r1", retain: true)
        let retained2 = StoreFixtures.message("t/2", "r2", retain: true)
        let retained1b = StoreFixtures.message("t/1", "r1b", retain: true)
        let subscription = Subscription(
            options: SubscriptionOptions(
                qos: .exactlyOnce, noLocal: true, retainAsPublished: true,
                retainHandling: .doNotSend),
            identifier: 7
        )
        let records: [PersistenceRecord] = [
            .queued(clientID: "nobody", delivery: StoreFixtures.delivery(m1)),  // unknown session: ignored
            .sessionOpened(clientID: "c1", expiryInterval: 100),
            .subscribed(clientID: "c1", filter: "a/#", subscription: subscription),
            .subscribed(clientID: "c1", filter: "b", subscription: Subscription(options: .init(qos: .atMostOnce))),
            .subscribed(clientID: "c1", filter: "c", subscription: Subscription(options: .init(qos: .atLeastOnce))),
            .unsubscribed(clientID: "c1", filter: "b"),
            .unsubscribed(clientID: "c1", filter: "never"),  // ignored
            .queued(clientID: "c1", delivery: StoreFixtures.delivery(m1, identifiers: [7, 9])),
            .queued(clientID: "c1", delivery: StoreFixtures.delivery(m2, qos: .exactlyOnce)),
            .queued(clientID: "c1", delivery: StoreFixtures.delivery(m3)),
            .queued(clientID: "c1", delivery: StoreFixtures.delivery(m4)),
            .queued(clientID: "c1", delivery: StoreFixtures.delivery(rich, qos: .exactlyOnce)),
            .sent(clientID: "c1", messageID: m1.id, packetIdentifier: 10),
            .sent(clientID: "c1", messageID: m2.id, packetIdentifier: 11),
            .sent(clientID: "c1", messageID: m3.id, packetIdentifier: 12),
            .sent(clientID: "c1", messageID: 999_999_999_999, packetIdentifier: 13),  // unknown message: ignored
            .releasePending(clientID: "c1", packetIdentifier: 11),
            .releasePending(clientID: "c1", packetIdentifier: 99),  // ignored
            .completed(clientID: "c1", packetIdentifier: 12),
            .dequeued(clientID: "c1", messageID: m4.id),
            .incomingReceived(clientID: "c1", packetIdentifier: 5),
            .incomingReceived(clientID: "c1", packetIdentifier: 6),
            .incomingReceived(clientID: "c1", packetIdentifier: 8),
            .incomingReleased(clientID: "c1", packetIdentifier: 6),
            .retained(retained1),
            .retained(retained2),
            .retained(retained1b),  // replaces retained1
            .retainedCleared(topic: "t/2"),
            .retainedCleared(topic: "t/never"),  // ignored
            .sessionOpened(clientID: "c2", expiryInterval: 0),
            .sessionOpened(clientID: "c2", expiryInterval: 50),  // updates, keeps state
            .queued(clientID: "c2", delivery: StoreFixtures.delivery(m5)),
            .sessionOpened(clientID: "c2", expiryInterval: 60),
            .sessionOpened(clientID: "c3", expiryInterval: UInt32.max),
            .subscribed(clientID: "c3", filter: "x", subscription: Subscription(options: .init(qos: .atLeastOnce))),
            .queued(clientID: "c3", delivery: StoreFixtures.delivery(m5)),
            .sessionEnded(clientID: "c3"),
            .sessionEnded(clientID: "c4"),  // ignored
        ]
        for record in records { store.append(record) }
        try await store.whenDurable()
        #expect(store.statistics.recordsAppended == UInt64(records.count))
        #expect(store.statistics.recordsSkipped == 6)
        await store.close()

        let (reopened, state) = try StoreFixtures.open(directory, compactOnOpen: compactOnOpen)
        defer { reopened.syncClose() }
        let expected = [
            "retained t/1 = \(StoreFixtures.describe(retained1b))",
            "session c1 expiry 100",
            "  sub a/# qos 2 nl true rap true rh 2 id 7",
            "  sub c qos 1 nl false rap false rh 0 id -",
            "  queued qos 2 retain false ids [] \(StoreFixtures.describe(rich))",
            "  inflight 10 awaitingAcknowledgement qos 1 retain false ids [7, 9] \(StoreFixtures.describe(m1))",
            "  inflight 11 awaitingCompletion qos 2 retain false ids [] \(StoreFixtures.describe(m2))",
            "  incoming [5, 8]",
            "session c2 expiry 60",
            "  queued qos 1 retain false ids [] \(StoreFixtures.describe(m5))",
            "  incoming []",
        ].joined(separator: "\n")
        #expect(StoreFixtures.describe(state) == expected)

        // Properties survive.
        let recoveredRich = try #require(state.sessions.first?.queue.first?.message)
        #expect(recoveredRich.properties == properties)
        #expect(recoveredRich.publisherID == nil)
        #expect(recoveredRich.expiresAt == nil)
        #expect(recoveredRich.qos == .exactlyOnce && recoveredRich.retain)
        #expect(reopened.statistics.storedMessages == 5)
    }

    /// A payload fanned out to many sessions is stored once and forgotten with its last reference.
    @Test func payloadStoredOnceAndCollected() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (store, _) = try StoreFixtures.open(directory)
        let payload = String(repeating: "x", count: 10_000)
        let message = StoreFixtures.message("fan/out", payload)
        for client in ["a", "b", "c", "d"] {
            store.append(.sessionOpened(clientID: client, expiryInterval: 60))
            store.append(.queued(clientID: client, delivery: StoreFixtures.delivery(message)))
        }
        store.append(.retained(message))
        try await store.whenDurable()
        #expect(store.statistics.storedMessages == 1)
        #expect(store.statistics.logBytes < 11_000, "the payload is written once")
        await store.close()

        let (reopened, state) = try StoreFixtures.open(directory)
        #expect(state.sessions.count == 4)
        let instances = state.sessions.compactMap { $0.queue.first?.message } + state.retained
        #expect(instances.count == 5)
        #expect(instances.allSatisfy { $0 === instances[0] }, "one object per recovered message")

        reopened.append(.dequeued(clientID: "a", messageID: message.id))
        reopened.append(.sent(clientID: "b", messageID: message.id, packetIdentifier: 1))
        reopened.append(.completed(clientID: "b", packetIdentifier: 1))
        reopened.append(.sessionEnded(clientID: "c"))
        reopened.append(.retainedCleared(topic: "fan/out"))
        try await reopened.whenDurable()
        #expect(reopened.statistics.storedMessages == 1, "still queued for d")
        reopened.append(.sent(clientID: "d", messageID: message.id, packetIdentifier: 9))
        reopened.append(.releasePending(clientID: "d", packetIdentifier: 9))
        reopened.append(.completed(clientID: "d", packetIdentifier: 9))
        try await reopened.whenDurable()
        #expect(reopened.statistics.storedMessages == 0)
        try await reopened.compact()
        #expect(reopened.statistics.snapshotBytes < 200, "the snapshot no longer holds the payload")
        await reopened.close()

        // Queued again after it was collected: written whole again, and recovers.
        let (third, afterCollection) = try StoreFixtures.open(directory)
        #expect(afterCollection.sessions.allSatisfy { $0.queue.isEmpty && $0.inflight.isEmpty })
        third.append(.queued(clientID: "d", delivery: StoreFixtures.delivery(message)))
        try await third.whenDurable()
        await third.close()
        let final = try StoreFixtures.open(directory)
        final.0.syncClose()
        let again = try #require(final.1.sessions.first { $0.clientID == "d" }?.queue.first?.message)
        #expect(String(buffer: again.payload) == payload)
    }

    /// After `whenDurable` completes, another store opened on a copy of the files sees every record.
    @Test func whenDurableCoversEveryEarlierRecord() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (store, _) = try StoreFixtures.open(directory)

        // Nothing pending: completes at once.
        try await store.whenDurable(on: group.next()).get()
        #expect(store.statistics.syncs == 0)

        store.append(.sessionOpened(clientID: "c", expiryInterval: 10))
        for index in 0..<1_000 {
            store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(StoreFixtures.message("t/\(index)"))))
        }
        try await store.whenDurable(on: group.next()).get()
        let statistics = store.statistics
        #expect(statistics.recordsWritten == 1_001)
        #expect(statistics.syncs >= 1 && statistics.syncs <= 1_001)

        // What a crash right now would leave: the copy is opened by a second instance while the first runs.
        let copy = try directory.copy()
        defer { copy.remove() }
        let (second, state) = try StoreFixtures.open(copy)
        second.syncClose()
        #expect(state.sessions.first?.queue.count == 1_000)
        #expect(state.sessions.first?.queue.last.map { $0.message.topic } == "t/999")

        await store.close()
        await store.close()  // idempotent
        store.append(.sessionEnded(clientID: "c"))  // after close: dropped
        #expect(store.statistics.recordsDropped == 1)
        try await store.whenDurable()
        try await group.shutdownGracefully()
    }

    /// Many producers with barriers: every barrier completes, and group commit batches records.
    @Test func concurrentProducersWithBarriers() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (store, _) = try StoreFixtures.open(directory)
        store.append(.sessionOpened(clientID: "c", expiryInterval: 10))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for producer in 0..<4 {
                tasks.addTask {
                    var barriers: [EventLoopFuture<Void>] = []
                    for index in 0..<500 {
                        let message = StoreFixtures.message("p\(producer)/\(index)")
                        store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(message)))
                        if index % 50 == 49 { barriers.append(store.whenDurable(on: group.next())) }
                    }
                    for barrier in barriers { try await barrier.get() }
                }
            }
            try await tasks.waitForAll()
        }
        #expect(store.statistics.recordsWritten == 2_001)
        await store.close()
        let (reopened, state) = try StoreFixtures.open(directory)
        reopened.syncClose()
        #expect(state.sessions.first?.queue.count == 2_000)
        try await group.shutdownGracefully()
    }

    /// Compaction keeps the state, empties the log, and appends continue in the new log.
    @Test func compactionKeepsTheState() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (store, _) = try StoreFixtures.open(directory)
        let shared = StoreFixtures.message("shared", "s")
        for client in ["a", "b"] {
            store.append(.sessionOpened(clientID: client, expiryInterval: 30))
            store.append(
                .subscribed(clientID: client, filter: "#", subscription: .init(options: .init(qos: .exactlyOnce))))
            for index in 0..<3 {
                store.append(
                    .queued(
                        clientID: client, delivery: StoreFixtures.delivery(StoreFixtures.message("\(client)/\(index)")))
                )
            }
            store.append(.queued(clientID: client, delivery: StoreFixtures.delivery(shared, qos: .exactlyOnce)))
            store.append(.sent(clientID: client, messageID: shared.id, packetIdentifier: 4))
            store.append(.incomingReceived(clientID: client, packetIdentifier: 77))
        }
        store.append(.releasePending(clientID: "b", packetIdentifier: 4))
        store.append(.retained(StoreFixtures.message("r", "retained", retain: true)))
        try await store.whenDurable()
        let before = try directory.copy()
        defer { before.remove() }
        let stateBefore = try await StoreFixtures.recover(before)

        try await store.compact()
        #expect(store.statistics.compactions == 1)
        #expect(store.statistics.logBytes == 0)
        #expect(try directory.size("log") == RecordCodec.headerSize)
        let after = try directory.copy()
        defer { after.remove() }
        #expect(try await StoreFixtures.recover(after) == stateBefore)

        store.append(.completed(clientID: "a", packetIdentifier: 4))
        try await store.whenDurable()
        await store.close()
        let (reopened, state) = try StoreFixtures.open(directory)
        reopened.syncClose()
        #expect(state.sessions.first { $0.clientID == "a" }?.inflight.isEmpty == true)
        #expect(state.sessions.first { $0.clientID == "b" }?.inflight.first?.message.stage == .awaitingCompletion)
        #expect(state.sessions.first { $0.clientID == "b" }?.queue.count == 3)
        #expect(state.retained.count == 1)
    }

    /// Crossing the threshold compacts by itself; the state survives.
    @Test func thresholdTriggersCompaction() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (store, _) = try StoreFixtures.open(directory, compactionThreshold: 4_096)
        store.append(.sessionOpened(clientID: "c", expiryInterval: 10))
        for round in 0..<50 {
            let message = StoreFixtures.message("t", String(repeating: "p", count: 200))
            store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(message)))
            store.append(.sent(clientID: "c", messageID: message.id, packetIdentifier: UInt16(round + 1)))
            store.append(.completed(clientID: "c", packetIdentifier: UInt16(round + 1)))
            try await store.whenDurable()
        }
        store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(StoreFixtures.message("last"))))
        try await store.whenDurable()
        #expect(store.statistics.compactions >= 1)
        #expect(store.statistics.logBytes < 4_096 + 1_024)
        await store.close()
        let (reopened, state) = try StoreFixtures.open(directory)
        reopened.syncClose()
        #expect(state.sessions.first?.queue.map { $0.message.topic } == ["last"])
        #expect(state.sessions.first?.inflight.isEmpty == true)
    }

    /// Expiry is rebuilt from the remaining time minus the wall time spent closed.
    @Test func messageExpiryAcrossReopen() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let clock = ManualWallClock()
        let (store, _) = try StoreFixtures.open(directory, wallClock: clock)
        let long = StoreFixtures.message("long", expiresIn: 300)
        let short = StoreFixtures.message("short", expiresIn: 60)
        let never = StoreFixtures.message("never")
        let sentShort = StoreFixtures.message("sent-short", expiresIn: 60)
        store.append(.sessionOpened(clientID: "c", expiryInterval: 1_000))
        for message in [long, short, never, sentShort] {
            store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(message)))
        }
        store.append(.sent(clientID: "c", messageID: sentShort.id, packetIdentifier: 1))
        store.append(.retained(StoreFixtures.message("retained-short", retain: true, expiresIn: 60)))
        store.append(.retained(StoreFixtures.message("retained-long", retain: true, expiresIn: 300)))
        try await store.whenDurable()
        await store.close()

        clock.advance(seconds: 100)
        let (reopened, state) = try StoreFixtures.open(directory, compactOnOpen: true, wallClock: clock)
        let session = try #require(state.sessions.first)
        #expect(session.queue.map { $0.message.topic } == ["long", "never"])
        let remaining = try #require(session.queue.first?.message.remainingExpiry(at: .now()))
        #expect((195...200).contains(remaining), "300 s minus the 100 s spent closed")
        #expect(session.queue.last?.message.expiresAt == nil)
        // In flight: its onward delivery had started, it stays (expired) so the exchange can complete.
        #expect(session.inflight.map { $0.message.delivery.message.topic } == ["sent-short"])
        #expect(state.retained.map(\.topic) == ["retained-long"])
        await reopened.close()

        // The compaction at open wrote the remaining time again: another 150 s closed leaves about 50 s.
        clock.advance(seconds: 150)
        let (third, later) = try StoreFixtures.open(directory, wallClock: clock)
        third.syncClose()
        let left = try #require(later.sessions.first?.queue.first?.message.remainingExpiry(at: .now()))
        #expect((45...50).contains(left))
        #expect(later.retained.map(\.topic) == ["retained-long"])
    }

    /// Recovery reserves the identifiers it found, so new messages never collide with stored ones.
    @Test func reservesRecoveredIdentifiers() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (store, _) = try StoreFixtures.open(directory)
        let big: UInt64 = 1 << 50
        store.append(.retained(StoreFixtures.message("r", retain: true, id: big)))
        try await store.whenDurable()
        await store.close()
        let (reopened, state) = try StoreFixtures.open(directory)
        reopened.syncClose()
        #expect(state.retained.first?.id == big)
        #expect(StoreFixtures.message("new").id > big)
    }
}
