import ArgumentParser
import Foundation
import MQTTCodec
import NIOCore
import NIOSSL

/// `rampart bench`: an MQTT load generator in the spirit of emqtt-bench, built on the `MQTTClient` module.
///
/// It exists so that Rampart can be compared with other brokers (Mosquitto first, `scripts/bench-vs-mosquitto`)
/// on the same machine with the same client: connections, publish throughput, deliveries, end-to-end latency and
/// the message losses, duplicates and reorderings a subscriber sees.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "MQTT load generator: connections, publishers, subscribers, end-to-end latency.",
        discussion: """
            Publishers put a 16-byte header in every payload (publisher index, sequence number, send time), so \
            that subscribers in the same process (`pubsub`) measure end-to-end latency and count lost, duplicated \
            and out-of-order messages per publisher. See benchmarks/README.md.
            """,
        subcommands: [
            BenchConnCommand.self, BenchPubCommand.self, BenchSubCommand.self, BenchPubSubCommand.self,
            BenchNullBrokerCommand.self,
        ]
    )
}

/// Where and how the clients connect; shared by every `bench` subcommand.
struct BenchConnectionOptions: ParsableArguments {
    @Option(help: "Broker host.")
    var host = "127.0.0.1"

    @Option(help: "Broker port (default 1883, 8883 with TLS).")
    var port: Int?

    @Option(name: .customLong("version"), help: "MQTT protocol version: 3.1.1 or 5.")
    var protocolVersion = "3.1.1"

    @Option(help: "New connections per second; 0 is as fast as possible.")
    var connectRate: Double = 0

    @Option(help: "Most connections being set up at once.")
    var maxPendingConnects = 256

    @Option(help: "Keep-alive in seconds.")
    var keepalive: UInt16 = 60

    @Option(help: "Client identifier prefix, followed by the role and the index (default: rb<pid>).")
    var clientIdPrefix: String?

    @Option(help: "User name.")
    var username: String?

    @Option(help: "Password.")
    var password: String?

    @Option(help: "CA certificate(s) (PEM) to verify the broker with; turns TLS on.")
    var cafile: String?

    @Option(help: "Client certificate (PEM); turns TLS on.")
    var cert: String?

    @Option(help: "Client private key (PEM).")
    var key: String?

    @Flag(help: "TLS with the system's trust roots.")
    var tls = false

    @Flag(help: "Do not verify the broker's certificate (TLS).")
    var insecure = false

    @Option(help: "Name the broker's certificate is checked against (TLS; default: the host unless an IP).")
    var tlsServerName: String?

    @Option(help: "Event-loop threads of the generator (default: the number of cores).")
    var threads = System.coreCount

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard version != nil else { throw ValidationError("--version must be 3.1.1 or 5, got \(protocolVersion)") }
        if let port, !(1...65535).contains(port) {
            throw ValidationError("--port must be between 1 and 65535, got \(port)")
        }
        guard connectRate >= 0 else { throw ValidationError("--connect-rate must not be negative") }
        guard maxPendingConnects >= 1 else { throw ValidationError("--max-pending-connects must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if key != nil && cert == nil { throw ValidationError("--key needs --cert") }
    }

    private var version: ProtocolVersion? {
        switch protocolVersion {
        case "3.1.1", "4": return .v3_1_1
        case "5", "5.0": return .v5
        case "3.1", "3": return .v3_1
        default: return nil
        }
    }

    var usesTLS: Bool { tls || cafile != nil || cert != nil }

    func settings() throws -> BenchClientSettings {
        var tlsConfiguration: TLSConfiguration?
        if usesTLS {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let cafile { configuration.trustRoots = .file(cafile) }
            if let cert {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            }
            if let key { configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)) }
            if insecure { configuration.certificateVerification = .none }
            tlsConfiguration = configuration
        }
        return BenchClientSettings(
            host: host,
            port: port ?? (usesTLS ? 8883 : 1883),
            protocolVersion: version ?? .v3_1_1,
            username: username,
            password: password,
            tls: tlsConfiguration,
            tlsServerName: tlsServerName,
            keepAlive: keepalive,
            clientIdentifierPrefix: clientIdPrefix ?? "rb\(getpid())",
            connectRate: connectRate,
            maximumPendingConnects: maxPendingConnects,
            connectTimeout: .seconds(30)
        )
    }

    func emit(_ report: BenchReport) {
        print(json ? report.json() : report.table())
    }
}

