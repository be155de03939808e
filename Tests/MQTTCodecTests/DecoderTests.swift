import MQTTCodec
import NIOCore
import Testing

@Suite("Decoder")
struct DecoderTests {
    /// The decoder's version for a vector: a server has none before CONNECT, a client knows it up front.
    private static func decoderVersion(for vector: SpecVector) -> ProtocolVersion? {
        vector.packet.type == .connect ? nil : vector.version
    }

    @Test("decodes hand-written spec vectors", arguments: SpecVectors.all)
    func decodesSpecVector(_ vector: SpecVector) throws {
        let packet = try TestSupport.decode(vector.bytes, version: Self.decoderVersion(for: vector))
        #expect(packet == vector.packet)
    }

    @Test("decoding CONNECT sets the protocol version [MQTT-3.1.2-2]", arguments: TestSupport.allVersions)
    func connectSetsVersion(_ version: ProtocolVersion) throws {
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer(bytes: TestSupport.connectBytes(version: version) + [0xC0, 0x00])
        let connect = try #require(try decoder.decode(buffer: &buffer))
        guard case .connect(let packet) = connect else {
            Issue.record("expected CONNECT, got \(connect)")
            return
        }
        #expect(packet.protocolVersion == version)
        #expect(decoder.protocolVersion == version)
        #expect(try decoder.decode(buffer: &buffer) == .pingreq)
        #expect(buffer.readableBytes == 0)
    }

    @Test(
        "non-canonical but valid encodings",
        arguments: [
            // MQTT 5 §3.4.2.2: a property length of 0 may be sent even for success.
            (
                ProtocolVersion.v5, [UInt8]([0x40, 0x04, 0x00, 0x07, 0x00, 0x00]),
                MQTTPacket.puback(AckPacket(packetIdentifier: 7))
            ),
            (.v5, [0x70, 0x03, 0x00, 0x07, 0x00], .pubcomp(AckPacket(packetIdentifier: 7))),
            // MQTT 5 §3.14.2.2.1: the property length may be present and 0.
            (.v5, [0xE0, 0x02, 0x00, 0x00], .disconnect(DisconnectPacket())),
            // MQTT 5 §3.15.2.2.1: reason code alone.
            (.v5, [0xF0, 0x01, 0x19], .auth(AuthPacket(reasonCode: .reAuthenticate))),
            // A remaining length need not use the fewest bytes to be understood.
            (.v3_1_1, [0xC0, 0x80, 0x00], .pingreq),
            // MQTT 3.1: the CONNACK flags byte is unused, so whatever it holds is ignored.
            (.v3_1, [0x20, 0x02, 0x01, 0x00], .connack(ConnAckPacket(sessionPresent: false, reasonCode: .success))),
            // UNSUBACK 5 without reason codes.
            (.v5, [0xB0, 0x03, 0x00, 0x01, 0x00], .unsuback(UnsubAckPacket(packetIdentifier: 1))),
        ])
    func nonCanonical(_ version: ProtocolVersion, _ bytes: [UInt8], _ expected: MQTTPacket) throws {
        #expect(try TestSupport.decode(bytes, version: version) == expected)
    }

    @Test(
        "CONNACK 3.1.1 return codes map onto reason codes (3.1.1 §3.2.2.3)",
        arguments: [
            (UInt8(0), ReasonCode.success), (1, .unsupportedProtocolVersion), (2, .clientIdentifierNotValid),
            (3, .serverUnavailable), (4, .badUserNameOrPassword), (5, .notAuthorized),
        ])
    func connackReturnCodes(_ code: UInt8, _ reason: ReasonCode) throws {
        let packet = try TestSupport.decode([0x20, 0x02, 0x00, code], version: .v3_1_1)
        #expect(packet == .connack(ConnAckPacket(sessionPresent: false, reasonCode: reason)))
        #expect(reason.connectReturnCodeV3 == code)
    }

    @Test("fed one byte at a time, nothing is consumed until the packet is complete", arguments: SpecVectors.all)
    func incremental(_ vector: SpecVector) throws {
        var decoder = MQTTPacketDecoder(protocolVersion: Self.decoderVersion(for: vector))
        var buffer = ByteBuffer()
        for (index, byte) in vector.bytes.enumerated() {
            buffer.writeInteger(byte)
            let result = try decoder.decode(buffer: &buffer)
            if index < vector.bytes.count - 1 {
                #expect(result == nil, "decoded early at byte \(index)")
                #expect(buffer.readableBytes == index + 1, "consumed bytes of an incomplete packet")
            } else {
                #expect(result == vector.packet)
                #expect(buffer.readableBytes == 0)
            }
        }
    }

