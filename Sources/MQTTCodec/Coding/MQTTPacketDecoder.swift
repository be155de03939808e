import NIOCore

/// Decodes MQTT 3.1, 3.1.1 and 5.0 control packets from a byte stream.
///
/// The decoder is strict: every rule of the packet grammar that a receiver can check on its own (reserved bits,
/// lengths, UTF-8, property placement and ranges) is enforced here so that the broker only ever sees well-formed
/// packets. Errors carry the reason code to answer with (MQTT 5 §4.13). Decoding never copies payloads: PUBLISH
/// payloads, will payloads, passwords and binary properties are slices of the input buffer.
package struct MQTTPacketDecoder: Sendable {
    /// nil until a CONNECT has been decoded (server side); the decoder then sets it from CONNECT.
    /// A client sets it up front.
    package var protocolVersion: ProtocolVersion?
    /// Largest whole packet (fixed header + remaining length) accepted; checked as soon as the fixed header is
    /// readable, before buffering the body.
    package var maximumPacketSize: Int

    package init(protocolVersion: ProtocolVersion? = nil, maximumPacketSize: Int = 268_435_460) {
        self.protocolVersion = protocolVersion
        self.maximumPacketSize = maximumPacketSize
    }

    /// Decodes one packet if `buffer` holds a complete one, consuming exactly its bytes; returns nil (consuming
    /// nothing) otherwise.
    ///
    /// On a thrown error nothing is consumed either; the connection is expected to be closed.
    package mutating func decode(buffer: inout ByteBuffer) throws(MQTTCodecError) -> MQTTPacket? {
        let start = buffer.readerIndex
        guard let first: UInt8 = buffer.getInteger(at: start) else { return nil }
        // Check the first byte before waiting for more, so garbage is rejected as early as possible.
        let type = try checkFirstByte(first)

        // Remaining length: a Variable Byte Integer of at most 4 bytes (MQTT 5 §1.5.5, §2.1.4).
        var remainingLength = 0
        var headerLength = 1
        while true {
            guard let byte: UInt8 = buffer.getInteger(at: start + headerLength) else { return nil }
            remainingLength |= Int(byte & 0x7F) << (7 * (headerLength - 1))
            headerLength += 1
            if byte & 0x80 == 0 { break }
            if headerLength == 5 {
                throw .malformed("remaining length uses more than 4 bytes [MQTT-1.5.5]")
            }
        }

        // [MQTT-3.1.2-24] / §4.13: refuse an oversized packet before its body is buffered.
        let totalLength = headerLength + remainingLength
        guard totalLength <= maximumPacketSize else {
            throw MQTTCodecError(
                .packetTooLarge,
                "\(type) of \(totalLength) bytes exceeds the maximum packet size of \(maximumPacketSize) bytes"
            )
        }
        guard buffer.readableBytes >= totalLength,
            var body = buffer.getSlice(at: start + headerLength, length: remainingLength)
        else { return nil }

        let packet = try decodeBody(type: type, flags: first & 0x0F, body: &body)
        guard body.readableBytes == 0 else {
            throw .malformed("\(type) has \(body.readableBytes) unexpected trailing bytes")
        }
        if case .connect(let connect) = packet {
            // Only now that the whole CONNECT is known to be valid does the connection speak its version.
            protocolVersion = connect.protocolVersion
        }
        buffer.moveReaderIndex(forwardBy: totalLength)
        return packet
    }

    // MARK: - Fixed header

    /// Validates packet type, the protocol state and the flag bits of the fixed header (MQTT 5 §2.1.2, §2.1.3).
    private func checkFirstByte(_ first: UInt8) throws(MQTTCodecError) -> PacketType {
        guard let type = PacketType(rawValue: first >> 4) else {
            throw .malformed("reserved packet type 0 [MQTT-2.1.2]")
        }
        switch protocolVersion {
        case nil:
            guard type == .connect else {
                throw .protocolError("first packet is \(type), not CONNECT [MQTT-3.1.0-1]")
            }
        case .some(let version):
            if type == .connect {
                throw .protocolError("second CONNECT on the connection [MQTT-3.1.0-2]")
            }
            if type == .auth && version != .v5 {
                throw .malformed("packet type 15 is reserved before MQTT 5")
            }
        }
        let flags = first & 0x0F
        switch type {
        case .publish:
            let qos = (flags >> 1) & 0x03
            guard qos != 3 else { throw .malformed("PUBLISH with QoS 3 [MQTT-3.3.1-4]") }
            guard qos != 0 || flags & 0x08 == 0 else {
                throw .malformed("PUBLISH with DUP set and QoS 0 [MQTT-3.3.1-2]")
            }
        case .pubrel, .subscribe, .unsubscribe:
            guard flags == 0b0010 else {
                throw .malformed(
                    "\(type) fixed header flags must be 0010 [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1]")
            }
        default:
            guard flags == 0 else { throw .malformed("\(type) fixed header flags must be 0 [MQTT-2.1.3-1]") }
        }
        return type
    }

    // MARK: - Bodies

    private func decodeBody(
        type: PacketType,
        flags: UInt8,
        body: inout ByteBuffer
    ) throws(MQTTCodecError) -> MQTTPacket {
        guard let version = protocolVersion else {
            // Only CONNECT gets past `checkFirstByte` without a version.
            return .connect(try Self.decodeConnect(&body))
        }
        switch type {
        case .connect:
            // Unreachable: `checkFirstByte` rejects a second CONNECT.
            throw .protocolError("second CONNECT on the connection [MQTT-3.1.0-2]")
        case .connack:
            return .connack(try Self.decodeConnAck(&body, version: version))
        case .publish:
            return .publish(try Self.decodePublish(&body, flags: flags, version: version))
        case .puback:
            return .puback(try Self.decodeAck(&body, version: version, scope: .puback))
        case .pubrec:
            return .pubrec(try Self.decodeAck(&body, version: version, scope: .pubrec))
        case .pubrel:
            return .pubrel(try Self.decodeAck(&body, version: version, scope: .pubrel))
        case .pubcomp:
            return .pubcomp(try Self.decodeAck(&body, version: version, scope: .pubcomp))
        case .subscribe:
            return .subscribe(try Self.decodeSubscribe(&body, version: version))
        case .suback:
            return .suback(try Self.decodeSubAck(&body, version: version))
        case .unsubscribe:
            return .unsubscribe(try Self.decodeUnsubscribe(&body, version: version))
        case .unsuback:
            return .unsuback(try Self.decodeUnsubAck(&body, version: version))
        case .pingreq, .pingresp:
            // [MQTT-3.12.1] / [MQTT-3.13.1]: no variable header, no payload; trailing bytes are rejected by the caller.
            return type == .pingreq ? .pingreq : .pingresp
        case .disconnect:
            return .disconnect(try Self.decodeDisconnect(&body, version: version))
        case .auth:
            return .auth(try Self.decodeAuth(&body))
        }
    }

    /// CONNECT (MQTT 5 §3.1, MQTT 3.1.1 §3.1, MQTT 3.1 §3.1).
    private static func decodeConnect(_ body: inout ByteBuffer) throws(MQTTCodecError) -> ConnectPacket {
        // Protocol name: compared as raw bytes, so that any name other than the two known ones is refused as
        // an unsupported protocol rather than as a UTF-8 problem.
        guard let nameLength: UInt16 = body.readInteger(),
            let nameBytes = body.readSlice(length: Int(nameLength)),
            let level: UInt8 = body.readInteger()
        else { throw .malformed("CONNECT variable header is truncated") }

        let version: ProtocolVersion
        switch (nameBytes.readableBytesView.elementsEqual("MQTT".utf8), level) {
        case (true, 4): version = .v3_1_1
        case (true, 5): version = .v5
        case (false, 3) where nameBytes.readableBytesView.elementsEqual("MQIsdp".utf8): version = .v3_1
        default:
            // [MQTT-3.1.2-1] [MQTT-3.1.2-2]
            throw MQTTCodecError(
                .unsupportedProtocolVersion,
                "unsupported protocol name/level (\(String(buffer: nameBytes).debugDescription), \(level))"
            )
        }

        guard let flags: UInt8 = body.readInteger(), let keepAlive: UInt16 = body.readInteger() else {
            throw .malformed("CONNECT variable header is truncated")
        }
        guard flags & 0x01 == 0 else { throw .malformed("CONNECT reserved flag is set [MQTT-3.1.2-3]") }
        let cleanStart = flags & 0x02 != 0
        let willFlag = flags & 0x04 != 0
        let willQoSBits = (flags >> 3) & 0x03
        let willRetain = flags & 0x20 != 0
        let passwordFlag = flags & 0x40 != 0
        let usernameFlag = flags & 0x80 != 0
        guard willQoSBits != 3 else { throw .malformed("CONNECT will QoS 3 [MQTT-3.1.2-12]") }
        if !willFlag {
            guard willQoSBits == 0 else { throw .malformed("CONNECT will QoS without will flag [MQTT-3.1.2-11]") }
            guard !willRetain else { throw .malformed("CONNECT will retain without will flag [MQTT-3.1.2-13]") }
        }
        if version != .v5 && passwordFlag && !usernameFlag {
            // MQTT 5 allows a password without a user name (§3.1.2.9); 3.1.1 does not.
            throw .malformed("CONNECT password flag without user name flag [MQTT-3.1.2-22]")
        }

        let properties = version == .v5 ? try body.readProperties(scope: .connect) : Properties()
        let clientIdentifier = try body.readMQTTString("client identifier")

        var will: WillMessage?
        if willFlag {
            let willProperties = version == .v5 ? try body.readProperties(scope: .will) : Properties()
            let topic = try body.readMQTTString("will topic")
            // [MQTT-3.1.3-11]: the will topic is a topic name.
            try Topic.validateName(topic)
            let payload = try body.readBinary("will payload")
            will = WillMessage(
                topic: topic,
                payload: payload,
                qos: QoS(rawValue: willQoSBits) ?? .atMostOnce,
                retain: willRetain,
                properties: willProperties
            )
        }
        let username = usernameFlag ? try body.readMQTTString("user name") : nil
        let password = passwordFlag ? try body.readBinary("password") : nil

        return ConnectPacket(
            protocolVersion: version,
            clientIdentifier: clientIdentifier,
            cleanStart: cleanStart,
            keepAlive: keepAlive,
            username: username,
            password: password,
            will: will,
            properties: properties
        )
    }

    /// CONNACK (MQTT 5 §3.2). 3.1/3.1.1 return codes are mapped onto reason codes.
    private static func decodeConnAck(
        _ body: inout ByteBuffer,
        version: ProtocolVersion
    ) throws(MQTTCodecError) -> ConnAckPacket {
        guard let flags: UInt8 = body.readInteger(), let code: UInt8 = body.readInteger() else {
            throw .malformed("CONNACK is truncated")
        }
        let sessionPresent: Bool
        if version == .v3_1 {
            // MQTT 3.1 has no session present flag: the byte is unused.
            sessionPresent = false
        } else {
            guard flags & 0xFE == 0 else { throw .malformed("CONNACK reserved acknowledge flags set [MQTT-3.2.2-1]") }
            sessionPresent = flags & 0x01 != 0
        }
        guard version == .v5 else {
            let reasonCode: ReasonCode
            switch code {
            case 0: reasonCode = .success
            case 1: reasonCode = .unsupportedProtocolVersion
            case 2: reasonCode = .clientIdentifierNotValid
            case 3: reasonCode = .serverUnavailable
            case 4: reasonCode = .badUserNameOrPassword
            case 5: reasonCode = .notAuthorized
            default: throw .malformed("CONNACK return code \(code) is reserved")
            }
            return ConnAckPacket(sessionPresent: sessionPresent, reasonCode: reasonCode)
        }
        let properties = try body.readProperties(scope: .connack)
        return ConnAckPacket(
            sessionPresent: sessionPresent,
            reasonCode: ReasonCode(rawValue: code),
            properties: properties
        )
    }

    /// PUBLISH (MQTT 5 §3.3).
    private static func decodePublish(
        _ body: inout ByteBuffer,
        flags: UInt8,
        version: ProtocolVersion
    ) throws(MQTTCodecError) -> PublishPacket {
        // Flags were validated by `checkFirstByte`.
        let qos = QoS(rawValue: (flags >> 1) & 0x03) ?? .atMostOnce
        let topic = try body.readMQTTString("topic name")
        var packetIdentifier: UInt16?
        if qos != .atMostOnce {
            packetIdentifier = try body.readPacketIdentifier(.publish)
        }
        let properties = version == .v5 ? try body.readProperties(scope: .publish) : Properties()
        if topic.utf8.isEmpty {
            // [MQTT-3.3.2-1] / MQTT 5 §3.3.2.1: a zero-length topic is only valid with a topic alias.
            guard properties.topicAlias != nil else {
                throw .protocolError("PUBLISH has an empty topic name and no topic alias [MQTT-3.3.2-1]")
            }
        } else if topic.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
            throw MQTTCodecError(.topicNameInvalid, "PUBLISH topic name contains a wildcard [MQTT-3.3.2-2]")
        }
        // The payload is the rest of the packet, kept as a slice of the input (MQTT 5 §3.3.3).
        let payload = body.readSlice(length: body.readableBytes) ?? ByteBuffer()
        return PublishPacket(
            topic: topic,
            payload: payload,
            qos: qos,
            retain: flags & 0x01 != 0,
            dup: flags & 0x08 != 0,
            packetIdentifier: packetIdentifier,
            properties: properties
        )
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 5 §3.4.2–§3.7.2). In v5 the reason code and the property length may
    /// be omitted: remaining length 2 means success without properties, 3 a reason code without properties.
    private static func decodeAck(
        _ body: inout ByteBuffer,
        version: ProtocolVersion,
        scope: PropertyScope
    ) throws(MQTTCodecError) -> AckPacket {
        let packetIdentifier = try body.readPacketIdentifier(scope.packetType)
        guard version == .v5, body.readableBytes > 0 else {
            return AckPacket(packetIdentifier: packetIdentifier)
        }
        let reasonCode = ReasonCode(rawValue: try body.readByte(scope.packetType))
        let properties = body.readableBytes > 0 ? try body.readProperties(scope: scope) : Properties()
        return AckPacket(packetIdentifier: packetIdentifier, reasonCode: reasonCode, properties: properties)
    }

    /// SUBSCRIBE (MQTT 5 §3.8).
    private static func decodeSubscribe(
        _ body: inout ByteBuffer,
        version: ProtocolVersion
    ) throws(MQTTCodecError) -> SubscribePacket {
        let packetIdentifier = try body.readPacketIdentifier(.subscribe)
        let properties = version == .v5 ? try body.readProperties(scope: .subscribe) : Properties()
        var subscriptions: [TopicSubscription] = []
        while body.readableBytes > 0 {
            let filter = try body.readMQTTString("topic filter")
            let options = try body.readByte(.subscribe)
            guard let qos = QoS(rawValue: options & 0x03) else {
                throw .malformed("SUBSCRIBE requested QoS 3 [MQTT-3.8.3-4]")
            }
            try Topic.validateFilter(filter)
            let subscriptionOptions: SubscriptionOptions
            if version == .v5 {
                guard options & 0xC0 == 0 else {
                    throw .malformed("SUBSCRIBE options reserved bits 6-7 set [MQTT-3.8.3-5]")
                }
                guard let retainHandling = RetainHandling(rawValue: (options >> 4) & 0x03) else {
                    throw .malformed("SUBSCRIBE retain handling 3 [MQTT-3.8.3-5]")
                }
                subscriptionOptions = SubscriptionOptions(
                    qos: qos,
                    noLocal: options & 0x04 != 0,
                    retainAsPublished: options & 0x08 != 0,
                    retainHandling: retainHandling
                )
                if subscriptionOptions.noLocal && Topic.sharedSubscription(filter) != nil {
                    throw .protocolError("No Local set on a shared subscription [MQTT-3.8.3-4]")
                }
            } else {
                guard options & 0xFC == 0 else {
                    throw .malformed("SUBSCRIBE requested QoS reserved bits set [MQTT-3-8.3-4]")
                }
                subscriptionOptions = SubscriptionOptions(qos: qos)
            }
            subscriptions.append(TopicSubscription(filter: filter, options: subscriptionOptions))
        }
        guard !subscriptions.isEmpty else {
            throw .protocolError("SUBSCRIBE without a topic filter [MQTT-3.8.3-2]")
        }
        return SubscribePacket(packetIdentifier: packetIdentifier, subscriptions: subscriptions, properties: properties)
    }

    /// SUBACK (MQTT 5 §3.9). In 3.1/3.1.1 only 0x00, 0x01, 0x02 and 0x80 exist.
    private static func decodeSubAck(
        _ body: inout ByteBuffer,
        version: ProtocolVersion
    ) throws(MQTTCodecError) -> SubAckPacket {
        let packetIdentifier = try body.readPacketIdentifier(.suback)
        let properties = version == .v5 ? try body.readProperties(scope: .suback) : Properties()
        var reasonCodes: [ReasonCode] = []
        reasonCodes.reserveCapacity(body.readableBytes)
        while let code: UInt8 = body.readInteger() {
            if version != .v5 && code > 0x02 && code != 0x80 {
                throw .malformed("SUBACK return code \(code) is reserved [MQTT-3.9.3-2]")
            }
            reasonCodes.append(ReasonCode(rawValue: code))
        }
        guard !reasonCodes.isEmpty else { throw .protocolError("SUBACK without a reason code") }
        return SubAckPacket(packetIdentifier: packetIdentifier, reasonCodes: reasonCodes, properties: properties)
    }

    /// UNSUBSCRIBE (MQTT 5 §3.10).
    private static func decodeUnsubscribe(
        _ body: inout ByteBuffer,
        version: ProtocolVersion
    ) throws(MQTTCodecError) -> UnsubscribePacket {
        let packetIdentifier = try body.readPacketIdentifier(.unsubscribe)
        let properties = version == .v5 ? try body.readProperties(scope: .unsubscribe) : Properties()
        var filters: [String] = []
        while body.readableBytes > 0 {
            let filter = try body.readMQTTString("topic filter")
            try Topic.validateFilter(filter)
            filters.append(filter)
        }
        guard !filters.isEmpty else {
            throw .protocolError("UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]")
        }
        return UnsubscribePacket(packetIdentifier: packetIdentifier, filters: filters, properties: properties)
    }

    /// UNSUBACK (MQTT 5 §3.11). In 3.1/3.1.1 it carries only the packet identifier.
    private static func decodeUnsubAck(
        _ body: inout ByteBuffer,
        version: ProtocolVersion
    ) throws(MQTTCodecError) -> UnsubAckPacket {
        let packetIdentifier = try body.readPacketIdentifier(.unsuback)
        guard version == .v5 else { return UnsubAckPacket(packetIdentifier: packetIdentifier) }
        let properties = try body.readProperties(scope: .unsuback)
        var reasonCodes: [ReasonCode] = []
        reasonCodes.reserveCapacity(body.readableBytes)
        while let code: UInt8 = body.readInteger() {
            reasonCodes.append(ReasonCode(rawValue: code))
        }
        return UnsubAckPacket(packetIdentifier: packetIdentifier, reasonCodes: reasonCodes, properties: properties)
    }

    /// DISCONNECT (MQTT 5 §3.14). v3 DISCONNECT has no variable header (trailing bytes are malformed); in v5 an empty
    /// body means normal disconnection and a 1-byte body a reason code without properties (§3.14.2.2.1).
    private static func decodeDisconnect(
        _ body: inout ByteBuffer,
        version: ProtocolVersion
    ) throws(MQTTCodecError) -> DisconnectPacket {
        guard version == .v5, body.readableBytes > 0 else { return DisconnectPacket() }
        let reasonCode = ReasonCode(rawValue: try body.readByte(.disconnect))
        let properties = body.readableBytes > 0 ? try body.readProperties(scope: .disconnect) : Properties()
        return DisconnectPacket(reasonCode: reasonCode, properties: properties)
    }

    /// AUTH (MQTT 5 §3.15). An empty body means success without properties (§3.15.2.1).
    private static func decodeAuth(_ body: inout ByteBuffer) throws(MQTTCodecError) -> AuthPacket {
        guard body.readableBytes > 0 else { return AuthPacket() }
        let reasonCode = ReasonCode(rawValue: try body.readByte(.auth))
        let properties = body.readableBytes > 0 ? try body.readProperties(scope: .auth) : Properties()
        return AuthPacket(reasonCode: reasonCode, properties: properties)
    }
}

