/// Checks that need the whole configuration: option combinations, listeners against each other, bridges complete.
extension ConfigurationParser {
    /// Builds the listener list the way Mosquitto 2.0 opens listeners.
    mutating func assemble() {
        var listeners = explicitListeners
        if !portOrBindAddressSeen {
            // No listener, port or bind_address: Mosquitto 2.0 listens on the loopback interfaces only.
            var local = defaultListener
            local.listener.kind = .localOnly
            local.listener.port = 1883
            local.listener.bindAddress = nil
            listeners = [local]
        } else if defaultListenerConfigured {
            listeners.append(defaultListener)
        } else if configuration.perListenerSettings {
            for (location, name) in defaultListenerSecurity {
                warning(
                    location,
                    "\(name) is set before the first \"listener\" line while per_listener_settings is "
                        + "true, so it configures the default listener, which this configuration does not start; it has "
                        + "no effect (as in Mosquitto). Move it below the listener it is meant for")
            }
        }
        checkedListeners = listeners
        configuration.listeners = listeners.map(\.listener)
        configuration.bridges = bridges.map(\.bridge)
    }

    mutating func validate() {
        for state in checkedListeners where state.valid {
            validateTLS(state)
            validateWebSockets(state)
            validateAccess(state)
        }
        validatePorts()
        for state in bridges {
            validateBridge(state)
        }
        validateBridgeClientIDs()
    }

    /// Where to report a listener problem: the option's line, else the listener's, else the main file.
    func location(_ state: ListenerState, _ option: String? = nil) -> SourceLocation {
        if let option, let location = state.setAt[option] { return location }
        return state.location ?? SourceLocation(file: mainFile, line: 0)
    }

    mutating func validateTLS(_ state: ListenerState) {
        let listener = state.listener
        let name = Self.label(listener)
        switch (listener.certFile, listener.keyFile) {
        case (.some, nil):
            error(location(state, "certfile"), "\(name): certfile is set but keyfile is not; TLS needs both")
        case (nil, .some):
            error(location(state, "keyfile"), "\(name): keyfile is set but certfile is not; TLS needs both")
        case (nil, nil):
            // Options that only mean something with TLS.
            let tlsOnly = [
                "cafile", "capath", "require_certificate", "use_identity_as_username", "use_subject_as_username",
                "tls_version", "ciphers", "ciphers_tls1.3", "dhparamfile",
            ]
            for option in tlsOnly where state.setAt[option] != nil {
                if option.hasPrefix("require") || option.hasPrefix("use_") {
                    let value =
                        option == "require_certificate"
                        ? listener.requireCertificate
                        : option == "use_identity_as_username"
                            ? listener.useIdentityAsUsername
                            : listener.useSubjectAsUsername
                    if !value { continue }
                }
                error(
                    location(state, option),
                    "\(name): \(option) needs certfile and keyfile (without them the "
                        + "listener does not use TLS); add them or remove \(option)")
            }
            return
        case (.some, .some):
            break
        }
        if listener.requireCertificate && listener.caFile == nil && listener.caPath == nil {
            error(
                location(state, "require_certificate"),
                "\(name): require_certificate true needs cafile or capath, "
                    + "the CA certificates client certificates are checked against")
        }
        for option in ["use_identity_as_username", "use_subject_as_username"] {
            let value =
                option == "use_identity_as_username"
                ? listener.useIdentityAsUsername
                : listener.useSubjectAsUsername
            if value && !listener.requireCertificate {
                error(
                    location(state, option),
                    "\(name): \(option) true needs require_certificate true (without a "
                        + "client certificate there is no identity to take the username from)")
            }
        }
    }

