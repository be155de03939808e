import MQTTCodec

/// What each option does to the model, option by option, in the order of mosquitto.conf(5).
extension ConfigurationParser {
    mutating func handle(_ line: OptionLine, cursor: inout Cursor, isMain: Bool) {
        guard let option = MosquittoOptions.lookup(line.name) else {
            let suggestion = MosquittoOptions.closest(to: line.name).map { "; did you mean \($0)?" } ?? ""
            error(line.location, "unknown option \"\(line.name)\"\(suggestion)")
            return
        }
        if case .refused(let reason) = option.support {
            error(line.location, "option \"\(line.name)\" is not supported: \(reason)")
            return
        }
        let name = option.aliasOf ?? option.name
        switch option.section {
        case .bridge:
            if name == "connection" {
                openBridge(line, &cursor)
                return
            }
            guard let index = cursor.bridge else {
                error(
                    line.location,
                    "\(line.name) is a bridge option; it must follow a \"connection\" line in the "
                        + "same file")
                return
            }
            if cursor.last == .listener {
                warning(
                    line.location,
                    "\(line.name) applies to bridge \"\(bridges[index].bridge.name)\", not to the "
                        + "listener above it (bridge options apply to the most recent \"connection\" line)")
            }
            handleBridge(line, name, index)
        case .listener:
            switch name {
            case "listener":
                openListener(line, &cursor)
            case "port", "bind_address":
                handleDefaultListenerAddress(line, name)
            default:
                if cursor.last == .bridge, let bridge = cursor.bridge {
                    let counterpart =
                        MosquittoOptions.lookup("bridge_" + name) != nil ? "; did you mean bridge_\(name)?" : ""
                    warning(
                        line.location,
                        "\(line.name) applies to \(label(cursor)), not to bridge "
                            + "\"\(bridges[bridge].bridge.name)\" (listener options apply to the most recent "
                            + "\"listener\" line)\(counterpart)")
                }
                handleListener(line, name, cursor)
            }
        case .security:
            handleSecurity(line, name, cursor)
        case .global:
            if name == "include_dir" {
                include(line, isMain: isMain)
            } else {
                handleGlobal(line, name)
            }
        }
    }

    /// How diagnostics name the listener a cursor points at.
    func label(_ cursor: Cursor) -> String {
        guard let index = cursor.listener else { return "the default listener" }
        return Self.label(explicitListeners[index].listener)
    }

    static func label(_ listener: Listener) -> String {
        switch listener.kind {
        case .explicit:
            return "listener \(listener.port)" + (listener.bindAddress.map { " \($0)" } ?? "")
        case .defaultListener:
            return "the default listener (port \(listener.port))"
        case .localOnly:
            return "the local-only listener (port 1883)"
        }
    }

    // MARK: Global options

