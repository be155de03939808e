import Foundation
import Testing

@testable import Events

/// The two events every format's golden tests render.
enum FormatFixtures {
    /// A failed log-in to the management UI: 2026-11-21T09:30:00.123Z.
    static let login = SecurityEvent(
        stream: .audit, time: Date(timeIntervalSince1970: Double(1_795_253_400_123) / 1000), severity: .warning,
        entity: EventEntity.webServer, type: "LoginError", title: "Log-in failed for admin",
        fields: [EventField(EventField.sourceAddress, "192.0.2.7"), EventField(EventField.user, "admin")],
        sequence: 42)

    /// Forty characters, more than an SD-NAME may have.
    static let longName = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"

    /// Everything each format must escape, at 2026-01-02T03:04:05.006Z, with an empty type.
    static let hostile = SecurityEvent(
        stream: .network, time: Date(timeIntervalSince1970: Double(1_767_323_045_006) / 1000), severity: .critical,
        entity: EventEntity.broker, type: "", title: "=\"q\"]\\|a=b,c\nd\re\tf\u{0}g\u{7F}h\u{1F525}",
        fields: [
            EventField(EventField.sourceAddress, "198.51.100.1|x"),
            EventField(EventField.user, "-@\"o\"]\\"),
            EventField("my field=x", "a,b\nc\rd\te\u{0}f"),
            EventField(longName, "\u{1F525}=|]"),
            // Invalid UTF-8 decodes to U+FFFD, one per bad byte.
            EventField("note", String(decoding: [0x66, 0xFF, 0xFE, 0x6F], as: UTF8.self)),
            EventField("type", "+1"),
        ],
        sequence: 7)

    static func entry(_ event: SecurityEvent) -> AuditEntry {
        AuditEntry(event: event, previousHash: "ab12", hash: "cd34")
    }
}

@Suite struct EventJSONTests {
    private func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    @Test func aLoginFailure() {
        #expect(
            text(EventJSON.encode(FormatFixtures.login))
                == #"{"entity":"Web server","fields":{"src":"192.0.2.7","user":"admin"},"sequence":42,"#
                + #""severity":"warning","stream":"audit","time":"2026-11-21T09:30:00.123Z","#
                + #""title":"Log-in failed for admin","type":"LoginError"}"#)
    }

    @Test func anAuditEntryAddsItsHashes() {
        #expect(
            text(EventJSON.encode(FormatFixtures.entry(FormatFixtures.login)))
                == #"{"entity":"Web server","fields":{"src":"192.0.2.7","user":"admin"},"hash":"cd34","#
                + #""previousHash":"ab12","sequence":42,"severity":"warning","stream":"audit","#
                + #""time":"2026-11-21T09:30:00.123Z","title":"Log-in failed for admin","type":"LoginError"}"#)
    }

    @Test func aHostileEvent() {
        #expect(
            text(EventJSON.encode(FormatFixtures.hostile))
                == #"{"entity":"MQTT broker","fields":{"abcdefghijklmnopqrstuvwxyz0123456789ABCD":"\#u{1F525}=|]","#
                + #""my field=x":"a,b\nc\rd\te\u0000f","note":"f\#u{FFFD}\#u{FFFD}o","src":"198.51.100.1|x","#
                + #""type":"+1","user":"-@\"o\"]\\"},"sequence":7,"severity":"critical","stream":"network","#
                + #""time":"2026-01-02T03:04:05.006Z","title":"=\"q\"]\\|a=b,c\nd\re\tf\u0000g\#u{7F}h\#u{1F525}","#
                + #""type":""}"#)
    }

    @Test func aHostileEntryReadsBack() throws {
        let entry = FormatFixtures.entry(FormatFixtures.hostile)
        let object = try #require(
            try JSONSerialization.jsonObject(with: EventJSON.encode(entry)) as? [String: Any])
        let event = entry.event
        #expect(object["title"] as? String == event.title)
        #expect(object["type"] as? String == "")
        #expect(object["entity"] as? String == event.entity)
        #expect((object["sequence"] as? NSNumber)?.uint64Value == 7)
        #expect(object["hash"] as? String == "cd34")
        #expect(object["previousHash"] as? String == "ab12")
        let fields = try #require(object["fields"] as? [String: String])
        #expect(fields == Dictionary(uniqueKeysWithValues: event.fields.map { ($0.name, $0.value) }))
    }

    @Test func slashesAreNotEscaped() {
        let event = SecurityEvent(
            stream: .network, severity: .informational, entity: "e", type: "t", title: "a/b",
            fields: [EventField(EventField.topic, "sensors/+/temperature")])
        let json = text(EventJSON.encode(event))
        #expect(json.contains(#""topic":"sensors/+/temperature""#))
        #expect(json.contains(#""title":"a/b""#))
    }

    /// Two fields of the same name: the object keeps the first, as `SecurityEvent.field(_:)` reads it.
    @Test func aRepeatedFieldNameKeepsTheFirstValue() {
        let event = SecurityEvent(
            stream: .network, severity: .informational, entity: "e", type: "t", title: "x",
            fields: [EventField("user", "first"), EventField("user", "second")])
        #expect(text(EventJSON.encode(event)).contains(#""fields":{"user":"first"}"#))
    }
}

@Suite struct EventTimeTests {
    private func time(_ milliseconds: Int64) -> String {
        EventTime.rfc3339(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    @Test func calendarEdges() {
        #expect(time(0) == "1970-01-01T00:00:00.000Z")
        #expect(time(-1) == "1969-12-31T23:59:59.999Z")
        #expect(time(1_709_251_199_999) == "2024-02-29T23:59:59.999Z")
        #expect(time(951_868_800_000) == "2000-03-01T00:00:00.000Z")
        // 1900 was not a leap year: the second after 28 February is 1 March.
        #expect(time(-2_203_891_201_000) == "1900-02-28T23:59:59.000Z")
        #expect(time(-2_203_891_200_000) == "1900-03-01T00:00:00.000Z")
        // Proleptic Gregorian, as RFC 3339 says, where Foundation's Gregorian calendar would give a Julian date.
        #expect(time(-12_220_200_000_000) == "1582-10-04T12:00:00.000Z")
        #expect(time(1_767_323_045_006) == "2026-01-02T03:04:05.006Z")
    }

    @Test func roundsToTheMillisecond() {
        #expect(EventTime.rfc3339(Date(timeIntervalSince1970: 0.000_4)) == "1970-01-01T00:00:00.000Z")
        #expect(EventTime.rfc3339(Date(timeIntervalSince1970: 59.999_6)) == "1970-01-01T00:01:00.000Z")
    }

    /// RFC 3339 years have four digits: times outside are written as the nearest end.
    @Test func clampsToFourDigitYears() {
        #expect(time(-62_135_596_800_000) == "0001-01-01T00:00:00.000Z")
        #expect(EventTime.rfc3339(.distantPast) == "0001-01-01T00:00:00.000Z")
        #expect(time(253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        #expect(EventTime.rfc3339(Date(timeIntervalSince1970: 1e13)) == "9999-12-31T23:59:59.999Z")
        #expect(EventTime.rfc3339(Date(timeIntervalSince1970: .infinity)) == "9999-12-31T23:59:59.999Z")
    }
}
