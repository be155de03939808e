import Foundation
import Testing

@testable import Events

@Suite struct SyslogMessageTests {
    private let plain = SyslogFormatter(
        hostname: "gw1.example.net", processID: "4242", softwareVersion: "1.2.3",
        originAddresses: ["192.0.2.1", "2001:db8::1"])
    private let hostileHost = SyslogFormatter(
        hostname: "gw 1.ex\u{E4}mple", processID: "4242", softwareVersion: "1.2.3")

    private static let hostileMessage =
        #"<34>1 2026-01-02T03:04:05.006Z gw_1.ex_mple rampart 4242 - [origin software="Rampart" swVersion="1.2.3"]"#
        + #"[meta sequenceId="2147483647"][rampart@32473 stream="network" seq="7" entity="MQTT broker" type="" "#
        + #"severity="critical" src="198.51.100.1|x" user="-@\"o\"\]\\" my_field_x="a,b\#nc\#rd\#te\#0f" "#
        + #"abcdefghijklmnopqrstuvwxyz012345="\#u{1F525}=|\]" note="f\#u{FFFD}\#u{FFFD}o" f_type="+1"]"#

    @Test func aLoginFailure() {
        #expect(
            plain.format(FormatFixtures.login, sequenceID: 1)
                == #"<108>1 2026-11-21T09:30:00.123Z gw1.example.net rampart 4242 LoginError "#
                + #"[origin ip="192.0.2.1" ip="2001:db8::1" software="Rampart" swVersion="1.2.3"][meta sequenceId="1"]"#
                + #"[rampart@32473 stream="audit" seq="42" entity="Web server" type="LoginError" severity="warning" "#
                + #"src="192.0.2.7" user="admin"] Log-in failed for admin"#)
    }

    /// Facility 4 (security/authorization) for network events, 13 (log audit) for audit records.
    @Test func theFacilityFollowsTheStream() {
        var event = FormatFixtures.login
        event.stream = .network
        #expect(plain.format(event, sequenceID: 1).hasPrefix("<36>1 "))
        event.severity = .informational
        #expect(plain.format(event, sequenceID: 1).hasPrefix("<38>1 "))
        event.stream = .audit
        event.severity = .critical
        #expect(plain.format(event, sequenceID: 1).hasPrefix("<106>1 "))
    }

    @Test func aHostileEvent() {
        #expect(
            hostileHost.format(FormatFixtures.hostile, sequenceID: 2_147_483_647)
                == Self.hostileMessage + #" ="q"]\\|a=b,c\nd\re\tf\x00g\x7Fh\#u{1F525}"#)
    }

