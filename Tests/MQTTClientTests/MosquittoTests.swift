import Foundation
import MQTTClient
import MQTTCodec
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The client against a real Mosquitto, the upstream broker of a bridge. Skipped when `mosquitto` is not installed.
@Suite(
    "MQTTClient against Mosquitto",
    .enabled(if: MosquittoProcess.executable != nil, "mosquitto is not installed (apt-get install mosquitto)"),
    .timeLimit(.minutes(1))
)
struct MosquittoTests {
    @Test func bridgeStyleConnectAndRoundTripsAtEveryQoS() async throws {
        let mosquitto = try await MosquittoProcess.start()
        defer { mosquitto.stop() }

        let inbox = Inbox()
        var subscriberConfiguration = MQTTClientConfiguration(
            host: "127.0.0.1", port: mosquitto.port, protocolVersion: .v5, clientIdentifier: "rampart-sub",
            connectTimeout: .seconds(5))
        subscriberConfiguration.connectProperties.topicAliasMaximum = 10
        let subscriber = try await MQTTClientConnection.connect(
            configuration: subscriberConfiguration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            onMessage: inbox.handler
        ).get(within: .seconds(10), "CONNACK from mosquitto")
        let suback = try await subscriber.subscribe(
            [TopicSubscription(filter: "bridge/#", options: SubscriptionOptions(qos: .exactlyOnce))]
        ).get(within: .seconds(10))
        #expect(suback.reasonCodes == [.grantedQoS2])

        // A 3.1.1 connection with the bridge bit (protocol level 0x84), as Mosquitto's own bridges connect.
        var bridgeConfiguration = MQTTClientConfiguration(
            host: "127.0.0.1", port: mosquitto.port, clientIdentifier: "rampart-bridge", connectTimeout: .seconds(5),
            bridgeProtocolBit: true)
        bridgeConfiguration.keepAlive = 5
        let bridge = try await MQTTClientConnection.connect(
            configuration: bridgeConfiguration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            onMessage: { _ in }
        ).get(within: .seconds(10), "CONNACK from mosquitto")
        #expect(bridge.connAck.reasonCode == .success)

        let qosLevels: [QoS] = [.atMostOnce, .atLeastOnce, .exactlyOnce]
        for qos in qosLevels {
            let packet = PublishPacket(topic: "bridge/q\(qos.rawValue)", payload: ByteBuffer(string: "m"), qos: qos)
            let reason = try await bridge.publish(packet).get(within: .seconds(10), "publish QoS \(qos.rawValue)")
            #expect(reason == .success)
        }
        // A burst in one event-loop turn: a 3.1.1 connection has no Receive Maximum, so all go out at once.
        // (QoS 1: Mosquitto 2.0.11 stops forwarding QoS 2 messages it queued beyond max_inflight_messages to an
        // otherwise idle subscriber, whichever client publishes them.)
        let burst = try await bridge.eventLoop.submit {
            (0..<200).map { index in
                bridge.publish(
                    PublishPacket(topic: "bridge/burst", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce))
            }
        }.get(within: .seconds(10))
        _ = try await EventLoopFuture.whenAllSucceed(burst, on: bridge.eventLoop).get(within: .seconds(20))

        let messages = try await inbox.wait(for: 203, within: .seconds(20))
        #expect(messages.prefix(3).map(\.topic) == ["bridge/q0", "bridge/q1", "bridge/q2"])
        #expect(messages.prefix(3).map(\.qos) == qosLevels)
        #expect(messages.dropFirst(3).map { String(buffer: $0.payload) } == (0..<200).map { "\($0)" })
        #expect(messages.dropFirst(3).allSatisfy { $0.topic == "bridge/burst" })

        try await bridge.disconnect().get(within: .seconds(10))
        try await subscriber.disconnect().get(within: .seconds(10))
        #expect(mosquitto.log.contains("rampart-bridge"))
    }
}

/// A Mosquitto broker on a free 127.0.0.1 port with a temporary configuration; started for one test.
final class MosquittoProcess: Sendable {
    static let executable: String? = {
        let candidates = [
            "/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/local/bin/mosquitto",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    let port: Int
    private let process: Process
    private let directory: URL
    private let logFile: URL

    private init(port: Int, process: Process, directory: URL, logFile: URL) {
        self.port = port
        self.process = process
        self.directory = directory
        self.logFile = logFile
    }

    /// What mosquitto printed so far.
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    static func start() async throws -> MosquittoProcess {
        guard let executable else { throw TimeoutError(what: "a mosquitto executable") }
        // A free port: bind port 0, note the port, release it.
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress?.port ?? 0
        try await probe.close()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mosquitto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = directory.appendingPathComponent("mosquitto.conf")
        try """
        listener \(port) 127.0.0.1
        allow_anonymous true
        log_dest stderr
        log_type all
        """.write(to: configuration, atomically: true, encoding: .utf8)

        // Its output goes to a file that is polled: a pipe with a readability handler is a dispatch source whose
        // cancellation from inside its own handler has crashed libdispatch's event loop on Linux.
        let logFile = directory.appendingPathComponent("mosquitto.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: logFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", configuration.path]
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        try? logHandle.close()
        let mosquitto = MosquittoProcess(port: port, process: process, directory: directory, logFile: logFile)
        let deadline = ContinuousClock.now + .seconds(10)
        while !mosquitto.log.contains(" running") {
            guard process.isRunning, ContinuousClock.now < deadline else {
                mosquitto.stop()
                throw TimeoutError(what: process.isRunning ? "mosquitto to start" : "mosquitto (it exited)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return mosquitto
    }

    func stop() {
        if process.isRunning {
            // SIGKILL: the child inherits the test runner's blocked signal mask, so SIGTERM would stay pending.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
