import MQTTCodec
import NIOCore

extension ClientConnection {
    /// CONNECT (MQTT 5 §3.1.4): checks the request, attaches the session, answers CONNACK and resumes delivery.
    func handleConnect(_ connect: ConnectPacket, now: NIODeadline) -> Disposition {
        let configuration = configuration
        protocolVersion = connect.protocolVersion
        let isV5 = protocolVersion == .v5

        if isV5, connect.properties.authenticationMethod != nil {
            return refuse(.badAuthenticationMethod, "enhanced authentication is not supported")
        }
        if let will = connect.will {
            if will.qos > maximumQoS(configuration) { return refuse(.qosNotSupported, "will QoS above maximum") }
            if will.retain && !configuration.retainAvailable {
                return refuse(.retainNotSupported, "retained wills are not available")
            }
        }

        let username: String?
        switch authenticate(connect, now: now) {
        case .success(let authenticated): username = authenticated
        case .failure(let refusal):
            broker.authenticationObserver.value?.authenticationFailed(
                AuthenticationFailure(
                    clientID: connect.clientIdentifier, username: connect.username,
                    address: remoteAddress ?? "unknown", listener: listener.name, reason: refusal.reason))
            return refusal.disposition
        }

        var clientID = connect.clientIdentifier
        var assignedClientID: String?
        if clientID.isEmpty {
            // 3.1.1 allows an empty identifier only with a clean session [MQTT-3.1.3-8].
            guard configuration.allowZeroLengthClientID, isV5 || connect.cleanStart else {
                return refuse(.clientIdentifierNotValid, "empty client identifier")
            }
            clientID = configuration.assignedClientIDPrefix + Self.randomSuffix()
            if isV5 { assignedClientID = clientID }
        }

        var serverKeepAlive: UInt16?
        keepAlive = connect.keepAlive
        if configuration.maxKeepAlive < UInt16.max
            && (keepAlive == 0 || keepAlive > configuration.maxKeepAlive)
        {
            if isV5 {
                keepAlive = configuration.maxKeepAlive
                serverKeepAlive = keepAlive
            } else if keepAlive > configuration.maxKeepAlive {
                // A 3.1.1 client cannot be told another keep-alive, so it is refused, as Mosquitto does.
                return refuse(.clientIdentifierNotValid, "keep-alive above the maximum")
            }
        }

        let expiryInterval: UInt32
        if isV5 {
            requestProblemInformation = connect.properties.requestProblemInformation != 0
            clientReceiveMaximum = Int(connect.properties.receiveMaximum ?? UInt16.max)
            clientMaximumPacketSize = connect.properties.maximumPacketSize.map(Int.init) ?? Int.max
            clientTopicAliasMaximum = connect.properties.topicAliasMaximum ?? 0
            var requested = connect.properties.sessionExpiryInterval ?? 0
            if let maximum = configuration.maximumSessionExpiry { requested = min(requested, maximum) }
            expiryInterval = requested
        } else {
            clientReceiveMaximum = configuration.maxInflightMessages
            expiryInterval = connect.cleanStart ? 0 : configuration.persistentClientExpiration ?? UInt32.max
        }
        connectExpiryInterval = expiryInterval
        self.clientID = clientID
        self.username = username

        var will = connect.will
        if var mounted = will {
            mounted.topic = listener.mount(mounted.topic)
            guard isAllowed(.write, mounted.topic) else {
                return refuse(.notAuthorized, "not authorized to publish the will on \(connect.will?.topic ?? "")")
            }
            will = mounted
        }

        let attachment = broker.attach(
            clientID: clientID,
            cleanStart: connect.cleanStart,
            expiryInterval: expiryInterval,
            will: will,
            connection: handle,
            now: now
        )
        session = attachment.session
        epoch = attachment.epoch
        phase = .connected
        BrokerStatistics.add(broker.statistics.clientsConnected)

        var properties = Properties()
        if isV5 {
            if configuration.receiveMaximum != UInt16.max { properties.receiveMaximum = configuration.receiveMaximum }
            let maximumQoS = maximumQoS(configuration)
            if maximumQoS != .exactlyOnce { properties.maximumQoS = maximumQoS.rawValue }
            if !configuration.retainAvailable { properties.retainAvailable = 0 }
            properties.maximumPacketSize = configuration.maximumPacketSize
            properties.assignedClientIdentifier = assignedClientID
            let topicAliasMaximum = topicAliasMaximum(configuration)
            if topicAliasMaximum > 0 { properties.topicAliasMaximum = topicAliasMaximum }
            properties.serverKeepAlive = serverKeepAlive
            if expiryInterval != (connect.properties.sessionExpiryInterval ?? 0) {
                properties.sessionExpiryInterval = expiryInterval
            }
        }
        send(
            .connack(
                ConnAckPacket(
                    sessionPresent: attachment.sessionPresent, reasonCode: .success,
                    properties: properties)))

        if attachment.sessionPresent {
            let access =
                security.authorizer == nil
                ? nil
                : SubscriberAccess(
                    identity: ClientIdentity(clientID: clientID, username: username),
                    security: listener.security
                )
            broker.refreshAccess(of: attachment.session, access: access)
            resendInflight(now: now)
        }
        _ = drain(now: now, limit: Int.max)
        return .keepOpen
    }

