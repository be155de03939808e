import Events
import Foundation
import GRDB

/// How an audit entry is stored in a row of `audit`, and read back without trusting the row: the database file can
/// be edited by anyone who can write it, and what the hash chain is for is to tell, not to crash.
enum AuditRow {
    static func insert(_ entry: AuditEntry, _ db: Database) throws {
        let event = entry.event
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let fields = String(decoding: try encoder.encode(event.fields), as: UTF8.self)
        try db.execute(
            sql: """
                INSERT INTO audit (sequence, time, severity, entity, type, title, fields, previous_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Int64(entry.sequence), event.millisecondsSince1970, event.severity.rawValue, event.entity, event.type,
                event.title, fields, entry.previousHash, entry.hash,
            ])
    }

    /// The entry in `row` (all columns of `audit`), or why it cannot be one.
    static func decode(_ row: Row) -> Result<AuditEntry, AuditLogError> {
        let sequence = Int64.fromDatabaseValue(row["sequence"]).map { UInt64(clamping: $0) } ?? 0
        func failure(_ reason: String) -> Result<AuditEntry, AuditLogError> {
            .failure(.unreadable(sequence: sequence, reason: reason))
        }
        func text(_ column: String) -> String? { String.fromDatabaseValue(row[column]) }
        guard let milliseconds = Int64.fromDatabaseValue(row["time"]) else {
            return failure("time is \(row["time"] as DatabaseValue), not milliseconds")
        }
        guard let severityName = text("severity") else {
            return failure("severity is \(row["severity"] as DatabaseValue)")
        }
        guard let severity = Severity(rawValue: severityName) else {
            let known = Severity.allCases.map(\.rawValue).joined(separator: ", ")
            return failure("severity \(severityName) is not one of \(known)")
        }
        var columns: [String: String] = [:]
        for column in ["entity", "type", "title", "fields", "previous_hash", "hash"] {
            guard let value = text(column) else { return failure("\(column) is \(row[column] as DatabaseValue)") }
            columns[column] = value
        }
        let fields: [EventField]
        do {
            fields = try JSONDecoder().decode([EventField].self, from: Data((columns["fields"] ?? "").utf8))
        } catch {
            return failure("fields are not a JSON array of {name, value}: \(error)")
        }
        let event = SecurityEvent(
            stream: .audit, time: date(milliseconds: milliseconds), severity: severity,
            entity: columns["entity"] ?? "", type: columns["type"] ?? "", title: columns["title"] ?? "",
            fields: fields, sequence: sequence)
        return .success(
            AuditEntry(event: event, previousHash: columns["previous_hash"] ?? "", hash: columns["hash"] ?? ""))
    }

    /// The date stored as `milliseconds` since 1970 (the same `Date` an event holds after its milliseconds rounding,
    /// so a stored entry hashes as it did when it was written).
    static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

/// The rows of `audit` as a sequence of entries for `AuditChain.verify`, read one at a time from a cursor so that a
/// million entries are never in memory together. It ends at the first row that does not decode (kept in
/// `unreadable`) or at a database error (kept in `readError`, for the caller to throw).
final class AuditRowStream: Sequence, IteratorProtocol {
    private let rows: RowCursor
    private(set) var unreadable: AuditLogError?
    private(set) var readError: (any Error)?
    /// The sequence of the last entry handed out.
    private(set) var lastSequence: UInt64?

    init(_ rows: RowCursor) {
        self.rows = rows
    }

    func next() -> AuditEntry? {
        guard unreadable == nil, readError == nil else { return nil }
        do {
            guard let row = try rows.next() else { return nil }
            switch AuditRow.decode(row) {
            case .success(let entry):
                lastSequence = entry.sequence
                return entry
            case .failure(let error):
                unreadable = error
                return nil
            }
        } catch {
            readError = error
            return nil
        }
    }
}