// MARK: - Properties

/// Where a property list appears; the raw value is a bit position in `PropertyIdentifier.allowedScopes`.
private enum PropertyScope: UInt8, Sendable {
    case connect, connack, publish, will, puback, pubrec, pubrel, pubcomp
    case subscribe, suback, unsubscribe, unsuback, disconnect, auth

    var name: String {
        switch self {
        case .will: return "will properties"
        default: return packetType.description
        }
    }

    var packetType: PacketType {
        switch self {
        case .connect, .will: return .connect
        case .connack: return .connack
        case .publish: return .publish
        case .puback: return .puback
        case .pubrec: return .pubrec
        case .pubrel: return .pubrel
        case .pubcomp: return .pubcomp
        case .subscribe: return .subscribe
        case .suback: return .suback
        case .unsubscribe: return .unsubscribe
        case .unsuback: return .unsuback
        case .disconnect: return .disconnect
        case .auth: return .auth
        }
    }

    var bit: UInt16 { 1 << rawValue }
}

extension PropertyIdentifier {
    /// The packets (and will properties) that may carry this property: the MQTT 5 §2.2.2.2 table.
    fileprivate var allowedScopes: UInt16 {
        let publishAndWill = PropertyScope.publish.bit | PropertyScope.will.bit
        switch self {
        case .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData:
            return publishAndWill
        case .subscriptionIdentifier:
            return PropertyScope.publish.bit | PropertyScope.subscribe.bit
        case .sessionExpiryInterval:
            return PropertyScope.connect.bit | PropertyScope.connack.bit | PropertyScope.disconnect.bit
        case .assignedClientIdentifier, .serverKeepAlive, .responseInformation, .maximumQoS, .retainAvailable,
            .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable, .sharedSubscriptionAvailable:
            return PropertyScope.connack.bit
        case .authenticationMethod, .authenticationData:
            return PropertyScope.connect.bit | PropertyScope.connack.bit | PropertyScope.auth.bit
        case .requestProblemInformation, .requestResponseInformation:
            return PropertyScope.connect.bit
        case .willDelayInterval:
            return PropertyScope.will.bit
        case .serverReference:
            return PropertyScope.connack.bit | PropertyScope.disconnect.bit
        case .reasonString:
            return PropertyScope.connack.bit | PropertyScope.puback.bit | PropertyScope.pubrec.bit
                | PropertyScope.pubrel.bit | PropertyScope.pubcomp.bit | PropertyScope.suback.bit
                | PropertyScope.unsuback.bit | PropertyScope.disconnect.bit | PropertyScope.auth.bit
        case .receiveMaximum, .topicAliasMaximum, .maximumPacketSize:
            return PropertyScope.connect.bit | PropertyScope.connack.bit
        case .topicAlias:
            return PropertyScope.publish.bit
        case .userProperty:
            return UInt16.max
        }
    }

