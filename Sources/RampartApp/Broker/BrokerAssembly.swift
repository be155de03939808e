import BrokerConfig
import BrokerCore
import BrokerServer
import Foundation
import Logging
import MQTTClient
import MQTTCodec
import NIOCore
import NIOSSL

/// The broker's runtime settings and listeners, made from a mosquitto.conf model.
///
/// Listeners that share the same security settings share one `SecurityPolicyReference` (all of them, unless
/// `per_listener_settings` is true), so that a reload replaces the rules for every listener at once.
struct BrokerAssembly {
    var broker: BrokerConfiguration
    var listeners: [ListenerConfiguration]
    var bridges: [BridgeConfiguration]
    /// Message inspection rules from the `inspection.conf` beside the configuration (empty: none).
    var inspection: InspectionRules
    /// Folder of the durable store when `persistence true`; nil when persistence is off.
    var persistenceDirectory: String?
    var autosaveInterval: Int
    /// Where audit records and security events are published (`kos_*`).
    var notifications = NotificationTopics.defaults

    /// - Parameters:
    ///   - extraPort: `-p PORT` from the command line: one more plain listener, as Mosquitto adds it.
    ///   - workingDirectory: where `persistence_location` is relative to when not absolute.
    ///   - inspectionDirectory: the folder whose `inspection.conf` (optional) holds the message inspection rules.
    static func make(
        from configuration: MosquittoConfiguration,
        extraPort: Int?,
        workingDirectory: String,
        inspectionDirectory: String
    ) throws -> BrokerAssembly {
        let inspection = InspectionRulesLoader.load(
            profileDirectory: inspectionDirectory,
            source: FileSystemConfigurationSource()
        )
        guard let rules = inspection.rules else {
            throw FileSecurityLoader.Failure(
                messages: inspection.diagnostics.filter { $0.severity == .error }.map(\.description)
            )
        }
        var broker = BrokerConfiguration()
        // A standalone broker behaves as Mosquitto does: no limit beyond the protocol's unless configured.
        broker.maximumPacketSize = configuration.maxPacketSize.map { UInt32(clamping: $0) }
        broker.maximumPayloadSize = configuration.messageSizeLimit
        broker.maxKeepAlive = UInt16(clamping: configuration.maxKeepalive)
        broker.retainAvailable = configuration.retainAvailable
        broker.sysInterval = UInt32(clamping: configuration.sysInterval)
        // Mosquitto's max_inflight_messages is both the outgoing window and the Receive Maximum it announces.
        let inflight = configuration.maxInflightMessages ?? Int(UInt16.max)
        broker.maxInflightMessages = inflight
        broker.receiveMaximum = UInt16(clamping: max(inflight, 1))
        broker.maxQueuedMessages = configuration.maxQueuedMessages ?? Int.max
        broker.queueQoS0Messages = configuration.queueQoS0Messages
        broker.persistentClientExpiration = configuration.persistentClientExpiration.map {
            UInt32(clamping: $0.seconds)
        }

        var listeners = configuration.listeners
        if let extraPort {
            // With no listener configured, -p moves the local-only listener (and its anonymous access) to that
            // port, as Mosquitto does; otherwise it adds a plain listener.
            if listeners.allSatisfy({ $0.kind == .localOnly }) {
                listeners = [BrokerConfig.Listener(kind: .localOnly, port: extraPort)]
            } else {
                listeners.append(BrokerConfig.Listener(kind: .explicit, port: extraPort))
            }
        }
        var policies: [EffectiveSecurity: SecurityPolicyReference] = [:]
        var runtime: [ListenerConfiguration] = []
        for listener in listeners {
            let security = configuration.effectiveSecurity(of: listener)
            if let first = runtime.isEmpty ? security : nil {
                broker.allowZeroLengthClientID = first.allowZeroLengthClientID
                broker.assignedClientIDPrefix = first.autoIDPrefix
            }
            let policy: SecurityPolicyReference
            if let existing = policies[security] {
                policy = existing
            } else {
                policy = SecurityPolicyReference(try FileSecurityLoader.policy(for: security))
                policies[security] = policy
            }
            runtime.append(Self.listener(listener, security: policy))
        }

        var directory: String?
        if configuration.persistence {
            let location = configuration.persistenceLocation ?? workingDirectory
            directory = location.hasPrefix("/") ? location : workingDirectory + "/" + location
        }
        return BrokerAssembly(
            broker: broker,
            listeners: runtime,
            bridges: try configuration.bridges.map(Self.bridge),
            inspection: rules,
            persistenceDirectory: directory,
            autosaveInterval: configuration.autosaveInterval,
            notifications: NotificationTopics(
                audit: configuration.kosAudit ? configuration.kosAuditTopic : nil,
                event: configuration.kosEvent ? configuration.kosEventTopic : nil)
        )
    }