    private struct Refusal: Error {
        var disposition: Disposition
        var reason: String
    }

    private func refusal(_ code: ReasonCode, _ reason: String) -> Refusal {
        Refusal(disposition: refuse(code, reason), reason: reason)
    }

    /// Checks the credentials against the listener's policy (MQTT 5 §3.1.4-2 leaves the means to the server).
    /// Failures are counted per source address; an address with too many is refused without checking.
    /// - Returns: the username the client is known by (the certificate's CN with `use_identity_as_username`).
    private func authenticate(_ connect: ConnectPacket, now: NIODeadline) -> Result<String?, Refusal> {
        if listener.useCertificateIdentityAsUsername {
            guard let identity = certificateIdentity else {
                return .failure(refusal(.notAuthorized, "a client certificate is required"))
            }
            return .success(identity)
        }
        let policy = security
        if policy.allowAnonymous && (connect.username == nil || policy.authenticator == nil) {
            return .success(connect.username)
        }
        // Credentials are checked from here on: an address that failed too often is not even asked.
        let throttle = listener.loginThrottle
        let address = remoteAddress ?? "unknown"
        if let throttle, !throttle.mayAttempt(from: address, now: now) {
            return .failure(refusal(.notAuthorized, "too many failed log-ins; try again later"))
        }
        guard let username = connect.username else {
            throttle?.recordFailure(from: address, now: now)
            return .failure(refusal(.notAuthorized, "anonymous clients are not allowed"))
        }
        // Without a password file and without anonymous access nobody can log in, rather than everybody.
        guard let authenticator = policy.authenticator,
            authenticator.authenticate(username: username, password: connect.password)
        else {
            throttle?.recordFailure(from: address, now: now)
            // 3.1.1 keeps return code 4 for malformed credentials; like Mosquitto, wrong ones get 5 (not authorized).
            let reason: ReasonCode = protocolVersion == .v5 ? .badUserNameOrPassword : .notAuthorized
            return .failure(refusal(reason, "bad user name or password"))
        }
        throttle?.recordSuccess(from: address)
        return .success(username)
    }

    /// Answers CONNACK with a failure and closes (MQTT 5 §3.2.2.2).
    private func refuse(_ reason: ReasonCode, _ reasonString: String) -> Disposition {
        BrokerStatistics.add(broker.statistics.connectionsRefused)
        var properties = Properties()
        if protocolVersion == .v5 { properties.reasonString = reasonString }
        send(.connack(ConnAckPacket(sessionPresent: false, reasonCode: reason, properties: properties)))
        phase = .closed
        return .close
    }

    private static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<16).map { _ in alphabet.randomElement() ?? "x" })
    }
}