    @Test func aCEFPayload() {
        let cef = CEFFormatter(version: "1.2.3", deviceHost: "gw 1.ex\u{E4}mple")
        #expect(
            hostileHost.format(FormatFixtures.hostile, sequenceID: 2_147_483_647, payload: .cef(cef))
                == Self.hostileMessage + " " + CEFTests.hostileLine)
    }

    /// The private element's values read back exactly with an RFC 5424 §6.3.3 unescaper.
    @Test func structuredDataReadsBack() throws {
        let event = FormatFixtures.hostile
        let message = hostileHost.format(event, sequenceID: 5)
        let elements = try Self.structuredData(of: message)
        #expect(elements.map(\.id) == ["origin", "meta", "rampart@32473"])
        #expect(elements[1].parameters.map { $0.value } == ["5"])
        let expected =
            [
                ("stream", "network"), ("seq", "7"), ("entity", "MQTT broker"), ("type", ""),
                ("severity", "critical"), ("src", "198.51.100.1|x"), ("user", "-@\"o\"]\\"),
                ("my_field_x", "a,b\nc\rd\te\u{0}f"), ("abcdefghijklmnopqrstuvwxyz012345", "\u{1F525}=|]"),
                ("note", "f\u{FFFD}\u{FFFD}o"), ("f_type", "+1"),
            ]
        #expect(elements[2].parameters.map { $0.name } == expected.map { $0.0 })
        #expect(elements[2].parameters.map { $0.value } == expected.map { $0.1 })
        #expect(elements[2].parameters.map { $0.value }.dropFirst(5) == event.fields.map(\.value)[...])
    }

    @Test func headerFieldsAreSanitizedAndCut() {
        let formatter = SyslogFormatter(
            hostname: String(repeating: "h", count: 300), appName: String(repeating: "a", count: 60),
            processID: "", softwareVersion: String(repeating: "v", count: 40))
        var event = FormatFixtures.login
        event.type = "Type\u{1F525}" + String(repeating: "t", count: 40)
        let message = formatter.format(event, sequenceID: 1)
        let header = message.split(separator: " ", maxSplits: 6).map(String.init)
        #expect(header[2] == String(repeating: "h", count: 255))
        #expect(header[3] == String(repeating: "a", count: 48))
        #expect(header[4] == "-")
        #expect(header[5] == "Type_" + String(repeating: "t", count: 27))
        #expect(header[6].hasPrefix(#"[origin software="Rampart" swVersion="\#(String(repeating: "v", count: 32))"]"#))
    }

    @Test func fieldNamesBecomeSDNames() {
        #expect(SyslogFormatter.parameterName("") == "_")
        #expect(SyslogFormatter.parameterName("a b=c]d\"e\u{7F}f\u{E4}") == "a_b_c_d_e_f_")
        #expect(SyslogFormatter.parameterName("stream") == "f_stream")
        #expect(SyslogFormatter.parameterName("seq") == "f_seq")
        #expect(SyslogFormatter.parameterName("entity") == "f_entity")
        #expect(SyslogFormatter.parameterName("severity") == "f_severity")
        #expect(SyslogFormatter.parameterName("Stream") == "Stream")
        #expect(SyslogFormatter.parameterName(FormatFixtures.longName) == "abcdefghijklmnopqrstuvwxyz012345")
    }

    /// No space before an empty MSG (RFC 5424 §6: `STRUCTURED-DATA [SP MSG]`).
    @Test func anEmptyTitleLeavesOutMSG() {
        var event = FormatFixtures.login
        event.title = ""
        #expect(plain.format(event, sequenceID: 1).hasSuffix(#"user="admin"]"#))
    }

    // MARK: A small RFC 5424 structured-data reader

    struct Element {
        var id: String
        var parameters: [(name: String, value: String)]
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// The SD-ELEMENTs after the six header fields: `\"`, `\\` and `\]` in a value stand for the character, any other
    /// backslash for itself.
    static func structuredData(of message: String) throws -> [Element] {
        let scalars = Array(message.unicodeScalars)
        var index = 0
        for _ in 0..<6 {
            while index < scalars.count, scalars[index] != " " { index += 1 }
            index += 1
        }
        func read(until stop: Set<Unicode.Scalar>) -> String {
            var text = ""
            while index < scalars.count, !stop.contains(scalars[index]) {
                text.unicodeScalars.append(scalars[index])
                index += 1
            }
            return text
        }
        var elements: [Element] = []
        while index < scalars.count, scalars[index] == "[" {
            index += 1
            var element = Element(id: read(until: [" ", "]"]), parameters: [])
            while index < scalars.count, scalars[index] == " " {
                index += 1
                let name = read(until: ["="])
                guard index + 1 < scalars.count, scalars[index + 1] == "\"" else {
                    throw Malformed(description: "no '=\"' after \(name) at \(index)")
                }
                index += 2
                var value = ""
                while index < scalars.count, scalars[index] != "\"" {
                    if scalars[index] == "\\", index + 1 < scalars.count,
                        ["\"", "\\", "]"].contains(scalars[index + 1])
                    {
                        index += 1
                    }
                    value.unicodeScalars.append(scalars[index])
                    index += 1
                }
                guard index < scalars.count else { throw Malformed(description: "unterminated value of \(name)") }
                index += 1
                element.parameters.append((name, value))
            }
            guard index < scalars.count, scalars[index] == "]" else {
                throw Malformed(description: "element \(element.id) does not end with ']' at \(index)")
            }
            index += 1
            elements.append(element)
        }
        return elements
    }
}
