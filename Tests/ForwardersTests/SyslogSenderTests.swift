import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing

@testable import Forwarders

@Suite struct SyslogSenderTests {
    /// Silent unless SYSLOG_TEST_LOG is set (then debug level on standard error).
    static let logger: Logger = {
        guard ProcessInfo.processInfo.environment["SYSLOG_TEST_LOG"] != nil else {
            return Logger(label: "syslog-test", factory: { _ in SwiftLogNoOpLogHandler() })
        }
        var logger = Logger(label: "syslog-test", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .debug
        return logger
    }()
    static let fastReconnect = SyslogSender.Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))

    static func message(_ index: Int) -> String { "<14>1 - gateway rampart - - - event \(index)" }

    /// The index `message(_:)` put into `text`.
    static func index(of text: String) -> Int? { text.split(separator: " ").last.flatMap { Int($0) } }

    static func sender(
        _ transport: SyslogDestination.Transport, port: Int, capacity: Int = 10_000,
        onDropped: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> SyslogSender {
        SyslogSender(
            destination: SyslogDestination(host: "127.0.0.1", port: port, transport: transport),
            bufferCapacity: capacity, reconnect: fastReconnect, group: MultiThreadedEventLoopGroup.singleton,
            logger: logger, onDropped: onDropped)
    }

    @Test func udpSendsOneIntactDatagramPerMessage() async throws {
        let receiver = try await TestSyslogReceiver.udp()
        let sender = Self.sender(.udp, port: receiver.port)
        sender.start()
        let messages = (0..<20).map(Self.message) + ["<14>1 - - - - - - multi-byte äöü € and a\nnewline"]
        for message in messages { sender.send(message) }

        let received = try await receiver.waitFor { $0.count >= messages.count }
        // Loopback does not lose or reorder datagrams.
        #expect(received == messages)
        try await SyslogTestWait.until("all counted as sent") { sender.status.sent == messages.count }
        #expect(sender.status.connected && sender.status.buffered == 0 && sender.status.dropped == 0)
        await sender.shutdown()
        await receiver.stop()
    }

    @Test func tcpSendsOctetCountedFramesInOrder() async throws {
        let receiver = try await TestSyslogReceiver.tcp()
        let sender = Self.sender(.tcp, port: receiver.port)
        sender.start()
        // Multi-byte characters: a count of characters instead of bytes would break the framing.
        let messages =
            (0..<200).map(Self.message) + ["<14>1 - - - - - - äöü €€€ 🙂", "<14>1 - - - - - - line 1\nline 2\n"]
        for message in messages { sender.send(message) }

        let received = try await receiver.waitFor { $0.count >= messages.count }
        #expect(received == messages)
        #expect(receiver.framingErrors.isEmpty)
        // Confirmed once the receiver's TCP acknowledged them.
        try await SyslogTestWait.until("all confirmed") {
            sender.status.sent == messages.count && sender.status.buffered == 0
        }
        #expect(sender.status.connected)
        await sender.shutdown()
        #expect(!sender.status.connected)
        await receiver.stop()
    }

    @Test func restartedReceiverGetsEveryMessageInOrder() async throws {
        let first = try await TestSyslogReceiver.tcp()
        let sender = Self.sender(.tcp, port: first.port)
        sender.start()
        for index in 0..<100 { sender.send(Self.message(index)) }
        _ = try await first.waitFor { $0.count >= 100 }
        await first.stop()
        try await SyslogTestWait.until("the loss noticed") { !sender.status.connected }
        // The loss, or (when the sender already tried again) the refused reconnection.
        let error = sender.status.lastError ?? ""
        #expect(error.contains("closed the connection") || error.contains("refused"), "\(error)")

        // Sent while the receiver is down: they wait in the buffer.
        for index in 100..<600 { sender.send(Self.message(index)) }
        #expect(sender.status.buffered >= 500)

        let second = try await TestSyslogReceiver.tcp(port: first.port)
        let received = try await second.waitFor { $0.contains(Self.message(599)) }.compactMap(Self.index(of:))
        #expect(first.messages == (0..<100).map(Self.message))
        // In order and nothing missing; it may start with messages the first receiver already had (those not yet
        // confirmed when the connection broke), never later than the first message it did not have.
        let start = try #require(received.first)
        #expect(start <= 100)
        #expect(received == Array(start..<600))
        #expect(second.framingErrors.isEmpty)

        try await SyslogTestWait.until("every message confirmed once") {
            sender.status.sent == 600 && sender.status.buffered == 0
        }
        #expect(sender.status.dropped == 0)
        await sender.shutdown()
        await second.stop()
    }

    @Test func messagesWrittenIntoAClosedConnectionAreSentAgain() async throws {
        // The sender gets its own event loop, held while the receiver closes, so that it writes into the closed
        // connection before it can see the close: the receiver's kernel never acknowledges those bytes.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let first = try await TestSyslogReceiver.tcp()
        let sender = SyslogSender(
            destination: SyslogDestination(host: "127.0.0.1", port: first.port, transport: .tcp),
            reconnect: Self.fastReconnect, group: group, logger: Self.logger)
        sender.start()
        for index in 0..<100 { sender.send(Self.message(index)) }
        try await SyslogTestWait.until("the first messages confirmed") { sender.status.sent == 100 }

        let holding = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let release = DispatchSemaphore(value: 0)
        let hold = group.next().submit {
            holding.succeed()
            release.wait()
        }
        try await holding.futureResult.get()
        await first.stop()
        for index in 100..<600 { sender.send(Self.message(index)) }
        release.signal()
        try await hold.get()

        try await SyslogTestWait.until("the loss noticed") { !sender.status.connected }
        let second = try await TestSyslogReceiver.tcp(port: first.port)
        let received = try await second.waitFor { $0.contains(Self.message(599)) }
        #expect(first.messages == (0..<100).map(Self.message))
        // Every message confirmed before the loss was not sent again.
        #expect(received == (100..<600).map(Self.message))
        try await SyslogTestWait.until("all confirmed") { sender.status.sent == 600 && sender.status.buffered == 0 }
        await sender.shutdown()
        await second.stop()
        try await group.shutdownGracefully()
    }

    @Test func fullBufferDropsTheOldestAndReportsTheOutageOnce() async throws {
        let port = try await SyslogTestWait.closedPort()
        let reports = SyslogDropReports()
        let sender = Self.sender(.tcp, port: port, capacity: 10, onDropped: { reports.add($0) })
        sender.start()
        for index in 0..<25 { sender.send(Self.message(index)) }
        #expect(sender.status.dropped == 15)
        #expect(sender.status.buffered == 10)
        try await SyslogTestWait.until("the connection failure recorded") { sender.status.lastError != nil }
        #expect(sender.status.lastError?.contains("refused") == true)
        #expect(reports.values.isEmpty)

        let receiver = try await TestSyslogReceiver.tcp(port: port)
        let received = try await receiver.waitFor { $0.count >= 10 }
        #expect(received == (15..<25).map(Self.message))
        try await SyslogTestWait.until("the outage reported") { !reports.values.isEmpty }

        for index in 25..<30 { sender.send(Self.message(index)) }
        _ = try await receiver.waitFor { $0.count >= 15 }
        try await SyslogTestWait.until("all confirmed") { sender.status.buffered == 0 }
        await sender.shutdown()
        #expect(reports.values == [15])
        #expect(sender.status.dropped == 15)
        await receiver.stop()
    }

    @Test func shutdownCountsAndReportsWhatCouldNotBeDelivered() async throws {
        let port = try await SyslogTestWait.closedPort()
        let reports = SyslogDropReports()
        let sender = Self.sender(.tcp, port: port, onDropped: { reports.add($0) })
        sender.start()
        for index in 0..<3 { sender.send(Self.message(index)) }
        await sender.shutdown()
        #expect(reports.values == [3])
        #expect(sender.status.dropped == 3)
        #expect(sender.status.buffered == 0)
        #expect(!sender.status.enabled)
    }

    @Test func sendTestDeliversOneMessageOverItsOwnConnection() async throws {
        let receiver = try await TestSyslogReceiver.tcp()
        let sender = Self.sender(.tcp, port: receiver.port)
        try await sender.sendTest("<14>1 - - - - - - test message", timeout: .seconds(30))
        #expect(try await receiver.waitFor { !$0.isEmpty } == ["<14>1 - - - - - - test message"])
        #expect(sender.status.sent == 0)
        await receiver.stop()
    }

    @Test func sendTestReportsARefusedConnection() async throws {
        let port = try await SyslogTestWait.closedPort()
        let sender = Self.sender(.tcp, port: port)
        do {
            try await sender.sendTest("<14>1 - - - - - - test", timeout: .seconds(30))
            Issue.record("sendTest succeeded without a receiver")
        } catch let error as SyslogSendError {
            #expect(error.kind == .connectionFailed)
            #expect(error.description.contains("127.0.0.1:\(port)"))
            #expect(error.description.contains("refused"))
        }
    }

    @Test func sendTestTimesOutWhenTheHandshakeNeverCompletes() async throws {
        // Accepts connections and never answers: the TLS client hello goes unanswered.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(silent.localAddress?.port)
        let material = try SyslogTestCertificates()
        let sender = Self.sender(.tls(SyslogTLS(caCertificatesPEM: material.caPEM)), port: port)
        do {
            try await sender.sendTest("<14>1 - - - - - - test", timeout: .milliseconds(300))
            Issue.record("sendTest succeeded against a receiver that never answers")
        } catch let error as SyslogSendError {
            #expect(error.kind == .timedOut)
            #expect(error.description.contains("300 ms"))
        }
        try await silent.close()
    }
}

