import Events
import Foundation
import GRDB

/// Which audit entries to list, in which order, and which page of them.
package struct AuditQuery: Sendable, Hashable {
    package enum Order: String, Sendable, Codable, CaseIterable {
        case newestFirst
        case oldestFirst
        /// Most severe first, newest first within a severity.
        case severity
        /// By entity (A to Z, ignoring ASCII case), newest first within an entity.
        case entity
        /// By title (A to Z, ignoring ASCII case), newest first within a title.
        case title
    }

    /// The severities to list; empty lists all.
    package var severities: Set<Severity>
    /// Entries at or after this time.
    package var since: Date?
    /// Entries strictly before this time (so that consecutive windows do not overlap).
    package var until: Date?
    /// The entities to list (`EventEntity` names); empty lists all.
    package var entities: Set<String>
    package var order: Order
    /// How many matching entries to skip.
    package var offset: Int
    /// How many entries to list at most; nil lists all.
    package var limit: Int?

    package init(
        severities: Set<Severity> = [], since: Date? = nil, until: Date? = nil, entities: Set<String> = [],
        order: Order = .newestFirst, offset: Int = 0, limit: Int? = nil
    ) {
        self.severities = severities
        self.since = since
        self.until = until
        self.entities = entities
        self.order = order
        self.offset = offset
        self.limit = limit
    }

    /// The WHERE clause (empty when everything matches) and its arguments.
    var filter: (sql: String, arguments: StatementArguments) {
        var conditions: [String] = []
        var arguments = StatementArguments()
        if !severities.isEmpty {
            conditions.append("severity IN (\(Self.placeholders(severities.count)))")
            arguments += StatementArguments(severities.map(\.rawValue).sorted())
        }
        if let since {
            conditions.append("time >= ?")
            arguments += [Self.milliseconds(since)]
        }
        if let until {
            conditions.append("time < ?")
            arguments += [Self.milliseconds(until)]
        }
        if !entities.isEmpty {
            conditions.append("entity IN (\(Self.placeholders(entities.count)))")
            arguments += StatementArguments(entities.sorted())
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    /// A date as the stored milliseconds, rounded up: entries are whole milliseconds, so `time >= since` and
    /// `time < until` keep their meaning for a date between two of them.
    private static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.up))
    }

    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}

extension AuditQuery.Order {
    /// The ORDER BY terms and their arguments; sequence breaks ties, so that pages never overlap.
    var sql: (sql: String, arguments: StatementArguments) {
        switch self {
        case .newestFirst:
            return ("sequence DESC", [])
        case .oldestFirst:
            return ("sequence", [])
        case .severity:
            let ranked = Severity.allCases.sorted(by: >)
            let cases = ranked.indices.map { "WHEN ? THEN \($0)" }.joined(separator: " ")
            return (
                "CASE severity \(cases) ELSE \(ranked.count) END, sequence DESC",
                StatementArguments(ranked.map(\.rawValue))
            )
        case .entity:
            return ("entity COLLATE NOCASE, sequence DESC", [])
        case .title:
            return ("title COLLATE NOCASE, sequence DESC", [])
        }
    }
}

/// The audit log in figures, for the dashboard and the API.
package struct AuditTotals: Sendable, Hashable {
    /// Entries kept.
    package var count: Int
    package var capacity: Int
    package var policy: AuditLog.Policy
    /// Entries kept per severity (every severity present, 0 when none).
    package var perSeverity: [Severity: Int]
    /// The earliest and latest time among the entries kept; nil when the log is empty.
    package var oldest: Date?
    package var newest: Date?
    /// Entries ever written (the last sequence given).
    package var written: Int
    /// Entries removed by the circular policy without being exported (to make room, or on lowering the capacity).
    package var overwritten: Int
    /// Entries refused because the log was full under the limited policy.
    package var refused: Int

    package var isFull: Bool { count >= capacity }
}

/// What can go wrong with the audit log, each naming what and where.
package enum AuditLogError: Error, Equatable, CustomStringConvertible {
    /// The log holds `capacity` entries and its policy is limited: nothing more is recorded until it is exported.
    case full(capacity: Int)
    /// Settings out of their range.
    case invalidSettings(reason: String)
    /// A stored entry does not decode (its row was edited outside the gateway).
    case unreadable(sequence: UInt64, reason: String)
    /// The `audit_state` row is missing or does not decode.
    case stateUnreadable(reason: String)

    package var description: String {
        switch self {
        case .full(let capacity):
            "the audit log is full (\(capacity) entries) and its policy is limited: export (download) the audit log "
                + "to make room for new entries, or raise its capacity or switch it to the circular policy"
        case .invalidSettings(let reason):
            "invalid audit log settings: \(reason)"
        case .unreadable(let sequence, let reason):
            "audit entry \(sequence) in the store cannot be read: \(reason)"
        case .stateUnreadable(let reason):
            "the audit log's state (table audit_state) cannot be read: \(reason)"
        }
    }
}
