import MQTTCodec
import NIOCore
import Testing

/// Shared helpers for the codec tests: byte vectors in, packets out, and the reverse.
enum TestSupport {
    static let allVersions: [ProtocolVersion] = [.v3_1, .v3_1_1, .v5]

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: bytes)
    }

    /// The bytes of `string` as an MQTT UTF-8 Encoded String (length prefix + bytes).
    static func mqttString(_ string: String) -> [UInt8] {
        let utf8 = Array(string.utf8)
        return [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)] + utf8
    }

    /// Decodes exactly one packet from `bytes`, requiring every byte to be consumed.
    static func decode(_ bytes: [UInt8], version: ProtocolVersion?) throws -> MQTTPacket {
        var decoder = MQTTPacketDecoder(protocolVersion: version)
        var buffer = ByteBuffer(bytes: bytes)
        let packet = try #require(try decoder.decode(buffer: &buffer))
        #expect(buffer.readableBytes == 0, "decoder left \(buffer.readableBytes) bytes")
        return packet
    }

    /// The error `bytes` decode to, or nil when they decode (or are incomplete).
    static func decodeError(_ bytes: [UInt8], version: ProtocolVersion?) -> MQTTCodecError? {
        var decoder = MQTTPacketDecoder(protocolVersion: version)
        var buffer = ByteBuffer(bytes: bytes)
        do {
            _ = try decoder.decode(buffer: &buffer)
            return nil
        } catch {
            return error
        }
    }

    static func encode(_ packet: MQTTPacket, version: ProtocolVersion) throws -> [UInt8] {
        var buffer = ByteBuffer()
        let written = try MQTTPacketEncoder.encode(packet, version: version, into: &buffer)
        #expect(written == buffer.readableBytes)
        return Array(buffer.readableBytesView)
    }

    /// A CONNECT for `version` with a fixed client identifier, as raw bytes.
    static func connectBytes(version: ProtocolVersion) -> [UInt8] {
        var variable = mqttString(version.protocolName) + [version.rawValue, 0x02, 0x00, 0x3C]
        if version == .v5 { variable += [0x00] }
        let body = variable + mqttString("c")
        return [0x10, UInt8(body.count)] + body
    }
}
