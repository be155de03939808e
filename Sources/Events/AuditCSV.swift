import Foundation

/// The audit log and network events as CSV (RFC 4180) for people to open in a spreadsheet: a header line, then one
/// line per record, every line ending in CRLF.
///
/// Cells are quoted when they hold `,`, `"`, CR or LF, with `"` doubled inside. Text that comes from events (entity,
/// type, title, user, source, fields) and starts with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`, so that a
/// spreadsheet shows it instead of running it as a formula: an attacker chooses user names and topics. This changes
/// those cells, so the CSV is not for checking the hash chain: that is verified on the gateway (`AuditChain.verify`),
/// and the JSON export keeps every value as it is.
package enum AuditCSV {
    /// The audit export's header line (without its CRLF).
    package static let header = "sequence,time,severity,entity,type,title,user,source,fields,previous_hash,hash"
    /// The network-event export's header line (without its CRLF).
    package static let networkHeader = "sequence,time,severity,entity,type,title,fields"

    /// The audit entries, with `user` and `source` from the first fields named `EventField.user` and
    /// `EventField.sourceAddress` and every other field in `fields` as `name=value` joined by `; `.
    package static func render(_ entries: [AuditEntry]) -> String {
        var text = header + "\r\n"
        for entry in entries {
            let event = entry.event
            let user = event.fields.firstIndex { $0.name == EventField.user }
            let source = event.fields.firstIndex { $0.name == EventField.sourceAddress }
            let others = event.fields.indices.filter { $0 != user && $0 != source }.map { event.fields[$0] }
            let cells =
                common(event) + [
                    .text(user.map { event.fields[$0].value } ?? ""),
                    .text(source.map { event.fields[$0].value } ?? ""), .text(joined(others)),
                    .generated(entry.previousHash), .generated(entry.hash),
                ]
            text += line(cells)
        }
        return text
    }

    /// Network events, with all their fields in `fields` as `name=value` joined by `; `.
    package static func render(_ events: [SecurityEvent]) -> String {
        var text = networkHeader + "\r\n"
        for event in events {
            text += line(common(event) + [.text(joined(event.fields))])
        }
        return text
    }

    /// A cell's content and where it comes from.
    private enum Cell {
        /// Written by the gateway itself (numbers, times, hashes, severities): only quoted.
        case generated(String)
        /// Taken from an event: guarded against formulas, then quoted.
        case text(String)
    }

    private static func common(_ event: SecurityEvent) -> [Cell] {
        [
            .generated(String(event.sequence)), .generated(EventTime.rfc3339(event.time)),
            .generated(event.severity.rawValue), .text(event.entity), .text(event.type), .text(event.title),
        ]
    }

    private static func joined(_ fields: [EventField]) -> String {
        fields.map { "\($0.name)=\($0.value)" }.joined(separator: "; ")
    }

    /// The characters a spreadsheet takes as the start of a formula.
    private static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    private static func line(_ cells: [Cell]) -> String {
        cells.map { cell in
            switch cell {
            case .generated(let value):
                quoted(value)
            case .text(let value):
                quoted(value.unicodeScalars.first.map(formulaStarts.contains) == true ? "'" + value : value)
            }
        }
        .joined(separator: ",") + "\r\n"
    }

    /// RFC 4180 §2: a field holding a comma, a double quote or a line end is enclosed in double quotes, and its
    /// double quotes are doubled.
    private static func quoted(_ value: String) -> String {
        let needsQuotes = value.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }
        guard needsQuotes else { return value }
        // By scalars, not characters: a quote followed by a combining mark is still a quote to a CSV reader.
        var quoted = "\""
        for scalar in value.unicodeScalars {
            if scalar == "\"" { quoted += "\"" }
            quoted.unicodeScalars.append(scalar)
        }
        return quoted + "\""
    }
}
