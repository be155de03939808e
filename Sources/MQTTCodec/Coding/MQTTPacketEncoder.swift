import NIOCore

/// Encodes MQTT control packets for a given protocol version.
///
/// Every packet is encoded in two passes over its fields: the first computes the remaining length (and checks every
/// length limit, so that nothing is written when the packet cannot be encoded), the second writes straight into
/// the destination buffer. No intermediate buffer is built; a PUBLISH payload is appended as a buffer, not copied
/// byte by byte.
package enum MQTTPacketEncoder {
    /// The largest remaining length a Variable Byte Integer can carry (MQTT 5 §1.5.5).
    package static let maximumRemainingLength = 268_435_455

    /// Appends the encoded packet for `version`; returns the number of bytes written. v3 versions drop
    /// properties/reason codes (SUBACK failure codes become 0x80, CONNACK uses ReasonCode.connectReturnCodeV3,
    /// UNSUBACK has no payload).
    ///
    /// CONNECT is encoded with the protocol name and level of `version`, not of `ConnectPacket.protocolVersion`.
    /// On a thrown error nothing has been written.
    @discardableResult
    package static func encode(
        _ packet: MQTTPacket,
        version: ProtocolVersion,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        let isV5 = version == .v5
        switch packet {
        case .connect(let connect):
            return try encodeConnect(connect, version: version, into: &buffer)
        case .connack(let connack):
            return try encodeConnAck(connack, version: version, into: &buffer)
        case .publish(let publish):
            return try encodePublish(publish, isV5: isV5, into: &buffer)
        case .puback(let ack):
            return try encodeAck(ack, type: .puback, isV5: isV5, into: &buffer)
        case .pubrec(let ack):
            return try encodeAck(ack, type: .pubrec, isV5: isV5, into: &buffer)
        case .pubrel(let ack):
            return try encodeAck(ack, type: .pubrel, isV5: isV5, into: &buffer)
        case .pubcomp(let ack):
            return try encodeAck(ack, type: .pubcomp, isV5: isV5, into: &buffer)
        case .subscribe(let subscribe):
            return try encodeSubscribe(subscribe, isV5: isV5, into: &buffer)
        case .suback(let suback):
            return try encodeSubAck(suback, isV5: isV5, into: &buffer)
        case .unsubscribe(let unsubscribe):
            return try encodeUnsubscribe(unsubscribe, isV5: isV5, into: &buffer)
        case .unsuback(let unsuback):
            return try encodeUnsubAck(unsuback, isV5: isV5, into: &buffer)
        case .pingreq:
            return writeFixedHeader(type: .pingreq, flags: 0, remainingLength: 0, into: &buffer)
        case .pingresp:
            return writeFixedHeader(type: .pingresp, flags: 0, remainingLength: 0, into: &buffer)
        case .disconnect(let disconnect):
            return try encodeReasonAndProperties(
                type: .disconnect,
                reasonCode: disconnect.reasonCode,
                properties: disconnect.properties,
                isV5: isV5,
                into: &buffer
            )
        case .auth(let auth):
            guard isV5 else { throw .protocolError("AUTH exists only in MQTT 5") }
            return try encodeReasonAndProperties(
                type: .auth,
                reasonCode: auth.reasonCode,
                properties: auth.properties,
                isV5: true,
                into: &buffer
            )
        }
    }

    // MARK: - Packets

    /// CONNECT (MQTT 5 §3.1).
    private static func encodeConnect(
        _ connect: ConnectPacket,
        version: ProtocolVersion,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        let isV5 = version == .v5
        if !isV5 && connect.password != nil && connect.username == nil {
            throw .protocolError("a password requires a user name before MQTT 5 [MQTT-3.1.2-22]")
        }
        let protocolName = version.protocolName
        let propertiesLength = isV5 ? try Self.propertiesLength(connect.properties) : 0
        var remainingLength = 2 + protocolName.utf8.count + 1 + 1 + 2
        if isV5 { remainingLength += variableByteIntegerSize(propertiesLength) + propertiesLength }
        remainingLength += try stringSize(connect.clientIdentifier, "client identifier")

        var flags: UInt8 = connect.cleanStart ? 0x02 : 0
        var willPropertiesLength = 0
        if let will = connect.will {
            flags |= 0x04 | (will.qos.rawValue << 3) | (will.retain ? 0x20 : 0)
            if isV5 {
                willPropertiesLength = try Self.propertiesLength(will.properties)
                remainingLength += variableByteIntegerSize(willPropertiesLength) + willPropertiesLength
            }
            remainingLength += try stringSize(will.topic, "will topic")
            remainingLength += try binarySize(will.payload, "will payload")
        }
        if let username = connect.username {
            flags |= 0x80
            remainingLength += try stringSize(username, "user name")
        }
        if let password = connect.password {
            flags |= 0x40
            remainingLength += try binarySize(password, "password")
        }

        let start = buffer.writerIndex
        try writeFixedHeader(type: .connect, flags: 0, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeMQTTString(protocolName)
        buffer.writeInteger(version.rawValue)
        buffer.writeInteger(flags)
        buffer.writeInteger(connect.keepAlive)
        if isV5 { writeProperties(connect.properties, length: propertiesLength, into: &buffer) }
        buffer.writeMQTTString(connect.clientIdentifier)
        if let will = connect.will {
            if isV5 { writeProperties(will.properties, length: willPropertiesLength, into: &buffer) }
            buffer.writeMQTTString(will.topic)
            buffer.writeBinary(will.payload)
        }
        if let username = connect.username { buffer.writeMQTTString(username) }
        if let password = connect.password { buffer.writeBinary(password) }
        return buffer.writerIndex - start
    }

    /// CONNACK (MQTT 5 §3.2; 3.1.1 §3.2 with a return code instead of a reason code).
    private static func encodeConnAck(
        _ connack: ConnAckPacket,
        version: ProtocolVersion,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        // MQTT 3.1 has no session present flag.
        let flags: UInt8 = connack.sessionPresent && version != .v3_1 ? 0x01 : 0x00
        guard version == .v5 else {
            let start = buffer.writerIndex
            writeFixedHeader(type: .connack, flags: 0, remainingLength: 2, into: &buffer)
            buffer.writeInteger(flags)
            buffer.writeInteger(connack.reasonCode.connectReturnCodeV3)
            return buffer.writerIndex - start
        }
        let propertiesLength = try Self.propertiesLength(connack.properties)
        let remainingLength = 2 + variableByteIntegerSize(propertiesLength) + propertiesLength
        let start = buffer.writerIndex
        try writeFixedHeader(type: .connack, flags: 0, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeInteger(flags)
        buffer.writeInteger(connack.reasonCode.rawValue)
        writeProperties(connack.properties, length: propertiesLength, into: &buffer)
        return buffer.writerIndex - start
    }

    /// PUBLISH (MQTT 5 §3.3): the hot path.
    private static func encodePublish(
        _ publish: PublishPacket,
        isV5: Bool,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        var remainingLength = try stringSize(publish.topic, "topic name")
        var packetIdentifier: UInt16 = 0
        if publish.qos != .atMostOnce {
            guard let identifier = publish.packetIdentifier, identifier != 0 else {
                throw .protocolError(
                    "PUBLISH with QoS \(publish.qos.rawValue) needs a packet identifier [MQTT-2.2.1-3]")
            }
            packetIdentifier = identifier
            remainingLength += 2
        }
        let propertiesLength = isV5 ? try Self.propertiesLength(publish.properties) : 0
        if isV5 { remainingLength += variableByteIntegerSize(propertiesLength) + propertiesLength }
        remainingLength += publish.payload.readableBytes

        // [MQTT-3.3.1-2] DUP is 0 for QoS 0.
        var flags = publish.qos.rawValue << 1
        if publish.dup && publish.qos != .atMostOnce { flags |= 0x08 }
        if publish.retain { flags |= 0x01 }

        let start = buffer.writerIndex
        buffer.reserveCapacity(minimumWritableBytes: 5 + remainingLength)
        try writeFixedHeader(type: .publish, flags: flags, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeMQTTString(publish.topic)
        if publish.qos != .atMostOnce { buffer.writeInteger(packetIdentifier) }
        if isV5 { writeProperties(publish.properties, length: propertiesLength, into: &buffer) }
        buffer.writeImmutableBuffer(publish.payload)
        return buffer.writerIndex - start
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 5 §3.4–§3.7). v5 uses the short forms of §3.4.2.1: remaining length
    /// 2 for success without properties, 3 for another reason code without properties.
    private static func encodeAck(
        _ ack: AckPacket,
        type: PacketType,
        isV5: Bool,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        let flags: UInt8 = type == .pubrel ? 0b0010 : 0
        let start = buffer.writerIndex
        buffer.reserveCapacity(minimumWritableBytes: 5)  // one allocation, not one per byte into an empty buffer
        guard isV5, !(ack.reasonCode == .success && ack.properties.isEmpty) else {
            writeFixedHeader(type: type, flags: flags, remainingLength: 2, into: &buffer)
            buffer.writeInteger(ack.packetIdentifier)
            return buffer.writerIndex - start
        }
        guard !ack.properties.isEmpty else {
            writeFixedHeader(type: type, flags: flags, remainingLength: 3, into: &buffer)
            buffer.writeInteger(ack.packetIdentifier)
            buffer.writeInteger(ack.reasonCode.rawValue)
            return buffer.writerIndex - start
        }
        let propertiesLength = try Self.propertiesLength(ack.properties)
        let remainingLength = 3 + variableByteIntegerSize(propertiesLength) + propertiesLength
        try writeFixedHeader(type: type, flags: flags, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeInteger(ack.packetIdentifier)
        buffer.writeInteger(ack.reasonCode.rawValue)
        writeProperties(ack.properties, length: propertiesLength, into: &buffer)
        return buffer.writerIndex - start
    }

    /// SUBSCRIBE (MQTT 5 §3.8). Before v5 the options byte carries only the requested QoS.
    private static func encodeSubscribe(
        _ subscribe: SubscribePacket,
        isV5: Bool,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        let propertiesLength = isV5 ? try Self.propertiesLength(subscribe.properties) : 0
        var remainingLength = 2
        if isV5 { remainingLength += variableByteIntegerSize(propertiesLength) + propertiesLength }
        for subscription in subscribe.subscriptions {
            remainingLength += try stringSize(subscription.filter, "topic filter") + 1
        }
        let start = buffer.writerIndex
        try writeFixedHeader(type: .subscribe, flags: 0b0010, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeInteger(subscribe.packetIdentifier)
        if isV5 { writeProperties(subscribe.properties, length: propertiesLength, into: &buffer) }
        for subscription in subscribe.subscriptions {
            buffer.writeMQTTString(subscription.filter)
            let options = subscription.options
            var byte = options.qos.rawValue
            if isV5 {
                if options.noLocal { byte |= 0x04 }
                if options.retainAsPublished { byte |= 0x08 }
                byte |= options.retainHandling.rawValue << 4
            }
            buffer.writeInteger(byte)
        }
        return buffer.writerIndex - start
    }

    /// SUBACK (MQTT 5 §3.9). Before v5 every failure becomes 0x80 [MQTT-3.9.3-2].
    private static func encodeSubAck(
        _ suback: SubAckPacket,
        isV5: Bool,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        let propertiesLength = isV5 ? try Self.propertiesLength(suback.properties) : 0
        var remainingLength = 2 + suback.reasonCodes.count
        if isV5 { remainingLength += variableByteIntegerSize(propertiesLength) + propertiesLength }
        let start = buffer.writerIndex
        try writeFixedHeader(type: .suback, flags: 0, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeInteger(suback.packetIdentifier)
        if isV5 { writeProperties(suback.properties, length: propertiesLength, into: &buffer) }
        for code in suback.reasonCodes {
            buffer.writeInteger(isV5 || code.rawValue <= 0x02 ? code.rawValue : 0x80)
        }
        return buffer.writerIndex - start
    }

    /// UNSUBSCRIBE (MQTT 5 §3.10).
    private static func encodeUnsubscribe(
        _ unsubscribe: UnsubscribePacket,
        isV5: Bool,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        let propertiesLength = isV5 ? try Self.propertiesLength(unsubscribe.properties) : 0
        var remainingLength = 2
        if isV5 { remainingLength += variableByteIntegerSize(propertiesLength) + propertiesLength }
        for filter in unsubscribe.filters {
            remainingLength += try stringSize(filter, "topic filter")
        }
        let start = buffer.writerIndex
        try writeFixedHeader(type: .unsubscribe, flags: 0b0010, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeInteger(unsubscribe.packetIdentifier)
        if isV5 { writeProperties(unsubscribe.properties, length: propertiesLength, into: &buffer) }
        for filter in unsubscribe.filters {
            buffer.writeMQTTString(filter)
        }
        return buffer.writerIndex - start
    }

    /// UNSUBACK (MQTT 5 §3.11). Before v5 it carries only the packet identifier.
    private static func encodeUnsubAck(
        _ unsuback: UnsubAckPacket,
        isV5: Bool,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        let start = buffer.writerIndex
        guard isV5 else {
            writeFixedHeader(type: .unsuback, flags: 0, remainingLength: 2, into: &buffer)
            buffer.writeInteger(unsuback.packetIdentifier)
            return buffer.writerIndex - start
        }
        let propertiesLength = try Self.propertiesLength(unsuback.properties)
        let remainingLength =
            2 + variableByteIntegerSize(propertiesLength) + propertiesLength
            + unsuback.reasonCodes.count
        try writeFixedHeader(type: .unsuback, flags: 0, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeInteger(unsuback.packetIdentifier)
        writeProperties(unsuback.properties, length: propertiesLength, into: &buffer)
        for code in unsuback.reasonCodes {
            buffer.writeInteger(code.rawValue)
        }
        return buffer.writerIndex - start
    }

    /// DISCONNECT and AUTH (MQTT 5 §3.14, §3.15): empty body for success/normal without properties, the reason code
    /// alone without properties, otherwise reason code and properties. Before v5 DISCONNECT has no body.
    private static func encodeReasonAndProperties(
        type: PacketType,
        reasonCode: ReasonCode,
        properties: Properties,
        isV5: Bool,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) -> Int {
        let start = buffer.writerIndex
        guard isV5, !(reasonCode == .success && properties.isEmpty) else {
            writeFixedHeader(type: type, flags: 0, remainingLength: 0, into: &buffer)
            return buffer.writerIndex - start
        }
        guard !properties.isEmpty else {
            writeFixedHeader(type: type, flags: 0, remainingLength: 1, into: &buffer)
            buffer.writeInteger(reasonCode.rawValue)
            return buffer.writerIndex - start
        }
        let propertiesLength = try Self.propertiesLength(properties)
        let remainingLength = 1 + variableByteIntegerSize(propertiesLength) + propertiesLength
        try writeFixedHeader(type: type, flags: 0, checkedRemainingLength: remainingLength, into: &buffer)
        buffer.writeInteger(reasonCode.rawValue)
        writeProperties(properties, length: propertiesLength, into: &buffer)
        return buffer.writerIndex - start
    }

    // MARK: - Fixed header and primitives

    /// Writes a fixed header whose remaining length is known to be small; returns the bytes written.
    @discardableResult
    private static func writeFixedHeader(
        type: PacketType,
        flags: UInt8,
        remainingLength: Int,
        into buffer: inout ByteBuffer
    ) -> Int {
        buffer.writeInteger(type.rawValue << 4 | flags)
        return 1 + buffer.writeVariableByteInteger(remainingLength)
    }

    /// Writes a fixed header after checking that the remaining length fits a Variable Byte Integer (MQTT 5 §2.1.4).
    private static func writeFixedHeader(
        type: PacketType,
        flags: UInt8,
        checkedRemainingLength remainingLength: Int,
        into buffer: inout ByteBuffer
    ) throws(MQTTCodecError) {
        guard remainingLength <= maximumRemainingLength else {
            throw MQTTCodecError(
                .packetTooLarge,
                "\(type) remaining length \(remainingLength) exceeds \(maximumRemainingLength) bytes [MQTT 5 §2.1.4]"
            )
        }
        writeFixedHeader(type: type, flags: flags, remainingLength: remainingLength, into: &buffer)
    }

    /// The number of bytes a Variable Byte Integer takes (MQTT 5 §1.5.5).
    static func variableByteIntegerSize(_ value: Int) -> Int {
        switch value {
        case ..<128: return 1
        case ..<16_384: return 2
        case ..<2_097_152: return 3
        default: return 4
        }
    }

    /// Size of a UTF-8 Encoded String with its length prefix (MQTT 5 §1.5.4).
    private static func stringSize(_ string: String, _ field: String) throws(MQTTCodecError) -> Int {
        let count = string.utf8.count
        guard count <= 65535 else {
            throw .malformed("\(field) is \(count) bytes, longer than 65535 [MQTT-1.5.4]")
        }
        return 2 + count
    }

    /// Size of Binary Data with its length prefix (MQTT 5 §1.5.6).
    private static func binarySize(_ data: ByteBuffer, _ field: String) throws(MQTTCodecError) -> Int {
        let count = data.readableBytes
        guard count <= 65535 else {
            throw .malformed("\(field) is \(count) bytes, longer than 65535 [MQTT 5 §1.5.6]")
        }
        return 2 + count
    }

    // MARK: - Properties

    /// The encoded size of `properties` without the property length prefix; checks every value's limits.
    static func propertiesLength(_ properties: Properties) throws(MQTTCodecError) -> Int {
        guard !properties.isEmpty else { return 0 }
        let properties = properties.fields  // one read of the shared storage, then plain field reads
        var length = 0
        if properties.payloadFormatIndicator != nil { length += 2 }
        if properties.messageExpiryInterval != nil { length += 5 }
        if let value = properties.contentType { length += 1 + (try stringSize(value, "Content Type")) }
        if let value = properties.responseTopic { length += 1 + (try stringSize(value, "Response Topic")) }
        if let value = properties.correlationData { length += 1 + (try binarySize(value, "Correlation Data")) }
        for identifier in properties.subscriptionIdentifiers {
            guard identifier >= 1 && identifier <= maximumRemainingLength else {
                throw .protocolError("Subscription Identifier \(identifier) outside 1...268435455 [MQTT 5 §3.8.2.1.2]")
            }
            length += 1 + variableByteIntegerSize(Int(identifier))
        }
        if properties.sessionExpiryInterval != nil { length += 5 }
        if let value = properties.assignedClientIdentifier {
            length += 1 + (try stringSize(value, "Assigned Client Identifier"))
        }
        if properties.serverKeepAlive != nil { length += 3 }
        if let value = properties.authenticationMethod {
            length += 1 + (try stringSize(value, "Authentication Method"))
        }
        if let value = properties.authenticationData { length += 1 + (try binarySize(value, "Authentication Data")) }
        if properties.requestProblemInformation != nil { length += 2 }
        if properties.willDelayInterval != nil { length += 5 }
        if properties.requestResponseInformation != nil { length += 2 }
        if let value = properties.responseInformation { length += 1 + (try stringSize(value, "Response Information")) }
        if let value = properties.serverReference { length += 1 + (try stringSize(value, "Server Reference")) }
        if let value = properties.reasonString { length += 1 + (try stringSize(value, "Reason String")) }
        if properties.receiveMaximum != nil { length += 3 }
        if properties.topicAliasMaximum != nil { length += 3 }
        if properties.topicAlias != nil { length += 3 }
        if properties.maximumQoS != nil { length += 2 }
        if properties.retainAvailable != nil { length += 2 }
        for property in properties.userProperties {
            length += 1 + (try stringSize(property.name, "User Property name"))
            length += try stringSize(property.value, "User Property value")
        }
        if properties.maximumPacketSize != nil { length += 5 }
        if properties.wildcardSubscriptionAvailable != nil { length += 2 }
        if properties.subscriptionIdentifierAvailable != nil { length += 2 }
        if properties.sharedSubscriptionAvailable != nil { length += 2 }
        guard length <= maximumRemainingLength else {
            throw MQTTCodecError(.packetTooLarge, "property length \(length) exceeds \(maximumRemainingLength) bytes")
        }
        return length
    }

    /// Writes the property length and the properties; `length` comes from `propertiesLength`.
    static func writeProperties(_ properties: Properties, length: Int, into buffer: inout ByteBuffer) {
        buffer.writeVariableByteInteger(length)
        guard length > 0 else { return }
        let properties = properties.fields
        func id(_ identifier: PropertyIdentifier) { buffer.writeInteger(identifier.rawValue) }
        if let value = properties.payloadFormatIndicator {
            id(.payloadFormatIndicator)
            buffer.writeInteger(value)
        }
        if let value = properties.messageExpiryInterval {
            id(.messageExpiryInterval)
            buffer.writeInteger(value)
        }
        if let value = properties.contentType {
            id(.contentType)
            buffer.writeMQTTString(value)
        }
        if let value = properties.responseTopic {
            id(.responseTopic)
            buffer.writeMQTTString(value)
        }
        if let value = properties.correlationData {
            id(.correlationData)
            buffer.writeBinary(value)
        }
        for value in properties.subscriptionIdentifiers {
            id(.subscriptionIdentifier)
            buffer.writeVariableByteInteger(Int(value))
        }
        if let value = properties.sessionExpiryInterval {
            id(.sessionExpiryInterval)
            buffer.writeInteger(value)
        }
        if let value = properties.assignedClientIdentifier {
            id(.assignedClientIdentifier)
            buffer.writeMQTTString(value)
        }
        if let value = properties.serverKeepAlive {
            id(.serverKeepAlive)
            buffer.writeInteger(value)
        }
        if let value = properties.authenticationMethod {
            id(.authenticationMethod)
            buffer.writeMQTTString(value)
        }
        if let value = properties.authenticationData {
            id(.authenticationData)
            buffer.writeBinary(value)
        }
        if let value = properties.requestProblemInformation {
            id(.requestProblemInformation)
            buffer.writeInteger(value)
        }
        if let value = properties.willDelayInterval {
            id(.willDelayInterval)
            buffer.writeInteger(value)
        }
        if let value = properties.requestResponseInformation {
            id(.requestResponseInformation)
            buffer.writeInteger(value)
        }
        if let value = properties.responseInformation {
            id(.responseInformation)
            buffer.writeMQTTString(value)
        }
        if let value = properties.serverReference {
            id(.serverReference)
            buffer.writeMQTTString(value)
        }
        if let value = properties.reasonString {
            id(.reasonString)
            buffer.writeMQTTString(value)
        }
        if let value = properties.receiveMaximum {
            id(.receiveMaximum)
            buffer.writeInteger(value)
        }
        if let value = properties.topicAliasMaximum {
            id(.topicAliasMaximum)
            buffer.writeInteger(value)
        }
        if let value = properties.topicAlias {
            id(.topicAlias)
            buffer.writeInteger(value)
        }
        if let value = properties.maximumQoS {
            id(.maximumQoS)
            buffer.writeInteger(value)
        }
        if let value = properties.retainAvailable {
            id(.retainAvailable)
            buffer.writeInteger(value)
        }
        for property in properties.userProperties {
            id(.userProperty)
            buffer.writeMQTTString(property.name)
            buffer.writeMQTTString(property.value)
        }
        if let value = properties.maximumPacketSize {
            id(.maximumPacketSize)
            buffer.writeInteger(value)
        }
        if let value = properties.wildcardSubscriptionAvailable {
            id(.wildcardSubscriptionAvailable)
            buffer.writeInteger(value)
        }
        if let value = properties.subscriptionIdentifierAvailable {
            id(.subscriptionIdentifierAvailable)
            buffer.writeInteger(value)
        }
        if let value = properties.sharedSubscriptionAvailable {
            id(.sharedSubscriptionAvailable)
            buffer.writeInteger(value)
        }
    }
}

extension ByteBuffer {
    /// Writes a Variable Byte Integer (MQTT 5 §1.5.5); `value` must be at most 268,435,455. Returns the byte count.
    @discardableResult
    fileprivate mutating func writeVariableByteInteger(_ value: Int) -> Int {
        var remaining = value
        var count = 0
        repeat {
            var byte = UInt8(truncatingIfNeeded: remaining & 0x7F)
            remaining >>= 7
            if remaining > 0 { byte |= 0x80 }
            writeInteger(byte)
            count += 1
        } while remaining > 0
        return count
    }

    /// Writes a UTF-8 Encoded String whose length was checked by `stringSize`.
    fileprivate mutating func writeMQTTString(_ string: String) {
        writeInteger(UInt16(truncatingIfNeeded: string.utf8.count))
        writeString(string)
    }

    /// Writes Binary Data whose length was checked by `binarySize`.
    fileprivate mutating func writeBinary(_ data: ByteBuffer) {
        writeInteger(UInt16(truncatingIfNeeded: data.readableBytes))
        writeImmutableBuffer(data)
    }
}
