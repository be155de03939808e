import Benchmark
import BenchmarkSupport
import MQTTCodec
import NIOCore

/// The MQTT codec: decoding what a client sends, encoding what the broker sends.
///
/// Decoding goes through `MQTTPacketDecoder.append(_:to:)` and `next(from:)`, as the channel handler drives it for
/// every read; encoding writes into a buffer that is cleared, not reallocated, between packets, as a connection's
/// `outbound` buffer is reused within one flush.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .rampart()

    // MARK: Decoding

    // One read holding one PUBLISH: the cumulation takes the read's buffer as it is, and is empty afterwards.
    Benchmark("Decode-PUBLISH-QoS0") { benchmark, bytes in
        var decoder = MQTTPacketDecoder(protocolVersion: .v5)
        for _ in benchmark.scaledIterations {
            var read = bytes
            var cumulation: ByteBuffer?
            MQTTPacketDecoder.append(&read, to: &cumulation)
            blackHole(try decoder.next(from: &cumulation))
        }
    } setup: {
        try Fixtures.encode([.publish(Fixtures.publishQoS0)])
    }

    // One read holding 1,000 PUBLISH back to back (46 KB, a full socket read under load): one `next` per packet.
    Benchmark("Decode-PUBLISH-QoS0-1000-in-one-buffer") { benchmark, bytes in
        var decoder = MQTTPacketDecoder(protocolVersion: .v5)
        var read = bytes
        var cumulation: ByteBuffer?
        MQTTPacketDecoder.append(&read, to: &cumulation)
        for _ in benchmark.scaledIterations {
            blackHole(try decoder.next(from: &cumulation))
        }
        benchmark.stopMeasurement()
        precondition(cumulation == nil, "the buffer holds one packet per scaled iteration")
    } setup: {
        try Fixtures.encode(
            Array(repeating: .publish(Fixtures.publishQoS0), count: BenchmarkScalingFactor.kilo.rawValue))
    }

    // The first packet of a connection: a fresh decoder, which learns the protocol version from it.
    Benchmark("Decode-CONNECT-v5") { benchmark, bytes in
        for _ in benchmark.scaledIterations {
            var decoder = MQTTPacketDecoder()
            var read = bytes
            var cumulation: ByteBuffer?
            MQTTPacketDecoder.append(&read, to: &cumulation)
            blackHole(try decoder.next(from: &cumulation))
        }
    } setup: {
        try Fixtures.encode([.connect(Fixtures.connectV5)])
    }

    // MARK: Encoding

    let encodings: [(name: String, packet: MQTTPacket)] = [
        ("Encode-PUBLISH-QoS0", .publish(Fixtures.publishQoS0)),
        ("Encode-PUBLISH-QoS1-properties", .publish(Fixtures.publishQoS1WithProperties)),
        ("Encode-PUBACK", .puback(AckPacket(packetIdentifier: 42))),
    ]
    for (name, packet) in encodings {
        Benchmark(name) { benchmark in
            var buffer = ByteBufferAllocator().buffer(capacity: 256)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                buffer.clear()
                blackHole(try MQTTPacketEncoder.encode(packet, version: .v5, into: &buffer))
            }
        }
    }
}
