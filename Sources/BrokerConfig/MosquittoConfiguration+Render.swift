/// Normalized mosquitto.conf text: what the configuration means, in a fixed order, without defaults or comments.
///
/// Loading the rendering gives the same configuration again (except `files`), so it serves golden tests, diffs
/// between profiles and the profile editor's output. `include_dir` is not rendered: the included files' settings are.
extension MosquittoConfiguration {
    package func render() -> String {
        var sections: [[String]] = []
        sections.append(renderGlobal())
        for listener in listeners where listener.kind != .explicit {
            // Options before the first `listener` line; `port` makes Mosquitto start the default listener.
            var lines = listener.kind == .defaultListener ? ["port \(listener.port)"] : []
            if listener.kind == .defaultListener, let address = listener.bindAddress {
                lines.append("bind_address \(address)")
            }
            lines += Self.renderOptions(of: listener)
            sections.append(lines)
        }
        for listener in listeners where listener.kind == .explicit {
            let address = listener.bindAddress.map { " \($0)" } ?? ""
            sections.append(["listener \(listener.port)\(address)"] + Self.renderOptions(of: listener))
        }
        for bridge in bridges {
            sections.append(Self.render(bridge))
        }
        return sections.filter { !$0.isEmpty }.map { $0.joined(separator: "\n") + "\n" }.joined(separator: "\n")
    }

    private func renderGlobal() -> [String] {
        var lines: [String] = []
        func add(_ name: String, _ value: (some CustomStringConvertible)?) {
            if let value { lines.append("\(name) \(value)") }
        }
        func add<Value: Equatable & CustomStringConvertible>(_ name: String, _ value: Value, default: Value) {
            if value != `default` { lines.append("\(name) \(value)") }
        }
        let defaults = MosquittoConfiguration()
        add("per_listener_settings", perListenerSettings, default: false)
        add("allow_anonymous", allowAnonymous)
        add("password_file", passwordFile)
        add("acl_file", aclFile)
        add("allow_zero_length_clientid", allowZeroLengthClientID)
        add("auto_id_prefix", autoIDPrefix)
        add("persistence", persistence, default: false)
        add("persistence_location", persistenceLocation)
        add("persistence_file", persistenceFile)
        add("autosave_interval", autosaveInterval, default: defaults.autosaveInterval)
        add("autosave_on_changes", autosaveOnChanges, default: false)
        add("persistent_client_expiration", persistentClientExpiration)
        add("max_inflight_messages", maxInflightMessages ?? 0, default: defaults.maxInflightMessages ?? 0)
        add("max_queued_messages", maxQueuedMessages ?? 0, default: defaults.maxQueuedMessages ?? 0)
        add("queue_qos0_messages", queueQoS0Messages, default: false)
        add("message_size_limit", messageSizeLimit)
        add("max_packet_size", maxPacketSize)
        add("max_keepalive", maxKeepalive, default: defaults.maxKeepalive)
        add("retain_available", retainAvailable, default: true)
        add("sys_interval", sysInterval, default: defaults.sysInterval)
        add("allow_duplicate_messages", allowDuplicateMessages, default: true)
        add("set_tcp_nodelay", setTCPNoDelay, default: false)
        if logTypes != LogType.defaults {
            if logTypes.isEmpty {
                lines.append("log_type none")
            } else if logTypes == Set(LogType.allCases) {
                lines.append("log_type all")
            } else {
                lines += LogType.allCases.filter(logTypes.contains).map { "log_type \($0.rawValue)" }
            }
        }
        if logDestinations != defaults.logDestinations {
            if logDestinations.isEmpty { lines.append("log_dest none") }
            for destination in logDestinations {
                switch destination {
                case .stdout: lines.append("log_dest stdout")
                case .stderr: lines.append("log_dest stderr")
                case .file(let path): lines.append("log_dest file \(path)")
                }
            }
        }
        add("log_timestamp", logTimestamp, default: true)
        add("log_timestamp_format", logTimestampFormat)
        add("connection_messages", connectionMessages, default: true)
        add("pid_file", pidFile)
        add("user", user)
        add("kos_audit", kosAudit, default: defaults.kosAudit)
        add("kos_event", kosEvent, default: defaults.kosEvent)
        add("kos_audit_topic", kosAuditTopic, default: defaults.kosAuditTopic)
        add("kos_event_topic", kosEventTopic, default: defaults.kosEventTopic)
        return lines
    }

