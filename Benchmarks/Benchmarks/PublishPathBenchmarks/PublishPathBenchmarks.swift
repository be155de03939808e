import Benchmark
import BenchmarkSupport
import BrokerCore
import MQTTCodec
import NIOCore

/// The publish path in memory, without a network: `Broker.publish` routing one message to 1 and to 100 connected
/// sessions, and whole rounds through two `ClientConnection`s, from the publisher's bytes to the subscriber's.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .rampart()

    // MARK: Broker.publish

    // Routing and queueing only: a measured iteration publishes `scalingFactor` messages, then (unmeasured) empties
    // the queues, keeping their storage, so that every iteration starts from the same state.
    for subscribers in [1, 100] {
        let name = "Broker.publish-QoS0-\(subscribers)-subscriber\(subscribers == 1 ? "" : "s")"
        Benchmark(name) { benchmark, fixture in
            let publish = fixture.publish
            for _ in benchmark.scaledIterations {
                let message = Message(publish: publish, topic: publish.topic, publisherID: "gateway", now: fixture.now)
                blackHole(fixture.broker.publish(message, now: fixture.now))
            }
            benchmark.stopMeasurement()
            fixture.emptyQueues(expecting: benchmark.scaledIterations.count)
        } setup: {
            BrokerFixture(subscribers: subscribers)
        }
    }

    // MARK: ClientConnection rounds

    // A PUBLISH QoS 0 arrives as bytes, is decoded and handled by the publisher's connection, and reaches the
    // subscriber's connection, which drains it into its outbound bytes.
    Benchmark("ClientConnection-round-QoS0") { benchmark, pair in
        for _ in benchmark.scaledIterations {
            try pair.publishRound()
        }
    } setup: {
        try ConnectionPair(qos: .atMostOnce)
    }

    // The same at QoS 1: the publisher gets a PUBACK, the subscriber's PUBLISH goes in flight and its PUBACK, as
    // bytes, completes the flow.
    Benchmark("ClientConnection-round-QoS1-PUBACKs") { benchmark, pair in
        for _ in benchmark.scaledIterations {
            try pair.publishRound()
        }
        benchmark.stopMeasurement()
        pair.checkNothingInFlight()
    } setup: {
        try ConnectionPair(qos: .atLeastOnce)
    }
}

/// The instant every benchmark runs at; nothing here expires, so time does not need to move.
private let benchmarkNow = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

/// A `SessionConnection` that ignores the broker's requests: deliveries stay queued until the benchmark takes them.
private final class NullConnection: SessionConnection {
    func scheduleDrain() {}
    func sessionTakenOver() {}
}

/// A broker with `subscribers` connected sessions, each subscribed (QoS 0) to one filter that matches
/// `Fixtures.topic`: the exact topic, `sensors/+/line3/temp`, `sensors/plant1/#` or `+/plant1/line3/+`, in turn.
private final class BrokerFixture {
    let now = benchmarkNow
    let broker: Broker
    let sessions: [Session]
    /// The PUBLISH every message is built from, as `ClientConnection` builds it from the packet it received.
    let publish = Fixtures.publishQoS0

    init(subscribers: Int) {
        var configuration = BrokerConfiguration()
        // Room for a measured iteration's messages; the queues are emptied between iterations.
        configuration.maxQueuedMessages = 10 * BenchmarkScalingFactor.kilo.rawValue
        let now = benchmarkNow
        let broker = Broker(configuration: configuration, now: now)
        let filters = [Fixtures.topic, "sensors/+/line3/temp", "sensors/plant1/#", "+/plant1/line3/+"]
        sessions = (0..<subscribers).map { index in
            let attachment = broker.attach(
                clientID: "dashboard-\(index)",
                cleanStart: true,
                expiryInterval: 0,
                will: nil,
                connection: NullConnection(),
                now: now
            )
            let subscription = TopicSubscription(
                filter: filters[index % filters.count],
                options: SubscriptionOptions(qos: .atMostOnce)
            )
            let codes = broker.subscribe(
                session: attachment.session,
                subscriptions: [subscription],
                identifier: nil,
                now: now
            )
            precondition(codes == [.success], "subscribe refused: \(codes)")
            return attachment.session
        }
        self.broker = broker
    }

    /// Empties every session's queue, keeping its storage, after checking that it holds `count` deliveries (none
    /// was dropped).
    func emptyQueues(expecting count: Int) {
        for session in sessions {
            session.state.withLock { state in
                precondition(state.queue.count == count, "\(state.queue.count) queued, \(count) published")
                state.queue.removeAll(keepingCapacity: true)
            }
        }
    }
}

