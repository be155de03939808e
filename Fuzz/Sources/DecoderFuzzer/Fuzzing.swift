import MQTTCodec
import NIOCore

/// The decoder configurations every input is tried with: a server before CONNECT, a client of each version, and
/// small maximum packet sizes so that the size check is exercised on ordinary inputs.
private let configurations: [(version: ProtocolVersion?, maximumPacketSize: Int)] = [
    (nil, 268_435_460),
    (.v3_1, 268_435_460),
    (.v3_1_1, 268_435_460),
    (.v5, 268_435_460),
    (nil, 64),
    (.v3_1_1, 16),
    (.v5, 32),
]

/// The fuzz target (libFuzzer's `LLVMFuzzerTestOneInput`, also exported under that name): decodes the input as a
/// stream of packets under every configuration. Every packet that decodes must re-encode, decode again to an equal
/// packet, and encode again to the same bytes; anything else traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = ByteBuffer(bytes: UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    for configuration in configurations {
        var decoder = MQTTPacketDecoder(
            protocolVersion: configuration.version,
            maximumPacketSize: configuration.maximumPacketSize
        )
        var buffer = input
        while true {
            let before = buffer.readableBytes
            let packet: MQTTPacket?
            do {
                packet = try decoder.decode(buffer: &buffer)
            } catch {
                check(buffer.readableBytes == before, "a refused packet consumed bytes: \(error)")
                break
            }
            guard let packet else {
                check(buffer.readableBytes == before, "an incomplete packet consumed bytes")
                break
            }
            let consumed = before - buffer.readableBytes
            check(consumed > 0 && consumed <= configuration.maximumPacketSize, "consumed \(consumed) bytes")
            guard let version = decoder.protocolVersion else {
                fatalError("decoded \(packet.type) but the decoder has no protocol version")
            }
            roundTrip(packet, version: version)
            exerciseTopics(packet)
        }
    }
    return 0
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// encode → decode → encode: the packets must be equal and the two encodings identical.
private func roundTrip(_ packet: MQTTPacket, version: ProtocolVersion) {
    var encoded = ByteBuffer()
    let written: Int
    do {
        written = try MQTTPacketEncoder.encode(packet, version: version, into: &encoded)
    } catch {
        fatalError("a decoded \(packet.type) does not encode for \(version): \(error)\n\(packet)")
    }
    check(written == encoded.readableBytes, "encode returned \(written), wrote \(encoded.readableBytes)")

    var decoder = MQTTPacketDecoder(protocolVersion: packet.type == .connect ? nil : version)
    var copy = encoded
    let decoded: MQTTPacket?
    do {
        decoded = try decoder.decode(buffer: &copy)
    } catch {
        fatalError(
            "re-encoded \(packet.type) does not decode for \(version): \(error)\n\(packet)\n"
                + encoded.hexDump(format: .plain)
        )
    }
    check(copy.readableBytes == 0, "re-encoded \(packet.type) left \(copy.readableBytes) bytes")
    check(decoded == packet, "round trip mismatch for \(version):\n\(packet)\n\(String(describing: decoded))")

    var again = ByteBuffer()
    do {
        try MQTTPacketEncoder.encode(decoded ?? packet, version: version, into: &again)
    } catch {
        fatalError("second encoding failed: \(error)")
    }
    check(again == encoded, "encoding is not deterministic for \(packet.type)")
}

/// Runs the topic functions on whatever topics and filters the input produced: they must not crash, and a
/// topic-like filter must match itself.
private func exerciseTopics(_ packet: MQTTPacket) {
    switch packet {
    case .publish(let publish) where !publish.topic.isEmpty:
        check((try? Topic.validateName(publish.topic)) != nil, "decoded PUBLISH topic fails validateName")
        check(Topic.matches(filter: publish.topic, topic: publish.topic), "topic does not match itself")
        check(Topic.matches(filter: "#", topic: publish.topic) == !publish.topic.hasPrefix("$"), "# vs $ rule")
    case .subscribe(let subscribe):
        for subscription in subscribe.subscriptions {
            let filter = subscription.filter
            check((try? Topic.validateFilter(filter)) != nil, "decoded SUBSCRIBE filter fails validateFilter")
            if let shared = Topic.sharedSubscription(filter) {
                check(!shared.group.isEmpty && !shared.filter.isEmpty, "empty shared subscription part")
                _ = Topic.matches(filter: shared.filter, topic: shared.filter)
            } else {
                _ = Topic.matches(filter: filter, topic: filter)
            }
        }
    default:
        break
    }
}