// MARK: - Test support

enum SyslogTestWait {
    /// Polls `condition` every 10 ms until it holds; fails the test after `timeout`.
    static func until(
        _ what: String, timeout: Duration = .seconds(15), _ condition: () throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on (it was bound a moment ago and closed).
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return port
    }
}

/// What `onDropped` reported.
final class SyslogDropReports: Sendable {
    private let calls = Mutex<[Int]>([])
    var values: [Int] { calls.withLock { $0 } }
    func add(_ count: Int) { calls.withLock { $0.append(count) } }
}

/// RFC 6587 octet-counted frames ("LENGTH SP MESSAGE") out of a byte stream, strictly: a length is 1 to 7 digits
/// without a leading zero, the message must be valid UTF-8.
struct SyslogFrameParser {
    struct FramingError: Error, CustomStringConvertible {
        let description: String
    }

    private var pending: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) throws -> [String] {
        pending += bytes
        var frames: [String] = []
        var start = 0
        while start < pending.count {
            guard let space = pending[start...].prefix(8).firstIndex(of: UInt8(ascii: " ")) else {
                if pending.count - start >= 8 { throw FramingError(description: "no length at byte \(start)") }
                break
            }
            let digits = pending[start..<space]
            guard !digits.isEmpty, digits.first != UInt8(ascii: "0"),
                digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                let length = Int(String(decoding: digits, as: UTF8.self))
            else {
                throw FramingError(description: "bad length \"\(String(decoding: digits, as: UTF8.self))\"")
            }
            let end = space + 1 + length
            guard end <= pending.count else { break }
            guard let message = String(validating: pending[(space + 1)..<end], as: UTF8.self) else {
                throw FramingError(description: "frame at byte \(start) is not UTF-8")
            }
            frames.append(message)
            start = end
        }
        pending.removeFirst(start)
        return frames
    }
}