/// How long a run lasts: a duration, or a message count.
struct BenchLengthOptions: ParsableArguments {
    @Option(help: "Seconds to publish (or listen); ignored with --count.")
    var duration: Double = 10

    @Option(help: "Messages per publisher (pub, pubsub) or per subscriber (sub) instead of a duration.")
    var count: UInt64?

    @Option(help: "Seconds subscribers wait for missing messages once nothing arrives any more.")
    var drainIdle: Double = 2

    @Option(help: "Most seconds subscribers wait for missing messages after the publishers stopped.")
    var drainMax: Double = 10

    func validate() throws {
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        if let count, count == 0 { throw ValidationError("--count must be at least 1") }
        guard drainIdle >= 0 else { throw ValidationError("--drain-idle must not be negative") }
        guard drainMax >= 0 else { throw ValidationError("--drain-max must not be negative") }
    }

    var window: TimeAmount? { count == nil ? .nanoseconds(Int64(duration * 1e9)) : nil }
}

/// What publishers send.
struct BenchPublishOptions: ParsableArguments {
    @Option(help: "Topic template; %i is the publisher index.")
    var topic = "bench/%i"

    @Option(help: "Payload size in bytes (at least 16, the bench header).")
    var payloadSize = 16

    @Option(help: "QoS of the messages (and of the subscriptions in pubsub): 0, 1 or 2.")
    var qos: UInt8 = 0

    @Flag(help: "Publish retained messages.")
    var retain = false

    @Option(help: "Most QoS 1/2 messages in flight per publisher.")
    var inflight = 100

    @Option(help: "Messages per second per publisher; 0 is unlimited.")
    var rate: Double = 0

    @Option(help: "Most messages a publisher sends per event-loop turn.")
    var batch = 256

    func validate() throws {
        guard payloadSize >= BenchPayload.headerSize else {
            throw ValidationError("--payload-size must be at least \(BenchPayload.headerSize) bytes (the header)")
        }
        guard QoS(rawValue: qos) != nil else { throw ValidationError("--qos must be 0, 1 or 2") }
        guard (1...65_535).contains(inflight) else { throw ValidationError("--inflight must be 1…65535") }
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func plan(length: BenchLengthOptions) -> BenchPublishPlan {
        BenchPublishPlan(
            qos: QoS(rawValue: qos) ?? .atMostOnce,
            retain: retain,
            payloadSize: payloadSize,
            rate: rate,
            count: length.count,
            inflight: inflight,
            batch: batch,
            drainTimeout: .seconds(10)
        )
    }
}

struct BenchConnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conn",
        abstract: "Open --clients connections at --connect-rate, hold them idle for --duration, close them."
    )

    @OptionGroup var connection: BenchConnectionOptions

    @Option(help: "Connections to open.")
    var clients = 100

    @Option(help: "Seconds to hold the connections.")
    var duration: Double = 10

    @Option(help: "Broker pid: report its resident memory before, with and after the connections (Linux).")
    var brokerPid: Int32?

    func validate() throws {
        guard clients >= 1 else { throw ValidationError("--clients must be at least 1") }
        guard duration >= 0 else { throw ValidationError("--duration must not be negative") }
    }

    func run() async throws {
        let report = try await BenchConnections.run(
            client: try connection.settings(),
            threads: connection.threads,
            count: clients,
            hold: .nanoseconds(Int64(duration * 1e9)),
            brokerPID: brokerPid
        )
        connection.emit(report)
        if report.connections.established < clients { throw ExitCode(2) }
    }
}

struct BenchPubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pub",
        abstract: "Publish from --clients connections (the subscribers may be another `rampart bench sub`)."
    )

    @OptionGroup var connection: BenchConnectionOptions
    @OptionGroup var publish: BenchPublishOptions
    @OptionGroup var length: BenchLengthOptions

    @Option(help: "Publishers.")
    var clients = 1

    func validate() throws {
        guard (1...BenchPayload.maximumPublishers).contains(clients) else {
            throw ValidationError("--clients must be 1…\(BenchPayload.maximumPublishers)")
        }
    }

    func run() async throws {
        let settings = BenchRunSettings(
            command: "pub",
            client: try connection.settings(),
            threads: connection.threads,
            publishers: clients,
            subscribers: 0,
            publishTopic: publish.topic,
            subscribeFilter: "",
            subscribeQoS: .atMostOnce,
            plan: publish.plan(length: length),
            duration: length.window,
            drainIdle: .zero,
            drainMaximum: .zero,
            deliveryTarget: nil
        )
        connection.emit(try await BenchRun.run(settings))
    }
}

