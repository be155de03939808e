/// The message inspection rules of a broker profile (SPEC BRK-5), as read from `inspection.conf`.
///
/// The model says what the file says and nothing more: the broker turns it into a `MessageInspector` (BrokerCore),
/// which precomputes what the per-message checks need. Keeping the two apart keeps BrokerCore free of the
/// configuration module, as for `BrokerConfiguration`.
package struct InspectionRules: Sendable, Hashable {
    /// The file that holds the rules, next to `ProfileRules.mainFile` in the same profile folder.
    package static let fileName = "inspection.conf"

    /// In file order: the order in which they are checked, so the first violated rule is the one reported.
    package var rules: [InspectionRule]

    package init(rules: [InspectionRule] = []) {
        self.rules = rules
    }

    /// Whether no message is ever inspected: the broker can skip the inspection call altogether.
    package var isEmpty: Bool { rules.isEmpty }
}

/// One `rule` block: which messages it applies to and what they must satisfy.
package struct InspectionRule: Sendable, Hashable {
    /// `utf8` or `json` (`payload` keyword).
    package enum PayloadFormat: String, Sendable, Hashable, CaseIterable {
        /// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
        case utf8
        /// One JSON value (RFC 8259) in UTF-8; implies `utf8`.
        case json
    }

    /// `rate N/s` or `rate N/m`, with an optional `burst B`.
    package struct Rate: Sendable, Hashable, CustomStringConvertible {
        package enum Unit: String, Sendable, Hashable {
            case second = "s"
            case minute = "m"

            /// The length of the unit in nanoseconds, the resolution `NIODeadline` works in.
            package var nanoseconds: Int64 { self == .second ? 1_000_000_000 : 60_000_000_000 }
        }

        /// Messages per `unit`, sustained.
        package var messages: Int
        package var unit: Unit
        /// Messages a client may send at once after being quiet; by default one unit's worth (`messages`).
        package var burst: Int

        package init(messages: Int, per unit: Unit, burst: Int? = nil) {
            self.messages = messages
            self.unit = unit
            self.burst = burst ?? messages
        }

        /// As written in the file: `10/s burst 20`.
        package var description: String { "\(messages)/\(unit.rawValue) burst \(burst)" }
    }

    /// `[A-Za-z0-9_.-]+`, unique in the file: what counters, events and v5 reason strings name.
    package var name: String
    /// The line of the `rule` keyword, so that later checks (see `InspectionRulesLoader.validate`) can point at it.
    package var line: Int
    /// Only messages arriving on the listener with this port; nil for every listener.
    package var listenerPort: Int?
    /// Only messages whose topic (after the listener's `mount_point`) matches one of these; empty for every topic.
    package var topicFilters: [String]
    /// Largest payload in bytes; nil for no limit beyond `message_size_limit` of mosquitto.conf.
    package var maxPayload: Int?
    package var payloadFormat: PayloadFormat?
    /// Byte strings refused anywhere in the payload, from `deny_pattern` and `deny_pattern_hex` in file order.
    package var denyPatterns: [[UInt8]]
    /// Publish rate per client; nil for no limit.
    package var rate: Rate?

    package init(
        name: String,
        line: Int = 0,
        listenerPort: Int? = nil,
        topicFilters: [String] = [],
        maxPayload: Int? = nil,
        payloadFormat: PayloadFormat? = nil,
        denyPatterns: [[UInt8]] = [],
        rate: Rate? = nil
    ) {
        self.name = name
        self.line = line
        self.listenerPort = listenerPort
        self.topicFilters = topicFilters
        self.maxPayload = maxPayload
        self.payloadFormat = payloadFormat
        self.denyPatterns = denyPatterns
        self.rate = rate
    }

    /// Whether the rule checks anything at all; a rule that does not is refused as a likely mistake.
    package var hasCheck: Bool {
        maxPayload != nil || payloadFormat != nil || !denyPatterns.isEmpty || rate != nil
    }
}