    /// The property's name as the specification spells it, for error messages.
    fileprivate var specName: String {
        switch self {
        case .payloadFormatIndicator: return "Payload Format Indicator"
        case .messageExpiryInterval: return "Message Expiry Interval"
        case .contentType: return "Content Type"
        case .responseTopic: return "Response Topic"
        case .correlationData: return "Correlation Data"
        case .subscriptionIdentifier: return "Subscription Identifier"
        case .sessionExpiryInterval: return "Session Expiry Interval"
        case .assignedClientIdentifier: return "Assigned Client Identifier"
        case .serverKeepAlive: return "Server Keep Alive"
        case .authenticationMethod: return "Authentication Method"
        case .authenticationData: return "Authentication Data"
        case .requestProblemInformation: return "Request Problem Information"
        case .willDelayInterval: return "Will Delay Interval"
        case .requestResponseInformation: return "Request Response Information"
        case .responseInformation: return "Response Information"
        case .serverReference: return "Server Reference"
        case .reasonString: return "Reason String"
        case .receiveMaximum: return "Receive Maximum"
        case .topicAliasMaximum: return "Topic Alias Maximum"
        case .topicAlias: return "Topic Alias"
        case .maximumQoS: return "Maximum QoS"
        case .retainAvailable: return "Retain Available"
        case .userProperty: return "User Property"
        case .maximumPacketSize: return "Maximum Packet Size"
        case .wildcardSubscriptionAvailable: return "Wildcard Subscription Available"
        case .subscriptionIdentifierAvailable: return "Subscription Identifier Available"
        case .sharedSubscriptionAvailable: return "Shared Subscription Available"
        }
    }
}

