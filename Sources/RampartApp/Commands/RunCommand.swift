import ArgumentParser
import BrokerCore
import BrokerServer
import Events
import FirewallPolicy
import Foundation
import Logging
import MQTTCodec
import NIOCore
import NIOPosix
import RampartModel
import ServiceLifecycle
import Store
import Synchronization
import UnixSignals

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

    @Option(
        help: """
            In-flight window both ways (mosquitto.conf max_inflight_messages): the Receive Maximum announced to v5 \
            clients, and the outgoing window of 3.1.1 clients.
            """
    )
    var receiveMaximum: UInt16 = 20

    @Option(help: "Largest MQTT packet accepted, in bytes (at most 268435460, the protocol maximum).")
    var maxPacketSize: UInt32 = 8 * 1024 * 1024

    @Option(help: "Seconds a new connection may take to send CONNECT before it is closed.")
    var connectTimeout: Int64 = 10

    @Flag(help: "Queue QoS 0 messages for disconnected persistent sessions.")
    var queueQos0Messages = false

    @Option(help: "HTTPS port of the web UI and REST API.")
    var webPort: Int = 8443

    @Option(help: "Address the web UI and REST API bind to.")
    var webBind: String = "0.0.0.0"

    @Option(help: "Seconds a web session may stay idle before it ends.")
    var sessionIdleTimeout: Int = 600

    @Option(
        help: """
            Seconds of the first delay after a failed log-in; each further failure of the same user from the same \
            address doubles it (at most 30 s). 10 failures in a row lock the account for 15 minutes.
            """
    )
    var loginDelay: Double = 1

    @Option(
        help: """
            apply: interface and clock settings are applied with the system's tools when permitted; off: they are \
            saved only (for gateways whose host is managed otherwise, and for tests).
            """
    )
    var systemChanges: String = "apply"

    @Option(
        help: """
            Firewall device type chosen at setup: router, or unidirectional (admits nothing the WAN starts). Used \
            when the firewall was never configured; later changes go through the Firewall page or \
            `rampart ctl firewall device-type`.
            """
    )
    var deviceType: String?

    @Option(
        help: "Seconds a firewall change to the management path waits for its confirmation before it reverts.")
    var firewallConfirmSeconds: Int = 60

    @Option(help: "Network security events kept in memory (the newest; older ones are forgotten).")
    var eventsCapacity: Int = 10_000

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
        guard maxQueuedMessages >= 0 else { throw ValidationError("--max-queued-messages must not be negative") }
        guard (16...268_435_460).contains(maxPacketSize) else {
            throw ValidationError("--max-packet-size must be between 16 and 268435460 bytes, got \(maxPacketSize)")
        }
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be at least 1 second") }
        guard (0...65535).contains(webPort) else {
            throw ValidationError("--web-port must be between 0 and 65535, got \(webPort)")
        }
        guard sessionIdleTimeout >= 1 else { throw ValidationError("--session-idle-timeout must be at least 1 second") }
        guard loginDelay > 0, loginDelay <= 30 else {
            throw ValidationError("--login-delay must be more than 0 and at most 30 seconds")
        }
        guard (100...1_000_000).contains(eventsCapacity) else {
            throw ValidationError("--events-capacity must be between 100 and 1000000, got \(eventsCapacity)")
        }
        if let deviceType, DeviceType(rawValue: deviceType) == nil {
            throw ValidationError("--device-type must be router or unidirectional, got \(deviceType)")
        }
        guard (5...3600).contains(firewallConfirmSeconds) else {
            throw ValidationError("--firewall-confirm-seconds must be between 5 and 3600")
        }
        guard ["apply", "off"].contains(systemChanges) else {
            throw ValidationError("--system-changes must be apply or off, got \(systemChanges)")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
        let logger = Logger(label: "rampart")

        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        // The data directory holds the store, its master key and the console token: nobody else may enter it.
        chmod(dataDir, 0o700)
        logger.info("starting", metadata: ["version": "\(ProductInfo.version)", "data_dir": "\(dataDir)"])
        let pidFile = dataDir + "/rampart.pid"
        try "\(getpid())\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: pidFile) }

        let store = try GatewayStore(databasePath: dataDir + "/rampart.db", masterKeyPath: dataDir + "/master.key")
        let events = try EventsPlane(
            store: store, ringCapacity: eventsCapacity, logger: Logger(label: "rampart.events"))

        let library = BrokerProfileLibrary(root: dataDir + "/broker")
        try library.setUp(predefinedConfiguration: predefinedProfile)
        var assembly: BrokerAssembly?
        var startProblem: [String]?
        if let active = library.active() {
            do {
                assembly = try BrokerRuntime.prepare(active, in: library)
                logger.info("broker profile", metadata: ["profile": "\(active)"])
            } catch {
                logger.error("the active broker profile is invalid; the broker is off", metadata: ["error": "\(error)"])
                startProblem = "\(error)".split(separator: "\n").map(String.init)
            }
        } else {
            logger.notice("no broker profile active: the MQTT broker is off")
        }

        let brokerLogger = Logger(label: "rampart.broker")
        // Persistence is chosen by the profile active at start; switching it takes a restart.
        let persistence = try assembly.flatMap { try BrokerPersistence.open($0, logger: brokerLogger) }
        let broker = Broker(
            configuration: assembly?.broker ?? BrokerConfiguration(),
            persistence: persistence?.0,
            now: .now()
        )
        if let persistence { broker.restore(persistence.1, now: .now()) }
        var serverConfiguration = MQTTServer.Configuration(listeners: assembly?.listeners ?? [])
        serverConfiguration.durability = persistence?.0
        serverConfiguration.connectTimeout = .seconds(connectTimeout)
        // A gateway keeps running when a listener cannot bind, and reports it as the profile's status.
        serverConfiguration.failWhenAListenerCannotBind = false
        let runtimeBox = RuntimeBox()
        // The listeners' outcome is the broker's state only when a valid profile gave them.
        if assembly != nil {
            serverConfiguration.onListening = { states in await runtimeBox.runtime?.started(with: states) }
        }
        let server = MQTTServer(
            broker: broker,
            configuration: serverConfiguration,
            group: MultiThreadedEventLoopGroup.singleton,
            logger: brokerLogger
        )
        let runtime = BrokerRuntime(
            library: library, broker: broker, server: server, events: events, logger: brokerLogger)
        runtimeBox.runtime = runtime
        broker.update(inspection: assembly?.messageInspection(for: broker, observer: runtime.inspectionObserver))
        await runtime.useNotifications(of: assembly)
        if let startProblem {
            await runtime.startedMisconfigured(startProblem)
        } else if assembly == nil {
            await runtime.startedWithoutProfile()
        }
        let reloader = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                logger.notice("SIGHUP: applying the active broker profile")
                await runtime.reloadActive()
            }
        }
        defer { reloader.cancel() }

        // Bridges start with the profile active at start; a profile switch does not change them yet.
        let bridges = (assembly?.bridges ?? []).map { bridge in
            MQTTBridge(
                configuration: bridge,
                broker: broker,
                eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
                logger: brokerLogger
            )
        }
        let forwarding = EventForwarding(
            events: events, notifications: runtime.notifications, group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "rampart.events"))
        let management = try await ManagementPlane.start(
            options: ManagementPlane.Options(
                dataDirectory: dataDir, webBind: webBind, webPort: webPort,
                sessionIdleTimeout: .seconds(sessionIdleTimeout), loginDelayBase: .milliseconds(Int(loginDelay * 1000)),
                systemChanges: systemChanges == "apply", deviceType: deviceType.flatMap(DeviceType.init(rawValue:)),
                mqttPorts: (assembly?.listeners ?? []).map(\.port),
                firewallConfirmation: .seconds(firewallConfirmSeconds)),
            store: store, events: events, forwarding: forwarding,
            brokerRuntime: runtime, statistics: broker.statistics, logger: Logger(label: "rampart.web"),
            onRunning: { [dataDir] port in
                events.supervisor.report(EventEntity.webServer, .running, detail: "HTTPS on port \(port)")
                let host = ProcessInfo.processInfo.hostName
                logger.notice("web UI listening", metadata: ["url": "https://\(host):\(port)/"])
                let passwordFile = ManagementPlane.initialPasswordFile(dataDirectory: dataDir)
                var banner = "Web UI: https://\(host):\(port)/ (also https://127.0.0.1:\(port)/)\n"
                if FileManager.default.fileExists(atPath: passwordFile) {
                    banner += "Log in as 'admin' with the initial password in \(passwordFile)\n"
                }
                FileHandle.standardOutput.write(Data(banner.utf8))
            })
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                // Stopped in reverse order: the events plane last, so that it audits the shutdown and its
                // forwarders flush.
                services: [
                    .init(service: EventsService(plane: events, forwarding: forwarding)), .init(service: server),
                    .init(service: management.server),
                ] + bridges.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            await management.firewall.stop()
            await persistence?.0.close()
            throw error
        }
        // The ruleset stays in the kernel: a gateway that stops keeps filtering (fail closed).
        await management.firewall.stop()
        await persistence?.0.close()
        logger.info("stopped")
    }

    /// Lets the MQTT server's start-up callback reach the runtime made after it.
    private final class RuntimeBox: Sendable {
        private let value = Mutex<BrokerRuntime?>(nil)
        var runtime: BrokerRuntime? {
            get { value.withLock { $0 } }
            set { value.withLock { $0 = newValue } }
        }
    }

    /// The predefined profile: the command line's listener and limits in mosquitto.conf form.
    private var predefinedProfile: String {
        """
        # The predefined broker profile, written by `rampart run` from its command-line options at every start.
        # It is read-only: create a profile from it to change it, then activate that one.
        # Anonymous clients are allowed so that a new gateway works at once. For production, use a profile with
        # a password_file (mosquitto_passwd format) and allow_anonymous false.
        listener \(mqttPort) \(bind)
        allow_anonymous true
        max_keepalive \(maxKeepalive)
        sys_interval \(sysInterval)
        max_queued_messages \(maxQueuedMessages)
        max_inflight_messages \(receiveMaximum)
        max_packet_size \(maxPacketSize)
        queue_qos0_messages \(queueQos0Messages)

        """
    }

    static var defaultDataDirectory: String {
        if geteuid() == 0 { return "/var/lib/rampart" }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "."
        return home + "/.local/share/rampart"
    }
}