    private static func listener(
        _ listener: BrokerConfig.Listener,
        security: SecurityPolicyReference
    ) -> ListenerConfiguration {
        let host: String
        switch (listener.bindAddress, listener.kind, listener.socketDomain) {
        case (let address?, _, _): host = address
        case (nil, .localOnly, _): host = "127.0.0.1"
        case (nil, _, .ipv6): host = "::"
        case (nil, _, _): host = "0.0.0.0"
        }
        var context = ListenerContext(
            name: "\(listener.protocol.rawValue):\(listener.port)",
            mountPoint: listener.mountPoint ?? "",
            security: security,
            useCertificateIdentityAsUsername: listener.useIdentityAsUsername || listener.useSubjectAsUsername,
            loginThrottle: LoginThrottle()
        )
        context.maximumQoS = listener.maxQoS
        context.topicAliasMaximum = UInt16(clamping: listener.maxTopicAlias)
        context.port = listener.port
        var runtime = ListenerConfiguration(host: host, port: listener.port, context: context)
        runtime.interface = listener.bindInterface
        runtime.framing = listener.protocol == .websockets ? .websockets : .mqtt
        runtime.maxConnections = listener.maxConnections
        if let certificate = listener.certFile, let key = listener.keyFile {
            var tls = ListenerConfiguration.TLS(certificateFile: certificate, keyFile: key)
            tls.caFile = listener.caFile
            tls.caDirectory = listener.caPath
            tls.requireCertificate = listener.requireCertificate
            tls.minimumVersion = listener.tlsVersion == .tls13 ? .tls13 : .tls12
            tls.ciphers = listener.ciphers
            tls.subjectAsUsername = listener.useSubjectAsUsername
            runtime.tls = tls
        }
        return runtime
    }

    private static func bridge(_ bridge: BrokerConfig.Bridge) throws -> BridgeConfiguration {
        let remoteClientID = bridge.remoteClientID ?? "\(hostName).\(bridge.name)"
        let version: ProtocolVersion
        switch bridge.protocolVersion {
        case .mqttv31: version = .v3_1
        case .mqttv311: version = .v3_1_1
        case .mqttv50: version = .v5
        }
        var client = MQTTClientConfiguration(
            host: bridge.addresses.first?.host ?? "localhost",
            protocolVersion: version,
            clientIdentifier: remoteClientID,
            cleanStart: bridge.cleanSession,
            keepAlive: UInt16(clamping: bridge.keepaliveInterval),
            username: bridge.remoteUsername,
            password: bridge.remotePassword.map { ByteBuffer(string: $0) },
            bridgeProtocolBit: bridge.tryPrivate && version != .v5
        )
        if let size = bridge.maxPacketSize { client.connectProperties.maximumPacketSize = UInt32(clamping: size) }
        if bridge.caFile != nil || bridge.caPath != nil || bridge.certFile != nil {
            client.tls = try bridgeTLS(bridge)
        }
        let routes = bridge.topics.map { topic in
            let direction: BridgeConfiguration.Route.Direction
            switch topic.direction {
            case .out: direction = .outbound
            case .in: direction = .inbound
            case .both: direction = .both
            }
            return BridgeConfiguration.Route(
                direction: direction,
                qos: topic.qos,
                pattern: topic.pattern,
                localPrefix: topic.localPrefix ?? "",
                remotePrefix: topic.remotePrefix ?? ""
            )
        }
        var runtime = BridgeConfiguration(
            name: bridge.name,
            addresses: bridge.addresses.map { (host: $0.host, port: $0.port) },
            routes: routes,
            client: client,
            localClientID: bridge.localClientID ?? "local.\(remoteClientID)",
            notificationTopic: bridge.notificationTopic ?? "$SYS/broker/connection/\(remoteClientID)/state"
        )
        runtime.roundRobin = bridge.roundRobin
        switch bridge.restartTimeout {
        case .constant(let seconds):
            runtime.restartBase = .seconds(Int64(seconds))
            runtime.restartCap = .seconds(Int64(seconds))
        case .backoff(let base, let cap):
            runtime.restartBase = .seconds(Int64(base))
            runtime.restartCap = .seconds(Int64(cap))
        }
        runtime.notifications = bridge.notifications
        runtime.notificationsLocalOnly = bridge.notificationsLocalOnly
        runtime.outgoingRetain = bridge.outgoingRetain
        runtime.connectOnce = bridge.startType == .once
        return runtime
    }