// MARK: - Primitive readers

extension ByteBuffer {
    fileprivate mutating func readByte(_ packet: PacketType) throws(MQTTCodecError) -> UInt8 {
        guard let byte: UInt8 = readInteger() else { throw .malformed("\(packet) is truncated") }
        return byte
    }

    /// A non-zero packet identifier [MQTT-2.2.1-3].
    fileprivate mutating func readPacketIdentifier(_ packet: PacketType) throws(MQTTCodecError) -> UInt16 {
        guard let identifier: UInt16 = readInteger() else { throw .malformed("\(packet) lacks a packet identifier") }
        guard identifier != 0 else { throw .protocolError("\(packet) packet identifier is 0 [MQTT-2.2.1-3]") }
        return identifier
    }

    /// A Variable Byte Integer of at most 4 bytes (MQTT 5 §1.5.5).
    /// - Parameter field: names the field in the error; built only when there is one.
    fileprivate mutating func readVariableByteInteger(
        _ field: @autoclosure () -> String
    ) throws(MQTTCodecError) -> Int {
        var value = 0
        for index in 0..<4 {
            guard let byte: UInt8 = readInteger() else { throw .malformed("\(field()) is truncated") }
            value |= Int(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 { return value }
        }
        throw .malformed("\(field()) uses more than 4 bytes [MQTT-1.5.5]")
    }

    /// A UTF-8 Encoded String (MQTT 5 §1.5.4): well-formed UTF-8 [MQTT-1.5.4-1] without U+0000 [MQTT-1.5.4-2].
    /// Surrogate code points are ill-formed UTF-8 and so refused by the validation as well.
    fileprivate mutating func readMQTTString(_ field: String) throws(MQTTCodecError) -> String {
        guard let length: UInt16 = getInteger(at: readerIndex), readableBytes >= 2 + Int(length) else {
            throw .malformed("\(field) is truncated")
        }
        let byteCount = Int(length)
        let string: String? = withUnsafeReadableBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[2..<(2 + byteCount)])
            guard !bytes.contains(0) else { return nil }
            return String(validating: bytes, as: UTF8.self)
        }
        guard let string else {
            throw .malformed("\(field) is not valid UTF-8 or contains U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]")
        }
        moveReaderIndex(forwardBy: 2 + byteCount)
        return string
    }

    /// Binary Data (MQTT 5 §1.5.6), returned as a slice of this buffer.
    fileprivate mutating func readBinary(_ field: String) throws(MQTTCodecError) -> ByteBuffer {
        guard let length: UInt16 = getInteger(at: readerIndex),
            let slice = getSlice(at: readerIndex + 2, length: Int(length))
        else { throw .malformed("\(field) is truncated") }
        moveReaderIndex(forwardBy: 2 + Int(length))
        return slice
    }

    fileprivate mutating func readPropertyInteger<T: FixedWidthInteger>(
        _ id: PropertyIdentifier,
        as: T.Type = T.self
    ) throws(MQTTCodecError) -> T {
        guard let value: T = readInteger() else { throw .malformed("\(id.specName) property is truncated") }
        return value
    }

    /// A byte property whose only values are 0 and 1.
    fileprivate mutating func readBooleanProperty(_ id: PropertyIdentifier) throws(MQTTCodecError) -> UInt8 {
        let value: UInt8 = try readPropertyInteger(id)
        guard value <= 1 else { throw .protocolError("\(id.specName) property is \(value), not 0 or 1") }
        return value
    }

    /// A property list: its Variable Byte Integer length, then the properties (MQTT 5 §2.2.2).
    ///
    /// Enforces the §2.2.2.2 table (a property in the wrong packet is a protocol error), duplicates (only User
    /// Property, and Subscription Identifier in PUBLISH, may repeat) and the value ranges of §3.
    fileprivate mutating func readProperties(scope: PropertyScope) throws(MQTTCodecError) -> Properties {
        let length = try readVariableByteInteger("\(scope.name) property length")
        guard var list = readSlice(length: length) else {
            throw .malformed("\(scope.name) property length \(length) exceeds the packet")
        }
        var properties = Properties()
        var seen: UInt64 = 0
        while list.readableBytes > 0 {
            let raw: UInt8 = list.readInteger() ?? 0
            guard let id = PropertyIdentifier(rawValue: raw) else {
                throw .malformed("unknown property identifier 0x\(String(raw, radix: 16)) in \(scope.name)")
            }
            guard id.allowedScopes & scope.bit != 0 else {
                throw .protocolError("\(id.specName) property is not allowed in \(scope.name) [MQTT 5 §2.2.2.2]")
            }
            let bit: UInt64 = 1 << raw
            let mayRepeat = id == .userProperty || (id == .subscriptionIdentifier && scope == .publish)
            guard seen & bit == 0 || mayRepeat else {
                throw .protocolError("\(id.specName) property appears twice in \(scope.name)")
            }
            seen |= bit

            switch id {
            case .payloadFormatIndicator:
                properties.payloadFormatIndicator = try list.readBooleanProperty(id)
            case .messageExpiryInterval:
                properties.messageExpiryInterval = try list.readPropertyInteger(id)
            case .contentType:
                properties.contentType = try list.readMQTTString(id.specName)
            case .responseTopic:
                let topic = try list.readMQTTString(id.specName)
                // [MQTT-3.3.2-14]: the Response Topic is a topic name, hence no wildcards.
                do {
                    try Topic.validateName(topic)
                } catch {
                    throw .protocolError("Response Topic is not a valid topic name: \(error.message)")
                }
                properties.responseTopic = topic
            case .correlationData:
                properties.correlationData = try list.readBinary(id.specName)
            case .subscriptionIdentifier:
                let value = try list.readVariableByteInteger(id.specName)
                guard value != 0 else { throw .protocolError("Subscription Identifier is 0 [MQTT 5 §3.8.2.1.2]") }
                properties.subscriptionIdentifiers.append(UInt32(value))
            case .sessionExpiryInterval:
                properties.sessionExpiryInterval = try list.readPropertyInteger(id)
            case .assignedClientIdentifier:
                properties.assignedClientIdentifier = try list.readMQTTString(id.specName)
            case .serverKeepAlive:
                properties.serverKeepAlive = try list.readPropertyInteger(id)
            case .authenticationMethod:
                properties.authenticationMethod = try list.readMQTTString(id.specName)
            case .authenticationData:
                properties.authenticationData = try list.readBinary(id.specName)
            case .requestProblemInformation:
                properties.requestProblemInformation = try list.readBooleanProperty(id)
            case .willDelayInterval:
                properties.willDelayInterval = try list.readPropertyInteger(id)
            case .requestResponseInformation:
                properties.requestResponseInformation = try list.readBooleanProperty(id)
            case .responseInformation:
                properties.responseInformation = try list.readMQTTString(id.specName)
            case .serverReference:
                properties.serverReference = try list.readMQTTString(id.specName)
            case .reasonString:
                properties.reasonString = try list.readMQTTString(id.specName)
            case .receiveMaximum:
                let value: UInt16 = try list.readPropertyInteger(id)
                guard value != 0 else { throw .protocolError("Receive Maximum is 0 [MQTT 5 §3.1.2.11.3]") }
                properties.receiveMaximum = value
            case .topicAliasMaximum:
                properties.topicAliasMaximum = try list.readPropertyInteger(id)
            case .topicAlias:
                let value: UInt16 = try list.readPropertyInteger(id)
                guard value != 0 else { throw .protocolError("Topic Alias is 0 [MQTT-3.3.2-8]") }
                properties.topicAlias = value
            case .maximumQoS:
                properties.maximumQoS = try list.readBooleanProperty(id)
            case .retainAvailable:
                properties.retainAvailable = try list.readBooleanProperty(id)
            case .userProperty:
                let name = try list.readMQTTString("User Property name")
                let value = try list.readMQTTString("User Property value")
                properties.userProperties.append(UserProperty(name: name, value: value))
            case .maximumPacketSize:
                let value: UInt32 = try list.readPropertyInteger(id)
                guard value != 0 else { throw .protocolError("Maximum Packet Size is 0 [MQTT 5 §3.1.2.11.4]") }
                properties.maximumPacketSize = value
            case .wildcardSubscriptionAvailable:
                properties.wildcardSubscriptionAvailable = try list.readBooleanProperty(id)
            case .subscriptionIdentifierAvailable:
                properties.subscriptionIdentifierAvailable = try list.readBooleanProperty(id)
            case .sharedSubscriptionAvailable:
                properties.sharedSubscriptionAvailable = try list.readBooleanProperty(id)
            }
        }
        // MQTT 5 §3.1.2.11.10 / §3.15.2.2.3: Authentication Data without Authentication Method is a protocol error.
        if properties.authenticationData != nil && properties.authenticationMethod == nil {
            throw .protocolError("Authentication Data without Authentication Method [MQTT 5 §3.1.2.11.10]")
        }
        return properties
    }
}
