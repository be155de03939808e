import Foundation
import Testing

@testable import Events

@Suite struct AuditCSVTests {
    private static let loginAudit =
        "42,2026-11-21T09:30:00.123Z,warning,Web server,LoginError,Log-in failed for admin,admin,192.0.2.7,,"
        + "ab12,cd34\r\n"
    private static let hostileTitle = #""'=""q""]\|a=b,c\#nd\#re\#tf\#0g\#u{7F}h\#u{1F525}""#
    private static let hostileOthers =
        #"my field=x=a,b\#nc\#rd\#te\#0f; abcdefghijklmnopqrstuvwxyz0123456789ABCD=\#u{1F525}=|]; "#
        + "note=f\u{FFFD}\u{FFFD}o; type=+1"

    @Test func auditEntries() {
        let csv = AuditCSV.render([
            FormatFixtures.entry(FormatFixtures.login), FormatFixtures.entry(FormatFixtures.hostile),
        ])
        #expect(
            csv
                == "sequence,time,severity,entity,type,title,user,source,fields,previous_hash,hash\r\n"
                + Self.loginAudit
                + "7,2026-01-02T03:04:05.006Z,critical,MQTT broker,," + Self.hostileTitle + #","'-@""o""]\","#
                + #"198.51.100.1|x,""# + Self.hostileOthers + "\",ab12,cd34\r\n")
    }

    @Test func networkEvents() {
        var login = FormatFixtures.login
        login.stream = .network
        let csv = AuditCSV.render([login, FormatFixtures.hostile])
        #expect(
            csv
                == "sequence,time,severity,entity,type,title,fields\r\n"
                + "42,2026-11-21T09:30:00.123Z,warning,Web server,LoginError,Log-in failed for admin,"
                + "src=192.0.2.7; user=admin\r\n"
                + "7,2026-01-02T03:04:05.006Z,critical,MQTT broker,," + Self.hostileTitle + ","
                + #""src=198.51.100.1|x; user=-@""o""]\; "# + Self.hostileOthers + "\"\r\n")
    }

    @Test func anEmptyExportIsTheHeader() {
        #expect(AuditCSV.render([AuditEntry]()) == AuditCSV.header + "\r\n")
        #expect(AuditCSV.render([SecurityEvent]()) == AuditCSV.networkHeader + "\r\n")
    }

    /// An RFC 4180 reader gets every value back, with `'` before those that would start a formula.
    @Test func valuesReadBack() throws {
        let event = FormatFixtures.hostile
        let records = try Self.records(AuditCSV.render([FormatFixtures.entry(event)]))
        #expect(records.count == 2)
        #expect(records.first == AuditCSV.header.split(separator: ",").map(String.init))
        let others = event.fields[2...].map { "\($0.name)=\($0.value)" }.joined(separator: "; ")
        #expect(
            records.last == [
                "7", "2026-01-02T03:04:05.006Z", "critical", event.entity, "", "'" + event.title,
                "'" + (event.field(EventField.user) ?? ""), event.field(EventField.sourceAddress) ?? "", others,
                "ab12", "cd34",
            ])

        let network = try Self.records(AuditCSV.render([event]))
        let all = event.fields.map { "\($0.name)=\($0.value)" }.joined(separator: "; ")
        #expect(
            network.last == ["7", "2026-01-02T03:04:05.006Z", "critical", event.entity, "", "'" + event.title, all])
    }

    @Test func formulaStartsAreDefused() throws {
        for start in ["=", "+", "-", "@", "\t", "\r"] {
            var event = FormatFixtures.login
            event.entity = start + "1+1"
            let record = try #require(try Self.records(AuditCSV.render([event])).last)
            #expect(record[3] == "'" + start + "1+1", "\(start.unicodeScalars.map(\.value))")
        }
        var event = FormatFixtures.login
        event.entity = "a=1"
        #expect(try Self.records(AuditCSV.render([event])).last?[3] == "a=1")
    }

    /// A second `user` field is not the user: it goes into `fields`.
    @Test func onlyTheFirstUserAndSourceHaveColumns() throws {
        var event = FormatFixtures.login
        event.fields += [EventField(EventField.user, "root"), EventField(EventField.rule, "r1")]
        let record = try #require(try Self.records(AuditCSV.render([FormatFixtures.entry(event)])).last)
        #expect(record[6...8] == ["admin", "192.0.2.7", "user=root; rule=r1"])
    }

    // MARK: A small RFC 4180 reader

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// The records of `text`, each line ended by CRLF; a quoted field may hold anything, `""` standing for `"`.
    static func records(_ text: String) throws -> [[String]] {
        let scalars = Array(text.unicodeScalars)
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var index = 0
        var quoted = false
        while index < scalars.count {
            let scalar = scalars[index]
            if quoted {
                if scalar == "\"" {
                    if index + 1 < scalars.count, scalars[index + 1] == "\"" {
                        field += "\""
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
            } else if scalar == "\"" {
                guard field.isEmpty else {
                    throw Malformed(description: "a quote inside an unquoted field at \(index)")
                }
                quoted = true
            } else if scalar == "," {
                record.append(field)
                field = ""
            } else if scalar == "\r" {
                guard index + 1 < scalars.count, scalars[index + 1] == "\n" else {
                    throw Malformed(description: "a CR without LF outside quotes at \(index)")
                }
                record.append(field)
                records.append(record)
                record = []
                field = ""
                index += 1
            } else if scalar == "\n" {
                throw Malformed(description: "a LF without CR outside quotes at \(index)")
            } else {
                field.unicodeScalars.append(scalar)
            }
            index += 1
        }
        guard !quoted, record.isEmpty, field.isEmpty else { throw Malformed(description: "the last line has no CRLF") }
        return records
    }
}
