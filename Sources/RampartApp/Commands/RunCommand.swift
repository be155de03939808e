import ArgumentParser
import BrokerCore
import BrokerServer
import Foundation
import Logging
import MQTTCodec
import NIOCore
import NIOPosix
import RampartModel
import ServiceLifecycle

/// `rampart run`: the gateway daemon with what exists so far, the MQTT broker.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway on its embedded defaults."
    )

    @Option(help: "Data directory (created if missing).")
    var dataDir: String = RunCommand.defaultDataDirectory

    @Option(help: "MQTT listener port.")
    var mqttPort: Int = 1883

    @Option(help: "Address the MQTT listener binds to.")
    var bind: String = "0.0.0.0"

    @Option(
        help:
            "Largest keep-alive in seconds a client may use (v5 clients are told; 3.1.1 clients above it are refused).")
    var maxKeepalive: UInt16 = 65535

    @Option(help: "Seconds between $SYS/broker statistics; 0 turns them off.")
    var sysInterval: UInt32 = 10

    @Option(help: "Messages queued per session beyond the in-flight window; more are dropped and counted.")
    var maxQueuedMessages: Int = 1000

    @Option(help: "Receive Maximum announced to v5 clients: unreleased QoS 2 messages a client may send at once.")
    var receiveMaximum: UInt16 = 20

    @Option(help: "Outgoing in-flight window for MQTT 3.1/3.1.1 clients.")
    var maxInflightMessages: Int = 20

    @Option(help: "Largest MQTT packet accepted, in bytes (at most 268435460, the protocol maximum).")
    var maxPacketSize: UInt32 = 8 * 1024 * 1024

    @Option(help: "Seconds a new connection may take to send CONNECT before it is closed.")
    var connectTimeout: Int64 = 10

    @Flag(help: "Queue QoS 0 messages for disconnected persistent sessions.")
    var queueQos0Messages = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard (1...65535).contains(mqttPort) || mqttPort == 0 else {
            throw ValidationError("--mqtt-port must be between 0 and 65535, got \(mqttPort)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard receiveMaximum > 0 else { throw ValidationError("--receive-maximum must be at least 1") }
        guard maxInflightMessages > 0 else { throw ValidationError("--max-inflight-messages must be at least 1") }
        guard maxQueuedMessages >= 0 else { throw ValidationError("--max-queued-messages must not be negative") }
        guard (16...268_435_460).contains(maxPacketSize) else {
            throw ValidationError("--max-packet-size must be between 16 and 268435460 bytes, got \(maxPacketSize)")
        }
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be at least 1 second") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
        let logger = Logger(label: "rampart")

        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        logger.info("starting", metadata: ["version": "\(ProductInfo.version)", "data_dir": "\(dataDir)"])

        var brokerConfiguration = BrokerConfiguration()
        brokerConfiguration.maxKeepAlive = maxKeepalive
        brokerConfiguration.sysInterval = sysInterval
        brokerConfiguration.maxQueuedMessages = maxQueuedMessages
        brokerConfiguration.receiveMaximum = receiveMaximum
        brokerConfiguration.maxInflightMessages = maxInflightMessages
        brokerConfiguration.maximumPacketSize = maxPacketSize
        brokerConfiguration.queueQoS0Messages = queueQos0Messages

        let broker = Broker(configuration: brokerConfiguration, now: .now())
        var serverConfiguration = MQTTServer.Configuration(host: bind, port: mqttPort)
        serverConfiguration.connectTimeout = .seconds(connectTimeout)
        let server = MQTTServer(
            broker: broker,
            configuration: serverConfiguration,
            group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "rampart.broker")
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        logger.info("stopped")
    }

    static var defaultDataDirectory: String {
        if geteuid() == 0 { return "/var/lib/rampart" }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "."
        return home + "/.local/share/rampart"
    }
}
