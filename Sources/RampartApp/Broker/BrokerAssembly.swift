import BrokerConfig
import BrokerCore
import BrokerServer
import MQTTCodec

/// The broker's runtime settings and listeners, made from a mosquitto.conf model.
///
/// Listeners that share the same security settings share one `SecurityPolicyReference` (all of them, unless
/// `per_listener_settings` is true), so that a reload replaces the rules for every listener at once.
struct BrokerAssembly {
    var broker: BrokerConfiguration
    var listeners: [ListenerConfiguration]
    /// Folder of the durable store when `persistence true`; nil when persistence is off.
    var persistenceDirectory: String?
    var autosaveInterval: Int

    /// - Parameters:
    ///   - extraPort: `-p PORT` from the command line: one more plain listener, as Mosquitto adds it.
    ///   - workingDirectory: where `persistence_location` is relative to when not absolute.
    static func make(
        from configuration: MosquittoConfiguration,
        extraPort: Int?,
        workingDirectory: String
    ) throws(FileSecurityLoader.Failure) -> BrokerAssembly {
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
            persistenceDirectory: directory,
            autosaveInterval: configuration.autosaveInterval
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
}
