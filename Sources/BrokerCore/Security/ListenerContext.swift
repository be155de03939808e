import MQTTCodec

/// What a connection inherits from the listener it arrived on (the per-listener options of mosquitto.conf).
package struct ListenerContext: Sendable {
    /// A name for logs, such as `mqtt:1883` or `websockets:8080`.
    package var name: String
    /// Prefix added to every topic of the clients on this listener (mosquitto.conf `mount_point`), so that they
    /// live in their own part of the topic tree. Empty for none.
    package var mountPoint: String
    /// Authentication and authorization for this listener; shared between listeners unless
    /// `per_listener_settings` gives each its own.
    package var security: SecurityPolicyReference
    /// Use the CN of the client certificate as the username (`use_identity_as_username`); the password is
    /// not checked then. The server sets `ClientConnection.certificateIdentity` from the TLS handshake.
    package var useCertificateIdentityAsUsername: Bool
    /// Failed log-ins per source address; nil for no throttling.
    package var loginThrottle: LoginThrottle?
    /// Highest QoS on this listener (`max_qos`), below the broker's own maximum; nil for the broker's.
    package var maximumQoS: QoS?
    /// Topic aliases clients on this listener may establish (`max_topic_alias`); nil for the broker's.
    package var topicAliasMaximum: UInt16?
    /// The listener's port, for inspection rules that name a listener.
    package var port: Int?

    package init(
        name: String = "mqtt",
        mountPoint: String = "",
        security: SecurityPolicyReference = SecurityPolicyReference(.open),
        useCertificateIdentityAsUsername: Bool = false,
        loginThrottle: LoginThrottle? = nil
    ) {
        self.name = name
        self.mountPoint = mountPoint
        self.security = security
        self.useCertificateIdentityAsUsername = useCertificateIdentityAsUsername
        self.loginThrottle = loginThrottle
    }

    /// The broker-side topic for a topic the client named.
    package func mount(_ topic: String) -> String {
        mountPoint.isEmpty ? topic : mountPoint + topic
    }

    /// The broker-side filter for a filter the client named; a shared subscription keeps its `$share/group/`.
    package func mount(filter: String) -> String {
        guard !mountPoint.isEmpty else { return filter }
        if let shared = Topic.sharedSubscription(filter) {
            return "$share/\(shared.group)/\(mountPoint)\(shared.filter)"
        }
        return mountPoint + filter
    }

    /// The topic as the client sees it.
    package func unmount(_ topic: String) -> String {
        guard !mountPoint.isEmpty, topic.hasPrefix(mountPoint) else { return topic }
        return String(topic.dropFirst(mountPoint.count))
    }
}

/// What the router needs to check that a subscriber may read a message (ACL `read`).
package struct SubscriberAccess: Sendable {
    package var identity: ClientIdentity
    package var security: SecurityPolicyReference

    package init(identity: ClientIdentity, security: SecurityPolicyReference) {
        self.identity = identity
        self.security = security
    }

    /// Whether the subscriber may receive a message on `topic`.
    package func mayRead(_ topic: String) -> Bool {
        guard let authorizer = security.current.authorizer else { return true }
        return authorizer.isAllowed(.read, topic: topic, clientID: identity.clientID, username: identity.username)
    }
}
