import Foundation

/// Events as RFC 5424 syslog messages (§6):
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [origin …][meta sequenceId="N"][rampart@PEN …] MSG`,
/// without a line end and without a byte order mark.
///
/// - PRI: facility 13 (log audit) for audit records, 4 (security/authorization) for network events, times 8, plus the
///   severity's syslog level.
/// - HOSTNAME, APP-NAME, PROCID and MSGID (the event type) hold printable ASCII only: every other character becomes
///   `_`, they are cut to 255, 48, 128 and 32 characters, and an empty one is written as `-` (NILVALUE).
/// - The `rampart@PEN` element carries `stream`, `seq` (the event's sequence), `entity`, `type` and `severity`, then
///   one parameter per event field, named after the field (see `parameterName(_:)`).
/// - MSG is the title with control characters made visible (`.text`), or the event's CEF line (`.cef`).
package struct SyslogFormatter: Sendable {
    /// What goes into MSG.
    package enum Payload: Sendable, Hashable {
        /// The event's title, for people reading the log.
        case text
        /// The event's CEF line, for systems that parse CEF from syslog.
        case cef(CEFFormatter)
    }

    private let hostname: String
    private let appName: String
    private let processID: String
    /// The `origin` element, the same in every message.
    private let origin: String
    private let privateID: String

    /// - Parameters:
    ///   - hostname: the gateway's name (its FQDN or address is best, RFC 5424 §6.2.4).
    ///   - originAddresses: the gateway's addresses, written as `ip` parameters of the `origin` element.
    ///   - enterpriseNumber: the private enterprise number in the `rampart@…` element's SD-ID.
    package init(
        hostname: String, appName: String = "rampart", processID: String, softwareVersion: String,
        originAddresses: [String] = [], enterpriseNumber: Int = 32473
    ) {
        self.hostname = Self.headerField(hostname, maxLength: 255)
        self.appName = Self.headerField(appName, maxLength: 48)
        self.processID = Self.headerField(processID, maxLength: 128)
        // RFC 5424 §7.2.3: swVersion is at most 32 characters.
        let parameters =
            originAddresses.map { Self.parameter("ip", $0) }
            + [Self.parameter("software", "Rampart"), Self.parameter("swVersion", String(softwareVersion.prefix(32)))]
        self.origin = "[origin " + parameters.joined(separator: " ") + "]"
        self.privateID = "rampart@\(enterpriseNumber)"
    }

    /// The message for `event`.
    /// - Parameter sequenceID: the `meta` element's `sequenceId`, counted by the sender per transport and kept by it in
    ///   1…2147483647 (RFC 5424 §7.3.1).
    package func format(_ event: SecurityEvent, sequenceID: Int, payload: Payload = .text) -> String {
        let facility = event.stream == .audit ? 13 : 4
        var parameters = [
            ("stream", event.stream.rawValue), ("seq", String(event.sequence)), ("entity", event.entity),
            ("type", event.type), ("severity", event.severity.rawValue),
        ].map { Self.parameter($0.0, $0.1) }
        parameters += event.fields.map { Self.parameter(Self.parameterName($0.name), $0.value) }
        let header =
            "<\(facility * 8 + event.severity.syslogSeverity)>1 \(EventTime.rfc3339(event.time)) \(hostname) "
            + "\(appName) \(processID) \(Self.headerField(event.type, maxLength: 32))"
        let structuredData =
            origin + "[meta sequenceId=\"\(sequenceID)\"]" + "[\(privateID) " + parameters.joined(separator: " ") + "]"
        let message =
            switch payload {
            case .text: Self.visible(event.title)
            case .cef(let formatter): formatter.format(event)
            }
        // RFC 5424 §6: the space before MSG belongs to MSG and goes with it when it is empty.
        return header + " " + structuredData + (message.isEmpty ? "" : " " + message)
    }

    /// The names the private element's own parameters use; a field named like one of them is written as `f_<name>`.
    private static let fixedParameterNames: Set = ["stream", "seq", "entity", "type", "severity"]

    /// A field name as an SD-NAME (RFC 5424 §6.3.3): 1 to 32 printable ASCII characters other than `=`, `]` and `"`;
    /// each other character becomes `_`, longer names are cut, an empty one is `_`, and one that equals a fixed
    /// parameter's name gets the prefix `f_`.
    static func parameterName(_ name: String) -> String {
        var sanitized = ""
        for scalar in name.unicodeScalars.prefix(32) {
            let allowed = (33...126).contains(scalar.value) && scalar != "=" && scalar != "]" && scalar != "\""
            sanitized.unicodeScalars.append(allowed ? scalar : "_")
        }
        if sanitized.isEmpty { return "_" }
        return fixedParameterNames.contains(sanitized) ? "f_" + sanitized : sanitized
    }

    /// `name="value"` with `"`, `\` and `]` in the value escaped by a backslash (RFC 5424 §6.3.3); every other
    /// character, a control character too, is allowed in a PARAM-VALUE and kept, so the value reads back exactly.
    private static func parameter(_ name: String, _ value: String) -> String {
        let escaped = TextEscaping.escape(value) { scalar in
            scalar == "\"" || scalar == "\\" || scalar == "]" ? "\\" + String(scalar) : nil
        }
        return "\(name)=\"\(escaped)\""
    }

    /// A header field: printable ASCII (33–126) only, each other character replaced by `_`, at most `maxLength`
    /// characters, and `-` (NILVALUE) when empty.
    private static func headerField(_ text: String, maxLength: Int) -> String {
        var sanitized = ""
        for scalar in text.unicodeScalars.prefix(maxLength) {
            sanitized.unicodeScalars.append((33...126).contains(scalar.value) ? scalar : "_")
        }
        return sanitized.isEmpty ? "-" : sanitized
    }

    /// The title with its control characters made visible, so that it stays on one line in any receiver's file:
    /// `\` doubled, LF, CR and TAB as `\n`, `\r`, `\t`, other C0 characters and DEL as `\xHH`.
    private static func visible(_ text: String) -> String {
        TextEscaping.escape(text) { scalar in
            switch scalar {
            case "\\": "\\\\"
            case "\n": "\\n"
            case "\r": "\\r"
            case "\t": "\\t"
            case "\u{0}"..."\u{1F}", "\u{7F}":
                "\\x" + String(scalar.value, radix: 16, uppercase: true).paddedLeft(to: 2)
            default: nil
            }
        }
    }
}
