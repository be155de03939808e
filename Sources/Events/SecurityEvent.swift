import Foundation

/// How much an event matters to the security team (the audit log's three levels).
package enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case informational
    case warning
    case critical

    private var rank: Int {
        switch self {
        case .informational: 0
        case .warning: 1
        case .critical: 2
        }
    }

    package static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }

    /// The syslog severity (RFC 5424 §6.2.1): Informational 6, Warning 4, Critical 2.
    package var syslogSeverity: Int {
        switch self {
        case .informational: 6
        case .warning: 4
        case .critical: 2
        }
    }

    /// The CEF severity, 0 (lowest) to 10.
    package var cefSeverity: Int {
        switch self {
        case .informational: 3
        case .warning: 6
        case .critical: 9
        }
    }
}

/// One structured value of an event: an address, a rule id, a client id…
///
/// Names are short ASCII identifiers (letters, digits, `_`, `-`), so that they are valid RFC 5424 SD-PARAM names and
/// CEF extension keys without escaping; values are any text and each format escapes them.
package struct EventField: Sendable, Codable, Hashable {
    package var name: String
    package var value: String

    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Names in common use, so that every source spells the same thing the same way.
    package static let sourceAddress = "src"
    package static let user = "user"
    package static let clientID = "client_id"
    package static let rule = "rule"
    package static let topic = "topic"
    package static let listener = "listener"
    package static let profile = "profile"
    package static let component = "component"
    package static let action = "action"
    package static let status = "status"
    package static let detail = "detail"
}

/// The two logs an event belongs to: network security events (a bounded ring in memory) and the audit log of
/// system security (persistent, hash chained).
package enum EventStream: String, Sendable, Codable, CaseIterable {
    case network
    case audit
}

/// A security event or audit record, as every component reports it and every format renders it.
package struct SecurityEvent: Sendable, Codable, Hashable {
    package var stream: EventStream
    /// When it happened, to the millisecond (finer parts are dropped so that a stored record hashes the same).
    package var time: Date {
        didSet { time = Self.milliseconds(time) }
    }
    package var severity: Severity
    /// The component that registered it ("Auth server", "MQTT broker"…; see `EventEntity`).
    package var entity: String
    /// The kind of event, one word in UpperCamelCase ("LoginError", "InspectionDrop"…).
    package var type: String
    /// What happened, for a person.
    package var title: String
    package var fields: [EventField]
    /// The position in its stream: assigned by the event bus for network events and by the audit log for audit
    /// records; 0 until then.
    package var sequence: UInt64

    package init(
        stream: EventStream, time: Date = Date(), severity: Severity, entity: String, type: String, title: String,
        fields: [EventField] = [], sequence: UInt64 = 0
    ) {
        self.stream = stream
        self.time = Self.milliseconds(time)
        self.severity = severity
        self.entity = entity
        self.type = type
        self.title = title
        self.fields = fields
        self.sequence = sequence
    }

    /// The value of the first field named `name`.
    package func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }

    /// Milliseconds since 1970, the resolution events are kept at.
    package var millisecondsSince1970: Int64 { Int64((time.timeIntervalSince1970 * 1000).rounded()) }

    private static func milliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

/// The names components register events under.
package enum EventEntity {
    package static let authServer = "Auth server"
    package static let broker = "MQTT broker"
    package static let webServer = "Web server"
    package static let store = "Store"
    package static let eventBus = "Event bus"
    package static let syslog = "Syslog forwarder"
    package static let push = "Push forwarder"
    package static let mqttNotifications = "MQTT notifications"
    package static let audit = "Audit"
    package static let gateway = "Gateway"
    package static let management = "Management"
    package static let firewall = "Firewall"
}
