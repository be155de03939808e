import Events
import Foundation
import GRDB

/// The audit log of system security (SPEC EVT-2): every record hash chained to the one before, kept in the gateway's
/// database up to a capacity, then either overwritten oldest first (circular) or refused until the operator exports
/// it (limited).
///
/// The entries kept always form one run of consecutive sequences: appending adds after the newest, and overwriting,
/// lowering the capacity and exporting only ever remove the oldest. `audit_state.anchor` is the hash the oldest kept
/// entry names, so the chain verifies from the anchor however many entries were removed before it.
///
/// Safe to use from any thread or task: every change is one write transaction, and GRDB runs them one at a time.
package final class AuditLog: Sendable {
    /// What happens when the log holds `capacity` entries and another one comes.
    package enum Policy: String, Codable, Sendable, CaseIterable {
        /// The oldest entry is removed to make room (and counted as overwritten).
        case circular
        /// The new entry is refused (and counted) until the log is exported.
        case limited
    }

    package struct Settings: Sendable, Codable, Hashable {
        /// The capacities an operator may choose.
        package static let capacityRange = 1...1_000_000

        package var capacity: Int
        package var policy: Policy

        package init(capacity: Int = 100_000, policy: Policy = .circular) {
            self.capacity = capacity
            self.policy = policy
        }
    }

    private let database: DatabasePool

    /// The log kept in `database`, whose schema `GatewayStore`'s migrator created.
    init(database: DatabasePool) {
        self.database = database
    }

    // MARK: Settings

    package func settings() throws -> Settings {
        try database.read { db in
            let state = try AuditState.fetch(db)
            return Settings(capacity: state.capacity, policy: state.policy)
        }
    }

    /// Changes the capacity and policy. Lowering the capacity below the number of entries kept removes the oldest
    /// extra ones in circular mode (counted as overwritten); in limited mode they stay and the log is full until
    /// exported.
    /// - Throws: `AuditLogError.invalidSettings` when the capacity is out of `Settings.capacityRange`.
    package func update(_ settings: Settings) throws {
        guard Settings.capacityRange.contains(settings.capacity) else {
            throw AuditLogError.invalidSettings(
                reason: "capacity \(settings.capacity) is outside \(Settings.capacityRange.lowerBound)…"
                    + "\(Settings.capacityRange.upperBound)")
        }
        try database.write { db in
            var state = try AuditState.fetch(db)
            state.capacity = settings.capacity
            state.policy = settings.policy
            if settings.policy == .circular {
                let extra = try AuditSpan.fetch(db).count - settings.capacity
                if extra > 0 { try Self.removeOldest(extra, state: &state, db) }
            }
            try state.save(db)
        }
    }

    // MARK: Appending

    /// Records `event` as the next audit entry: its stream becomes `.audit` and its sequence the next one.
    /// - Throws: `AuditLogError.full` when the log is full and its policy is limited (the refusal is counted).
    @discardableResult
    package func append(_ event: SecurityEvent) throws -> AuditEntry {
        var event = event
        event.stream = .audit
        let outcome = try database.write { db -> AppendOutcome in
            var state = try AuditState.fetch(db)
            let span = try AuditSpan.fetch(db)
            if span.count >= state.capacity {
                switch state.policy {
                case .limited:
                    // Returned rather than thrown, so that the transaction commits the refusal count.
                    state.refused += 1
                    try state.save(db)
                    return .refused(capacity: state.capacity)
                case .circular:
                    try Self.removeOldest(span.count - state.capacity + 1, state: &state, db)
                }
            }
            // When the oldest were just removed, the newest kept one is unchanged, or, if none is left, the anchor
            // took the hash of the last removed one, which was the newest: either way this is the link to name.
            let previousHash = span.newestHash ?? state.anchor
            // The written counter is the last sequence given; the newest kept one is checked too, so that a sequence
            // is never given twice even if the counter were behind.
            event.sequence = UInt64(max(state.written, span.newest ?? 0) + 1)
            let entry = AuditChain.entry(for: event, previousHash: previousHash)
            try AuditRow.insert(entry, db)
            state.written = Int(event.sequence)
            try state.save(db)
            return .appended(entry)
        }
        switch outcome {
        case .appended(let entry): return entry
        case .refused(let capacity): throw AuditLogError.full(capacity: capacity)
        }
    }

    private enum AppendOutcome {
        case appended(AuditEntry)
        case refused(capacity: Int)
    }

    /// Removes the `count` oldest entries and moves the anchor to the hash the next one names.
    private static func removeOldest(_ count: Int, state: inout AuditState, _ db: Database) throws {
        guard count > 0 else { return }
        let last = try Row.fetchOne(
            db, sql: "SELECT sequence, hash FROM audit ORDER BY sequence LIMIT 1 OFFSET ?", arguments: [count - 1])
        guard let last else { return }
        let sequence: Int64 = last["sequence"]
        try db.execute(sql: "DELETE FROM audit WHERE sequence <= ?", arguments: [sequence])
        state.overwritten += db.changesCount
        state.anchor = String.fromDatabaseValue(last["hash"]) ?? ""
    }

    // MARK: State

    /// Whether the log holds `capacity` entries or more: the next append overwrites the oldest (circular) or is
    /// refused (limited). False when the database cannot be read (appending then fails with the reason).
    package var isFull: Bool {
        let full = try? database.read { db in try AuditSpan.fetch(db).count >= AuditState.fetch(db).capacity }
        return full ?? false
    }

    /// Full under the limited policy: every further append is refused until an export (or a settings change).
    package var refusesAppends: Bool {
        let refuses = try? database.read { db in
            let state = try AuditState.fetch(db)
            let count = try AuditSpan.fetch(db).count
            return state.policy == .limited && count >= state.capacity
        }
        return refuses ?? false
    }

    package func totals() throws -> AuditTotals {
        try database.read { db in
            let state = try AuditState.fetch(db)
            var perSeverity = Dictionary(uniqueKeysWithValues: Severity.allCases.map { ($0, 0) })
            var count = 0
            for row in try Row.fetchAll(db, sql: "SELECT severity, COUNT(*) AS n FROM audit GROUP BY severity") {
                let n: Int = row["n"]
                count += n
                if let severity = String.fromDatabaseValue(row["severity"]).flatMap(Severity.init(rawValue:)) {
                    perSeverity[severity] = n
                }
            }
            let times = try Row.fetchOne(
                db, sql: "SELECT (SELECT MIN(time) FROM audit) AS oldest, (SELECT MAX(time) FROM audit) AS newest")
            func date(_ column: String) -> Date? {
                (times.flatMap { Int64.fromDatabaseValue($0[column]) }).map(AuditRow.date(milliseconds:))
            }
            return AuditTotals(
                count: count, capacity: state.capacity, policy: state.policy, perSeverity: perSeverity,
                oldest: date("oldest"), newest: date("newest"), written: state.written,
                overwritten: state.overwritten, refused: state.refused)
        }
    }

    // MARK: Reading

    /// The entries matching `query`, in its order and page, with how many match in all.
    /// - Throws: `AuditLogError.unreadable` when a stored row of the page does not decode.
    package func entries(_ query: AuditQuery) throws -> (entries: [AuditEntry], total: Int) {
        let filter = query.filter
        let order = query.order.sql
        return try database.read { db in
            let total =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit \(filter.sql)", arguments: filter.arguments) ?? 0
            var arguments = filter.arguments
            arguments += order.arguments
            arguments += [query.limit.map { max($0, 0) } ?? -1, max(query.offset, 0)]
            let rows = try Row.fetchCursor(
                db, sql: "SELECT * FROM audit \(filter.sql) ORDER BY \(order.sql) LIMIT ? OFFSET ?",
                arguments: arguments)
            var entries: [AuditEntry] = []
            while let row = try rows.next() { entries.append(try AuditRow.decode(row).get()) }
            return (entries, total)
        }
    }

    // MARK: Export

    /// Hands every entry (oldest first) to `render` and removes them, in one write transaction: entries appended
    /// meanwhile wait for it and stay. The anchor moves to the last exported entry's hash, so the entries after it
    /// still verify. When `render` throws, nothing is removed.
    /// - Throws: what `render` throws, or `AuditLogError.unreadable` when a stored row does not decode (nothing is
    ///   removed then either).
    package func export<Output>(_ render: ([AuditEntry]) throws -> Output) throws -> (output: Output, exported: Int) {
        try database.write { db in
            var entries: [AuditEntry] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY sequence")
            while let row = try rows.next() { entries.append(try AuditRow.decode(row).get()) }
            let output = try render(entries)
            if let last = entries.last {
                try db.execute(sql: "DELETE FROM audit WHERE sequence <= ?", arguments: [Int64(last.sequence)])
                var state = try AuditState.fetch(db)
                state.anchor = last.hash
                try state.save(db)
            }
            return (output, entries.count)
        }
    }

    // MARK: Verification

    /// Checks the whole chain, oldest first from the anchor, reading the rows one at a time. A row that does not
    /// decode is reported as the first broken entry. Beyond the links, the newest entry must be the last one written:
    /// removing entries from the end leaves every link intact, but not the written counter.
    package func verify() throws -> AuditChain.Verification {
        try database.read { db in
            let state = try AuditState.fetch(db)
            let stream = AuditRowStream(try Row.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY sequence"))
            let verification = AuditChain.verify(stream, anchor: state.anchor)
            if let error = stream.readError { throw error }
            guard verification.intact else { return verification }
            var broken = verification
            if let unreadable = stream.unreadable, case .unreadable(let sequence, _) = unreadable {
                broken.checked += 1
                broken.firstBroken = sequence
                broken.reason = unreadable.description
                return broken
            }
            if let newest = stream.lastSequence, newest < UInt64(clamping: state.written) {
                broken.firstBroken = newest + 1
                broken.reason =
                    "entries \(newest + 1)…\(state.written) were written but are missing from the end of the log"
                return broken
            }
            return verification
        }
    }
}

/// The `audit_state` row: the anchor, the settings and the counters.
private struct AuditState {
    var anchor: String
    var capacity: Int
    var policy: AuditLog.Policy
    var written: Int
    var overwritten: Int
    var refused: Int

    static func fetch(_ db: Database) throws -> AuditState {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM audit_state WHERE id = 1") else {
            throw AuditLogError.stateUnreadable(reason: "the row is missing")
        }
        func value<Value: DatabaseValueConvertible>(_ column: String) throws -> Value {
            guard let value = Value.fromDatabaseValue(row[column]) else {
                throw AuditLogError.stateUnreadable(reason: "\(column) is \(row[column] as DatabaseValue)")
            }
            return value
        }
        let policy: String = try value("policy")
        guard let known = AuditLog.Policy(rawValue: policy) else {
            throw AuditLogError.stateUnreadable(reason: "policy \(policy) is unknown")
        }
        return AuditState(
            anchor: try value("anchor"), capacity: try value("capacity"), policy: known, written: try value("written"),
            overwritten: try value("overwritten"), refused: try value("refused"))
    }

    func save(_ db: Database) throws {
        try db.execute(
            sql: """
                UPDATE audit_state SET anchor = ?, capacity = ?, policy = ?, written = ?, overwritten = ?, refused = ?
                WHERE id = 1
                """,
            arguments: [anchor, capacity, policy.rawValue, written, overwritten, refused])
    }
}

/// The oldest and newest kept sequences, read from the primary key without counting the rows.
private struct AuditSpan {
    var oldest: Int?
    var newest: Int?
    var newestHash: String?

    /// How many entries are kept (their sequences are consecutive).
    var count: Int {
        guard let oldest, let newest else { return 0 }
        return newest - oldest + 1
    }

    static func fetch(_ db: Database) throws -> AuditSpan {
        let newest = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1")
        let oldest = try Int.fetchOne(db, sql: "SELECT sequence FROM audit ORDER BY sequence LIMIT 1")
        return AuditSpan(
            oldest: oldest, newest: newest.map { $0["sequence"] },
            newestHash: newest.flatMap { String.fromDatabaseValue($0["hash"]) })
    }
}
