import Events
import Foundation
import GRDB
import Synchronization
import Testing

@testable import Store

/// A fresh folder per test holding a store, removed afterwards.
private final class AuditFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var database: String { path + "/rampart.sqlite" }

    func open() throws -> GatewayStore {
        try GatewayStore(databasePath: database, masterKeyPath: path + "/master.key")
    }

    /// Runs `change` on the database file through a connection of its own, as someone editing the file would.
    func tamper(_ change: (Database) throws -> Void) throws {
        let queue = try DatabaseQueue(path: database)
        try queue.write(change)
        try queue.close()
    }
}

/// An audit record as a component would report it; `number` makes each one distinct.
private func record(
    _ number: Int, severity: Severity = .informational, entity: String = EventEntity.management,
    title: String? = nil, time: Date = Date()
) -> SecurityEvent {
    SecurityEvent(
        stream: .network, time: time, severity: severity, entity: entity, type: "ConfigurationChange",
        title: title ?? "change \(number)",
        fields: [EventField(EventField.user, "admin"), EventField(EventField.detail, "n=\(number) \"quoted\", é")])
}

/// Waits for `condition`, failing after `seconds`.
private func eventually(within seconds: Double = 10, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(5))
    }
    return try condition()
}

/// Checks that a verification found the chain whole after checking `checked` entries.
private func expectIntact(
    _ verification: AuditChain.Verification, checked: Int, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(
        verification.intact, "broken at \(verification.firstBroken ?? 0): \(verification.reason ?? "")",
        sourceLocation: sourceLocation)
    #expect(verification.checked == checked, sourceLocation: sourceLocation)
}

private final class StopFlag: Sendable {
    let raised = Atomic<Bool>(false)
}

@Suite("Audit log")
struct AuditLogTests {
    @Test func appendedEntriesReadBackEqualAndChained() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        #expect(try log.entries(AuditQuery()).total == 0)
        try expectIntact(log.verify(), checked: 0)

        var appended: [AuditEntry] = []
        for number in 1...4 { appended.append(try log.append(record(number))) }
        #expect(appended.map(\.sequence) == [1, 2, 3, 4])
        #expect(appended.allSatisfy { $0.event.stream == .audit })
        #expect(appended[0].previousHash == AuditChain.genesis)
        #expect(appended[1].previousHash == appended[0].hash)

