import MQTTCodec
import NIOCore
import Testing

@Suite("Encoder")
struct EncoderTests {
    @Test("encodes hand-written spec vectors byte for byte", arguments: SpecVectors.all)
    func encodesSpecVector(_ vector: SpecVector) throws {
        #expect(try TestSupport.encode(vector.packet, version: vector.version) == vector.bytes)
    }

    @Test("appends after existing bytes and returns the count written")
    func appends() throws {
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB])
        let written = try MQTTPacketEncoder.encode(.pingreq, version: .v5, into: &buffer)
        #expect(written == 2)
        #expect(Array(buffer.readableBytesView) == [0xAA, 0xBB, 0xC0, 0x00])
    }

    @Test("3.x drops properties, reason codes and v5 subscription options", arguments: [ProtocolVersion.v3_1, .v3_1_1])
    func v3DropsV5Fields(_ version: ProtocolVersion) throws {
        var properties = Properties()
        properties.reasonString = "dropped"
        properties.userProperties = [UserProperty(name: "k", value: "v")]

        let ack = AckPacket(packetIdentifier: 9, reasonCode: .unspecifiedError, properties: properties)
        #expect(try TestSupport.encode(.puback(ack), version: version) == [0x40, 0x02, 0x00, 0x09])
        #expect(try TestSupport.encode(.pubrel(ack), version: version) == [0x62, 0x02, 0x00, 0x09])

        // 3.1.1 §3.11: UNSUBACK has no payload.
        let unsuback = UnsubAckPacket(
            packetIdentifier: 9, reasonCodes: [.noSubscriptionExisted], properties: properties)
        #expect(try TestSupport.encode(.unsuback(unsuback), version: version) == [0xB0, 0x02, 0x00, 0x09])

        // 3.1.1 §3.14: DISCONNECT has no variable header.
        let disconnect = DisconnectPacket(reasonCode: .disconnectWithWillMessage, properties: properties)
        #expect(try TestSupport.encode(.disconnect(disconnect), version: version) == [0xE0, 0x00])

        let subscribe = SubscribePacket(
            packetIdentifier: 1,
            subscriptions: [
                TopicSubscription(
                    filter: "t",
                    options: SubscriptionOptions(
                        qos: .exactlyOnce, noLocal: true, retainAsPublished: true, retainHandling: .doNotSend)
                )
            ],
            properties: properties
        )
        #expect(
            try TestSupport.encode(.subscribe(subscribe), version: version)
                == [0x82, 0x06, 0x00, 0x01] + TestSupport.mqttString("t") + [0x02]
        )

        let publish = PublishPacket(topic: "t", payload: ByteBuffer(bytes: [1]), properties: properties)
        #expect(try TestSupport.encode(.publish(publish), version: version) == [0x30, 0x04, 0x00, 0x01, 0x74, 0x01])
    }

    @Test("3.x SUBACK failure codes become 0x80 [MQTT-3.9.3-2]", arguments: [ProtocolVersion.v3_1, .v3_1_1])
    func v3SubAckFailures(_ version: ProtocolVersion) throws {
        let suback = SubAckPacket(
            packetIdentifier: 2,
            reasonCodes: [
                .grantedQoS0, .grantedQoS1, .grantedQoS2, .notAuthorized, .topicFilterInvalid, .unspecifiedError,
            ]
        )
        #expect(
            try TestSupport.encode(.suback(suback), version: version)
                == [0x90, 0x08, 0x00, 0x02, 0x00, 0x01, 0x02, 0x80, 0x80, 0x80]
        )
    }

    @Test(
        "3.x CONNACK uses connectReturnCodeV3 (3.1.1 §3.2.2.3)",
        arguments: [
            (ReasonCode.success, UInt8(0)), (.unsupportedProtocolVersion, 1), (.clientIdentifierNotValid, 2),
            (.serverUnavailable, 3), (.serverBusy, 3), (.badUserNameOrPassword, 4), (.notAuthorized, 5), (.banned, 5),
            (.unspecifiedError, 3),
        ])
    func v3ConnAckReturnCode(_ reason: ReasonCode, _ code: UInt8) throws {
        let packet = MQTTPacket.connack(ConnAckPacket(sessionPresent: false, reasonCode: reason))
        #expect(try TestSupport.encode(packet, version: .v3_1_1) == [0x20, 0x02, 0x00, code])
    }

    @Test("3.1 CONNACK has no session present flag")
    func v31ConnAckNoSessionPresent() throws {
        let packet = MQTTPacket.connack(ConnAckPacket(sessionPresent: true, reasonCode: .success))
        #expect(try TestSupport.encode(packet, version: .v3_1) == [0x20, 0x02, 0x00, 0x00])
    }

    @Test("v5 ack: success without properties is remaining length 2 (MQTT 5 §3.4.2.1)")
    func v5AckShortForms() throws {
        #expect(
            try TestSupport.encode(.pubrec(AckPacket(packetIdentifier: 1)), version: .v5) == [0x50, 0x02, 0x00, 0x01])
        let withCode = AckPacket(packetIdentifier: 1, reasonCode: .noMatchingSubscribers)
        #expect(try TestSupport.encode(.puback(withCode), version: .v5) == [0x40, 0x03, 0x00, 0x01, 0x10])
        var properties = Properties()
        properties.userProperties = [UserProperty(name: "a", value: "b")]
        let withProperties = AckPacket(packetIdentifier: 1, properties: properties)
        #expect(
            try TestSupport.encode(.pubcomp(withProperties), version: .v5)
                == [0x70, 0x0B, 0x00, 0x01, 0x00, 0x07, 0x26] + TestSupport.mqttString("a")
                + TestSupport.mqttString("b")
        )
    }

    @Test("DUP is never set on QoS 0 [MQTT-3.3.1-2]")
    func noDupOnQoS0() throws {
        let publish = PublishPacket(topic: "t", payload: ByteBuffer(), dup: true)
        #expect(try TestSupport.encode(.publish(publish), version: .v3_1_1) == [0x30, 0x03, 0x00, 0x01, 0x74])
    }

    @Test("PUBLISH QoS > 0 without a packet identifier is refused [MQTT-2.2.1-3]", arguments: [UInt16?.none, 0])
    func publishNeedsPacketIdentifier(_ identifier: UInt16?) {
        let publish = PublishPacket(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetIdentifier: identifier)
        var buffer = ByteBuffer()
        let error = #expect(throws: MQTTCodecError.self) {
            try MQTTPacketEncoder.encode(.publish(publish), version: .v5, into: &buffer)
        }
        #expect(error?.code == .protocolError)
        #expect(buffer.readableBytes == 0)
    }

    @Test("a string longer than 65535 bytes is refused (MQTT 5 §1.5.4)")
    func stringTooLong() {
        let long = String(repeating: "a", count: 65536)
        let packets: [MQTTPacket] = [
            .publish(PublishPacket(topic: long, payload: ByteBuffer())),
            .subscribe(
                SubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [TopicSubscription(filter: long, options: .init(qos: .atMostOnce))])
            ),
            .unsubscribe(UnsubscribePacket(packetIdentifier: 1, filters: [long])),
            .connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: long, cleanStart: true, keepAlive: 0)),
            .connect(
                ConnectPacket(
                    protocolVersion: .v5, clientIdentifier: "", cleanStart: true, keepAlive: 0, username: long)),
            .disconnect(
                {
                    var properties = Properties()
                    properties.reasonString = long
                    return DisconnectPacket(reasonCode: .unspecifiedError, properties: properties)
                }()),
        ]
        for packet in packets {
            var buffer = ByteBuffer()
            let error = #expect(throws: MQTTCodecError.self) {
                try MQTTPacketEncoder.encode(packet, version: .v5, into: &buffer)
            }
            #expect(error?.code == .malformedPacket)
            #expect(buffer.readableBytes == 0, "wrote bytes before failing")
        }
        // 65535 bytes is still fine.
        let limit = String(repeating: "a", count: 65535)
        #expect(throws: Never.self) {
            _ = try TestSupport.encode(.publish(PublishPacket(topic: limit, payload: ByteBuffer())), version: .v5)
        }
    }

    @Test("binary data longer than 65535 bytes is refused (MQTT 5 §1.5.6)")
    func binaryTooLong() {
        let connect = ConnectPacket(
            protocolVersion: .v5, clientIdentifier: "", cleanStart: true, keepAlive: 0,
            username: "u", password: ByteBuffer(repeating: 0, count: 65536)
        )
        var buffer = ByteBuffer()
        let error = #expect(throws: MQTTCodecError.self) {
            try MQTTPacketEncoder.encode(.connect(connect), version: .v5, into: &buffer)
        }
        #expect(error?.code == .malformedPacket)
    }

    @Test("remaining length above 268,435,455 is refused (MQTT 5 §2.1.4)")
    func remainingLengthTooLarge() {
        // An untouched allocation: pages are never written, so this costs no real memory.
        var payload = ByteBufferAllocator().buffer(capacity: 268_435_456)
        payload.moveWriterIndex(forwardBy: 268_435_455 - 4)
        var buffer = ByteBuffer()
        // 2 + 3 (topic) + 268,435,451 = 268,435,456 > 268,435,455.
        let tooLarge = PublishPacket(topic: "a/b", payload: payload)
        let error = #expect(throws: MQTTCodecError.self) {
            try MQTTPacketEncoder.encode(.publish(tooLarge), version: .v3_1_1, into: &buffer)
        }
        #expect(error?.code == .packetTooLarge)
        #expect(buffer.readableBytes == 0)
    }

    @Test(
        "remaining length uses the fewest Variable Byte Integer bytes (MQTT 5 §1.5.5 [MQTT-1.5.5-1])",
        arguments: [
            (0, [UInt8]([0x00])), (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]),
            (16_384, [0x80, 0x80, 0x01]),
            (2_097_151, [0xFF, 0xFF, 0x7F]), (2_097_152, [0x80, 0x80, 0x80, 0x01]),
        ])
    func variableByteIntegers(_ payloadAndTopic: Int, _ expected: [UInt8]) throws {
        guard payloadAndTopic >= 2 else {
            #expect(try TestSupport.encode(.pingreq, version: .v5) == [0xC0] + expected)
            return
        }
        let publish = PublishPacket(topic: "", payload: ByteBuffer(repeating: 0x55, count: payloadAndTopic - 2))
        let bytes = try TestSupport.encode(.publish(publish), version: .v3_1_1)
        #expect(Array(bytes[1..<(1 + expected.count)]) == expected)
        #expect(bytes.count == 1 + expected.count + payloadAndTopic)
    }

    @Test("AUTH cannot be encoded before MQTT 5")
    func authNeedsV5() {
        var buffer = ByteBuffer()
        let error = #expect(throws: MQTTCodecError.self) {
            try MQTTPacketEncoder.encode(.auth(AuthPacket()), version: .v3_1_1, into: &buffer)
        }
        #expect(error?.code == .protocolError)
    }

    @Test("3.x CONNECT with a password but no user name is refused [MQTT-3.1.2-22]")
    func v3PasswordNeedsUsername() {
        let connect = ConnectPacket(
            protocolVersion: .v3_1_1, clientIdentifier: "c", cleanStart: true, keepAlive: 0, password: ByteBuffer())
        var buffer = ByteBuffer()
        #expect(throws: MQTTCodecError.self) {
            try MQTTPacketEncoder.encode(.connect(connect), version: .v3_1_1, into: &buffer)
        }
    }

    @Test(
        "subscription identifier outside 1...268,435,455 is refused (MQTT 5 §3.8.2.1.2)",
        arguments: [UInt32(0), 268_435_456])
    func subscriptionIdentifierRange(_ identifier: UInt32) {
        var properties = Properties()
        properties.subscriptionIdentifiers = [identifier]
        let publish = PublishPacket(topic: "t", payload: ByteBuffer(), properties: properties)
        var buffer = ByteBuffer()
        #expect(throws: MQTTCodecError.self) {
            try MQTTPacketEncoder.encode(.publish(publish), version: .v5, into: &buffer)
        }
    }
}
