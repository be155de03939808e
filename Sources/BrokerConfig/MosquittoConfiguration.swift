import MQTTCodec

/// A Mosquitto configuration as the gateway understands it: mosquitto.conf(5) of Mosquitto 2.0, minus what the
/// gateway refuses (see docs/mosquitto-options.md), plus the gateway's `kos_*` extensions.
///
/// Values are what the files say, with Mosquitto's defaults where they say nothing; an optional is nil when "not set"
/// differs from every value (no limit, no file). The app layer maps this onto `BrokerConfiguration` and the listeners.
package struct MosquittoConfiguration: Sendable, Hashable {
    // MARK: Security (global; see `effectiveSecurity(of:)` for what each listener gets)

    /// `per_listener_settings`: when true, `allow_anonymous`, `password_file`, `acl_file`,
    /// `allow_zero_length_clientid` and `auto_id_prefix` belong to the listener they follow instead of to all.
    package var perListenerSettings = false
    /// `allow_anonymous` when `per_listener_settings` is false; nil when unset (false, or true with no listener).
    package var allowAnonymous: Bool?
    /// `password_file` when `per_listener_settings` is false.
    package var passwordFile: String?
    /// `acl_file` when `per_listener_settings` is false.
    package var aclFile: String?
    /// `allow_zero_length_clientid` when `per_listener_settings` is false; nil when unset (true).
    package var allowZeroLengthClientID: Bool?
    /// `auto_id_prefix` when `per_listener_settings` is false; nil when unset (`auto-`).
    package var autoIDPrefix: String?

    // MARK: Persistence

    /// `persistence`: keep sessions, subscriptions and retained messages across restarts.
    package var persistence = false
    /// `persistence_location`: directory of the database; nil for the working directory.
    package var persistenceLocation: String?
    /// `persistence_file`: file name of the database; nil for `mosquitto.db`.
    package var persistenceFile: String?
    /// `autosave_interval`: seconds between saves (or changes, with `autosave_on_changes`); 0 saves only at exit.
    package var autosaveInterval = 1800
    /// `autosave_on_changes`: count changes instead of seconds.
    package var autosaveOnChanges = false
    /// `persistent_client_expiration`: drop persistent sessions not resumed within this time; nil for never.
    package var persistentClientExpiration: ExpirationDuration?

    // MARK: Limits

    /// `max_inflight_messages`: outgoing QoS 1/2 messages in flight per client; nil for no limit (0 in the file).
    package var maxInflightMessages: Int? = 20
    /// `max_queued_messages`: messages queued per client beyond the in-flight ones; nil for no limit (0 in the file).
    package var maxQueuedMessages: Int? = 1000
    /// `queue_qos0_messages`: queue QoS 0 messages for disconnected persistent clients.
    package var queueQoS0Messages = false
    /// `message_size_limit`: largest PUBLISH payload accepted; nil for no limit (0 in the file).
    package var messageSizeLimit: Int?
    /// `max_packet_size`: largest packet accepted (and announced to v5 clients); nil for no limit.
    package var maxPacketSize: Int?
    /// `max_keepalive`: largest keep-alive accepted, 1…65535 (Mosquitto refuses below 10).
    package var maxKeepalive = 65535
    /// `retain_available`: whether retained messages are supported.
    package var retainAvailable = true
    /// `sys_interval`: seconds between `$SYS` updates; 0 turns them off.
    package var sysInterval = 10
    /// `allow_duplicate_messages` (deprecated in 2.0). The gateway always delivers one copy to overlapping
    /// subscriptions, which MQTT allows whatever this says.
    package var allowDuplicateMessages = true
    /// `set_tcp_nodelay`. The gateway always sets TCP_NODELAY; kept so the file renders as written.
    package var setTCPNoDelay = false

    // MARK: Logging

    /// `log_type`: kinds of messages logged; Mosquitto's default is error, warning, notice and information.
    package var logTypes: Set<LogType> = LogType.defaults
    /// `log_dest`: where log lines go; empty for `log_dest none`.
    package var logDestinations: [LogDestination] = [.stderr]
    /// `log_timestamp`: whether log lines carry a timestamp.
    package var logTimestamp = true
    /// `log_timestamp_format` (strftime). Accepted but not interpreted: the gateway writes RFC 3339 timestamps.
    package var logTimestampFormat: String?
    /// `connection_messages`: log client connections and disconnections.
    package var connectionMessages = true

    // MARK: Process

    /// `pid_file`: file the daemon writes its process identifier to.
    package var pidFile: String?
    /// `user`. Accepted with a warning: the gateway does not change user; run it as the user you want.
    package var user: String?

    // MARK: Gateway extensions

    /// `kos_audit`: publish audit records (configuration changes, authentication failures) on `kos_audit_topic`.
    package var kosAudit = true
    /// `kos_event`: publish gateway events on `kos_event_topic`.
    package var kosEvent = false
    /// `kos_audit_topic`.
    package var kosAuditTopic = "SGW/audit"
    /// `kos_event_topic`.
    package var kosEventTopic = "SGW/event"

    // MARK: Sections

    /// The listeners in the order Mosquitto opens them: `listener` sections in file order, then the default
    /// listener (options before the first `listener`, `port`, `bind_address`) if it is configured; when the files
    /// configure no listener at all, the one local-only listener Mosquitto 2.0 opens on port 1883.
    package var listeners: [Listener] = []
    /// `connection` sections in file order.
    package var bridges: [Bridge] = []
    /// Files read, in order: the main file, then the files of each `include_dir` where it appears.
    package var files: [String] = []

    package init() {}

    /// The security settings a listener applies, resolving `per_listener_settings`, `listener_allow_anonymous` and
    /// Mosquitto 2.0's defaults (anonymous access only on the implicit local-only listener).
    package func effectiveSecurity(of listener: Listener) -> EffectiveSecurity {
        let localOnly = listener.kind == .localOnly
        let anonymous: Bool?
        let security: EffectiveSecurity
        if perListenerSettings {
            anonymous = listener.allowAnonymous
            security = EffectiveSecurity(
                allowAnonymous: false, passwordFile: listener.passwordFile, aclFile: listener.aclFile,
                allowZeroLengthClientID: listener.allowZeroLengthClientID ?? true,
                autoIDPrefix: listener.autoIDPrefix ?? "auto-")
        } else {
            anonymous = allowAnonymous
            security = EffectiveSecurity(
                allowAnonymous: false, passwordFile: passwordFile, aclFile: aclFile,
                allowZeroLengthClientID: allowZeroLengthClientID ?? true, autoIDPrefix: autoIDPrefix ?? "auto-")
        }
        var result = security
        result.allowAnonymous = listener.listenerAllowAnonymous ?? anonymous ?? localOnly
        return result
    }
}

