import BrokerCore
import BrokerServer
import Logging
import MQTTClient
import MQTTCodec
import NIOCore
import NIOPosix
import Synchronization
import Testing

struct TimeoutError: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

extension EventLoopFuture where Value: Sendable {
    /// Waits at most `timeout` for the future: every wait in these tests is bounded.
    func get(within timeout: TimeAmount = .seconds(10), _ what: String = "a future") async throws -> Value {
        let promise = eventLoop.makePromise(of: Value.self)
        let timer = eventLoop.scheduleTask(in: timeout) { promise.fail(TimeoutError(what: what)) }
        cascade(to: promise)
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return try await promise.futureResult.get()
    }
}

extension EventLoopPromise where Value: Sendable {
    /// Waits at most `timeout`, failing the promise itself on time-out so that it never leaks unfulfilled.
    func wait(within timeout: TimeAmount = .seconds(10), _ what: String) async throws -> Value {
        let promise = self
        let timer = futureResult.eventLoop.scheduleTask(in: timeout) { promise.fail(TimeoutError(what: what)) }
        futureResult.whenComplete { _ in timer.cancel() }
        return try await futureResult.get()
    }
}

/// Collects the messages a client receives; `wait(for:)` resolves once enough have arrived.
final class Inbox: Sendable {
    private struct State {
        var messages: [PublishPacket] = []
        var waiters: [(count: Int, promise: EventLoopPromise<[PublishPacket]>)] = []
    }
    private let state = Mutex(State())
    private let eventLoop: any EventLoop

    init(eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.eventLoop = eventLoop
    }

    var handler: @Sendable (PublishPacket) -> Void {
        { [self] packet in receive(packet) }
    }

    var messages: [PublishPacket] { state.withLock { $0.messages } }

    func receive(_ packet: PublishPacket) {
        let ready = state.withLock { state -> [(EventLoopPromise<[PublishPacket]>, [PublishPacket])] in
            state.messages.append(packet)
            let count = state.messages.count
            let done = state.waiters.filter { $0.count <= count }
            state.waiters.removeAll { $0.count <= count }
            return done.map { ($0.promise, state.messages) }
        }
        for (promise, messages) in ready { promise.succeed(messages) }
    }

    /// The first `count` messages, once they arrived (at most `timeout` later).
    func wait(for count: Int, within timeout: TimeAmount = .seconds(10)) async throws -> [PublishPacket] {
        let promise = eventLoop.makePromise(of: [PublishPacket].self)
        let current = state.withLock { state -> [PublishPacket]? in
            if state.messages.count >= count { return state.messages }
            state.waiters.append((count, promise))
            return nil
        }
        if let current {
            promise.succeed(current)
        }
        let all = try await promise.wait(within: timeout, "\(count) messages")
        return Array(all.prefix(count))
    }
}

/// An in-process Rampart broker on 127.0.0.1 with an ephemeral port.
final class TestBroker: Sendable {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    let server: MQTTServer
    let port: Int
    private let task: Task<Void, any Error>

    private init(server: MQTTServer, port: Int, task: Task<Void, any Error>) {
        self.server = server
        self.port = port
        self.task = task
    }

    static func start(_ configure: (inout BrokerConfiguration) -> Void = { _ in }) async throws -> TestBroker {
        var brokerConfiguration = BrokerConfiguration()
        brokerConfiguration.sysInterval = 0
        configure(&brokerConfiguration)
        var configuration = MQTTServer.Configuration(host: "127.0.0.1", port: 0)
        configuration.shutdownGrace = .seconds(2)
        let server = MQTTServer(
            broker: Broker(configuration: brokerConfiguration, now: .now()),
            configuration: configuration,
            group: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        )
        let task = Task { try await server.run() }
        let deadline = NIODeadline.now() + .seconds(10)
        var address = server.localAddress
        while address == nil && NIODeadline.now() < deadline {
            await Task.yield()
            address = server.localAddress
        }
        guard let port = address?.port else {
            task.cancel()
            throw TimeoutError(what: "the broker to listen")
        }
        return TestBroker(server: server, port: port, task: task)
    }

    /// Graceful shutdown: `run()` treats cancellation like it (v5 clients get DISCONNECT 0x8B).
    func stop() async {
        task.cancel()
        _ = await task.result
    }

    /// Runs `body` against a started broker and stops it afterwards, also when `body` throws.
    static func with(
        _ configure: (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (TestBroker) async throws -> Void
    ) async throws {
        let broker = try await start(configure)
        do {
            try await body(broker)
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    func configuration(
        _ version: ProtocolVersion = .v3_1_1,
        clientIdentifier: String = "",
        cleanStart: Bool = true
    ) -> MQTTClientConfiguration {
        MQTTClientConfiguration(
            host: "127.0.0.1",
            port: port,
            protocolVersion: version,
            clientIdentifier: clientIdentifier,
            cleanStart: cleanStart,
            keepAlive: 30,
            connectTimeout: .seconds(5)
        )
    }

    func connect(
        _ configuration: MQTTClientConfiguration,
        onMessage: @escaping @Sendable (PublishPacket) -> Void = { _ in }
    ) async throws -> MQTTClientConnection {
        try await MQTTClientConnection.connect(
            configuration: configuration,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            onMessage: onMessage
        ).get(within: .seconds(10), "CONNACK")
    }
}

extension ByteBuffer {
    init(text: String) {
        self.init(string: text)
    }
}

extension MQTTClientConnection {
    /// Disconnects, bounded.
    func close() async throws {
        try await disconnect().get(within: .seconds(10), "disconnect")
    }
}