    /// TLS towards the remote broker: its CA (`bridge_cafile`/`bridge_capath`), our certificate when given, and
    /// host name verification unless `bridge_insecure`.
    private static func bridgeTLS(_ bridge: BrokerConfig.Bridge) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        var roots: [NIOSSLCertificate] = []
        if let caFile = bridge.caFile { roots += try NIOSSLCertificate.fromPEMFile(caFile) }
        if let directory = bridge.caPath {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            where name.hasSuffix(".pem") || name.hasSuffix(".crt") {
                roots += try NIOSSLCertificate.fromPEMFile(directory + "/" + name)
            }
        }
        if !roots.isEmpty { tls.trustRoots = .certificates(roots) }
        if let certificate = bridge.certFile, let key = bridge.keyFile {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        tls.minimumTLSVersion = bridge.tlsVersion == .tls13 ? .tlsv13 : .tlsv12
        if bridge.insecure { tls.certificateVerification = .noHostnameVerification }
        return tls
    }

    private static var hostName: String {
        ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "rampart"
    }

    /// The inspection to install in the broker, sharing its statistics; nil when there are no rules.
    func messageInspection(for broker: Broker, observer: (any InspectionObserver)?) -> MessageInspection? {
        guard !inspection.rules.isEmpty else { return nil }
        return MessageInspection(
            inspector: MessageInspector(inspection),
            statistics: broker.inspectionStatistics,
            observer: observer
        )
    }
}

extension MessageInspector {
    /// The broker core's form of the rules of an `inspection.conf`.
    init(_ rules: InspectionRules) {
        self.init(
            policies: rules.rules.map { rule in
                InspectionPolicy(
                    name: rule.name,
                    listenerPort: rule.listenerPort,
                    topicFilters: rule.topicFilters,
                    maximumPayloadSize: rule.maxPayload,
                    payloadFormat: rule.payloadFormat.map { $0 == .json ? .json : .utf8 },
                    deniedPatterns: rule.denyPatterns,
                    rate: rule.rate.map {
                        InspectionPolicy.Rate(
                            messages: $0.messages,
                            per: .nanoseconds($0.unit.nanoseconds),
                            burst: $0.burst
                        )
                    }
                )
            }
        )
    }
}

/// Logs each message the inspection rules refuse; the event system will take this hook over.
struct LoggingInspectionObserver: InspectionObserver {
    let logger: Logger

    func messageRejected(_ rejection: InspectionRejection) {
        logger.info(
            "message refused by inspection",
            metadata: [
                "client": "\(rejection.clientID)", "topic": "\(rejection.topic)", "listener": "\(rejection.listener)",
                "violation": "\(rejection.violation)",
            ]
        )
    }
}