/// Who may connect to a listener and how client identifiers are assigned.
package struct EffectiveSecurity: Sendable, Hashable {
    package var allowAnonymous: Bool
    package var passwordFile: String?
    package var aclFile: String?
    package var allowZeroLengthClientID: Bool
    package var autoIDPrefix: String
}

/// `persistent_client_expiration`: an integer and a unit, `h`, `d`, `w`, `m` (30 days) or `y` (365 days).
package struct ExpirationDuration: Sendable, Hashable, CustomStringConvertible {
    package enum Unit: Character, Sendable, Hashable, CaseIterable {
        case hour = "h"
        case day = "d"
        case week = "w"
        case month = "m"
        case year = "y"

        /// Mosquitto's multipliers: a month is 30 days and a year 365.
        package var seconds: Int {
            switch self {
            case .hour: 3600
            case .day: 86400
            case .week: 7 * 86400
            case .month: 30 * 86400
            case .year: 365 * 86400
            }
        }
    }

    package var count: Int
    package var unit: Unit

    package init(count: Int, unit: Unit) {
        self.count = count
        self.unit = unit
    }

    package var seconds: Int { count * unit.seconds }
    package var description: String { "\(count)\(unit.rawValue)" }
}

/// `log_type` values.
package enum LogType: String, Sendable, Hashable, CaseIterable {
    case debug, error, warning, notice, information, subscribe, unsubscribe, websockets, `internal`

    /// Mosquitto's default when no `log_type` line is given.
    package static let defaults: Set<LogType> = [.error, .warning, .notice, .information]
}