struct BenchSubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sub",
        abstract: "Subscribe from --clients connections and measure what `rampart bench pub` sends."
    )

    @OptionGroup var connection: BenchConnectionOptions
    @OptionGroup var length: BenchLengthOptions

    @Option(help: "Subscribers.")
    var clients = 1

    @Option(help: "Topic filter template; %i is the subscriber index.")
    var topic = "bench/#"

    @Option(help: "QoS of the subscriptions.")
    var qos: UInt8 = 0

    func validate() throws {
        guard clients >= 1 else { throw ValidationError("--clients must be at least 1") }
        guard QoS(rawValue: qos) != nil else { throw ValidationError("--qos must be 0, 1 or 2") }
    }

    func run() async throws {
        let settings = BenchRunSettings(
            command: "sub",
            client: try connection.settings(),
            threads: connection.threads,
            publishers: 0,
            subscribers: clients,
            publishTopic: "",
            subscribeFilter: topic,
            subscribeQoS: QoS(rawValue: qos) ?? .atMostOnce,
            plan: BenchPublishOptions().plan(length: length),
            duration: .nanoseconds(Int64(length.duration * 1e9)),
            drainIdle: .zero,
            drainMaximum: .zero,
            deliveryTarget: length.count.map { $0 * UInt64(clients) }
        )
        connection.emit(try await BenchRun.run(settings))
    }
}

struct BenchPubSubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pubsub",
        abstract: "Publishers and subscribers in one process: throughput, end-to-end latency, losses, ordering."
    )

    @OptionGroup var connection: BenchConnectionOptions
    @OptionGroup var publish: BenchPublishOptions
    @OptionGroup var length: BenchLengthOptions

    @Option(help: "Publishers.")
    var publishers = 1

    @Option(help: "Subscribers.")
    var subscribers = 1

    @Option(help: "Subscription filter template; %i is the subscriber index (default: the --topic template).")
    var filter: String?

    @Option(help: "QoS of the subscriptions (default: --qos).")
    var subscribeQos: UInt8?

    func validate() throws {
        guard (1...BenchPayload.maximumPublishers).contains(publishers) else {
            throw ValidationError("--publishers must be 1…\(BenchPayload.maximumPublishers)")
        }
        guard subscribers >= 1 else { throw ValidationError("--subscribers must be at least 1") }
        if let subscribeQos, QoS(rawValue: subscribeQos) == nil {
            throw ValidationError("--subscribe-qos must be 0, 1 or 2")
        }
    }

    func run() async throws {
        let settings = BenchRunSettings(
            command: "pubsub",
            client: try connection.settings(),
            threads: connection.threads,
            publishers: publishers,
            subscribers: subscribers,
            publishTopic: publish.topic,
            subscribeFilter: filter ?? publish.topic,
            subscribeQoS: QoS(rawValue: subscribeQos ?? publish.qos) ?? .atMostOnce,
            plan: publish.plan(length: length),
            duration: length.window,
            drainIdle: .nanoseconds(Int64(length.drainIdle * 1e9)),
            drainMaximum: .nanoseconds(Int64(length.drainMax * 1e9)),
            deliveryTarget: nil
        )
        connection.emit(try await BenchRun.run(settings))
    }
}

struct BenchNullBrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "null-broker",
        abstract: "A loopback server that only forwards PUBLISH frames: the generator's own ceiling.",
        discussion: """
            Answers CONNECT and SUBSCRIBE, acknowledges QoS 1/2, and forwards each PUBLISH byte for byte to the \
            subscribers of exactly its topic (or of a wildcard), without decoding or matching. Runs until stopped.
            """
    )

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 1885

    @Option(help: "Event-loop threads.")
    var threads = 1

    func run() async throws {
        try await NullBroker.serve(host: host, port: port, threads: threads)
    }
}
