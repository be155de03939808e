import MQTTCodec
import NIOCore
import Testing

/// Bytes that must be refused, with the error code they must be refused with.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// nil: decoded by a server before CONNECT.
    var version: ProtocolVersion?
    var bytes: [UInt8]
    var code: MQTTCodecError.Code

    var testDescription: String { "\(name) (\(version.map { "\($0)" } ?? "no version"))" }
}

private func s(_ string: String) -> [UInt8] { TestSupport.mqttString(string) }

/// A CONNECT with the given name, level, flags and payload (v5 gets an empty property list when `level` is 5).
private func connect(name: String = "MQTT", level: UInt8 = 4, flags: UInt8 = 0x02, payload: [UInt8] = s("c")) -> [UInt8]
{
    let body = s(name) + [level, flags, 0x00, 0x3C] + (level == 5 ? [0x00] : []) + payload
    return [0x10, UInt8(body.count)] + body
}

/// A packet with a correct remaining length around `body`.
private func packet(_ first: UInt8, _ body: [UInt8]) -> [UInt8] { [first, UInt8(body.count)] + body }

enum MalformedCases {
    static let fixedHeader: [MalformedCase] = [
        MalformedCase(
            name: "remaining length with a 5th continuation byte [MQTT-1.5.5]", version: .v5,
            bytes: [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], code: .malformedPacket),
        MalformedCase(
            name: "remaining length 0x80x4 before the body", version: .v3_1_1, bytes: [0xC0, 0x80, 0x80, 0x80, 0x80],
            code: .malformedPacket),
        MalformedCase(name: "packet type 0", version: .v5, bytes: [0x00, 0x00], code: .malformedPacket),
        MalformedCase(name: "packet type 0 before CONNECT", version: nil, bytes: [0x00, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "AUTH in 3.1.1 (reserved type 15)", version: .v3_1_1, bytes: [0xF0, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "AUTH in 3.1 (reserved type 15)", version: .v3_1, bytes: [0xF0, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "PUBREL flags 0000 [MQTT-3.6.1-1]", version: .v5, bytes: [0x60, 0x02, 0x00, 0x01],
            code: .malformedPacket),
        MalformedCase(
            name: "PUBREL flags 0011 [MQTT-3.6.1-1]", version: .v3_1_1, bytes: [0x63, 0x02, 0x00, 0x01],
            code: .malformedPacket),
        MalformedCase(
            name: "SUBSCRIBE flags 0000 [MQTT-3.8.1-1]", version: .v3_1_1,
            bytes: packet(0x80, [0x00, 0x01] + s("a") + [0x00]), code: .malformedPacket),
        MalformedCase(
            name: "UNSUBSCRIBE flags 0000 [MQTT-3.10.1-1]", version: .v5,
            bytes: packet(0xA0, [0x00, 0x01, 0x00] + s("a")), code: .malformedPacket),
        MalformedCase(
            name: "PUBLISH QoS 3 [MQTT-3.3.1-4]", version: .v3_1_1, bytes: packet(0x36, s("t") + [0x00, 0x01]),
            code: .malformedPacket),
        MalformedCase(
            name: "PUBLISH DUP with QoS 0 [MQTT-3.3.1-2]", version: .v5, bytes: packet(0x38, s("t") + [0x00]),
            code: .malformedPacket),
        MalformedCase(
            name: "PUBACK flags 0001 [MQTT-2.1.3-1]", version: .v5, bytes: [0x41, 0x02, 0x00, 0x01],
            code: .malformedPacket),
        MalformedCase(name: "PINGREQ flags 1000", version: .v3_1_1, bytes: [0xC8, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "CONNECT flags 0001", version: nil, bytes: [0x11] + connect().dropFirst(), code: .malformedPacket),
        MalformedCase(name: "DISCONNECT flags 0010", version: .v5, bytes: [0xE2, 0x00], code: .malformedPacket),
    ]

    static let state: [MalformedCase] = [
        MalformedCase(
            name: "PUBLISH before CONNECT [MQTT-3.1.0-1]", version: nil, bytes: packet(0x30, s("t")),
            code: .protocolError),
        MalformedCase(
            name: "PINGREQ before CONNECT [MQTT-3.1.0-1]", version: nil, bytes: [0xC0, 0x00], code: .protocolError),
        MalformedCase(
            name: "AUTH before CONNECT [MQTT-3.1.0-1]", version: nil, bytes: [0xF0, 0x00], code: .protocolError),
        MalformedCase(name: "second CONNECT [MQTT-3.1.0-2]", version: .v3_1_1, bytes: connect(), code: .protocolError),
    ]

    static let lengths: [MalformedCase] = [
        MalformedCase(
            name: "3.1.1 PUBACK with trailing byte", version: .v3_1_1, bytes: [0x40, 0x03, 0x00, 0x01, 0x00],
            code: .malformedPacket),
        MalformedCase(
            name: "3.1 PUBCOMP with trailing byte", version: .v3_1, bytes: [0x70, 0x03, 0x00, 0x01, 0x00],
            code: .malformedPacket),
        MalformedCase(name: "PUBACK of 1 byte", version: .v5, bytes: [0x40, 0x01, 0x00], code: .malformedPacket),
        MalformedCase(name: "PUBREC of 0 bytes", version: .v3_1_1, bytes: [0x50, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "3.1.1 DISCONNECT with a body [MQTT-3.14.1]", version: .v3_1_1, bytes: [0xE0, 0x01, 0x00],
            code: .malformedPacket),
        MalformedCase(
            name: "3.1 DISCONNECT with a body", version: .v3_1, bytes: [0xE0, 0x01, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "3.1.1 PINGREQ with a body [MQTT-3.12.1]", version: .v3_1_1, bytes: [0xC0, 0x01, 0x00],
            code: .malformedPacket),
        MalformedCase(name: "5 PINGREQ with a body", version: .v5, bytes: [0xC0, 0x01, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "PINGRESP with a body", version: .v3_1_1, bytes: [0xD0, 0x01, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "CONNECT with a trailing byte", version: nil,
            bytes: packet(0x10, Array(connect().dropFirst(2)) + [0x00]),
            code: .malformedPacket),
        MalformedCase(
            name: "CONNECT cut short", version: nil, bytes: packet(0x10, s("MQTT") + [0x04, 0x02]),
            code: .malformedPacket),
        MalformedCase(
            name: "CONNECT without client identifier", version: nil, bytes: connect(payload: []), code: .malformedPacket
        ),
        MalformedCase(
            name: "CONNECT user name flag without user name", version: nil, bytes: connect(flags: 0x82),
            code: .malformedPacket),
        MalformedCase(
            name: "CONNECT will flag without will topic", version: nil, bytes: connect(flags: 0x06),
            code: .malformedPacket),
        MalformedCase(name: "CONNACK of 1 byte", version: .v3_1_1, bytes: [0x20, 0x01, 0x00], code: .malformedPacket),
        MalformedCase(
            name: "3.1.1 CONNACK with 3 bytes", version: .v3_1_1, bytes: [0x20, 0x03, 0x00, 0x00, 0x00],
            code: .malformedPacket),
        MalformedCase(
            name: "5 CONNACK without property length (MQTT 5 §3.2.2.3)", version: .v5, bytes: [0x20, 0x02, 0x00, 0x00],
            code: .malformedPacket),
        MalformedCase(
            name: "PUBLISH topic length beyond the packet", version: .v3_1_1, bytes: [0x30, 0x03, 0x00, 0x05, 0x61],
            code: .malformedPacket),
        MalformedCase(
            name: "PUBLISH QoS 1 without packet identifier", version: .v3_1_1, bytes: packet(0x32, s("t") + [0x00]),
            code: .malformedPacket),
        MalformedCase(
            name: "5 PUBLISH without property length", version: .v5, bytes: packet(0x30, s("t")), code: .malformedPacket
        ),
        MalformedCase(
            name: "SUBSCRIBE entry without options byte", version: .v3_1_1, bytes: packet(0x82, [0x00, 0x01] + s("a")),
            code: .malformedPacket),
        MalformedCase(
            name: "UNSUBACK 3.1.1 with reason codes", version: .v3_1_1, bytes: [0xB0, 0x03, 0x00, 0x01, 0x00],
            code: .malformedPacket),
    ]

    static let strings: [MalformedCase] = [
        MalformedCase(
            name: "invalid UTF-8 in topic [MQTT-1.5.4-1]", version: .v3_1_1,
            bytes: packet(0x30, [0x00, 0x02, 0xC3, 0x28]),
            code: .malformedPacket),
        MalformedCase(
            name: "overlong NUL in topic [MQTT-1.5.4-1]", version: .v3_1_1,
            bytes: packet(0x30, [0x00, 0x02, 0xC0, 0x80]),
            code: .malformedPacket),
        MalformedCase(
            name: "UTF-16 surrogate in topic [MQTT-1.5.4-1]", version: .v5,
            bytes: packet(0x30, [0x00, 0x03, 0xED, 0xA0, 0x80, 0x00]), code: .malformedPacket),
        MalformedCase(
            name: "truncated multi-byte sequence in topic", version: .v5,
            bytes: packet(0x30, [0x00, 0x01, 0xE2, 0x00]),
            code: .malformedPacket),
        MalformedCase(
            name: "U+0000 in topic [MQTT-1.5.4-2]", version: .v3_1_1,
            bytes: packet(0x30, [0x00, 0x03, 0x61, 0x00, 0x62]),
            code: .malformedPacket),
        MalformedCase(
            name: "U+0000 in client identifier [MQTT-1.5.4-2]", version: nil,
            bytes: connect(payload: [0x00, 0x01, 0x00]), code: .malformedPacket),
        MalformedCase(
            name: "invalid UTF-8 in user name", version: nil,
            bytes: connect(flags: 0x82, payload: s("c") + [0x00, 0x01, 0xFF]),
            code: .malformedPacket),
        MalformedCase(
            name: "invalid UTF-8 in topic filter", version: .v3_1_1,
            bytes: packet(0x82, [0x00, 0x01, 0x00, 0x01, 0x80, 0x00]), code: .malformedPacket),
        MalformedCase(
            name: "U+0000 in unsubscribe filter", version: .v3_1_1,
            bytes: packet(0xA2, [0x00, 0x01, 0x00, 0x01, 0x00]),
            code: .malformedPacket),
    ]

    static let connectRules: [MalformedCase] = [
        MalformedCase(name: "MQTT level 3", version: nil, bytes: connect(level: 3), code: .unsupportedProtocolVersion),
        MalformedCase(
            name: "MQIsdp level 4", version: nil, bytes: connect(name: "MQIsdp", level: 4),
            code: .unsupportedProtocolVersion),
        MalformedCase(
            name: "MQIsdp level 5", version: nil, bytes: connect(name: "MQIsdp", level: 5),
            code: .unsupportedProtocolVersion),
        MalformedCase(name: "MQTT level 6", version: nil, bytes: connect(level: 6), code: .unsupportedProtocolVersion),
        MalformedCase(name: "MQTT level 0", version: nil, bytes: connect(level: 0), code: .unsupportedProtocolVersion),
        MalformedCase(
            name: "protocol name mqtt [MQTT-3.1.2-1]", version: nil, bytes: connect(name: "mqtt"),
            code: .unsupportedProtocolVersion),
        MalformedCase(
            name: "protocol name MQTTX", version: nil, bytes: connect(name: "MQTTX"),
            code: .unsupportedProtocolVersion),
        MalformedCase(
            name: "empty protocol name", version: nil, bytes: connect(name: ""), code: .unsupportedProtocolVersion),
        MalformedCase(
            name: "connect reserved flag [MQTT-3.1.2-3]", version: nil, bytes: connect(flags: 0x03),
            code: .malformedPacket),
        MalformedCase(
            name: "connect reserved flag 5 [MQTT-3.1.2-3]", version: nil, bytes: connect(level: 5, flags: 0x01),
            code: .malformedPacket),
        MalformedCase(
            name: "will QoS 3 [MQTT-3.1.2-12]", version: nil,
            bytes: connect(flags: 0x1E, payload: s("c") + s("t") + s("")),
            code: .malformedPacket),
        MalformedCase(
            name: "will QoS 1 without will flag [MQTT-3.1.2-11]", version: nil, bytes: connect(flags: 0x0A),
            code: .malformedPacket),
        MalformedCase(
            name: "will QoS 2 without will flag [MQTT-3.1.2-11]", version: nil, bytes: connect(level: 5, flags: 0x12),
            code: .malformedPacket),
        MalformedCase(
            name: "will retain without will flag [MQTT-3.1.2-13]", version: nil, bytes: connect(flags: 0x22),
            code: .malformedPacket),
        MalformedCase(
            name: "3.1.1 password without user name [MQTT-3.1.2-22]", version: nil,
            bytes: connect(flags: 0x42, payload: s("c") + s("pw")), code: .malformedPacket),
        MalformedCase(
            name: "3.1 password without user name", version: nil,
            bytes: connect(name: "MQIsdp", level: 3, flags: 0x42, payload: s("c") + s("pw")), code: .malformedPacket),
        MalformedCase(
            name: "will topic with wildcard [MQTT-3.1.3-11]", version: nil,
            bytes: connect(flags: 0x06, payload: s("c") + s("a/#") + s("")), code: .topicNameInvalid),
        MalformedCase(
            name: "empty will topic [MQTT-4.7.3-1]", version: nil,
            bytes: connect(flags: 0x06, payload: s("c") + s("") + s("")),
            code: .topicNameInvalid),
        MalformedCase(
            name: "CONNACK 3.1.1 reserved flags [MQTT-3.2.2-1]", version: .v3_1_1, bytes: [0x20, 0x02, 0x02, 0x00],
            code: .malformedPacket),
        MalformedCase(
            name: "CONNACK 5 reserved flags", version: .v5, bytes: [0x20, 0x03, 0x80, 0x00, 0x00],
            code: .malformedPacket),
        MalformedCase(
            name: "CONNACK 3.1.1 return code 6 (reserved)", version: .v3_1_1, bytes: [0x20, 0x02, 0x00, 0x06],
            code: .malformedPacket),
    ]

    static let publishRules: [MalformedCase] = [
        MalformedCase(
            name: "QoS 1 packet identifier 0 [MQTT-2.2.1-3]", version: .v3_1_1,
            bytes: packet(0x32, s("t") + [0x00, 0x00]),
            code: .protocolError),
        MalformedCase(
            name: "QoS 2 packet identifier 0 [MQTT-2.2.1-3]", version: .v5,
            bytes: packet(0x34, s("t") + [0x00, 0x00, 0x00]),
            code: .protocolError),
        MalformedCase(
            name: "topic with + [MQTT-3.3.2-2]", version: .v3_1_1, bytes: packet(0x30, s("a/+")),
            code: .topicNameInvalid),
        MalformedCase(
            name: "topic with # [MQTT-3.3.2-2]", version: .v5, bytes: packet(0x30, s("#") + [0x00]),
            code: .topicNameInvalid),
        MalformedCase(
            name: "topic a+b [MQTT-3.3.2-2]", version: .v3_1, bytes: packet(0x30, s("a+b")), code: .topicNameInvalid),
        MalformedCase(name: "empty topic in 3.1.1", version: .v3_1_1, bytes: packet(0x30, s("")), code: .protocolError),
        MalformedCase(
            name: "empty topic in 3.1", version: .v3_1, bytes: packet(0x30, s("") + [1]), code: .protocolError),
        MalformedCase(
            name: "empty topic in 5 without topic alias (MQTT 5 §3.3.2.1)", version: .v5,
            bytes: packet(0x30, s("") + [0x00]),
            code: .protocolError),
        MalformedCase(
            name: "empty topic in 5 with other properties only", version: .v5,
            bytes: packet(0x30, s("") + [0x02, 0x01, 0x00]), code: .protocolError),
        MalformedCase(
            name: "PUBACK packet identifier 0", version: .v3_1_1, bytes: [0x40, 0x02, 0x00, 0x00],
            code: .protocolError),
    ]

    static let subscribeRules: [MalformedCase] = [
        MalformedCase(
            name: "SUBSCRIBE without entries 3.1.1 [MQTT-3.8.3-3]", version: .v3_1_1,
            bytes: packet(0x82, [0x00, 0x01]),
            code: .protocolError),
        MalformedCase(
            name: "SUBSCRIBE without entries 5 [MQTT-3.8.3-2]", version: .v5, bytes: packet(0x82, [0x00, 0x01, 0x00]),
            code: .protocolError),
        MalformedCase(
            name: "SUBSCRIBE packet identifier 0 [MQTT-2.2.1-3]", version: .v3_1_1,
            bytes: packet(0x82, [0x00, 0x00] + s("a") + [0x00]), code: .protocolError),
        MalformedCase(
            name: "3.1.1 options upper bits [MQTT-3-8.3-4]", version: .v3_1_1,
            bytes: packet(0x82, [0x00, 0x01] + s("a") + [0x04]), code: .malformedPacket),
        MalformedCase(
            name: "3.1 options bit 7", version: .v3_1, bytes: packet(0x82, [0x00, 0x01] + s("a") + [0x80]),
            code: .malformedPacket),
        MalformedCase(
            name: "3.1.1 requested QoS 3 [MQTT-3-8.3-4]", version: .v3_1_1,
            bytes: packet(0x82, [0x00, 0x01] + s("a") + [0x03]), code: .malformedPacket),
        MalformedCase(
            name: "5 options bit 6 [MQTT-3.8.3-5]", version: .v5,
            bytes: packet(0x82, [0x00, 0x01, 0x00] + s("a") + [0x40]),
            code: .malformedPacket),
        MalformedCase(
            name: "5 options bit 7 [MQTT-3.8.3-5]", version: .v5,
            bytes: packet(0x82, [0x00, 0x01, 0x00] + s("a") + [0x80]),
            code: .malformedPacket),
        MalformedCase(
            name: "5 retain handling 3", version: .v5, bytes: packet(0x82, [0x00, 0x01, 0x00] + s("a") + [0x30]),
            code: .malformedPacket),
        MalformedCase(
            name: "5 requested QoS 3", version: .v5, bytes: packet(0x82, [0x00, 0x01, 0x00] + s("a") + [0x03]),
            code: .malformedPacket),
        MalformedCase(
            name: "5 No Local on a shared subscription [MQTT-3.8.3-4]", version: .v5,
            bytes: packet(0x82, [0x00, 0x01, 0x00] + s("$share/g/t") + [0x04]), code: .protocolError),
        MalformedCase(
            name: "filter a/#/b [MQTT-4.7.1-1]", version: .v3_1_1,
            bytes: packet(0x82, [0x00, 0x01] + s("a/#/b") + [0x00]),
            code: .topicFilterInvalid),
        MalformedCase(
            name: "filter a+ [MQTT-4.7.1-2]", version: .v5, bytes: packet(0x82, [0x00, 0x01, 0x00] + s("a+") + [0x00]),
            code: .topicFilterInvalid),
        MalformedCase(
            name: "empty filter [MQTT-4.7.3-1]", version: .v3_1_1, bytes: packet(0x82, [0x00, 0x01] + s("") + [0x00]),
            code: .topicFilterInvalid),
        MalformedCase(
            name: "shared subscription without filter [MQTT-4.8.2-2]", version: .v5,
            bytes: packet(0x82, [0x00, 0x01, 0x00] + s("$share/g") + [0x00]), code: .topicFilterInvalid),
        MalformedCase(
            name: "second filter invalid", version: .v3_1_1,
            bytes: packet(0x82, [0x00, 0x01] + s("ok") + [0x00] + s("#/x") + [0x00]), code: .topicFilterInvalid),
        MalformedCase(
            name: "UNSUBSCRIBE without filters 3.1.1 [MQTT-3.10.3-2]", version: .v3_1_1,
            bytes: packet(0xA2, [0x00, 0x01]),
            code: .protocolError),
        MalformedCase(
            name: "UNSUBSCRIBE without filters 5 [MQTT-3.10.3-2]", version: .v5,
            bytes: packet(0xA2, [0x00, 0x01, 0x00]),
            code: .protocolError),
        MalformedCase(
            name: "UNSUBSCRIBE invalid filter", version: .v5, bytes: packet(0xA2, [0x00, 0x01, 0x00] + s("a/b#")),
            code: .topicFilterInvalid),
        MalformedCase(
            name: "SUBACK 3.1.1 return code 3 [MQTT-3.9.3-2]", version: .v3_1_1, bytes: [0x90, 0x03, 0x00, 0x01, 0x03],
            code: .malformedPacket),
        MalformedCase(
            name: "SUBACK without codes", version: .v3_1_1, bytes: [0x90, 0x02, 0x00, 0x01], code: .protocolError),
    ]

    static let all = fixedHeader + state + lengths + strings + connectRules + publishRules + subscribeRules
}

@Suite("Malformed input")
struct MalformedTests {
    @Test("refused with the right error code", arguments: MalformedCases.all)
    func refused(_ sample: MalformedCase) {
        var decoder = MQTTPacketDecoder(protocolVersion: sample.version)
        var buffer = ByteBuffer(bytes: sample.bytes)
        let error = #expect(throws: MQTTCodecError.self) { try decoder.decode(buffer: &buffer) }
        #expect(error?.code == sample.code, "\(error?.description ?? "")")
        #expect(buffer.readableBytes == sample.bytes.count, "consumed bytes of a refused packet")
        #expect(decoder.protocolVersion == sample.version, "a refused packet changed the protocol version")
    }

    @Test("error reason codes (MQTT 5 §4.13)")
    func reasonCodes() {
        #expect(MQTTCodecError.malformed("x").reasonCode == .malformedPacket)
        #expect(MQTTCodecError.protocolError("x").reasonCode == .protocolError)
        #expect(MQTTCodecError(.unsupportedProtocolVersion, "x").reasonCode == .unsupportedProtocolVersion)
    }

    @Test("fixed-header errors are raised from the first byte, before the rest arrives")
    func earlyFixedHeaderErrors() {
        for (version, first) in [(ProtocolVersion?.some(.v5), UInt8(0x00)), (.v5, 0x36), (.v5, 0x60), (nil, 0x30)] {
            var decoder = MQTTPacketDecoder(protocolVersion: version)
            var buffer = ByteBuffer(bytes: [first])
            #expect(throws: MQTTCodecError.self) { try decoder.decode(buffer: &buffer) }
        }
    }
}