    mutating func handleGlobal(_ line: OptionLine, _ name: String) {
        switch name {
        case "allow_duplicate_messages":
            if let value = bool(line) { configuration.allowDuplicateMessages = value }
        case "autosave_interval":
            if let value = integer(line, 0...Int(Int32.max)) { configuration.autosaveInterval = value }
        case "autosave_on_changes":
            if let value = bool(line) { configuration.autosaveOnChanges = value }
        case "connection_messages":
            if let value = bool(line) { configuration.connectionMessages = value }
        case "log_dest":
            logDestination(line)
        case "log_timestamp":
            if let value = bool(line) { configuration.logTimestamp = value }
        case "log_timestamp_format":
            guard let value = string(line), firstSetting(line, canonical: name, in: \.globalSetAt) else { return }
            configuration.logTimestampFormat = value
            warning(
                line.location,
                "log_timestamp_format is not interpreted: the gateway's log lines always carry "
                    + "RFC 3339 timestamps")
        case "log_type":
            logType(line)
        case "max_inflight_messages":
            if let value = integer(line, 0...65535, "; 0 means no limit") {
                configuration.maxInflightMessages = value == 0 ? nil : value
            }
        case "max_keepalive":
            if let value = integer(line, 1...65535, "; 0 would let clients never prove they are alive") {
                configuration.maxKeepalive = value
            }
        case "max_packet_size":
            if let value = integer(line, 20...268_435_460, "; below 20 bytes clients could not send anything") {
                configuration.maxPacketSize = value
            }
        case "max_queued_messages":
            if let value = integer(line, 0...Int(Int32.max), "; 0 means no limit") {
                configuration.maxQueuedMessages = value == 0 ? nil : value
            }
        case "message_size_limit":
            if let value = integer(line, 0...268_435_455, "; 0 means no limit") {
                configuration.messageSizeLimit = value == 0 ? nil : value
            }
        case "per_listener_settings":
            perListenerSettings(line)
        case "persistence":
            if let value = bool(line) { configuration.persistence = value }
        case "persistence_file":
            guard let value = string(line), firstSetting(line, canonical: name, in: \.globalSetAt) else { return }
            configuration.persistenceFile = value
        case "persistence_location":
            guard let value = string(line), firstSetting(line, canonical: name, in: \.globalSetAt) else { return }
            configuration.persistenceLocation = path(value, line)
        case "persistent_client_expiration":
            if let value = expiration(line) { configuration.persistentClientExpiration = value }
        case "pid_file":
            guard let value = string(line), firstSetting(line, canonical: name, in: \.globalSetAt) else { return }
            configuration.pidFile = path(value, line)
        case "queue_qos0_messages":
            if let value = bool(line) { configuration.queueQoS0Messages = value }
        case "retain_available":
            if let value = bool(line) { configuration.retainAvailable = value }
        case "set_tcp_nodelay":
            guard let value = bool(line) else { return }
            configuration.setTCPNoDelay = value
            if !value {
                warning(line.location, "set_tcp_nodelay false has no effect: the gateway always sets TCP_NODELAY")
            }
        case "sys_interval":
            if let value = integer(line, 0...65535, "; 0 turns $SYS off") { configuration.sysInterval = value }
        case "user":
            guard let value = string(line) else { return }
            configuration.user = value
            warning(
                line.location,
                "user \"\(value)\": the gateway does not change user after start; run it as "
                    + "that user instead (systemd User=)")
        case "retry_interval":
            warning(
                line.location,
                "retry_interval is ignored: Mosquitto 2.0 removed it (messages are retried when "
                    + "a client reconnects)")
        case "kos_audit":
            if let value = bool(line) { configuration.kosAudit = value }
        case "kos_event":
            if let value = bool(line) { configuration.kosEvent = value }
        case "kos_audit_topic", "kos_event_topic":
            guard let value = string(line), topicName(value, line) else { return }
            if name == "kos_audit_topic" {
                configuration.kosAuditTopic = value
            } else {
                configuration.kosEventTopic = value
            }
        default:
            error(line.location, "option \"\(line.name)\" is not supported here")
        }
    }

    mutating func perListenerSettings(_ line: OptionLine) {
        guard let value = bool(line) else { return }
        if value, let first = firstSecurityOption {
            error(
                line.location,
                "per_listener_settings true must come before every security option (the first one "
                    + "is at \(first)); move it to the top of the main file")
            return
        }
        if configuration.perListenerSettings != value, let listener = firstListenerLine {
            warning(
                line.location,
                "per_listener_settings after the first listener (\(listener)); it applies to the "
                    + "security options that follow it only, so put it at the top of the main file")
        }
        configuration.perListenerSettings = value
    }

