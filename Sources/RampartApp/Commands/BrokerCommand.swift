import ArgumentParser
import BrokerConfig
import BrokerCore
import BrokerServer
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// `rampart broker`: only the MQTT broker, from a Mosquitto configuration file, with Mosquitto's command line, so
/// that Rampart can replace Mosquitto in existing deployments and scripts.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run only the MQTT broker from a mosquitto.conf file (the same options as mosquitto).",
        discussion: """
            Every option Mosquitto 2.0 documents is either supported or refused with file:line and a reason; \
            see docs/mosquitto-options.md. Exit status 1 when the configuration is invalid.
            """
    )

    @Option(name: [.customShort("c"), .customLong("config-file")], help: "Configuration file (mosquitto.conf).")
    var configFile: String?

    @Option(name: [.customShort("p"), .customLong("port")], help: "Add a plain MQTT listener on this port.")
    var port: Int?

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Log every packet, as mosquitto -v does.")
    var verbose = false

    @Flag(name: [.customShort("d"), .customLong("daemon")], help: "Run in the background.")
    var daemon = false

    @Flag(name: .customLong("test-config"), help: "Check the configuration, print its diagnostics and exit.")
    var testConfig = false

    func validate() throws {
        if let port, !(1...65535).contains(port) {
            throw ValidationError("-p must be a port between 1 and 65535, got \(port)")
        }
    }

    func run() async throws {
        if daemon {
            try Daemon.detach(droppingArguments: ["-d", "--daemon"])
            return
        }
        let workingDirectory = FileManager.default.currentDirectoryPath
        let configuration = try loadConfiguration(workingDirectory: workingDirectory)
        if testConfig {
            print("configuration OK")
            return
        }
        let assembly: BrokerAssembly
        do {
            assembly = try BrokerAssembly.make(
                from: configuration,
                extraPort: port,
                workingDirectory: workingDirectory,
                inspectionDirectory: inspectionDirectory(workingDirectory)
            )
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }

        let output = try logOutput(configuration)
        let level = logLevel(configuration)
        let timestamps = configuration.logTimestamp
        LoggingSystem.bootstrap { label in
            LogfmtLogHandler(label: label, level: level, output: output, timestamps: timestamps)
        }
        let logger = Logger(label: "rampart.broker")
        if let pidFile = configuration.pidFile {
            try "\(getpid())\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        }
        defer {
            if let pidFile = configuration.pidFile { try? FileManager.default.removeItem(atPath: pidFile) }
        }
        for warning in configuration.warningsForRuntime {
            logger.warning("\(warning)")
        }

        let persistence: (store: DurableStore, state: RecoveredState)?
        do {
            persistence = try BrokerPersistence.open(assembly, logger: logger)
        } catch {
            logger.critical("cannot open the durable store", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let broker = Broker(configuration: assembly.broker, persistence: persistence?.store, now: .now())
        if let persistence { broker.restore(persistence.state, now: .now()) }
        broker.update(
            inspection: assembly.messageInspection(for: broker, observer: LoggingInspectionObserver(logger: logger)))
        var serverConfiguration = MQTTServer.Configuration(listeners: assembly.listeners)
        serverConfiguration.verbosePacketLog = verbose
        serverConfiguration.durability = persistence?.store
        let server = MQTTServer(
            broker: broker,
            configuration: serverConfiguration,
            group: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        )
        let bridges = assembly.bridges.map { bridge in
            MQTTBridge(
                configuration: bridge,
                broker: broker,
                eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
                logger: logger
            )
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: server)] + bridges.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        let reloader = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                await reload(broker: broker, server: server, logger: logger, workingDirectory: workingDirectory)
            }
        }
        defer { reloader.cancel() }
        do {
            try await group.run()
        } catch {
            await persistence?.store.close()
            logger.error("broker stopped with an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        await persistence?.store.close()
    }

    /// SIGHUP: reads the configuration file again and applies it as a profile activation does. An invalid file
    /// changes nothing; unchanged listeners keep their connections; new security rules apply to connected clients
    /// at their next operation.
    private func reload(broker: Broker, server: MQTTServer, logger: Logger, workingDirectory: String) async {
        logger.notice("SIGHUP: reloading the configuration", metadata: ["file": "\(configFile ?? "(defaults)")"])
        do {
            let configuration = try loadConfiguration(workingDirectory: workingDirectory)
            let assembly = try BrokerAssembly.make(
                from: configuration,
                extraPort: port,
                workingDirectory: workingDirectory,
                inspectionDirectory: inspectionDirectory(workingDirectory)
            )
            broker.update(configuration: assembly.broker)
            broker.update(
                inspection: assembly.messageInspection(for: broker, observer: LoggingInspectionObserver(logger: logger))
            )
            let states = try await server.reconfigure(assembly.listeners)
            logger.notice("configuration reloaded", metadata: ["listeners": "\(states)"])
        } catch {
            logger.error("configuration not reloaded; the running one stays in force", metadata: ["error": "\(error)"])
        }
    }

    /// The folder of the configuration file, where an optional `inspection.conf` holds message inspection rules.
    private func inspectionDirectory(_ workingDirectory: String) -> String {
        guard let configFile else { return workingDirectory }
        let path = configFile.hasPrefix("/") ? configFile : workingDirectory + "/" + configFile
        return URL(fileURLWithPath: path).deletingLastPathComponent().path
    }

    /// Loads and validates the configuration; prints every diagnostic as `file:line: message`.
    private func loadConfiguration(workingDirectory: String) throws -> MosquittoConfiguration {
        guard let configFile else { return MosquittoConfiguration.defaults }
        let path = configFile.hasPrefix("/") ? configFile : workingDirectory + "/" + configFile
        let result = ConfigurationLoader.load(
            mainFile: path,
            source: FileSystemConfigurationSource(),
            workingDirectory: workingDirectory
        )
        for diagnostic in result.diagnostics {
            FileHandle.standardError.write(Data("\(diagnostic.severity.rawValue): \(diagnostic)\n".utf8))
        }
        guard let configuration = result.configuration else {
            FileHandle.standardError.write(
                Data("error: \(path): configuration refused, \(result.errors.count) error(s)\n".utf8)
            )
            throw ExitCode(1)
        }
        return configuration
    }

    private func logOutput(_ configuration: MosquittoConfiguration) throws -> LogOutput {
        var handles: [FileHandle] = []
        for destination in configuration.logDestinations {
            switch destination {
            case .stdout: handles.append(.standardOutput)
            case .stderr: handles.append(.standardError)
            case .file(let path): handles.append(try LogOutput.appending(to: path))
            }
        }
        return LogOutput(handles: handles)
    }

    /// The most detailed level `log_type` asks for (`-v` logs everything).
    private func logLevel(_ configuration: MosquittoConfiguration) -> Logger.Level {
        let types = configuration.logTypes
        if verbose || types.contains(.debug) { return .debug }
        if types.contains(.information) || types.contains(.subscribe) || types.contains(.unsubscribe) {
            return .info
        }
        if types.contains(.notice) { return .notice }
        if types.contains(.warning) { return .warning }
        if types.contains(.error) { return .error }
        return .critical
    }
}

extension MosquittoConfiguration {
    /// No configuration file: one listener on the loopback interface, port 1883, as Mosquitto 2.0 starts.
    static var defaults: MosquittoConfiguration {
        var configuration = MosquittoConfiguration()
        configuration.listeners = [Listener(kind: .localOnly, port: 1883)]
        return configuration
    }

    /// Settings accepted but without effect here, said once at start-up.
    var warningsForRuntime: [String] {
        var warnings: [String] = []
        if user != nil { warnings.append("user: the broker does not drop privileges; run it as the user you want") }
        return warnings
    }
}