    private static func renderOptions(of listener: Listener) -> [String] {
        var lines: [String] = []
        func add(_ name: String, _ value: (some CustomStringConvertible)?) {
            if let value { lines.append("\(name) \(value)") }
        }
        func flag(_ name: String, _ value: Bool) {
            if value { lines.append("\(name) true") }
        }
        add("bind_interface", listener.bindInterface)
        if listener.protocol != .mqtt { lines.append("protocol \(listener.protocol.rawValue)") }
        add("socket_domain", listener.socketDomain?.rawValue)
        add("mount_point", listener.mountPoint)
        add("max_connections", listener.maxConnections)
        if listener.maxQoS != .exactlyOnce { lines.append("max_qos \(listener.maxQoS.rawValue)") }
        if listener.maxTopicAlias != 10 { lines.append("max_topic_alias \(listener.maxTopicAlias)") }
        add("cafile", listener.caFile)
        add("capath", listener.caPath)
        add("certfile", listener.certFile)
        add("keyfile", listener.keyFile)
        add("dhparamfile", listener.dhParamFile)
        flag("require_certificate", listener.requireCertificate)
        flag("use_identity_as_username", listener.useIdentityAsUsername)
        flag("use_subject_as_username", listener.useSubjectAsUsername)
        add("tls_version", listener.tlsVersion?.rawValue)
        add("ciphers", listener.ciphers)
        add("listener_allow_anonymous", listener.listenerAllowAnonymous)
        add("allow_anonymous", listener.allowAnonymous)
        add("password_file", listener.passwordFile)
        add("acl_file", listener.aclFile)
        add("allow_zero_length_clientid", listener.allowZeroLengthClientID)
        add("auto_id_prefix", listener.autoIDPrefix)
        return lines
    }

    private static func render(_ bridge: Bridge) -> [String] {
        var lines = ["connection \(bridge.name)"]
        func add(_ name: String, _ value: (some CustomStringConvertible)?) {
            if let value { lines.append("\(name) \(value)") }
        }
        func add<Value: Equatable & CustomStringConvertible>(_ name: String, _ value: Value, default: Value) {
            if value != `default` { lines.append("\(name) \(value)") }
        }
        let defaults = Bridge(name: bridge.name)
        if !bridge.addresses.isEmpty {
            lines.append("address " + bridge.addresses.map(\.description).joined(separator: " "))
        }
        add("round_robin", bridge.roundRobin, default: false)
        add("remote_clientid", bridge.remoteClientID)
        add("local_clientid", bridge.localClientID)
        add("remote_username", bridge.remoteUsername)
        add("remote_password", bridge.remotePassword)
        add("bridge_protocol_version", bridge.protocolVersion.rawValue, default: defaults.protocolVersion.rawValue)
        add("cleansession", bridge.cleanSession, default: false)
        add("keepalive_interval", bridge.keepaliveInterval, default: defaults.keepaliveInterval)
        switch bridge.restartTimeout {
        case defaults.restartTimeout: break
        case .constant(let seconds): lines.append("restart_timeout \(seconds)")
        case .backoff(let base, let cap): lines.append("restart_timeout \(base) \(cap)")
        }
        add("try_private", bridge.tryPrivate, default: true)
        add("notifications", bridge.notifications, default: true)
        add("notification_topic", bridge.notificationTopic)
        add("notifications_local_only", bridge.notificationsLocalOnly, default: false)
        add("start_type", bridge.startType.rawValue, default: defaults.startType.rawValue)
        add("idle_timeout", bridge.idleTimeout, default: defaults.idleTimeout)
        add("threshold", bridge.threshold, default: defaults.threshold)
        add("bridge_max_packet_size", bridge.maxPacketSize)
        add("bridge_outgoing_retain", bridge.outgoingRetain, default: true)
        add("bridge_cafile", bridge.caFile)
        add("bridge_capath", bridge.caPath)
        add("bridge_certfile", bridge.certFile)
        add("bridge_keyfile", bridge.keyFile)
        add("bridge_insecure", bridge.insecure, default: false)
        add("bridge_tls_version", bridge.tlsVersion?.rawValue)
        for topic in bridge.topics {
            var line =
                "topic \(topic.pattern.isEmpty ? "\"\"" : topic.pattern) \(topic.direction.rawValue) "
                + "\(topic.qos.rawValue)"
            if topic.localPrefix != nil || topic.remotePrefix != nil {
                line += " \(topic.localPrefix ?? "\"\"") \(topic.remotePrefix ?? "\"\"")"
            }
            lines.append(line)
        }
        return lines
    }
}
