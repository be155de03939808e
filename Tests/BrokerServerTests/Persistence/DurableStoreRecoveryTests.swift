import BrokerCore
import BrokerServer
import Logging
import MQTTCodec
import NIOCore
import Testing

@Suite("Durable store: crash recovery")
struct DurableStoreRecoveryTests {
    /// Writes a session with two queued messages, then one more record; returns the log sizes before and after
    /// that last record and the state before it.
    private func prepareLog(
        _ directory: TemporaryStoreDirectory
    ) async throws -> (before: Int, after: Int, stateBefore: String) {
        let (store, _) = try StoreFixtures.open(directory)
        store.append(.sessionOpened(clientID: "c", expiryInterval: 60))
        store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(StoreFixtures.message("one", "1"))))
        store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(StoreFixtures.message("two", "2"))))
        try await store.whenDurable()
        let before = try directory.size("log")
        let copy = try directory.copy()
        defer { copy.remove() }
        let stateBefore = try await StoreFixtures.recover(copy)
        store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(StoreFixtures.message("last", "3"))))
        try await store.whenDurable()
        await store.close()
        return (before, try directory.size("log"), stateBefore)
    }

    /// A write torn at any byte of the last record: recovery returns the state before it, truncates the log
    /// there (with a warning naming the offset), and the log takes further appends.
    @Test func tornTailAtEveryOffset() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (before, after, stateBefore) = try await prepareLog(directory)
        let log = try directory.read("log")
        #expect(after > before)

        for cut in before..<after {
            let torn = TemporaryStoreDirectory()
            defer { torn.remove() }
            try torn.create()
            try torn.write(Array(log[0..<cut]), to: "log")
            let handler = RecordingLogHandler()
            let (store, state) = try StoreFixtures.open(torn, handler: handler)
            #expect(StoreFixtures.describe(state) == stateBefore, "cut at \(cut)")
            #expect(try torn.size("log") == before, "truncated to the last good record (cut at \(cut))")
            if cut > before {
                let warning = handler.entries.first { $0.level == .warning }
                #expect(warning?.metadata["offset"] == "\(before)", "cut at \(cut)")
                #expect(!handler.entries.contains { $0.level == .error })
            }

            store.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(StoreFixtures.message("new", "4"))))
            try await store.whenDurable()
            await store.close()
            let (reopened, appended) = try StoreFixtures.open(torn)
            reopened.syncClose()
            #expect(appended.sessions.first?.queue.map(\.message.topic) == ["one", "two", "new"], "cut at \(cut)")
        }
    }

    /// The same torn tail with compaction at open: the state is the same and the new log is clean.
    @Test func tornTailWithCompactionAtOpen() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (before, after, stateBefore) = try await prepareLog(directory)
        let log = try directory.read("log")
        try directory.write(Array(log[0..<(before + (after - before) / 2)]), to: "log")
        let (store, state) = try StoreFixtures.open(directory, compactOnOpen: true)
        await store.close()
        #expect(StoreFixtures.describe(state) == stateBefore)
        #expect(try directory.size("log") == RecordCodec.headerSize)
        #expect(try await StoreFixtures.recover(directory) == stateBefore)
    }

    /// A zero-filled tail (size updated, data never written) is a torn write too.
    @Test func zeroFilledTail() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (_, after, _) = try await prepareLog(directory)
        let full = try await StoreFixtures.recover(directory)
        try directory.write(try directory.read("log") + [UInt8](repeating: 0, count: 4_096), to: "log")
        let handler = RecordingLogHandler()
        let (store, state) = try StoreFixtures.open(directory, handler: handler)
        store.syncClose()
        #expect(StoreFixtures.describe(state) == full)
        #expect(try directory.size("log") == after)
        #expect(!handler.entries.contains { $0.level == .error })
    }

    /// A bad CRC in the middle: truncated there, an error logged, the damaged log kept.
    @Test func corruptChecksumInTheMiddle() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (before, after, stateBefore) = try await prepareLog(directory)
        _ = after
        // Damage the second-to-last record's body... find where it starts: it ends at `before`; flip a byte
        // just before its CRC.
        var log = try directory.read("log")
        log[before - 6] ^= 0xFF
        try directory.write(log, to: "log")
        let handler = RecordingLogHandler()
        let (store, state) = try StoreFixtures.open(directory, handler: handler)
        store.syncClose()
        let error = try #require(handler.entries.first { $0.level == .error })
        #expect(error.metadata["reason"] == "checksum mismatch")
        #expect(directory.exists("log.damaged"))
        #expect(try directory.read("log.damaged") == log)
        // The state before the damaged record: the session and "one" only.
        #expect(state.sessions.first?.queue.map(\.message.topic) == ["one"])
        #expect(StoreFixtures.describe(state) != stateBefore)
        #expect(try directory.size("log") < before)
    }

    /// A bad CRC in the very last record is a torn write: a warning, no error.
    @Test func corruptChecksumAtTheEnd() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        let (before, after, stateBefore) = try await prepareLog(directory)
        var log = try directory.read("log")
        log[after - 1] ^= 0x01
        try directory.write(log, to: "log")
        let handler = RecordingLogHandler()
        let (store, state) = try StoreFixtures.open(directory, handler: handler)
        store.syncClose()
        #expect(StoreFixtures.describe(state) == stateBefore)
        #expect(handler.entries.contains { $0.level == .warning && $0.metadata["offset"] == "\(before)" })
        #expect(!handler.entries.contains { $0.level == .error })
    }

    /// A crash while writing `snapshot.tmp` (before its rename): the leftover is ignored and removed, even a
    /// complete one, whose generation would otherwise make the log be applied twice.
    @Test(arguments: [false, true])
    func interruptedCompactionLeavesTemporarySnapshot(complete: Bool) async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        _ = try await prepareLog(directory)
        let state = try await StoreFixtures.recover(directory)
        if complete {
            // A finished snapshot.tmp of the next generation: made by compacting a copy.
            let copy = try directory.copy()
            defer { copy.remove() }
            let (store, _) = try StoreFixtures.open(copy)
            try await store.compact()
            await store.close()
            try directory.write(try copy.read("snapshot"), to: "snapshot.tmp")
        } else {
            try directory.write(Array("garbage".utf8), to: "snapshot.tmp")
        }
        let (store, recovered) = try StoreFixtures.open(directory)
        store.syncClose()
        #expect(StoreFixtures.describe(recovered) == state)
        #expect(!directory.exists("snapshot.tmp"))
    }

    /// A crash after the snapshot's rename but before the new log replaced the old one: the old log's
    /// generation is older than the snapshot's, so it is ignored instead of applied twice.
    @Test func interruptedCompactionLeavesStaleLog() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        _ = try await prepareLog(directory)
        let state = try await StoreFixtures.recover(directory)
        let oldLog = try directory.read("log")
        let (store, _) = try StoreFixtures.open(directory)
        try await store.compact()
        await store.close()
        try directory.write(oldLog, to: "log")  // as if step 3 never happened
        try directory.write(Array("half".utf8), to: "log.tmp")
        let (reopened, recovered) = try StoreFixtures.open(directory)
        reopened.append(.queued(clientID: "c", delivery: StoreFixtures.delivery(StoreFixtures.message("after"))))
        try await reopened.whenDurable()
        await reopened.close()
        #expect(StoreFixtures.describe(recovered) == state)
        #expect(!directory.exists("log.tmp"))
        let (third, final) = try StoreFixtures.open(directory)
        third.syncClose()
        #expect(final.sessions.first?.queue.map(\.message.topic) == ["one", "two", "last", "after"])
    }

    /// A damaged snapshot stops `open` (it cannot come from a crash); the files are left alone.
    @Test func damagedSnapshotIsAnError() async throws {
        let directory = TemporaryStoreDirectory()
        defer { directory.remove() }
        _ = try await prepareLog(directory)
        let (store, _) = try StoreFixtures.open(directory, compactOnOpen: true)
        await store.close()
        var snapshot = try directory.read("snapshot")
        snapshot[snapshot.count / 2] ^= 0xFF
        try directory.write(snapshot, to: "snapshot")
        #expect(throws: DurableStore.StoreError.self) { _ = try StoreFixtures.open(directory) }
        #expect(try directory.read("snapshot") == snapshot)
    }

    /// CRC-32C known answer (RFC 3720 B.4).
    @Test func crc32cKnownAnswers() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        let bytes = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let split = bytes.withUnsafeBytes { all in
            CRC32C.checksum(
                UnsafeRawBufferPointer(rebasing: all[500...]),
                continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[..<500])))
        }
        #expect(split == CRC32C.checksum(bytes))
    }
}