/// An in-process syslog receiver on 127.0.0.1: UDP datagrams, or octet-counted frames over TCP or TLS.
final class TestSyslogReceiver: Sendable {
    let port: Int
    private let channel: any Channel
    private let store: Store

    final class Store: Sendable {
        private let state = Mutex<(messages: [String], errors: [String], connections: [any Channel])>(([], [], []))
        var messages: [String] { state.withLock { $0.messages } }
        var errors: [String] { state.withLock { $0.errors } }
        var connections: [any Channel] { state.withLock { $0.connections } }
        func add(_ messages: [String]) { state.withLock { $0.messages += messages } }
        func fail(_ error: String) { state.withLock { $0.errors.append(error) } }
        func opened(_ channel: any Channel) { state.withLock { $0.connections.append(channel) } }
    }

    private init(channel: any Channel, store: Store) throws {
        self.channel = channel
        self.store = store
        self.port = try #require(channel.localAddress?.port)
    }

    /// Messages received so far, in order.
    var messages: [String] { store.messages }
    /// Framing errors seen (TCP, TLS).
    var framingErrors: [String] { store.errors }

    static func udp() async throws -> TestSyslogReceiver {
        let store = Store()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramCollector(store: store))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return try TestSyslogReceiver(channel: channel, store: store)
    }

    /// - Parameters:
    ///   - port: 0 for any free port; a port used before to restart a receiver there.
    ///   - tls: makes it a TLS receiver.
    static func tcp(port: Int = 0, tls: NIOSSLContext? = nil) async throws -> TestSyslogReceiver {
        let store = Store()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    store.opened(child)
                    if let tls {
                        try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try child.pipeline.syncOperations.addHandler(FrameCollector(store: store))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return try TestSyslogReceiver(channel: channel, store: store)
    }

    /// Waits until `condition` holds for the messages received, and returns them.
    func waitFor(
        timeout: Duration = .seconds(15), _ condition: ([String]) -> Bool
    ) async throws -> [String] {
        try await SyslogTestWait.until("the receiver got the expected messages", timeout: timeout) {
            condition(messages)
        }
        return messages
    }

    /// Closes the listening socket and every connection.
    func stop() async {
        try? await channel.close()
        for connection in store.connections {
            try? await connection.close()
        }
    }
}

/// Collects datagrams, one message each.
private final class DatagramCollector: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let store: TestSyslogReceiver.Store

    init(store: TestSyslogReceiver.Store) {
        self.store = store
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        store.add([String(buffer: unwrapInboundIn(data).data)])
    }
}

/// Collects the octet-counted frames of one connection; closes it on a framing error.
private final class FrameCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let store: TestSyslogReceiver.Store
    private var parser = SyslogFrameParser()

    init(store: TestSyslogReceiver.Store) {
        self.store = store
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(buffer: unwrapInboundIn(data))
        do {
            store.add(try parser.feed(bytes))
        } catch {
            store.fail("\(error)")
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
