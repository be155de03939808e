import BrokerCore
import MQTTCodec
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import MQTTClient

/// `MQTTClientConnection` against the real Rampart broker, in-process on 127.0.0.1. Every wait is bounded.
@Suite("MQTTClient against the Rampart broker", .timeLimit(.minutes(1)))
struct MQTTClientTests {
    // MARK: Connect

    @Test func connectV311ReportsSessionPresentOnResume() async throws {
        try await TestBroker.with { broker in
            let first = try await broker.connect(
                broker.configuration(.v3_1_1, clientIdentifier: "c311", cleanStart: false))
            #expect(first.connAck.reasonCode == .success)
            #expect(first.connAck.sessionPresent == false)
            #expect(first.clientIdentifier == "c311")
            try await first.close()

            let second = try await broker.connect(
                broker.configuration(.v3_1_1, clientIdentifier: "c311", cleanStart: false))
            #expect(second.connAck.sessionPresent == true)
            try await second.close()
        }
    }

    @Test func connectV5GetsAssignedClientIdentifierAndServerLimits() async throws {
        try await TestBroker.with { broker in
            var configuration = broker.configuration(.v5, clientIdentifier: "")
            configuration.connectProperties.sessionExpiryInterval = 60
            let connection = try await broker.connect(configuration)
            let assigned = try #require(connection.connAck.properties.assignedClientIdentifier)
            #expect(assigned.hasPrefix("rampart-"))
            #expect(connection.clientIdentifier == assigned)
            #expect(connection.connAck.properties.receiveMaximum == 20)
            #expect(connection.connAck.sessionPresent == false)
            try await connection.close()

            var again = broker.configuration(.v5, clientIdentifier: assigned, cleanStart: false)
            again.connectProperties.sessionExpiryInterval = 60
            let resumed = try await broker.connect(again)
            #expect(resumed.connAck.sessionPresent == true)
            #expect(resumed.connAck.properties.assignedClientIdentifier == nil)
            try await resumed.close()
        }
    }