    mutating func logDestination(_ line: OptionLine) {
        guard let kind = line.words.first else {
            error(line.location, "log_dest: missing value")
            return
        }
        if !logDestinationsSet {
            // As in Mosquitto, the first log_dest line replaces the default (stderr); later ones add to it.
            logDestinationsSet = true
            configuration.logDestinations = []
        }
        switch kind {
        case "none":
            extraWords(line, after: 1)
            configuration.logDestinations = []
        case "stdout", "stderr":
            extraWords(line, after: 1)
            let destination: LogDestination = kind == "stdout" ? .stdout : .stderr
            if !configuration.logDestinations.contains(destination) {
                configuration.logDestinations.append(destination)
            }
        case "file":
            let rest = line.rest.dropFirst(kind.count).drop(while: { $0 == " " || $0 == "\t" })
            guard !rest.isEmpty else {
                error(line.location, "log_dest file: missing the file path")
                return
            }
            if configuration.logDestinations.contains(where: { if case .file = $0 { true } else { false } }) {
                error(line.location, "log_dest file: only one log file may be configured (as in Mosquitto)")
                return
            }
            configuration.logDestinations.append(.file(path(String(rest), line)))
        case "syslog", "topic", "dlt":
            error(
                line.location,
                "option \"log_dest \(kind)\" is not supported: the gateway logs to stdout, stderr or "
                    + "a file until its event system can carry log lines; use one of those or none")
        default:
            error(line.location, "log_dest: \"\(kind)\" is not one of stdout, stderr, file, none")
        }
    }

    mutating func logType(_ line: OptionLine) {
        guard let value = word(line) else { return }
        if !logTypesSet {
            // The first log_type line replaces the default set; later ones add to it.
            logTypesSet = true
            configuration.logTypes = []
        }
        switch value {
        case "none":
            configuration.logTypes = []
        case "all":
            configuration.logTypes = Set(LogType.allCases)
        default:
            guard let type = LogType(rawValue: String(value)) else {
                let names = (LogType.allCases.map(\.rawValue) + ["none", "all"]).joined(separator: ", ")
                error(line.location, "log_type: \"\(value)\" is not one of \(names)")
                return
            }
            configuration.logTypes.insert(type)
        }
    }

    // MARK: include_dir

    mutating func include(_ line: OptionLine, isMain: Bool) {
        guard isMain else {
            warning(
                line.location,
                "include_dir is only honoured in the main configuration file; this line is "
                    + "ignored (as in Mosquitto)")
            return
        }
        guard let raw = string(line) else { return }
        let directory = path(raw, line)
        guard let names = try? source.list(directory: directory) else {
            error(
                line.location,
                "include_dir: missing file reference: directory \"\(directory)\" does not exist or "
                    + "cannot be read")
            return
        }
        let files = names.filter { $0.hasSuffix(".conf") && $0.utf8.count > 5 }.sorted(by: Self.mosquittoOrder)
        for name in files {
            let file = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            if file == mainFile {
                error(
                    line.location,
                    "include_dir: directory \"\(directory)\" contains the main configuration file, "
                        + "which Mosquitto refuses; move the main file elsewhere")
                continue
            }
            guard let text = try? source.read(file) else {
                error(line.location, "include_dir: missing file reference: cannot read \"\(file)\"")
                continue
            }
            configuration.files.append(file)
            parse(text: text, file: file, isMain: false)
        }
    }

