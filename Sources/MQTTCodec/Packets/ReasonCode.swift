/// An MQTT 5 reason code (MQTT 5 §2.4), also used internally for the 3.1.1 return codes it maps onto.
package struct ReasonCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    package var rawValue: UInt8

    package init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Whether this code reports a failure (MQTT 5 §2.4: 0x80 and above).
    package var isFailure: Bool { rawValue >= 0x80 }

    package static let success = ReasonCode(rawValue: 0x00)
    package static let normalDisconnection = ReasonCode(rawValue: 0x00)
    package static let grantedQoS0 = ReasonCode(rawValue: 0x00)
    package static let grantedQoS1 = ReasonCode(rawValue: 0x01)
    package static let grantedQoS2 = ReasonCode(rawValue: 0x02)
    package static let disconnectWithWillMessage = ReasonCode(rawValue: 0x04)
    package static let noMatchingSubscribers = ReasonCode(rawValue: 0x10)
    package static let noSubscriptionExisted = ReasonCode(rawValue: 0x11)
    package static let continueAuthentication = ReasonCode(rawValue: 0x18)
    package static let reAuthenticate = ReasonCode(rawValue: 0x19)
    package static let unspecifiedError = ReasonCode(rawValue: 0x80)
    package static let malformedPacket = ReasonCode(rawValue: 0x81)
    package static let protocolError = ReasonCode(rawValue: 0x82)
    package static let implementationSpecificError = ReasonCode(rawValue: 0x83)
    package static let unsupportedProtocolVersion = ReasonCode(rawValue: 0x84)
    package static let clientIdentifierNotValid = ReasonCode(rawValue: 0x85)
    package static let badUserNameOrPassword = ReasonCode(rawValue: 0x86)
    package static let notAuthorized = ReasonCode(rawValue: 0x87)
    package static let serverUnavailable = ReasonCode(rawValue: 0x88)
    package static let serverBusy = ReasonCode(rawValue: 0x89)
    package static let banned = ReasonCode(rawValue: 0x8A)
    package static let serverShuttingDown = ReasonCode(rawValue: 0x8B)
    package static let badAuthenticationMethod = ReasonCode(rawValue: 0x8C)
    package static let keepAliveTimeout = ReasonCode(rawValue: 0x8D)
    package static let sessionTakenOver = ReasonCode(rawValue: 0x8E)
    package static let topicFilterInvalid = ReasonCode(rawValue: 0x8F)
    package static let topicNameInvalid = ReasonCode(rawValue: 0x90)
    package static let packetIdentifierInUse = ReasonCode(rawValue: 0x91)
    package static let packetIdentifierNotFound = ReasonCode(rawValue: 0x92)
    package static let receiveMaximumExceeded = ReasonCode(rawValue: 0x93)
    package static let topicAliasInvalid = ReasonCode(rawValue: 0x94)
    package static let packetTooLarge = ReasonCode(rawValue: 0x95)
    package static let messageRateTooHigh = ReasonCode(rawValue: 0x96)
    package static let quotaExceeded = ReasonCode(rawValue: 0x97)
    package static let administrativeAction = ReasonCode(rawValue: 0x98)
    package static let payloadFormatInvalid = ReasonCode(rawValue: 0x99)
    package static let retainNotSupported = ReasonCode(rawValue: 0x9A)
    package static let qosNotSupported = ReasonCode(rawValue: 0x9B)
    package static let useAnotherServer = ReasonCode(rawValue: 0x9C)
    package static let serverMoved = ReasonCode(rawValue: 0x9D)
    package static let sharedSubscriptionsNotSupported = ReasonCode(rawValue: 0x9E)
    package static let connectionRateExceeded = ReasonCode(rawValue: 0x9F)
    package static let maximumConnectTime = ReasonCode(rawValue: 0xA0)
    package static let subscriptionIdentifiersNotSupported = ReasonCode(rawValue: 0xA1)
    package static let wildcardSubscriptionsNotSupported = ReasonCode(rawValue: 0xA2)

    /// The MQTT 3.1/3.1.1 CONNACK return code (§3.2.2.3) that best carries this reason.
    package var connectReturnCodeV3: UInt8 {
        switch rawValue {
        case 0x00: return 0
        case 0x84: return 1  // unacceptable protocol version
        case 0x85: return 2  // identifier rejected
        case 0x88, 0x89, 0x8B, 0x9F: return 3  // server unavailable
        case 0x86: return 4  // bad user name or password
        case 0x87, 0x8A, 0x8C: return 5  // not authorized
        default: return 3
        }
    }

    package var description: String {
        "0x" + String(rawValue, radix: 16, uppercase: true).leftPadded(to: 2)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
