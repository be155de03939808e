import MQTTCodec
import NIOCore

/// The packets the benchmarks send: telemetry as a plant's gateway would publish it.
package enum Fixtures {
    /// A 25-byte topic: long enough that Swift stores it on the heap (more than 15 UTF-8 bytes), as most real
    /// topics are.
    package static let topic = "sensors/plant1/line3/temp"

    /// A 16-byte payload (a timestamp and a reading, say).
    package static var payload: ByteBuffer {
        ByteBuffer(bytes: (0..<16).map { UInt8($0) })
    }

    /// PUBLISH QoS 0 on `topic`, without properties.
    package static var publishQoS0: PublishPacket {
        PublishPacket(topic: topic, payload: payload)
    }

    /// PUBLISH QoS 1 as the broker sends it to a v5 subscriber: message expiry, content type and the
    /// subscription identifier.
    package static var publishQoS1WithProperties: PublishPacket {
        var properties = Properties()
        properties.messageExpiryInterval = 300
        properties.contentType = "application/octet-stream"
        properties.subscriptionIdentifiers = [7]
        return PublishPacket(
            topic: topic,
            payload: payload,
            qos: .atLeastOnce,
            packetIdentifier: 42,
            properties: properties
        )
    }

    /// CONNECT v5 as an IoT device sends it: a client identifier, user name and password, session expiry,
    /// receive maximum, maximum packet size and a will.
    package static var connectV5: ConnectPacket {
        var properties = Properties()
        properties.sessionExpiryInterval = 3600
        properties.receiveMaximum = 100
        properties.maximumPacketSize = 1_048_576
        let will = WillMessage(
            topic: "status/plant1-line3-sensor-0042",
            payload: ByteBuffer(string: "offline"),
            qos: .atLeastOnce,
            retain: true
        )
        return ConnectPacket(
            protocolVersion: .v5,
            clientIdentifier: "plant1-line3-sensor-0042",
            cleanStart: false,
            keepAlive: 60,
            username: "gateway",
            password: ByteBuffer(string: "correct horse battery"),
            will: will,
            properties: properties
        )
    }

    /// The bytes of `packets` encoded back to back for `version`, as one read from the network would hold them.
    package static func encode(
        _ packets: [MQTTPacket],
        version: ProtocolVersion = .v5
    ) throws(MQTTCodecError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64 * packets.count)
        for packet in packets {
            try MQTTPacketEncoder.encode(packet, version: version, into: &buffer)
        }
        return buffer
    }
}