/// `log_dest` values the gateway supports (`syslog`, `topic` and `dlt` are refused at validation).
package enum LogDestination: Sendable, Hashable {
    case stdout
    case stderr
    /// `log_dest file PATH`; Mosquitto allows one.
    case file(String)
}

package enum ListenerProtocol: String, Sendable, Hashable {
    case mqtt, websockets
}

package enum SocketDomain: String, Sendable, Hashable {
    case ipv4, ipv6
}

/// Minimum TLS version (`tls_version`, `bridge_tls_version`); TLS 1.0 and 1.1 are refused as insecure.
package enum TLSVersion: String, Sendable, Hashable {
    case tls12 = "tlsv1.2"
    case tls13 = "tlsv1.3"
}

/// One network listener.
package struct Listener: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        /// A `listener PORT [ADDRESS]` section.
        case explicit
        /// Mosquitto's default listener: options before the first `listener`, with `port`/`bind_address`.
        case defaultListener
        /// No listener configured: Mosquitto 2.0 listens on port 1883 of the loopback interfaces (127.0.0.1 and
        /// ::1) only, and allows anonymous clients there unless `allow_anonymous` says otherwise.
        case localOnly
    }

    package var kind: Kind
    package var port: Int
    /// Host name or address to bind; nil for every address (loopback only for `.localOnly`).
    package var bindAddress: String?
    /// `bind_interface`: bind to this network interface (SO_BINDTODEVICE); takes priority over the address.
    package var bindInterface: String?
    /// `protocol`.
    package var `protocol`: ListenerProtocol = .mqtt
    /// `socket_domain`: nil for both IPv4 and IPv6.
    package var socketDomain: SocketDomain?
    /// `mount_point`: topic prefix isolating this listener's clients.
    package var mountPoint: String?
    /// `max_connections`: nil for no limit (-1 in the file).
    package var maxConnections: Int?
    /// `max_qos`.
    package var maxQoS: QoS = .exactlyOnce
    /// `max_topic_alias`: topic aliases a v5 client may create, 0…65535.
    package var maxTopicAlias = 10

    // TLS: the listener uses TLS when `certFile` and `keyFile` are set.

    /// `cafile`: CA certificates trusted for client certificates.
    package var caFile: String?
    /// `capath`: directory of CA certificates trusted for client certificates.
    package var caPath: String?
    /// `certfile`: PEM server certificate (chain).
    package var certFile: String?
    /// `keyfile`: PEM private key of `certFile`.
    package var keyFile: String?
    /// `require_certificate`: clients must present a certificate signed by `caFile`/`caPath`.
    package var requireCertificate = false
    /// `use_identity_as_username`: the client certificate's CN is the username; the password file is not used.
    package var useIdentityAsUsername = false
    /// `use_subject_as_username`: the client certificate's whole subject is the username.
    package var useSubjectAsUsername = false
    /// `tls_version`: minimum TLS version; nil for TLS 1.2 and 1.3.
    package var tlsVersion: TLSVersion?
    /// `ciphers`: OpenSSL cipher list for TLS 1.2.
    package var ciphers: String?
    /// `dhparamfile`. Accepted with a warning and not used: the gateway only offers ECDHE key exchange.
    package var dhParamFile: String?

    // Security, when `per_listener_settings` is true (see `MosquittoConfiguration.effectiveSecurity(of:)`).

    package var allowAnonymous: Bool?
    /// `listener_allow_anonymous` (Mosquitto 2.1): this listener's `allow_anonymous` whatever
    /// `per_listener_settings` says.
    package var listenerAllowAnonymous: Bool?
    package var passwordFile: String?
    package var aclFile: String?
    package var allowZeroLengthClientID: Bool?
    package var autoIDPrefix: String?

    package init(kind: Kind = .explicit, port: Int, bindAddress: String? = nil) {
        self.kind = kind
        self.port = port
        self.bindAddress = bindAddress
    }

    /// Whether clients connect with TLS.
    package var usesTLS: Bool { certFile != nil && keyFile != nil }
}