    /// Mosquitto supports only cafile, certfile, keyfile, ciphers and ciphers_tls1.3 on WebSocket listeners
    /// (mosquitto.conf(5) "protocol"); the gateway refuses the rest rather than ignore them.
    mutating func validateWebSockets(_ state: ListenerState) {
        guard state.listener.protocol == .websockets else { return }
        let unsupported = [
            "capath", "require_certificate", "use_identity_as_username", "use_subject_as_username", "dhparamfile",
        ]
        for option in unsupported where state.setAt[option] != nil {
            error(
                location(state, option),
                "\(Self.label(state.listener)): \(option) is not available on a websockets "
                    + "listener (Mosquitto supports only cafile, certfile, keyfile, ciphers and ciphers_tls1.3 there); "
                    + "use an mqtt listener for client certificates")
        }
    }

    /// Warns about a listener nobody can connect to: a common surprise when moving to Mosquitto 2.0.
    mutating func validateAccess(_ state: ListenerState) {
        let listener = state.listener
        let security = configuration.effectiveSecurity(of: listener)
        let certificates =
            listener.requireCertificate
            && (listener.useIdentityAsUsername || listener.useSubjectAsUsername)
        if !security.allowAnonymous && security.passwordFile == nil && !certificates {
            warning(
                location(state),
                "\(Self.label(listener)): no client can connect: allow_anonymous is false (the "
                    + "default when a listener is configured) and there is no password_file; set allow_anonymous true or "
                    + "add a password_file")
        }
    }

    /// Two listeners on the same port conflict unless they bind different addresses (or different IP versions).
    mutating func validatePorts() {
        let states = checkedListeners.filter(\.valid)
        for (index, state) in states.enumerated() {
            let listener = state.listener
            for earlier in states[..<index] {
                let other = earlier.listener
                guard other.port == listener.port else { continue }
                if let a = listener.bindAddress, let b = other.bindAddress, a != b { continue }
                if let a = listener.socketDomain, let b = other.socketDomain, a != b { continue }
                if let a = listener.bindInterface, let b = other.bindInterface, a != b { continue }
                let place = earlier.location.map { " at \($0)" } ?? ""
                error(
                    location(state),
                    "\(Self.label(listener)): port \(listener.port) is already used by "
                        + "\(Self.label(other))\(place); give each listener its own port or address")
                break
            }
        }
    }

    mutating func validateBridge(_ state: BridgeState) {
        let bridge = state.bridge
        let name = "bridge \"\(bridge.name)\""
        if bridge.addresses.isEmpty && state.setAt["address"] == nil {
            error(state.location, "\(name) has no address; add \"address HOST[:PORT]\" after its connection line")
        }
        if bridge.topics.isEmpty {
            error(
                state.location,
                "\(name) has no topic; add at least one \"topic PATTERN [in|out|both] [QOS]\" line "
                    + "(Mosquitto refuses a bridge without topics)")
        }
        if bridge.remotePassword != nil && bridge.remoteUsername == nil, let at = state.setAt["remote_password"] {
            error(at, "\(name): remote_password needs remote_username")
        }
        switch (state.setAt["bridge_certfile"], state.setAt["bridge_keyfile"]) {
        case (let at?, nil):
            error(at, "\(name): bridge_certfile is set but bridge_keyfile is not; a client certificate needs both")
        case (nil, let at?):
            error(at, "\(name): bridge_keyfile is set but bridge_certfile is not; a client certificate needs both")
        default:
            break
        }
        if !bridge.usesTLS {
            for option in ["bridge_certfile", "bridge_keyfile", "bridge_tls_version", "bridge_insecure"] {
                guard let at = state.setAt[option] else { continue }
                if option == "bridge_insecure" && !bridge.insecure { continue }
                error(
                    at,
                    "\(name): \(option) needs bridge_cafile or bridge_capath, which turn TLS on for the "
                        + "bridge; add one or remove \(option)")
            }
        }
    }

    mutating func validateBridgeClientIDs() {
        var seen: [String: String] = [:]
        for state in bridges {
            guard let id = state.bridge.localClientID else { continue }
            if let other = seen[id] {
                error(
                    state.setAt["local_clientid"] ?? state.location,
                    "bridge \"\(state.bridge.name)\": "
                        + "local_clientid \"\(id)\" is also used by bridge \"\(other)\"; each bridge needs its own")
            } else {
                seen[id] = state.bridge.name
            }
        }
    }
}
