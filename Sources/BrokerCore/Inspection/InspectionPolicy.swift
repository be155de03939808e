import MQTTCodec
import NIOCore

/// One message inspection rule as the broker runs it (SPEC BRK-5).
///
/// The broker's side of `InspectionRule` (BrokerConfig): BrokerCore does not depend on the configuration module,
/// so the application maps one to the other field by field, as it does for `BrokerConfiguration`.
package struct InspectionPolicy: Sendable, Hashable {
    package enum PayloadFormat: Sendable, Hashable {
        /// Well-formed UTF-8 (RFC 3629, Unicode table 3-7).
        case utf8
        /// One JSON value (RFC 8259) in well-formed UTF-8.
        case json
    }

    /// A sustained rate with a burst allowance: `messages` per `period`, up to `burst` at once after a quiet time.
    package struct Rate: Sendable, Hashable, CustomStringConvertible {
        package var messages: Int
        package var period: TimeAmount
        package var burst: Int

        /// - Parameters:
        ///   - messages: at least 1.
        ///   - period: positive.
        ///   - burst: at least 1; nil for `messages`.
        package init(messages: Int, per period: TimeAmount, burst: Int? = nil) {
            self.messages = max(messages, 1)
            self.period = period.nanoseconds > 0 ? period : .seconds(1)
            self.burst = max(burst ?? messages, 1)
        }

        /// Time between two messages at the sustained rate, in nanoseconds (at least 1).
        var emissionInterval: Int64 { max(period.nanoseconds / Int64(messages), 1) }

        /// As `inspection.conf` writes it: `10/s burst 20`.
        package var description: String {
            let unit: String
            switch period.nanoseconds {
            case 1_000_000_000: unit = "s"
            case 60_000_000_000: unit = "m"
            default: unit = "\(period.nanoseconds)ns"
            }
            return "\(messages)/\(unit) burst \(burst)"
        }
    }

    /// Names the rule in counters, events and reason strings.
    package var name: String
    /// Only messages arriving on the listener with this port; nil for every listener.
    package var listenerPort: Int?
    /// Only messages whose broker-side topic (after `mount_point`) matches one of these; empty for every topic.
    package var topicFilters: [String]
    package var maximumPayloadSize: Int?
    package var payloadFormat: PayloadFormat?
    /// Byte strings refused anywhere in the payload.
    package var deniedPatterns: [[UInt8]]
    /// Publish rate per connection; nil for no limit.
    package var rate: Rate?

    package init(
        name: String,
        listenerPort: Int? = nil,
        topicFilters: [String] = [],
        maximumPayloadSize: Int? = nil,
        payloadFormat: PayloadFormat? = nil,
        deniedPatterns: [[UInt8]] = [],
        rate: Rate? = nil
    ) {
        self.name = name
        self.listenerPort = listenerPort
        self.topicFilters = topicFilters
        self.maximumPayloadSize = maximumPayloadSize
        self.payloadFormat = payloadFormat
        self.deniedPatterns = deniedPatterns
        self.rate = rate
    }
}

/// Why the JSON validator refused a payload.
package enum JSONSyntaxError: String, Sendable, Hashable, CustomStringConvertible {
    /// An empty payload is no JSON value; said apart from truncation because it is the usual mistake.
    case empty = "empty payload"
    case unexpectedEnd = "unexpected end of the payload"
    case unexpectedByte = "unexpected character"
    case expectedKey = "expected a string key"
    case expectedColon = "expected ':' after the key"
    case expectedCommaOrBrace = "expected ',' or '}'"
    case expectedCommaOrBracket = "expected ',' or ']'"
    case invalidNumber = "invalid number"
    case invalidLiteral = "invalid literal (true, false or null)"
    case invalidEscape = "invalid escape in a string"
    /// U+0000 to U+001F must be escaped in a string (RFC 8259 §7).
    case controlCharacter = "unescaped control character in a string"
    /// A `\u` escape of a surrogate not part of a pair: grammatical in RFC 8259, but no decoder can turn it into
    /// text (RFC 8259 §8.2, RFC 7493 §2.1), so consumers downstream would choke on it.
    case unpairedSurrogate = "\\u escape of an unpaired surrogate"
    case tooDeep = "nesting too deep"
    case trailingData = "data after the JSON value"

    package var description: String { rawValue }
}

/// Why a message was refused, and by which rule.
package struct InspectionViolation: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: Sendable, Hashable {
        case payloadTooLarge(limit: Int, actual: Int)
        /// `offset`: the first byte of the first ill-formed sequence.
        case invalidUTF8(offset: Int)
        /// `offset`: the byte where the grammar broke (the start of a token for a bad number, escape or literal).
        case invalidJSON(offset: Int, reason: JSONSyntaxError)
        /// `index`: position of the pattern among the rule's `deniedPatterns`; `pattern`: its bytes.
        case deniedPattern(index: Int, pattern: [UInt8])
        case rateExceeded(InspectionPolicy.Rate)
    }

    package var kind: Kind
    /// The name of the rule that refused the message.
    package var rule: String
    /// Its position among the inspector's policies.
    package var ruleIndex: Int

    package init(kind: Kind, rule: String, ruleIndex: Int) {
        self.kind = kind
        self.rule = rule
        self.ruleIndex = ruleIndex
    }

    /// What a v5 publisher finds in PUBACK/PUBREC. Only the codes MQTT 5 allows there (§3.4.2.1): 0x99 when the
    /// content is refused, 0x97 when the client sends more than its quota (too large, too often). 0x95 and 0x96
    /// would say the same better, but they are DISCONNECT codes and a v5 client may treat them as a protocol error.
    package var reasonCode: ReasonCode {
        switch kind {
        case .payloadTooLarge, .rateExceeded: return .quotaExceeded
        case .invalidUTF8, .invalidJSON, .deniedPattern: return .payloadFormatInvalid
        }
    }

    /// For logs and events: everything, the denied pattern included.
    package var description: String {
        if case .deniedPattern(let index, let pattern) = kind {
            return "rule \(rule): payload contains denied pattern \(index + 1) (\"\(Self.display(pattern))\")"
        }
        return clientReason
    }

    /// For the v5 Reason String: as `description`, but without the denied pattern, so that a publisher cannot
    /// read the deny list back by probing.
    package var clientReason: String {
        switch kind {
        case .payloadTooLarge(let limit, let actual):
            return "rule \(rule): payload of \(actual) bytes is larger than \(limit) bytes"
        case .invalidUTF8(let offset):
            return "rule \(rule): payload is not valid UTF-8 at byte \(offset)"
        case .invalidJSON(let offset, let reason):
            return "rule \(rule): payload is not valid JSON at byte \(offset): \(reason)"
        case .deniedPattern:
            return "rule \(rule): payload contains a denied pattern"
        case .rateExceeded(let rate):
            return "rule \(rule): more than \(rate) messages"
        }
    }

    /// Bytes as `inspection.conf` would quote them: printable ASCII as is, the rest as escapes.
    static func display(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): text += "\\\""
            case UInt8(ascii: "\\"): text += "\\\\"
            case 0x0A: text += "\\n"
            case 0x0D: text += "\\r"
            case 0x09: text += "\\t"
            case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text
    }
}