        // Read back (also from a store opened anew) the very same entries, fields in order.
        let reopened = try folder.open().auditLog
        let (entries, total) = try reopened.entries(AuditQuery(order: .oldestFirst))
        #expect(total == 4)
        #expect(entries == appended)
        #expect(entries[2].event.fields.map(\.name) == [EventField.user, EventField.detail])
        try expectIntact(reopened.verify(), checked: 4)
        #expect(try reopened.append(record(5)).sequence == 5)
    }

    @Test func filtersOrdersAndPages() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let rows: [(Severity, String, String)] = [
            (.informational, EventEntity.management, "b login"),
            (.critical, EventEntity.store, "a key missing"),
            (.warning, EventEntity.webServer, "d certificate expires"),
            (.critical, EventEntity.management, "c account locked"),
            (.informational, EventEntity.store, "e backup"),
            (.warning, EventEntity.management, "a password changed"),
        ]
        for (index, (severity, entity, title)) in rows.enumerated() {
            let time = start.addingTimeInterval(Double(index) * 60)
            try log.append(record(index + 1, severity: severity, entity: entity, title: title, time: time))
        }
        func sequences(_ query: AuditQuery) throws -> [UInt64] { try log.entries(query).entries.map(\.sequence) }

        #expect(try sequences(AuditQuery()) == [6, 5, 4, 3, 2, 1])
        #expect(try sequences(AuditQuery(order: .oldestFirst)) == [1, 2, 3, 4, 5, 6])
        #expect(try sequences(AuditQuery(order: .severity)) == [4, 2, 6, 3, 5, 1])
        #expect(try sequences(AuditQuery(order: .entity)) == [6, 4, 1, 5, 2, 3])
        #expect(try sequences(AuditQuery(order: .title)) == [2, 6, 1, 4, 3, 5])

        #expect(try sequences(AuditQuery(severities: [.critical])) == [4, 2])
        #expect(try sequences(AuditQuery(severities: [.critical, .warning])) == [6, 4, 3, 2])
        #expect(try sequences(AuditQuery(entities: [EventEntity.store])) == [5, 2])
        #expect(try sequences(AuditQuery(severities: [.warning], entities: [EventEntity.management])) == [6])
        // since inclusive, until exclusive: minutes 1 to 3 are entries 2…4.
        let window = AuditQuery(since: start.addingTimeInterval(60), until: start.addingTimeInterval(240))
        #expect(try sequences(window) == [4, 3, 2])
        let between = AuditQuery(since: start.addingTimeInterval(59.9995), until: start.addingTimeInterval(60.0005))
        #expect(try sequences(between) == [2])

        // Pages: the total is the count before offset and limit.
        let page = try log.entries(AuditQuery(severities: [.critical, .warning], offset: 1, limit: 2))
        #expect(page.total == 4)
        #expect(page.entries.map(\.sequence) == [4, 3])
        let beyond = try log.entries(AuditQuery(offset: 10, limit: 5))
        #expect(beyond.total == 6)
        #expect(beyond.entries.isEmpty)

        let totals = try log.totals()
        #expect(totals.count == 6)
        #expect(totals.perSeverity == [.informational: 2, .warning: 2, .critical: 2])
        #expect(totals.oldest == start)
        #expect(totals.newest == start.addingTimeInterval(300))
        #expect(totals.written == 6)
        #expect(totals.capacity == 100_000)
        #expect(totals.policy == .circular)
    }

    @Test func circularOverwritesTheOldestAndStillVerifies() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        try log.update(AuditLog.Settings(capacity: 5, policy: .circular))
        var appended: [AuditEntry] = []
        for number in 1...12 { appended.append(try log.append(record(number))) }

        let kept = try log.entries(AuditQuery(order: .oldestFirst)).entries
        #expect(kept.map(\.sequence) == [8, 9, 10, 11, 12])
        #expect(kept == Array(appended[7...]))
        try expectIntact(log.verify(), checked: 5)
        #expect(log.isFull)
        let totals = try log.totals()
        #expect(totals.count == 5)
        #expect(totals.written == 12)
        #expect(totals.overwritten == 7)
        #expect(totals.refused == 0)
    }

    @Test func limitedRefusesWhenFullAndCountsTheRefusal() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        try log.update(AuditLog.Settings(capacity: 5, policy: .limited))
        for number in 1...5 { try log.append(record(number)) }
        #expect(log.isFull)
        do {
            try log.append(record(6))
            Issue.record("the sixth entry was accepted")
        } catch let error as AuditLogError {
            #expect(error == .full(capacity: 5))
            #expect(error.description.contains("export"))
        }
        #expect(try log.entries(AuditQuery(order: .oldestFirst)).entries.map(\.sequence) == [1, 2, 3, 4, 5])
        let totals = try log.totals()
        #expect(totals.refused == 1)
        #expect(totals.overwritten == 0)
        #expect(totals.written == 5)
        #expect(try log.verify().intact)

        // Exporting makes room; the refused record took no sequence.
        _ = try log.export { $0.count }
        #expect(!log.isFull)
        #expect(try log.append(record(7)).sequence == 6)
        #expect(try log.verify().intact)
    }

    @Test func capacityChanges() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        #expect(try log.settings() == AuditLog.Settings(capacity: 100_000, policy: .circular))
        for invalid in [0, -1, 1_000_001] {
            do {
                try log.update(AuditLog.Settings(capacity: invalid))
                Issue.record("capacity \(invalid) was accepted")
            } catch let error as AuditLogError {
                guard case .invalidSettings(let reason) = error else {
                    Issue.record("unexpected \(error)")
                    continue
                }
                #expect(reason.contains("\(invalid)"))
            }
        }
        for number in 1...10 { try log.append(record(number)) }

        // Circular: lowering the capacity removes the oldest extra entries and moves the anchor.
        try log.update(AuditLog.Settings(capacity: 4, policy: .circular))
        #expect(try log.entries(AuditQuery(order: .oldestFirst)).entries.map(\.sequence) == [7, 8, 9, 10])
        try expectIntact(log.verify(), checked: 4)
        #expect(try log.totals().overwritten == 6)

        // Limited: lowering it keeps everything, and the log is full.
        try log.update(AuditLog.Settings(capacity: 8, policy: .limited))
        for number in 11...14 { try log.append(record(number)) }
        try log.update(AuditLog.Settings(capacity: 2, policy: .limited))
        #expect(try log.totals().count == 8)
        #expect(log.isFull)
        #expect(throws: AuditLogError.full(capacity: 2)) { try log.append(record(15)) }

        // Settings survive reopening.
        #expect(try folder.open().auditLog.settings() == AuditLog.Settings(capacity: 2, policy: .limited))
        try log.update(AuditLog.Settings(capacity: 1_000_000, policy: .limited))
        #expect(try log.append(record(16)).sequence == 15)
        try expectIntact(log.verify(), checked: 9)
    }

    @Test func exportHandsOverEveryEntryAndEmptiesTheLog() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        var appended: [AuditEntry] = []
        for number in 1...7 { appended.append(try log.append(record(number))) }

        // A render that fails removes nothing.
        struct RenderFailed: Error {}
        do {
            _ = try log.export { _ in throw RenderFailed() }
            Issue.record("the export succeeded")
        } catch is RenderFailed {}
        #expect(try log.totals().count == 7)

        let (output, exported) = try log.export { entries in entries }
        #expect(exported == 7)
        #expect(output == appended)
        #expect(try log.entries(AuditQuery()).total == 0)
        #expect(try log.verify().intact)
        let (empty, none) = try log.export { $0 }
        #expect(empty.isEmpty && none == 0)

        let next = try log.append(record(8))
        #expect(next.sequence == 8)
        #expect(next.previousHash == appended[6].hash)
        try expectIntact(log.verify(), checked: 1)
        #expect(try folder.open().auditLog.verify().intact)
    }

    @Test func exportWhileOthersAppendKeepsEachEntryOnceAndTheChainIntact() async throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        let stop = StopFlag()
        let appender = Task.detached { () throws -> [UInt64] in
            var sequences: [UInt64] = []
            var number = 0
            while !stop.raised.load(ordering: .relaxed) && number < 5_000 {
                number += 1
                sequences.append(try log.append(record(number)).sequence)
            }
            return sequences
        }
        #expect(try await eventually { try log.totals().written >= 20 })

        // Appends started from inside the export wait for its transaction and must all stay.
        var late: [Task<[UInt64], any Error>] = []
        let (exportedSequences, exported) = try log.export { entries in
            for task in 0..<3 {
                late.append(
                    Task.detached {
                        var sequences: [UInt64] = []
                        for number in 0..<5 {
                            sequences.append(try log.append(record(10_000 * (task + 1) + number)).sequence)
                        }
                        return sequences
                    })
            }
            return entries.map(\.sequence)
        }
        #expect(exported == exportedSequences.count)
        // Let the appender run on after the export, then stop it.
        let afterExport = try log.totals().written
        #expect(try await eventually { try log.totals().written >= afterExport + 10 })
        stop.raised.store(true, ordering: .relaxed)

        var appended = try await appender.value
        for task in late { appended += try await task.value }
        let remaining = try log.entries(AuditQuery(order: .oldestFirst)).entries.map(\.sequence)

        #expect(Set(appended).count == appended.count)
        #expect(Set(exportedSequences).isDisjoint(with: remaining))
        #expect(Set(exportedSequences).union(remaining) == Set(appended))
        #expect(exportedSequences.count + remaining.count == appended.count)
        #expect((exportedSequences.max() ?? 0) < (remaining.min() ?? .max))
        #expect(remaining.count >= 15)
        try expectIntact(log.verify(), checked: remaining.count)
    }

    @Test func appendsFromManyTasksGetDistinctSequencesAndOneChain() async throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        let sequences = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<8 {
                group.addTask {
                    try (0..<25).map { try log.append(record(task * 100 + $0)).sequence }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(sequences.sorted() == Array(1...200))
        try expectIntact(log.verify(), checked: 200)
    }

    // MARK: Tampering with the database file

    @Test func anEditedEntryIsFound() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        for number in 1...6 { try log.append(record(number)) }
        try folder.tamper { db in try db.execute(sql: "UPDATE audit SET title = 'x' WHERE sequence = 3") }
        let verification = try log.verify()
        #expect(verification.firstBroken == 3)
        #expect(verification.checked == 3)
        #expect(verification.reason?.contains("altered") == true)
    }

    @Test func aRemovedMiddleEntryIsFound() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        for number in 1...6 { try log.append(record(number)) }
        try folder.tamper { db in try db.execute(sql: "DELETE FROM audit WHERE sequence = 3") }
        let verification = try log.verify()
        #expect(verification.firstBroken == 4)
        #expect(verification.reason?.contains("removed") == true)
    }

    @Test func removingTheOldestOrTheNewestEntryIsFound() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        for number in 1...6 { try log.append(record(number)) }
        try folder.tamper { db in try db.execute(sql: "DELETE FROM audit WHERE sequence = 6") }
        let newest = try log.verify()
        #expect(newest.firstBroken == 6)
        #expect(newest.reason?.contains("missing") == true)

        try folder.tamper { db in try db.execute(sql: "DELETE FROM audit WHERE sequence = 1") }
        #expect(try log.verify().firstBroken == 2)
    }

    @Test func anEditWithARecomputedHashBreaksTheNextLink() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        var appended: [AuditEntry] = []
        for number in 1...6 { appended.append(try log.append(record(number))) }
        var forged = appended[2].event
        forged.title = "nothing happened"
        let hash = AuditChain.hash(of: forged, previousHash: appended[2].previousHash)
        try folder.tamper { db in
            try db.execute(
                sql: "UPDATE audit SET title = ?, hash = ? WHERE sequence = 3", arguments: [forged.title, hash])
        }
        let verification = try log.verify()
        #expect(verification.firstBroken == 4)
        #expect(verification.checked == 4)
    }

    @Test func anUndecodableRowIsReportedAsBroken() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        for number in 1...4 { try log.append(record(number)) }
        try folder.tamper { db in
            try db.execute(sql: "UPDATE audit SET severity = 'harmless' WHERE sequence = 2")
            try db.execute(sql: "UPDATE audit SET fields = '{' WHERE sequence = 3")
        }
        let verification = try log.verify()
        #expect(verification.firstBroken == 2)
        #expect(verification.checked == 2)
        #expect(verification.reason?.contains("severity harmless") == true)
        do {
            _ = try log.entries(AuditQuery())
            Issue.record("an undecodable row was listed")
        } catch let error as AuditLogError {
            guard case .unreadable(let sequence, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(sequence == 3)
        }
        // The rows after it still read.
        #expect(try log.entries(AuditQuery(limit: 1)).entries.map(\.sequence) == [4])
    }

    // MARK: Speed (printed, not asserted)

    @Test func thousandAppends() throws {
        let folder = try AuditFolder()
        let log = try folder.open().auditLog
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for number in 1...1_000 { try log.append(record(number, severity: .warning)) }
        }
        var verification: AuditChain.Verification?
        let verifyElapsed = try clock.measure { verification = try log.verify() }
        #expect(verification?.intact == true)
        #expect(verification?.checked == 1_000)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "audit log: 1,000 appends in \(elapsed) (\(Int(1_000 / seconds)) appends/s in one task);"
                + " verify of 1,000 in \(verifyElapsed)")
    }
}