/// `bridge_protocol_version`.
package enum BridgeProtocolVersion: String, Sendable, Hashable {
    case mqttv31, mqttv311, mqttv50
}

/// `start_type`.
package enum BridgeStartType: String, Sendable, Hashable {
    case automatic, lazy, once
}

/// `restart_timeout`: one value for a constant delay, two for "decorrelated jitter" backoff from base to cap.
package enum RestartTimeout: Sendable, Hashable {
    case constant(Int)
    case backoff(base: Int, cap: Int)
}

/// One `address`/`addresses` entry.
package struct BridgeAddress: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int = 1883) {
        self.host = host
        self.port = port
    }

    package var description: String { "\(host):\(port)" }
}

/// `topic pattern [[[out|in|both] qos] local-prefix remote-prefix]`.
package struct BridgeTopic: Sendable, Hashable {
    package enum Direction: String, Sendable, Hashable {
        case out, `in`, both
    }

    /// The topic filter; empty for `""`, allowed when both prefixes are given (they are then whole topics).
    package var pattern: String
    package var direction: Direction = .out
    package var qos: QoS = .atMostOnce
    /// Nil for none (`""` in the file).
    package var localPrefix: String?
    package var remotePrefix: String?

    package init(
        pattern: String, direction: Direction = .out, qos: QoS = .atMostOnce, localPrefix: String? = nil,
        remotePrefix: String? = nil
    ) {
        self.pattern = pattern
        self.direction = direction
        self.qos = qos
        self.localPrefix = localPrefix
        self.remotePrefix = remotePrefix
    }

    /// The topic on the local broker: local prefix + pattern.
    package var localTopic: String { (localPrefix ?? "") + pattern }
    /// The topic on the remote broker: remote prefix + pattern.
    package var remoteTopic: String { (remotePrefix ?? "") + pattern }
}

/// A `connection` section: a client connection from this broker to another.
package struct Bridge: Sendable, Hashable {
    /// `connection NAME`.
    package var name: String
    /// `address`/`addresses`, in order; the first is the main one unless `roundRobin`.
    package var addresses: [BridgeAddress] = []
    package var roundRobin = false
    package var topics: [BridgeTopic] = []
    /// `remote_username` (old name `username`).
    package var remoteUsername: String?
    /// `remote_password` (old name `password`).
    package var remotePassword: String?
    /// `remote_clientid` (old name `clientid`); nil for Mosquitto's `<hostname>.<name>`.
    package var remoteClientID: String?
    /// `local_clientid`; nil for `local.<remote client id>`.
    package var localClientID: String?
    package var protocolVersion: BridgeProtocolVersion = .mqttv311
    /// `bridge_cafile`; the bridge uses TLS when this or `caPath` is set.
    package var caFile: String?
    package var caPath: String?
    package var certFile: String?
    package var keyFile: String?
    /// `bridge_insecure`: do not check the remote host name against its certificate.
    package var insecure = false
    package var tlsVersion: TLSVersion?
    /// `cleansession`.
    package var cleanSession = false
    /// `keepalive_interval`, at least 5.
    package var keepaliveInterval = 60
    package var restartTimeout: RestartTimeout = .backoff(base: 5, cap: 30)
    /// `try_private`: announce the bridge to the remote broker (protocol version with the 0x80 bit).
    package var tryPrivate = true
    package var notifications = true
    /// `notification_topic`; nil for `$SYS/broker/connection/<remote client id>/state`.
    package var notificationTopic: String?
    package var notificationsLocalOnly = false
    package var startType: BridgeStartType = .automatic
    /// `idle_timeout`, seconds, for lazy bridges.
    package var idleTimeout = 60
    /// `threshold`: queued messages that start a lazy bridge.
    package var threshold = 10
    /// `bridge_max_packet_size`; nil for no limit (0 in the file).
    package var maxPacketSize: Int?
    /// `bridge_outgoing_retain`: keep the retain flag on messages sent to the remote broker.
    package var outgoingRetain = true

    package init(name: String) {
        self.name = name
    }

    /// Whether the connection to the remote broker uses TLS.
    package var usesTLS: Bool { caFile != nil || caPath != nil }
}