    @Test func refusedConnectCarriesReasonCodeAndReasonString() async throws {
        try await TestBroker.with { broker in
            var configuration = broker.configuration(.v5, clientIdentifier: "auth")
            configuration.connectProperties.authenticationMethod = "SCRAM-SHA-1"
            let error = await #expect(throws: MQTTClientError.self) {
                _ = try await broker.connect(configuration)
            }
            #expect(error?.code == .connectionRefused(.badAuthenticationMethod))
            #expect(error?.reasonString?.isEmpty == false)
        }
    }

    @Test func refusedV311ConnectMapsTheReturnCode() async throws {
        try await TestBroker.with { broker in
            // [MQTT-3.1.3-8]: an empty client identifier needs a clean session in 3.1.1 → return code 2.
            let configuration = broker.configuration(.v3_1_1, clientIdentifier: "", cleanStart: false)
            let error = await #expect(throws: MQTTClientError.self) {
                _ = try await broker.connect(configuration)
            }
            #expect(error?.code == .connectionRefused(.clientIdentifierNotValid))
        }
    }

    @Test func connectionRefusedByTheNetworkIsATransportError() async throws {
        // Bind and close a socket to get a port nobody listens on.
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        let configuration = MQTTClientConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(5))
        let error = await #expect(throws: MQTTClientError.self) {
            _ = try await MQTTClientConnection.connect(
                configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                onMessage: { _ in }
            ).get(within: .seconds(10))
        }
        #expect(error?.code == .transport)
        #expect(error?.underlying != nil)
    }

    @Test func missingConnAckTimesOut() async throws {
        // A server that accepts the connection and never answers.
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SilentServer(reply: []))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let configuration = MQTTClientConfiguration(
            host: "127.0.0.1", port: try #require(server.localAddress?.port), clientIdentifier: "impatient",
            connectTimeout: .milliseconds(300))
        let error = await #expect(throws: MQTTClientError.self) {
            _ = try await MQTTClientConnection.connect(
                configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                onMessage: { _ in }
            ).get(within: .seconds(5))
        }
        #expect(error?.code == .timeout)
    }

    // MARK: Publish round trips

    @Test(arguments: [ProtocolVersion.v3_1_1, .v5], [QoS.atMostOnce, .atLeastOnce, .exactlyOnce])
    func publishRoundTripThroughASubscription(version: ProtocolVersion, qos: QoS) async throws {
        try await TestBroker.with { broker in
            let inbox = Inbox()
            let subscriber = try await broker.connect(
                broker.configuration(version, clientIdentifier: "sub"), onMessage: inbox.handler)
            let suback = try await subscriber.subscribe(
                [TopicSubscription(filter: "rt/#", options: SubscriptionOptions(qos: .exactlyOnce))])
            #expect(suback.reasonCodes == [.grantedQoS2])

            let publisher = try await broker.connect(broker.configuration(version, clientIdentifier: "pub"))
            let reason = try await publisher.publish(topic: "rt/a", payload: ByteBuffer(text: "hello"), qos: qos)
            #expect(reason == .success)

            let messages = try await inbox.wait(for: 1)
            #expect(messages[0].topic == "rt/a")
            #expect(messages[0].payload == ByteBuffer(text: "hello"))
            #expect(messages[0].qos == qos)

            let unsuback = try await subscriber.unsubscribe(["rt/#"])
            #expect(unsuback.reasonCodes == (version == .v5 ? [.success] : []))
            try await publisher.close()
            try await subscriber.close()
        }
    }

    @Test func v5PublishWithoutSubscribersReportsNoMatchingSubscribers() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.connect(broker.configuration(.v5, clientIdentifier: "lonely"))
            let qos1 = try await publisher.publish(topic: "nobody", payload: ByteBuffer(text: "x"), qos: .atLeastOnce)
            let qos2 = try await publisher.publish(topic: "nobody", payload: ByteBuffer(text: "x"), qos: .exactlyOnce)
            #expect(qos1 == .noMatchingSubscribers)
            #expect(qos2 == .noMatchingSubscribers)
            try await publisher.close()
        }
    }

    // MARK: Receive Maximum

    @Test(arguments: [QoS.atLeastOnce, .exactlyOnce])
    func receiveMaximumWindowsAThousandPublishesInOrder(qos: QoS) async throws {
        try await TestBroker.with { broker in
            let count = 1000
            let inbox = Inbox()
            let subscriber = try await broker.connect(
                broker.configuration(.v5, clientIdentifier: "window-sub"), onMessage: inbox.handler)
            _ = try await subscriber.subscribe(
                [TopicSubscription(filter: "w", options: SubscriptionOptions(qos: .atLeastOnce))])
            let publisher = try await broker.connect(broker.configuration(.v5, clientIdentifier: "window-pub"))
            #expect(publisher.connAck.properties.receiveMaximum == 20)

            // Publish everything in one event-loop turn: 20 go out, the rest wait in the local queue. The broker
            // closes with 0x93 if more than its Receive Maximum of QoS 2 messages were unreleased at once.
            let completions = Mutex<[Int]>([])
            let futures = try await publisher.eventLoop.submit { () -> [EventLoopFuture<ReasonCode>] in
                (0..<count).map { index in
                    let packet = PublishPacket(topic: "w", payload: ByteBuffer(text: "\(index)"), qos: qos)
                    let future = publisher.publish(packet)
                    future.whenSuccess { _ in completions.withLock { $0.append(index) } }
                    return future
                }
            }.get(within: .seconds(10))
            let reasons = try await EventLoopFuture.whenAllSucceed(futures, on: publisher.eventLoop)
                .get(within: .seconds(30), "\(count) acknowledgements")
            #expect(reasons.allSatisfy { $0 == .success })
            #expect(completions.withLock { $0 } == Array(0..<count))

            let messages = try await inbox.wait(for: count, within: .seconds(30))
            #expect(messages.map { String(buffer: $0.payload) } == (0..<count).map { "\($0)" })
            #expect(publisher.isActive)
            try await publisher.close()
            try await subscriber.close()
        }
    }

    @Test func publishesBeyondTheQueueBoundFailFast() async throws {
        try await TestBroker.with { broker in
            var configuration = broker.configuration(.v5, clientIdentifier: "full")
            configuration.maximumQueuedPublishes = 10
            let publisher = try await broker.connect(configuration)
            let futures = try await publisher.eventLoop.submit { () -> [EventLoopFuture<ReasonCode>] in
                (0..<40).map { _ in
                    publisher.publish(PublishPacket(topic: "q", payload: ByteBuffer(text: "x"), qos: .atLeastOnce))
                }
            }.get(within: .seconds(10))
            // 20 in flight (the broker's Receive Maximum), 10 queued, 10 refused at once.
            var results: [Result<ReasonCode, any Error>] = []
            for future in futures {
                do {
                    results.append(.success(try await future.get(within: .seconds(10))))
                } catch {
                    results.append(.failure(error))
                }
            }
            let refused = results.compactMap { result -> MQTTClientError.Code? in
                guard case .failure(let error) = result else { return nil }
                return (error as? MQTTClientError)?.code
            }
            #expect(refused == Array(repeating: .queueFull, count: 10))
            #expect(results.prefix(30).allSatisfy { if case .success = $0 { true } else { false } })
            try await publisher.close()
        }
    }

    // MARK: Topic aliases

    @Test func inboundTopicAliasesAreResolved() async throws {
        try await TestBroker.with { broker in
            let inbox = Inbox()
            var configuration = broker.configuration(.v5, clientIdentifier: "alias-sub")
            configuration.connectProperties.topicAliasMaximum = 2
            let subscriber = try await broker.connect(configuration, onMessage: inbox.handler)
            _ = try await subscriber.subscribe(
                [TopicSubscription(filter: "alias/#", options: SubscriptionOptions(qos: .atLeastOnce))])
            let publisher = try await broker.connect(broker.configuration(.v5, clientIdentifier: "alias-pub"))
            // Three topics for two aliases: the broker sends alias-only PUBLISH packets for the first two.
            let topics = ["alias/a", "alias/b", "alias/a", "alias/c", "alias/b", "alias/a", "alias/c"]
            for topic in topics {
                try await publisher.publish(topic: topic, payload: ByteBuffer(text: topic), qos: .atLeastOnce)
            }
            let messages = try await inbox.wait(for: topics.count)
            #expect(messages.map(\.topic) == topics)
            #expect(messages.allSatisfy { $0.properties.topicAlias == nil })
            #expect(messages.allSatisfy { $0.topic == String(buffer: $0.payload) })
            try await publisher.close()
            try await subscriber.close()
        }
    }

    @Test func outboundTopicAliasesReachSubscribersAsFullTopics() async throws {
        try await TestBroker.with { broker in
            let inbox = Inbox()
            let subscriber = try await broker.connect(
                broker.configuration(.v3_1_1, clientIdentifier: "oa-sub"), onMessage: inbox.handler)
            _ = try await subscriber.subscribe(
                [TopicSubscription(filter: "oa/#", options: SubscriptionOptions(qos: .atLeastOnce))])
            var configuration = broker.configuration(.v5, clientIdentifier: "oa-pub")
            configuration.outboundTopicAliases = true
            let publisher = try await broker.connect(configuration)
            #expect(publisher.connAck.properties.topicAliasMaximum == 10)
            var topics: [String] = []
            for index in 0..<30 { topics.append("oa/\(index % 12)") }  // more topics than aliases
            for topic in topics {
                try await publisher.publish(topic: topic, payload: ByteBuffer(text: topic), qos: .atLeastOnce)
            }
            let messages = try await inbox.wait(for: topics.count)
            #expect(messages.map(\.topic) == topics)
            try await publisher.close()
            try await subscriber.close()
        }
    }

    // MARK: Keep-alive

    @Test func keepAliveSendsPingsAndKeepsTheConnectionOpen() async throws {
        try await TestBroker.with { broker in
            var configuration = broker.configuration(.v3_1_1, clientIdentifier: "pinger")
            configuration.keepAlive = 1
            let connection = try await broker.connect(configuration)
            let pongs = connection.eventLoop.makePromise(of: Void.self)
            let count = Mutex(0)
            connection.onPingResponse {
                if count.withLock({
                    $0 += 1
                    return $0
                }) == 3 {
                    pongs.succeed()
                }
            }
            // Three PINGRESPs take over 2 s: longer than the broker's 1.5 × keep-alive without traffic.
            try await pongs.wait(within: .seconds(10), "three PINGRESPs")
            #expect(connection.isActive)
            #expect(connection.closeError == nil)
            let reason = try await connection.publish(topic: "alive", payload: ByteBuffer(), qos: .atLeastOnce)
            #expect(reason == .success)
            try await connection.close()
        }
    }

    @Test func unansweredPingClosesTheConnection() async throws {
        // A server that answers CONNACK and then ignores everything.
        let connack: [UInt8] = [0x20, 0x02, 0x00, 0x00]
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SilentServer(reply: connack))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        var configuration = MQTTClientConfiguration(
            host: "127.0.0.1", port: try #require(server.localAddress?.port), clientIdentifier: "deaf", keepAlive: 1)
        configuration.pingTimeout = .milliseconds(300)
        let connection = try await MQTTClientConnection.connect(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, onMessage: { _ in }
        ).get(within: .seconds(5))
        try await connection.closeFuture.get(within: .seconds(5), "the keep-alive to close the connection")
        #expect(connection.closeError?.code == .timeout)
    }

    // MARK: Disconnect and close

    @Test func disconnectClosesAndLaterCallsFail() async throws {
        try await TestBroker.with { broker in
            let connection = try await broker.connect(broker.configuration(.v5, clientIdentifier: "bye"))
            try await connection.close()
            #expect(!connection.isActive)
            #expect(connection.disconnectReason == nil)
            let error = await #expect(throws: MQTTClientError.self) {
                try await connection.publish(topic: "late", payload: ByteBuffer(), qos: .atLeastOnce)
            }
            #expect(error?.code == .closed)
            // Disconnecting again is harmless.
            try await connection.close()
        }
    }

    @Test func disconnectWithWillMessagePublishesTheWill() async throws {
        try await TestBroker.with { broker in
            let inbox = Inbox()
            let watcher = try await broker.connect(
                broker.configuration(.v5, clientIdentifier: "watcher"), onMessage: inbox.handler)
            _ = try await watcher.subscribe(
                [TopicSubscription(filter: "wills/#", options: SubscriptionOptions(qos: .atLeastOnce))])
            var configuration = broker.configuration(.v5, clientIdentifier: "mortal")
            configuration.will = WillMessage(
                topic: "wills/mortal", payload: ByteBuffer(text: "gone"), qos: .atLeastOnce,
                retain: false)
            let mortal = try await broker.connect(configuration)
            try await mortal.disconnect(reason: .disconnectWithWillMessage).get(within: .seconds(10))
            let messages = try await inbox.wait(for: 1)
            #expect(messages[0].topic == "wills/mortal")
            #expect(messages[0].payload == ByteBuffer(text: "gone"))
            try await watcher.close()
        }
    }

    @Test func serverShutdownClosesWithDisconnectReason0x8B() async throws {
        let broker = try await TestBroker.start()
        let v5 = try await broker.connect(broker.configuration(.v5, clientIdentifier: "shut5"))
        let v311 = try await broker.connect(broker.configuration(.v3_1_1, clientIdentifier: "shut311"))
        await broker.stop()
        try await v5.closeFuture.get(within: .seconds(10), "v5 close")
        try await v311.closeFuture.get(within: .seconds(10), "3.1.1 close")
        #expect(v5.disconnectReason == .serverShuttingDown)
        #expect(v5.closeError?.code == .closed)
        #expect(v311.disconnectReason == nil)
        let error = await #expect(throws: MQTTClientError.self) {
            _ = try await v5.subscribe([TopicSubscription(filter: "x", options: SubscriptionOptions(qos: .atMostOnce))])
        }
        #expect(error?.code == .closed)
    }

    @Test func qos0PublishWithoutPromiseFromTheEventLoop() async throws {
        // The broker drops QoS 0 messages past a subscriber's queue limit: lift it, order and count are checked.
        let liftQueueLimit: (inout BrokerConfiguration) -> Void = { $0.maxQueuedMessages = 1_000_000 }
        try await TestBroker.with(liftQueueLimit) { broker in
            let count = 5000
            let inbox = Inbox()
            let subscriber = try await broker.connect(
                broker.configuration(.v3_1_1, clientIdentifier: "fast-sub"), onMessage: inbox.handler)
            _ = try await subscriber.subscribe(
                [TopicSubscription(filter: "fast", options: SubscriptionOptions(qos: .atMostOnce))])
            let publisher = try await broker.connect(broker.configuration(.v3_1_1, clientIdentifier: "fast-pub"))
            try await publisher.eventLoop.submit {
                var payload = ByteBuffer(repeating: 0x61, count: 16)
                for index in 0..<count {
                    payload.setInteger(UInt32(index), at: 0)
                    publisher.publish(PublishPacket(topic: "fast", payload: payload), promise: nil)
                }
            }.get(within: .seconds(10))
            let messages = try await inbox.wait(for: count, within: .seconds(30))
            #expect(
                messages.map { $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt32.self) ?? 0 }
                    == (0..<UInt32(count)).map { $0 })
            try await publisher.close()
            try await subscriber.close()
        }
    }
}

/// Answers the first bytes with `reply`, then reads and ignores everything.
private final class SilentServer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let reply: [UInt8]
    private var replied = false

    init(reply: [UInt8]) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !replied, !reply.isEmpty else { return }
        replied = true
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
    }
}