    /// Mosquitto's include order: case-insensitive first, then upper case before lower case of the same letter
    /// (`00.conf 01.conf A.conf a.conf B.conf b.conf`, mosquitto.conf(5) "include_dir").
    static func mosquittoOrder(_ lhs: String, _ rhs: String) -> Bool {
        func upper(_ byte: UInt8) -> UInt8 { (97...122).contains(byte) ? byte - 32 : byte }
        var left = lhs.utf8.makeIterator()
        var right = rhs.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case (let l?, let r?):
                if upper(l) != upper(r) { return upper(l) < upper(r) }
                if l != r { return l < r }
            }
        }
    }

    // MARK: Listeners

    mutating func openListener(_ line: OptionLine, _ cursor: inout Cursor) {
        portOrBindAddressSeen = true
        if firstListenerLine == nil { firstListenerLine = line.location }
        var state = ListenerState(listener: Listener(kind: .explicit, port: 0), location: line.location)
        state.valid = false
        if let portText = line.words.first {
            if portText == "0" {
                error(
                    line.location,
                    "listener 0 (a Unix domain socket) is not supported: the gateway listens on TCP "
                        + "only")
            } else if let port = integer(portText, line, 1...65535) {
                state.listener.port = port
                state.valid = true
            }
            if line.words.count > 1, !line.words[1].hasPrefix("#") {
                state.listener.bindAddress = String(line.words[1])
                extraWords(line, after: 2)
            }
        } else {
            error(line.location, "listener: missing port")
        }
        explicitListeners.append(state)
        cursor.listener = explicitListeners.count - 1
        cursor.last = .listener
    }

    /// `port` and `bind_address` set the default listener wherever they appear, as in Mosquitto.
    mutating func handleDefaultListenerAddress(_ line: OptionLine, _ name: String) {
        portOrBindAddressSeen = true
        if name == "port" {
            guard let port = integer(line, 1...65535) else { return }
            if let first = defaultListener.setAt["port"] {
                warning(line.location, "port given again (first at \(first)); the last one is used, as in Mosquitto")
            }
            defaultListener.listener.port = port
        } else {
            guard let value = string(line), firstSetting(line, canonical: name, in: \.defaultListener.setAt) else {
                return
            }
            defaultListener.listener.bindAddress = value
        }
        defaultListener.setAt[name] = line.location
        defaultListenerConfigured = true
        if defaultListener.location == nil { defaultListener.location = line.location }
    }

    func listenerSetAt(_ cursor: Cursor, _ name: String) -> SourceLocation? {
        if let index = cursor.listener { return explicitListeners[index].setAt[name] }
        return defaultListener.setAt[name]
    }

    /// Applies a change to the listener the cursor points at, recording where the option was set.
    ///
    /// - Parameter configures: whether this makes Mosquitto start the default listener (most options do; the
    ///   security options Mosquitto does not check, `acl_file`, `allow_anonymous`, `auto_id_prefix`, do not).
    mutating func modifyListener(
        _ cursor: Cursor, _ line: OptionLine, _ name: String, configures: Bool = true,
        _ change: (inout Listener) -> Void
    ) {
        if let index = cursor.listener {
            change(&explicitListeners[index].listener)
            explicitListeners[index].setAt[name] = line.location
        } else {
            change(&defaultListener.listener)
            defaultListener.setAt[name] = line.location
            if configures {
                defaultListenerConfigured = true
                if defaultListener.location == nil { defaultListener.location = line.location }
            }
        }
    }

    /// A string listener option, refused when given twice for the same listener (as Mosquitto does).
    mutating func listenerString(
        _ line: OptionLine, _ name: String, _ cursor: Cursor, _ keyPath: WritableKeyPath<Listener, String?>,
        check kind: FileCheck? = nil, configures: Bool = true
    ) {
        guard var value = string(line) else { return }
        if let first = listenerSetAt(cursor, name) {
            error(
                line.location,
                "duplicate \(line.name) for \(label(cursor)) (first set at \(first)); Mosquitto "
                    + "refuses a second value, remove one")
            return
        }
        if let kind {
            value = path(value, line)
            check(value, kind, line)
        }
        modifyListener(cursor, line, name, configures: configures) { $0[keyPath: keyPath] = value }
    }

    mutating func listenerBool(
        _ line: OptionLine, _ name: String, _ cursor: Cursor, _ keyPath: WritableKeyPath<Listener, Bool>
    ) {
        guard let value = bool(line) else { return }
        modifyListener(cursor, line, name) { $0[keyPath: keyPath] = value }
    }

    mutating func handleListener(_ line: OptionLine, _ name: String, _ cursor: Cursor) {
        switch name {
        case "bind_interface":
            listenerString(line, name, cursor, \.bindInterface)
        case "max_connections":
            guard let value = integer(line, -1...Int(Int32.max), "; -1 means no limit") else { return }
            modifyListener(cursor, line, name) { $0.maxConnections = value < 0 ? nil : value }
        case "max_qos":
            guard let value = integer(line, 0...2), let qos = QoS(rawValue: UInt8(value)) else { return }
            modifyListener(cursor, line, name) { $0.maxQoS = qos }
        case "max_topic_alias":
            guard let value = integer(line, 0...65535, "; 0 disallows topic aliases") else { return }
            modifyListener(cursor, line, name) { $0.maxTopicAlias = value }
        case "mount_point":
            guard cursor.listener != nil else {
                error(
                    line.location,
                    "mount_point needs a listener: Mosquitto refuses it before the first "
                        + "\"listener\" line of the file; add one above it")
                return
            }
            guard let value = string(line), topicName(value, line) else { return }
            if let first = listenerSetAt(cursor, name) {
                error(line.location, "duplicate mount_point for \(label(cursor)) (first set at \(first)); remove one")
                return
            }
            modifyListener(cursor, line, name) { $0.mountPoint = value }
        case "protocol":
            guard let value = choice(line, [ListenerProtocol.mqtt, .websockets]) else { return }
            modifyListener(cursor, line, name) { $0.protocol = value }
        case "socket_domain":
            guard let value = choice(line, [SocketDomain.ipv4, .ipv6]) else { return }
            modifyListener(cursor, line, name) { $0.socketDomain = value }
        case "cafile":
            listenerString(line, name, cursor, \.caFile, check: .readableFile)
        case "capath":
            listenerString(line, name, cursor, \.caPath, check: .listableDirectory)
        case "certfile":
            listenerString(line, name, cursor, \.certFile, check: .readableFile)
        case "keyfile":
            listenerString(line, name, cursor, \.keyFile, check: .readableFile)
        case "dhparamfile":
            listenerString(line, name, cursor, \.dhParamFile, check: .readableFile)
            warning(line.location, "dhparamfile is not used: the gateway only offers ECDHE key exchange")
        case "ciphers":
            listenerString(line, name, cursor, \.ciphers)
        case "require_certificate":
            listenerBool(line, name, cursor, \.requireCertificate)
        case "use_identity_as_username":
            listenerBool(line, name, cursor, \.useIdentityAsUsername)
        case "use_subject_as_username":
            listenerBool(line, name, cursor, \.useSubjectAsUsername)
        case "tls_version":
            guard let value = tlsVersion(line) else { return }
            if let first = listenerSetAt(cursor, name) {
                error(line.location, "duplicate tls_version for \(label(cursor)) (first set at \(first)); remove one")
                return
            }
            modifyListener(cursor, line, name) { $0.tlsVersion = value }
        case "listener_allow_anonymous":
            guard let value = bool(line) else { return }
            modifyListener(cursor, line, name) { $0.listenerAllowAnonymous = value }
        default:
            error(line.location, "option \"\(line.name)\" is not supported here")
        }
    }

    // MARK: Security options

    /// `allow_anonymous`, `password_file`, `acl_file`, `allow_zero_length_clientid`, `auto_id_prefix`: global, or
    /// the current listener's when `per_listener_settings` is true.
    mutating func handleSecurity(_ line: OptionLine, _ name: String, _ cursor: Cursor) {
        if firstSecurityOption == nil { firstSecurityOption = line.location }
        let perListener = configuration.perListenerSettings
        if perListener && cursor.listener == nil {
            defaultListenerSecurity.append((line.location, line.name))
        }
        switch name {
        case "allow_anonymous":
            guard let value = bool(line) else { return }
            if perListener {
                modifyListener(cursor, line, name, configures: false) { $0.allowAnonymous = value }
            } else {
                configuration.allowAnonymous = value
            }
        case "allow_zero_length_clientid":
            guard let value = bool(line) else { return }
            if perListener {
                modifyListener(cursor, line, name, configures: !value) { $0.allowZeroLengthClientID = value }
            } else {
                configuration.allowZeroLengthClientID = value
            }
        case "password_file", "acl_file", "auto_id_prefix":
            let isPath = name != "auto_id_prefix"
            if perListener {
                let keyPath: WritableKeyPath<Listener, String?> =
                    name == "password_file" ? \.passwordFile : name == "acl_file" ? \.aclFile : \.autoIDPrefix
                listenerString(
                    line, name, cursor, keyPath, check: isPath ? .readableFile : nil,
                    configures: name == "password_file")
                return
            }
            guard var value = string(line), firstSetting(line, canonical: name, in: \.globalSetAt) else { return }
            if isPath {
                value = path(value, line)
                check(value, .readableFile, line)
            }
            switch name {
            case "password_file": configuration.passwordFile = value
            case "acl_file": configuration.aclFile = value
            default: configuration.autoIDPrefix = value
            }
        default:
            error(line.location, "option \"\(line.name)\" is not supported here")
        }
    }

    // MARK: Bridges

    mutating func openBridge(_ line: OptionLine, _ cursor: inout Cursor) {
        var name = "?"
        if let word = word(line) {
            name = String(word)
            if let other = bridges.first(where: { $0.bridge.name == name }) {
                error(
                    line.location,
                    "duplicate bridge name \"\(name)\" (first at \(other.location)); each "
                        + "connection needs its own name")
            }
        }
        bridges.append(BridgeState(bridge: Bridge(name: name), location: line.location))
        cursor.bridge = bridges.count - 1
        cursor.last = .bridge
    }

    mutating func bridgeString(
        _ line: OptionLine, _ name: String, _ index: Int, _ keyPath: WritableKeyPath<Bridge, String?>,
        check kind: FileCheck? = nil
    ) -> String? {
        guard var value = string(line), firstSetting(line, canonical: name, in: \.bridges[index].setAt) else {
            return nil
        }
        if let kind {
            value = path(value, line)
            check(value, kind, line)
        }
        bridges[index].bridge[keyPath: keyPath] = value
        return value
    }

    mutating func bridgeBool(
        _ line: OptionLine, _ name: String, _ index: Int, _ keyPath: WritableKeyPath<Bridge, Bool>
    ) {
        guard let value = bool(line) else { return }
        bridges[index].bridge[keyPath: keyPath] = value
        bridges[index].setAt[name] = line.location
    }

    /// A count Mosquitto raises to a minimum with a notice; the gateway does the same with a warning.
    mutating func bridgeMinimum(_ line: OptionLine, _ minimum: Int, _ maximum: Int) -> Int? {
        guard let value = integer(line, Int(Int32.min)...maximum) else { return nil }
        if value < minimum {
            warning(line.location, "\(line.name) \(value) is too low; \(minimum) is used (as in Mosquitto)")
            return minimum
        }
        return value
    }

    mutating func handleBridge(_ line: OptionLine, _ name: String, _ index: Int) {
        switch name {
        case "address", "addresses":
            addresses(line, index)
        case "bridge_max_packet_size":
            guard let value = integer(line, 0...268_435_460, "; 0 means no limit") else { return }
            bridges[index].bridge.maxPacketSize = value == 0 ? nil : value
        case "bridge_outgoing_retain":
            bridgeBool(line, name, index, \.outgoingRetain)
        case "bridge_protocol_version":
            guard let value = choice(line, [BridgeProtocolVersion.mqttv31, .mqttv311, .mqttv50]) else { return }
            bridges[index].bridge.protocolVersion = value
        case "cleansession":
            bridgeBool(line, name, index, \.cleanSession)
        case "keepalive_interval":
            if let value = bridgeMinimum(line, 5, 65535) { bridges[index].bridge.keepaliveInterval = value }
        case "idle_timeout":
            if let value = bridgeMinimum(line, 1, Int(Int32.max)) { bridges[index].bridge.idleTimeout = value }
        case "threshold":
            if let value = bridgeMinimum(line, 1, Int(Int32.max)) { bridges[index].bridge.threshold = value }
        case "local_clientid":
            _ = bridgeString(line, name, index, \.localClientID)
        case "remote_clientid":
            _ = bridgeString(line, name, index, \.remoteClientID)
        case "remote_username":
            _ = bridgeString(line, name, index, \.remoteUsername)
        case "remote_password":
            _ = bridgeString(line, name, index, \.remotePassword)
        case "notifications":
            bridgeBool(line, name, index, \.notifications)
        case "notifications_local_only":
            bridgeBool(line, name, index, \.notificationsLocalOnly)
        case "notification_topic":
            guard let value = string(line), topicName(value, line) else { return }
            guard firstSetting(line, canonical: name, in: \.bridges[index].setAt) else { return }
            bridges[index].bridge.notificationTopic = value
        case "restart_timeout":
            restartTimeout(line, index)
        case "round_robin":
            bridgeBool(line, name, index, \.roundRobin)
        case "start_type":
            guard let text = line.words.first, text != "manual", text != "lazy" else {
                if line.words.first == "manual" {
                    error(
                        line.location,
                        "start_type: \"manual\" is not supported (Mosquitto does not support it "
                            + "either); use automatic or once")
                } else if line.words.first == "lazy" {
                    error(
                        line.location,
                        "start_type: \"lazy\" is not supported yet (the bridge would connect at once instead of "
                            + "waiting for threshold messages); use automatic or once")
                } else {
                    error(line.location, "start_type: missing value")
                }
                return
            }
            guard let value = choice(line, [BridgeStartType.automatic, .lazy, .once]) else { return }
            bridges[index].bridge.startType = value
        case "topic":
            topic(line, index)
        case "try_private":
            bridgeBool(line, name, index, \.tryPrivate)
        case "bridge_cafile":
            _ = bridgeString(line, name, index, \.caFile, check: .readableFile)
        case "bridge_capath":
            _ = bridgeString(line, name, index, \.caPath, check: .listableDirectory)
        case "bridge_certfile":
            _ = bridgeString(line, name, index, \.certFile, check: .readableFile)
        case "bridge_keyfile":
            _ = bridgeString(line, name, index, \.keyFile, check: .readableFile)
        case "bridge_insecure":
            bridgeBool(line, name, index, \.insecure)
            if bridges[index].bridge.insecure {
                warning(
                    line.location,
                    "bridge \"\(bridges[index].bridge.name)\" does not check the remote host "
                        + "name against its certificate (bridge_insecure true); never do this in production")
            }
        case "bridge_tls_version":
            guard let value = tlsVersion(line) else { return }
            bridges[index].bridge.tlsVersion = value
            bridges[index].setAt[name] = line.location
        default:
            error(line.location, "option \"\(line.name)\" is not supported here")
        }
    }

    /// `address host[:port] [host[:port]]…`; the last `:` separates the port, so IPv6 addresses need one.
    mutating func addresses(_ line: OptionLine, _ index: Int) {
        if let first = bridges[index].setAt["address"] {
            error(
                line.location,
                "\(line.name) given again for bridge \"\(bridges[index].bridge.name)\" (first at "
                    + "\(first)); Mosquitto refuses this, list every address on one line")
            return
        }
        let words = line.words.prefix(while: { !$0.hasPrefix("#") })
        guard !words.isEmpty else {
            error(line.location, "\(line.name): missing value")
            return
        }
        var result: [BridgeAddress] = []
        for word in words {
            var host = word
            var port = 1883
            if let colon = word.lastIndex(of: ":") {
                host = word[..<colon]
                let portText = word[word.index(after: colon)...]
                guard let value = Int(portText), (1...65535).contains(value) else {
                    error(
                        line.location,
                        "\(line.name): \"\(word)\" has an invalid port \"\(portText)\" (1 to 65535; "
                            + "an IPv6 address needs a port, e.g. [::1]:1883 is written ::1:1883)")
                    continue
                }
                port = value
            }
            guard !host.isEmpty else {
                error(line.location, "\(line.name): \"\(word)\" has no host")
                continue
            }
            result.append(BridgeAddress(host: String(host), port: port))
        }
        bridges[index].bridge.addresses = result
        bridges[index].setAt["address"] = line.location
    }

    mutating func restartTimeout(_ line: OptionLine, _ index: Int) {
        let words = line.words.prefix(while: { !$0.hasPrefix("#") })
        guard let first = words.first else {
            error(line.location, "restart_timeout: missing value")
            return
        }
        guard var base = integer(first, line, Int(Int32.min)...Int(Int32.max)) else { return }
        if base < 1 {
            warning(line.location, "restart_timeout \(base) is too low; 1 is used (as in Mosquitto)")
            base = 1
        }
        guard words.count > 1 else {
            bridges[index].bridge.restartTimeout = .constant(base)
            return
        }
        guard let cap = integer(words[words.startIndex + 1], line, Int(Int32.min)...Int(Int32.max)) else { return }
        guard cap >= base else {
            error(
                line.location,
                "restart_timeout: the cap \(cap) is lower than the base \(base); write "
                    + "\"restart_timeout BASE CAP\" with BASE <= CAP")
            return
        }
        if words.count > 2 {
            warning(
                line.location,
                "restart_timeout: extra text \"\(words.dropFirst(2).joined(separator: " "))\" "
                    + "after the value is ignored")
        }
        bridges[index].bridge.restartTimeout = .backoff(base: base, cap: cap)
    }

    /// `topic pattern [[[out|in|both] qos] local-prefix remote-prefix]`, with `""` for an empty pattern or prefix.
    mutating func topic(_ line: OptionLine, _ index: Int) {
        let words = line.words
        guard let first = words.first else {
            error(line.location, "topic: missing value")
            return
        }
        var topic = BridgeTopic(pattern: first == "\"\"" ? "" : String(first))
        // A word starting with "#" after the direction ends the line, as in Mosquitto (the pattern may be "#").
        let rest = words.dropFirst().enumerated().prefix(while: { $0.offset == 0 || !$0.element.hasPrefix("#") })
            .map(\.element)
        if rest.count > 0 {
            guard let direction = BridgeTopic.Direction(rawValue: rest[0].lowercased()) else {
                error(line.location, "topic: \"\(rest[0])\" is not a direction; use in, out or both")
                return
            }
            topic.direction = direction
        }
        if rest.count > 1 {
            guard let value = Int(rest[1]), let qos = QoS(rawValue: UInt8(clamping: value)), (0...2).contains(value)
            else {
                error(line.location, "topic: QoS \"\(rest[1])\" is not 0, 1 or 2")
                return
            }
            topic.qos = qos
        }
        if rest.count > 2 { topic.localPrefix = rest[2] == "\"\"" ? nil : String(rest[2]) }
        if rest.count > 3 { topic.remotePrefix = rest[3] == "\"\"" ? nil : String(rest[3]) }
        if rest.count > 4 {
            warning(
                line.location,
                "topic: extra text \"\(rest.dropFirst(4).joined(separator: " "))\" after the "
                    + "remote prefix is ignored")
        }
        if rest.count == 3 {
            error(line.location, "topic: a local prefix needs a remote prefix after it (use \"\" for none)")
            return
        }
        var valid = true
        if let prefix = topic.localPrefix { valid = topicName(prefix, line, what: "local prefix ") && valid }
        if let prefix = topic.remotePrefix { valid = topicName(prefix, line, what: "remote prefix ") && valid }
        guard valid else { return }
        if topic.pattern.isEmpty {
            guard topic.localPrefix != nil, topic.remotePrefix != nil else {
                error(
                    line.location,
                    "topic: an empty pattern (\"\") needs both a local and a remote prefix, which are "
                        + "then the whole local and remote topics")
                return
            }
        } else {
            do {
                try Topic.validateFilter(topic.pattern)
            } catch {
                self.error(line.location, "topic: \"\(topic.pattern)\" is not a valid topic filter: \(error.message)")
                return
            }
        }
        bridges[index].bridge.topics.append(topic)
    }
}
