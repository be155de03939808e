/// The MQTT protocol level carried in CONNECT's variable header.
///
/// MQTT 3.1 uses the protocol name `MQIsdp` with level 3; 3.1.1 and 5.0 use `MQTT` with levels 4 and 5.
package enum ProtocolVersion: UInt8, Sendable, Hashable, CustomStringConvertible {
    case v3_1 = 3
    case v3_1_1 = 4
    case v5 = 5

    /// The protocol name that must accompany this level in CONNECT.
    package var protocolName: String {
        switch self {
        case .v3_1: return "MQIsdp"
        case .v3_1_1, .v5: return "MQTT"
        }
    }

    package var description: String {
        switch self {
        case .v3_1: return "3.1"
        case .v3_1_1: return "3.1.1"
        case .v5: return "5.0"
        }
    }
}

/// Quality of service of a message or a subscription.
package enum QoS: UInt8, Sendable, Hashable, Comparable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    package static func < (lhs: QoS, rhs: QoS) -> Bool { lhs.rawValue < rhs.rawValue }
}