    @Test("a stream of packets decodes packet by packet", arguments: TestSupport.allVersions)
    func stream(_ version: ProtocolVersion) throws {
        let vectors = SpecVectors.all.filter { $0.version == version && $0.packet.type != .connect }
        var bytes = TestSupport.connectBytes(version: version)
        for vector in vectors { bytes += vector.bytes }
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer(bytes: bytes)
        guard case .connect = try decoder.decode(buffer: &buffer) else {
            Issue.record("first packet is not CONNECT")
            return
        }
        for vector in vectors {
            #expect(try decoder.decode(buffer: &buffer) == vector.packet, "\(vector.name)")
        }
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(buffer.readableBytes == 0)
    }

    @Test("an empty buffer yields nil")
    func emptyBuffer() throws {
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer()
        #expect(try decoder.decode(buffer: &buffer) == nil)
    }

    @Test("the PUBLISH payload is a slice of the input, not a copy")
    func payloadIsSlice() throws {
        var decoder = MQTTPacketDecoder(protocolVersion: .v3_1_1)
        let payload = [UInt8](repeating: 0xAB, count: 1000)
        var input = ByteBuffer()
        input.writeBytes([0x30, 0xED, 0x07] + TestSupport.mqttString("a/b") + payload)
        let inputBase = input.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        guard case .publish(let publish) = try decoder.decode(buffer: &input) else {
            Issue.record("not a PUBLISH")
            return
        }
        #expect(Array(publish.payload.readableBytesView) == payload)
        let payloadBase = publish.payload.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(payloadBase == inputBase + 8)
    }

    @Test("maximum packet size is enforced from the fixed header, before the body arrives [MQTT-3.2.2-15]")
    func maximumPacketSizeBeforeBody() {
        // PUBLISH announcing 200 MB (remaining length 209,715,200 = 0x80 0x80 0x80 0x64) with only 5 bytes present.
        var decoder = MQTTPacketDecoder(protocolVersion: .v5, maximumPacketSize: 1_048_576)
        var buffer = ByteBuffer(bytes: [0x30, 0x80, 0x80, 0x80, 0x64])
        let error = #expect(throws: MQTTCodecError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error?.code == .packetTooLarge)
        #expect(buffer.readableBytes == 5)
    }

    @Test("maximum packet size counts the fixed header", arguments: [(9, true), (8, false)])
    func maximumPacketSizeBoundary(_ maximum: Int, _ accepted: Bool) throws {
        // PINGREQ-sized check on a PUBLISH: 2 header bytes + 7 remaining = 9 bytes.
        let bytes: [UInt8] = [0x30, 0x07] + TestSupport.mqttString("a/b") + [0x68, 0x69]
        var decoder = MQTTPacketDecoder(protocolVersion: .v3_1_1, maximumPacketSize: maximum)
        var buffer = ByteBuffer(bytes: bytes)
        if accepted {
            #expect(try decoder.decode(buffer: &buffer) != nil)
        } else {
            let error = #expect(throws: MQTTCodecError.self) { try decoder.decode(buffer: &buffer) }
            #expect(error?.code == .packetTooLarge)
            #expect(error?.reasonCode == .packetTooLarge)
        }
    }

    @Test("maximum remaining length 268,435,455 is accepted by the header parser")
    func largestRemainingLength() throws {
        var decoder = MQTTPacketDecoder(protocolVersion: .v5)
        var buffer = ByteBuffer(bytes: [0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00])
        // Incomplete, not an error: the default maximum packet size admits the largest packet.
        #expect(try decoder.decode(buffer: &buffer) == nil)
    }

    @Test("strings keep their exact UTF-8 bytes, BOM included (MQTT 5 §1.5.4 [MQTT-1.5.4-3])")
    func utf8Preserved() throws {
        let topic = "\u{FEFF}caf\u{E9}/\u{1F600}"
        let bytes: [UInt8] = [0x30, UInt8(2 + topic.utf8.count)] + TestSupport.mqttString(topic)
        guard case .publish(let publish) = try TestSupport.decode(bytes, version: .v3_1_1) else {
            Issue.record("not a PUBLISH")
            return
        }
        #expect(Array(publish.topic.utf8) == Array(topic.utf8))
    }
}
