/// Every option the gateway knows: all of mosquitto.conf(5) for Mosquitto 2.0, the old names Mosquitto still
/// accepts, one Mosquitto 2.1 option, and the gateway's `kos_*` extensions — each with whether the gateway
/// supports it.
///
/// The loader refuses options marked `.refused` with the reason given here, and docs/mosquitto-options.md is
/// checked against this table by the tests, so the parser, the documentation and the manual cannot drift apart.
package enum MosquittoOptions {
    /// Where an option may appear.
    package enum Section: String, Sendable, Hashable {
        /// Applies to the whole broker wherever it appears.
        case global
        /// Global, or the current listener's when `per_listener_settings` is true.
        case security
        /// The current listener (the default listener before the first `listener` line).
        case listener
        /// The current bridge: only after a `connection` line.
        case bridge
    }

    package enum Support: Sendable, Hashable {
        case supported
        /// Accepted; the note says how the gateway differs (a warning is given where the file's value matters).
        case differs(String)
        /// Refused at validation with this reason.
        case refused(String)
    }

    package struct Option: Sendable, Hashable {
        /// The option name; a trailing `*` marks a prefix (`auth_opt_*`).
        package var name: String
        package var section: Section
        package var support: Support
        /// Name of the option this one is an old spelling of, if any.
        package var aliasOf: String?
        /// Where the option comes from when it is not in the Mosquitto 2.0 manual.
        package var origin: String?
    }

    private static let pluginReason =
        "the gateway does not load plugins (native code in the broker process); use password_file and acl_file"
    private static let pskReason =
        "TLS pre-shared keys are not supported; use certificates (certfile, keyfile, cafile)"
    private static let engineReason = "OpenSSL engines are not available in the gateway's TLS stack"
    private static let websocketsLibReason =
        "tunes libwebsockets, which the gateway does not use; its WebSocket transport has fixed limits"

    private static func option(
        _ name: String, _ section: Section, _ support: Support = .supported, aliasOf: String? = nil,
        origin: String? = nil
    ) -> Option {
        Option(name: name, section: section, support: support, aliasOf: aliasOf, origin: origin)
    }

    /// All options, in the order of the documentation table.
    package static let all: [Option] = [
        // General options.
        option("acl_file", .security),
        option("allow_anonymous", .security),
        option(
            "allow_duplicate_messages", .global,
            .differs(
                "deprecated in Mosquitto 2.0; the gateway always delivers one copy of a message to a client with "
                    + "overlapping subscriptions, whatever the value")),
        option("allow_zero_length_clientid", .security),
        option("auth_opt_*", .security, .refused(pluginReason)),
        option("auth_plugin", .security, .refused(pluginReason)),
        option("auth_plugin_deny_special_chars", .security, .refused(pluginReason)),
        option("auto_id_prefix", .security),
        option("autosave_interval", .global),
        option("autosave_on_changes", .global),
        option(
            "check_retain_source", .global,
            .refused(
                "not implemented: the broker does not re-check the publisher's access when it sends a "
                    + "retained message; remove the line")),
        option(
            "clientid_prefixes", .global,
            .refused(
                "deprecated in Mosquitto 2.0 and not implemented; restrict clients with password_file and "
                    + "acl_file")),
        option("connection_messages", .global),
        option("include_dir", .global),
        option(
            "log_dest", .global,
            .differs(
                "stdout, stderr, file and none are supported; syslog, topic and dlt are refused until the "
                    + "gateway's event system can carry log lines")),
        option(
            "log_facility", .global,
            .refused("only used with log_dest syslog, which the gateway does not support")),
        option("log_timestamp", .global),
        option(
            "log_timestamp_format", .global,
            .differs("accepted with a warning and not interpreted: log lines always carry RFC 3339 timestamps")),
        option("log_type", .global),
        option(
            "max_inflight_bytes", .global,
            .refused("byte-based in-flight limits are not implemented; use max_inflight_messages")),
        option("max_inflight_messages", .global),
        option(
            "max_keepalive", .global,
            .differs(
                "1 to 9 seconds are accepted (Mosquitto refuses them): short keep-alives find dead field links "
                    + "sooner; 3.1.1 clients asking for more than the maximum are refused, as they cannot be told")),
        option("max_packet_size", .global),
        option(
            "max_queued_bytes", .global,
            .refused("byte-based queue limits are not implemented; use max_queued_messages")),
        option("max_queued_messages", .global),
        option(
            "memory_limit", .global,
            .refused(
                "the gateway does not count its heap allocations; bound memory with max_packet_size, "
                    + "max_queued_messages and max_connections, or with the service manager (MemoryMax=)")),
        option("message_size_limit", .global),
        option("password_file", .security),
        option("per_listener_settings", .global),
        option("persistence", .global),
        option("persistence_file", .global),
        option("persistence_location", .global),
        option("persistent_client_expiration", .global),
        option("pid_file", .global),
        option("psk_file", .security, .refused(pskReason)),
        option("queue_qos0_messages", .global),
        option("retain_available", .global),
        option(
            "set_tcp_nodelay", .global,
            .differs("the gateway always sets TCP_NODELAY; `set_tcp_nodelay false` gives a warning")),
        option("sys_interval", .global),
        option(
            "upgrade_outgoing_qos", .global,
            .refused(
                "non-standard: MQTT forbids delivering a message with a higher QoS than it was published "
                    + "with")),
        option(
            "user", .global,
            .differs(
                "accepted with a warning: the gateway does not change user after start; run it as the user "
                    + "you want (systemd User=)")),
        // Listeners.
        option("bind_address", .listener, .differs("deprecated; sets the default listener's address, as in Mosquitto")),
        option(
            "bind_interface", .listener,
            .differs(
                "binds the interface's first IPv4 (else IPv6) address when the listener starts, instead of "
                    + "SO_BINDTODEVICE; after the address changes, reload")),
        option(
            "http_dir", .listener,
            .refused(
                "the gateway does not serve files over HTTP on its WebSocket listeners; its web interface is "
                    + "separate")),
        option("listener", .listener, .differs("Unix domain sockets (`listener 0 PATH`) are refused")),
        option("max_connections", .listener),
        option("max_qos", .listener),
        option("max_topic_alias", .listener),
        option("mount_point", .listener),
        option("port", .listener, .differs("deprecated; sets the default listener's port, as in Mosquitto")),
        option("protocol", .listener),
        option("socket_domain", .listener),
        option(
            "use_username_as_clientid", .listener,
            .refused("not implemented; tie client identifiers to users with acl_file patterns (%u, %c)")),
        option("websockets_log_level", .global, .refused(websocketsLibReason)),
        option("websockets_headers_size", .global, .refused(websocketsLibReason)),
        // Listener TLS.
        option("cafile", .listener),
        option(
            "capath", .listener,
            .differs("every *.pem and *.crt file of the directory is loaded at start; no `openssl rehash` needed")),
        option("certfile", .listener),
        option("ciphers", .listener),
        option(
            "ciphers_tls1.3", .listener,
            .refused(
                "the TLS library always offers its three TLS 1.3 suites (AES-128-GCM, AES-256-GCM, "
                    + "ChaCha20-Poly1305) and cannot narrow them; use tls_version tlsv1.2 with ciphers to choose suites"
            )),
        option(
            "crlfile", .listener,
            .refused(
                "certificate revocation lists are not supported yet; the gateway refuses rather than accept "
                    + "revoked certificates")),
        option(
            "dhparamfile", .listener,
            .differs("accepted with a warning and not used: the gateway only offers ECDHE key exchange")),
        option("keyfile", .listener),
        option("require_certificate", .listener),
        option("tls_engine", .listener, .refused(engineReason)),
        option("tls_engine_kpass_sha1", .listener, .refused(engineReason)),
        option("tls_keyform", .listener, .refused(engineReason)),
        option(
            "tls_version", .listener,
            .differs("tlsv1.2 and tlsv1.3 only; tlsv1.1 and older are refused as insecure")),
        option("use_identity_as_username", .listener, .differs("with certificates only (PSK is not supported)")),
        option("use_subject_as_username", .listener),
        option("psk_hint", .listener, .refused(pskReason)),
        // Bridges.
        option("address", .bridge),
        option("addresses", .bridge),
        option(
            "bridge_attempt_unsubscribe", .bridge,
            .refused("not implemented: the bridge never sends UNSUBSCRIBE for `out` topics")),
        option(
            "bridge_bind_address", .bridge,
            .refused("not implemented: the bridge connects from the address the routing table chooses")),
        option("bridge_max_packet_size", .bridge),
        option("bridge_outgoing_retain", .bridge),
        option("bridge_protocol_version", .bridge),
        option("cleansession", .bridge),
        option(
            "local_cleansession", .bridge,
            .refused("not implemented: the local side of a bridge follows cleansession")),
        option("connection", .bridge),
        option("keepalive_interval", .bridge),
        option("idle_timeout", .bridge),
        option("local_clientid", .bridge),
        option(
            "local_password", .bridge,
            .refused("the bridge runs inside the gateway and does not log in to the local broker; remove the line")),
        option(
            "local_username", .bridge,
            .refused("the bridge runs inside the gateway and does not log in to the local broker; remove the line")),
        option("notifications", .bridge),
        option("notifications_local_only", .bridge),
        option("notification_topic", .bridge),
        option("remote_clientid", .bridge),
        option("remote_password", .bridge),
        option("remote_username", .bridge),
        option("restart_timeout", .bridge),
        option("round_robin", .bridge),
        option(
            "start_type", .bridge,
            .differs("automatic and once are supported; lazy is refused at validation until it is implemented")),
        option("threshold", .bridge),
        option("topic", .bridge),
        option("try_private", .bridge),
        // Bridge TLS.
        option(
            "bridge_alpn", .bridge,
            .refused("ALPN on bridge connections is not implemented")),
        option("bridge_cafile", .bridge),
        option(
            "bridge_capath", .bridge,
            .differs("every *.pem and *.crt file of the directory is loaded at start; no `openssl rehash` needed")),
        option("bridge_certfile", .bridge),
        option("bridge_identity", .bridge, .refused(pskReason)),
        option("bridge_insecure", .bridge, .differs("`bridge_insecure true` gives a warning, as in Mosquitto")),
        option("bridge_keyfile", .bridge),
        option("bridge_psk", .bridge, .refused(pskReason)),
        option(
            "bridge_require_ocsp", .bridge,
            .refused("OCSP checking of the remote broker's certificate is not implemented")),
        option(
            "bridge_tls_version", .bridge,
            .differs("tlsv1.2 and tlsv1.3 only; tlsv1.1 and older are refused as insecure")),
        // Old spellings Mosquitto 2.0 still accepts (not headings of the manual).
        option("clientid", .bridge, aliasOf: "remote_clientid", origin: "old name, Mosquitto 2.0 source and manual"),
        option("password", .bridge, aliasOf: "remote_password", origin: "old name, Mosquitto 2.0 source and manual"),
        option("username", .bridge, aliasOf: "remote_username", origin: "old name, Mosquitto 2.0 source and manual"),
        option("maximum_qos", .listener, aliasOf: "max_qos", origin: "old name, Mosquitto 2.0 source"),
        option("retained_persistence", .global, aliasOf: "persistence", origin: "old name, Mosquitto 2.0 source"),
        option("plugin", .security, .refused(pluginReason), origin: "Mosquitto 2.0 source (auth_plugin)"),
        option("plugin_opt_*", .security, .refused(pluginReason), origin: "Mosquitto 2.0 source (auth_opt_*)"),
        option(
            "retry_interval", .global,
            .differs("removed in Mosquitto 2.0, which warns and ignores it; so does the gateway"),
            origin: "Mosquitto 1.x"),
        option(
            "listener_allow_anonymous", .listener,
            .differs(
                "Mosquitto 2.1 option; allow_anonymous for the current listener whatever "
                    + "per_listener_settings says"),
            origin: "Mosquitto 2.1"),
        // Gateway extensions.
        option("kos_audit", .global, origin: "Rampart extension"),
        option("kos_event", .global, origin: "Rampart extension"),
        option("kos_audit_topic", .global, origin: "Rampart extension"),
        option("kos_event_topic", .global, origin: "Rampart extension"),
    ]

    private static let byName: [String: Option] = Dictionary(
        all.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    /// The known option nearest to a misspelt name (at most two edits away), for "did you mean" hints.
    package static func closest(to name: String) -> String? {
        let target = Array(name.utf8)
        var best: (name: String, distance: Int)?
        for option in all where !option.name.hasSuffix("*") {
            let distance = editDistance(target, Array(option.name.utf8))
            if distance <= 2 && distance < (best?.distance ?? Int.max) { best = (option.name, distance) }
        }
        return best?.name
    }

    /// Levenshtein distance.
    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The option a configuration line names, matching prefixes such as `auth_opt_*`.
    package static func lookup(_ name: String) -> Option? {
        if let option = byName[name] { return option }
        for option in all where option.name.hasSuffix("*") {
            let prefix = option.name.dropLast()
            if name.hasPrefix(prefix) && name.count > prefix.count { return option }
        }
        return nil
    }
}
