import Foundation
import RampartModel

/// Events as Common Event Format lines, for security information and event management systems that read CEF
/// (over syslog, see `SyslogFormatter.Payload.cef`):
/// `CEF:0|<vendor>|<product>|<version>|<event type>|<title>|<severity 0–10>|<extension>`.
///
/// The extension's keys always come in this order, each only when it has a value:
/// `rt` (milliseconds since 1970), `dvchost`, `cat` (the entity), `externalId` (the event's sequence),
/// `cs1Label=stream cs1` (`network` or `audit`), then from the event's fields: `src` (or `shost` when the source is
/// not an IP address), `suser`, `cs2Label=clientId cs2`, `cs3Label=rule cs3`, `cs4Label=topic cs4`, `act`, then
/// `cs5Label=fields cs5` with every other field as `name=value` joined by `; `, and last `msg` (the title).
/// A field name that occurs twice is mapped once, from its first occurrence; the others go into `cs5`.
package struct CEFFormatter: Sendable, Hashable {
    package var vendor: String
    package var product: String
    package var version: String
    /// The gateway's host name, written as `dvchost`.
    package var deviceHost: String

    package init(vendor: String = "Rampart", product: String = "Rampart Gateway", version: String, deviceHost: String) {
        self.vendor = vendor
        self.product = product
        self.version = version
        self.deviceHost = deviceHost
    }

    /// The CEF line of `event`, without a line end.
    package func format(_ event: SecurityEvent) -> String {
        let header = [vendor, product, version, event.type, event.title].map(Self.escapedHeader)
        return "CEF:0|" + header.joined(separator: "|") + "|\(event.severity.cefSeverity)|"
            + Self.extension(of: event, deviceHost: deviceHost)
    }

    /// Fields with CEF keys of their own, in the order their keys are written.
    private static let mappedFields = [
        EventField.sourceAddress, EventField.user, EventField.clientID, EventField.rule, EventField.topic,
        EventField.action,
    ]

    /// The `(key, value)` pairs a field in `mappedFields` becomes.
    private static func keyedPairs(mapping name: String, value: String) -> [(String, String)] {
        switch name {
        case EventField.sourceAddress: [(isIPAddress(value) ? "src" : "shost", value)]
        case EventField.user: [("suser", value)]
        case EventField.clientID: [("cs2Label", "clientId"), ("cs2", value)]
        case EventField.rule: [("cs3Label", "rule"), ("cs3", value)]
        case EventField.topic: [("cs4Label", "topic"), ("cs4", value)]
        case EventField.action: [("act", value)]
        default: []
        }
    }

    private static func `extension`(of event: SecurityEvent, deviceHost: String) -> String {
        var pairs: [(String, String)] = [
            ("rt", String(event.millisecondsSince1970)), ("dvchost", deviceHost), ("cat", event.entity),
            ("externalId", String(event.sequence)), ("cs1Label", "stream"), ("cs1", event.stream.rawValue),
        ]
        var mapped: [String: String] = [:]
        var others: [EventField] = []
        for field in event.fields {
            if mappedFields.contains(field.name), mapped[field.name] == nil {
                mapped[field.name] = field.value
            } else {
                others.append(field)
            }
        }
        for name in mappedFields {
            if let value = mapped[name] { pairs += keyedPairs(mapping: name, value: value) }
        }
        if !others.isEmpty {
            pairs += [("cs5Label", "fields"), ("cs5", others.map { "\($0.name)=\($0.value)" }.joined(separator: "; "))]
        }
        pairs.append(("msg", event.title))
        return pairs.map { "\($0.0)=\(escapedValue($0.1))" }.joined(separator: " ")
    }

    /// Header fields: `\` and `|` escaped with a backslash; each CR and LF becomes a space, since a header field
    /// cannot hold a line end.
    private static func escapedHeader(_ text: String) -> String {
        TextEscaping.escape(text) { scalar in
            switch scalar {
            case "\\": "\\\\"
            case "|": "\\|"
            case "\r", "\n": " "
            default: nil
            }
        }
    }

    /// Extension values: `\` and `=` escaped with a backslash, CR and LF as `\r` and `\n`; pipes stay as they are,
    /// as the CEF specification says.
    private static func escapedValue(_ text: String) -> String {
        TextEscaping.escape(text) { scalar in
            switch scalar {
            case "\\": "\\\\"
            case "=": "\\="
            case "\r": "\\r"
            case "\n": "\\n"
            default: nil
            }
        }
    }

    /// Whether `text` is an IPv4 address (strict dotted quad) or IPv6 text (RFC 4291 §2.2, without a zone), which
    /// is what CEF's `src` holds; host names and anything else go into `shost`.
    static func isIPAddress(_ text: String) -> Bool {
        guard text.contains(":") else { return IPv4Address(text) != nil }
        let halves = text.components(separatedBy: "::")
        switch halves.count {
        case 1:
            return groupCount(halves[0], ipv4Tail: true) == 8
        case 2:
            guard let head = groupCount(halves[0], ipv4Tail: false), let tail = groupCount(halves[1], ipv4Tail: true)
            else { return false }
            return head + tail <= 7
        default:
            return false
        }
    }

    /// How many 16-bit groups colon-separated hex text stands for (a dotted quad at the end stands for two), nil when
    /// it is not such text.
    private static func groupCount(_ text: String, ipv4Tail: Bool) -> Int? {
        guard !text.isEmpty else { return 0 }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var count = 0
        for (index, part) in parts.enumerated() {
            if ipv4Tail, index == parts.count - 1, IPv4Address(String(part)) != nil {
                count += 2
            } else if (1...4).contains(part.utf8.count), part.utf8.allSatisfy(isHexDigit) {
                count += 1
            } else {
                return nil
            }
        }
        return count
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x46, 0x61...0x66: true
        default: false
        }
    }
}
