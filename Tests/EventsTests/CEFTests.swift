import Foundation
import Testing

@testable import Events

@Suite struct CEFTests {
    static let hostileLine =
        #"CEF:0|Rampart|Rampart Gateway|1.2.3||="q"]\\\|a=b,c d e\#tf\#0g\#u{7F}h\#u{1F525}|9|rt=1767323045006 "#
        + #"dvchost=gw 1.ex\#u{E4}mple cat=MQTT broker externalId=7 cs1Label=stream cs1=network "#
        + #"shost=198.51.100.1|x suser=-@"o"]\\ cs5Label=fields cs5=my field\=x\=a,b\nc\rd\#te\#0f; "#
        + #"abcdefghijklmnopqrstuvwxyz0123456789ABCD\=\#u{1F525}\=|]; note\=f\#u{FFFD}\#u{FFFD}o; type\=+1 "#
        + #"msg=\="q"]\\|a\=b,c\nd\re\#tf\#0g\#u{7F}h\#u{1F525}"#

    private let plain = CEFFormatter(version: "1.2.3", deviceHost: "gw1.example.net")
    private let hostile = CEFFormatter(version: "1.2.3", deviceHost: "gw 1.ex\u{E4}mple")

    @Test func aLoginFailure() {
        #expect(
            plain.format(FormatFixtures.login)
                == "CEF:0|Rampart|Rampart Gateway|1.2.3|LoginError|Log-in failed for admin|6|rt=1795253400123 "
                + "dvchost=gw1.example.net cat=Web server externalId=42 cs1Label=stream cs1=audit src=192.0.2.7 "
                + "suser=admin msg=Log-in failed for admin")
    }

    @Test func aHostileEvent() {
        #expect(hostile.format(FormatFixtures.hostile) == Self.hostileLine)
    }

    /// Read back, the header holds the title with its line ends as spaces, and the extension every value as it was.
    @Test func aHostileEventReadsBack() throws {
        let event = FormatFixtures.hostile
        let (header, pairs) = try Self.parse(hostile.format(event))
        let title = "=\"q\"]\\|a=b,c d e\tf\u{0}g\u{7F}h\u{1F525}"
        #expect(header == ["CEF:0", "Rampart", "Rampart Gateway", "1.2.3", "", title, "9"])
        #expect(
            pairs.map { $0.key } == [
                "rt", "dvchost", "cat", "externalId", "cs1Label", "cs1", "shost", "suser", "cs5Label", "cs5", "msg",
            ])
        let values = Dictionary(uniqueKeysWithValues: pairs.map { ($0.key, $0.value) })
        #expect(values["rt"] == "1767323045006")
        #expect(values["dvchost"] == "gw 1.ex\u{E4}mple")
        #expect(values["cat"] == event.entity)
        #expect(values["shost"] == event.field(EventField.sourceAddress))
        #expect(values["suser"] == event.field(EventField.user))
        #expect(values["cs5"] == event.fields[2...].map { "\($0.name)=\($0.value)" }.joined(separator: "; "))
        #expect(values["msg"] == event.title)
    }

    /// Mapped fields are written in a fixed order whatever their order in the event; a repeated one goes into `cs5`.
    @Test func mappedFieldsComeInAFixedOrder() {
        let event = SecurityEvent(
            stream: .network, time: Date(timeIntervalSince1970: 0), severity: .informational, entity: "e", type: "t",
            title: "x",
            fields: [
                EventField(EventField.action, "deny"), EventField(EventField.topic, "a/b"),
                EventField(EventField.user, "u1"), EventField(EventField.rule, "r7"),
                EventField(EventField.clientID, "c1"), EventField(EventField.user, "u2"),
                EventField(EventField.sourceAddress, "2001:db8::7"),
            ])
        #expect(
            plain.format(event)
                == "CEF:0|Rampart|Rampart Gateway|1.2.3|t|x|3|rt=0 dvchost=gw1.example.net cat=e externalId=0 "
                + "cs1Label=stream cs1=network src=2001:db8::7 suser=u1 cs2Label=clientId cs2=c1 cs3Label=rule cs3=r7 "
                + "cs4Label=topic cs4=a/b act=deny cs5Label=fields cs5=user\\=u2 msg=x")
    }

    @Test func headerFieldsOfTheFormatterAreEscaped() {
        let formatter = CEFFormatter(vendor: "A|B", product: "C\\D", version: "1\n2", deviceHost: "h")
        #expect(formatter.format(FormatFixtures.login).hasPrefix(#"CEF:0|A\|B|C\\D|1 2|LoginError|"#))
    }

    @Test func onlyIPAddressesAreSources() {
        for address in ["192.0.2.7", "2001:db8::1", "::", "::1", "1:2:3:4:5:6:7:8", "::ffff:192.0.2.1", "FE80::A"] {
            #expect(CEFFormatter.isIPAddress(address), "\(address)")
        }
        for text in [
            "", "gw.example.net", "192.0.2.7:1883", "010.0.0.1", "192.0.2", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::",
            "1:2:3:4:5:6:7::8", "fe80::1%eth0", "12345::1", "::192.0.2.1:1", "g::1", "1:2:3:4:5:6:7:8::",
        ] {
            #expect(!CEFFormatter.isIPAddress(text), "\(text)")
        }
    }

    // MARK: A small CEF reader

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// The seven header fields (unescaped) and the extension's key-value pairs (unescaped) of a CEF line.
    static func parse(_ line: String) throws -> (header: [String], pairs: [(key: String, value: String)]) {
        let scalars = Array(line.unicodeScalars)
        var header: [String] = []
        var field = ""
        var index = 0
        while header.count < 7 {
            guard index < scalars.count else { throw Malformed(description: "only \(header.count) header fields") }
            let scalar = scalars[index]
            if scalar == "\\", index + 1 < scalars.count {
                field.unicodeScalars.append(scalars[index + 1])
                index += 2
                continue
            }
            if scalar == "|" {
                header.append(field)
                field = ""
            } else {
                field.unicodeScalars.append(scalar)
            }
            index += 1
        }
        // In the extension every `=` of a value is escaped, so an unescaped one ends a key, which starts after the
        // last space before it; the value before that space belongs to the previous key.
        let rest = Array(scalars[index...])
        var equalSigns: [Int] = []
        var position = 0
        while position < rest.count {
            if rest[position] == "\\" {
                position += 2
                continue
            }
            if rest[position] == "=" { equalSigns.append(position) }
            position += 1
        }
        let keyStarts = equalSigns.map { sign in (rest[..<sign].lastIndex(of: " ") ?? -1) + 1 }
        var pairs: [(key: String, value: String)] = []
        for (number, sign) in equalSigns.enumerated() {
            let end = number + 1 < keyStarts.count ? keyStarts[number + 1] - 1 : rest.count
            guard sign < end else { throw Malformed(description: "empty value before key \(number + 1)") }
            var key = ""
            key.unicodeScalars.append(contentsOf: rest[keyStarts[number]..<sign])
            pairs.append((key, unescaped(rest[(sign + 1)..<end])))
        }
        return (header, pairs)
    }

    private static func unescaped(_ value: ArraySlice<Unicode.Scalar>) -> String {
        var text = ""
        var index = value.startIndex
        while index < value.endIndex {
            if value[index] == "\\", index + 1 < value.endIndex {
                switch value[index + 1] {
                case "n": text += "\n"
                case "r": text += "\r"
                default: text.unicodeScalars.append(value[index + 1])
                }
                index += 2
            } else {
                text.unicodeScalars.append(value[index])
                index += 1
            }
        }
        return text
    }
}