/// A publisher and a subscriber `ClientConnection` on one broker, both MQTT 5, each behind its own decoder as the
/// channel handler drives them; the subscriber is subscribed to `Fixtures.topic` at `qos`.
private final class ConnectionPair {
    let now = benchmarkNow
    let qos: QoS
    let broker = Broker(now: benchmarkNow)
    let publisher: ClientConnection
    let subscriber: ClientConnection
    private var publisherDecoder = MQTTPacketDecoder()
    private var subscriberDecoder = MQTTPacketDecoder()
    private var publisherCumulation: ByteBuffer?
    private var subscriberCumulation: ByteBuffer?
    /// One PUBLISH at `qos`, as the publisher's client sends it.
    private let publishBytes: ByteBuffer
    /// Where the subscriber's client encodes its PUBACK.
    private var acknowledgement = ByteBufferAllocator().buffer(capacity: 16)

    init(qos: QoS) throws(MQTTCodecError) {
        self.qos = qos
        publisher = ClientConnection(broker: broker, handle: NullConnection(), allocator: ByteBufferAllocator())
        subscriber = ClientConnection(broker: broker, handle: NullConnection(), allocator: ByteBufferAllocator())
        var publish = Fixtures.publishQoS0
        if qos != .atMostOnce {
            publish.qos = qos
            publish.packetIdentifier = 1
        }
        publishBytes = try Fixtures.encode([.publish(publish)])

        try read(
            Fixtures.encode([Self.connect("plant1-gateway")]),
            into: publisher,
            decoder: &publisherDecoder,
            cumulation: &publisherCumulation
        )
        let subscription = TopicSubscription(filter: Fixtures.topic, options: SubscriptionOptions(qos: qos))
        try read(
            Fixtures.encode([
                Self.connect("dashboard"),
                .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [subscription])),
            ]),
            into: subscriber,
            decoder: &subscriberDecoder,
            cumulation: &subscriberCumulation
        )
        precondition(publisher.phase == .connected && subscriber.phase == .connected, "CONNECT refused")
        precondition(broker.subscriptionCount == 1, "SUBSCRIBE refused")
        // CONNACKs and SUBACK.
        _ = publisher.takeOutbound()
        _ = subscriber.takeOutbound()
    }

    /// One message from the publisher's bytes to the subscriber's bytes, with the acknowledgements of its QoS.
    func publishRound() throws(MQTTCodecError) {
        try read(publishBytes, into: publisher, decoder: &publisherDecoder, cumulation: &publisherCumulation)
        blackHole(publisher.takeOutbound())  // PUBACK at QoS 1, nothing at QoS 0
        _ = subscriber.drain(now: now, limit: 256)
        guard let delivered = subscriber.takeOutbound() else { preconditionFailure("nothing delivered") }
        if qos == .atLeastOnce {
            acknowledgement.clear()
            let ack = AckPacket(packetIdentifier: try Self.packetIdentifier(ofPublish: delivered))
            try MQTTPacketEncoder.encode(.puback(ack), version: .v5, into: &acknowledgement)
            try read(acknowledgement, into: subscriber, decoder: &subscriberDecoder, cumulation: &subscriberCumulation)
            blackHole(subscriber.takeOutbound())
        }
        blackHole(delivered)
    }

    /// A clean-start MQTT 5 CONNECT for `clientID`.
    private static func connect(_ clientID: String) -> MQTTPacket {
        .connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: clientID, cleanStart: true, keepAlive: 60))
    }

    /// Checks that every QoS 1 delivery was acknowledged.
    func checkNothingInFlight() {
        let inflight = broker.session(clientID: "dashboard")?.state.withLock { $0.inflight.count }
        precondition(inflight == 0, "\(String(describing: inflight)) deliveries in flight")
    }

    /// Hands one read to `connection` as the channel handler does: append, then decode and receive every whole
    /// packet.
    private func read(
        _ bytes: ByteBuffer,
        into connection: ClientConnection,
        decoder: inout MQTTPacketDecoder,
        cumulation: inout ByteBuffer?
    ) throws(MQTTCodecError) {
        var bytes = bytes
        MQTTPacketDecoder.append(&bytes, to: &cumulation)
        while let packet = try decoder.next(from: &cumulation) {
            guard connection.receive(packet, now: now) == .keepOpen else {
                preconditionFailure("\(packet.type) closed the connection")
            }
        }
    }

    /// The packet identifier of the single QoS 1/2 PUBLISH in `bytes`: after the fixed header and the topic name.
    private static func packetIdentifier(ofPublish bytes: ByteBuffer) throws(MQTTCodecError) -> UInt16 {
        var offset = bytes.readerIndex + 1
        while let byte: UInt8 = bytes.getInteger(at: offset), byte & 0x80 != 0 { offset += 1 }
        offset += 1
        guard let topicLength: UInt16 = bytes.getInteger(at: offset),
            let identifier: UInt16 = bytes.getInteger(at: offset + 2 + Int(topicLength))
        else { throw .malformed("delivered PUBLISH is truncated") }
        return identifier
    }
}
