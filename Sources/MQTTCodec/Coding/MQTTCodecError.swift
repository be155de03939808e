/// Why bytes could not be decoded as an MQTT packet, or a packet could not be encoded.
///
/// Each error carries the reason code the server should answer with (CONNACK or DISCONNECT, MQTT 5 §4.13)
/// and a human-readable message that names the field at fault.
package struct MQTTCodecError: Error, Hashable, Sendable, CustomStringConvertible {
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Backing: Hashable, Sendable {
            case malformedPacket, protocolError, packetTooLarge, unsupportedProtocolVersion
            case topicNameInvalid, topicFilterInvalid, clientIdentifierNotValid
        }
        fileprivate var backing: Backing

        /// The bytes do not follow the packet grammar (bad length, bad UTF-8, reserved bits set …).
        package static let malformedPacket = Code(backing: .malformedPacket)
        /// The bytes parse but break a rule of the protocol (duplicate property, property not allowed …).
        package static let protocolError = Code(backing: .protocolError)
        /// The packet is larger than the maximum packet size.
        package static let packetTooLarge = Code(backing: .packetTooLarge)
        /// CONNECT names a protocol name or level this server does not speak.
        package static let unsupportedProtocolVersion = Code(backing: .unsupportedProtocolVersion)
        package static let topicNameInvalid = Code(backing: .topicNameInvalid)
        package static let topicFilterInvalid = Code(backing: .topicFilterInvalid)
        package static let clientIdentifierNotValid = Code(backing: .clientIdentifierNotValid)

        package var description: String { "\(backing)" }
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The reason code a server answers this error with.
    package var reasonCode: ReasonCode {
        switch code.backing {
        case .malformedPacket: return .malformedPacket
        case .protocolError: return .protocolError
        case .packetTooLarge: return .packetTooLarge
        case .unsupportedProtocolVersion: return .unsupportedProtocolVersion
        case .topicNameInvalid: return .topicNameInvalid
        case .topicFilterInvalid: return .topicFilterInvalid
        case .clientIdentifierNotValid: return .clientIdentifierNotValid
        }
    }

    package var description: String { "\(code): \(message)" }

    package static func malformed(_ message: String) -> MQTTCodecError { MQTTCodecError(.malformedPacket, message) }
    package static func protocolError(_ message: String) -> MQTTCodecError { MQTTCodecError(.protocolError, message) }
}
