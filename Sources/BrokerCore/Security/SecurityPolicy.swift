import NIOCore
import Synchronization

/// Checks the credentials of a CONNECT. Implemented over a password file (or, later, the gateway's accounts) and
/// connected by the app layer: the broker never reads credentials itself.
package protocol ClientAuthenticator: Sendable {
    /// Whether `password` is the password of `username`.
    func authenticate(username: String, password: ByteBuffer?) -> Bool
}

/// What a client may do with a topic.
package enum TopicAccess: Sendable, Hashable {
    /// Receive messages published to a topic.
    case read
    /// Publish to a topic.
    case write
    /// Subscribe with a topic filter.
    case subscribe
}

/// Decides topic access per client. Implemented over an ACL file and connected by the app layer.
package protocol TopicAuthorizer: Sendable {
    func isAllowed(_ access: TopicAccess, topic: String, clientID: String, username: String?) -> Bool
}

/// The authentication and authorization rules of a listener (or of the whole broker).
package struct SecurityPolicy: Sendable {
    /// Whether clients may connect without a username (MQTT 5 §3.1.3.5).
    package var allowAnonymous: Bool
    /// Checks usernames and passwords; nil accepts any credentials.
    package var authenticator: (any ClientAuthenticator)?
    /// Checks topic access; nil allows everything.
    package var authorizer: (any TopicAuthorizer)?

    package init(
        allowAnonymous: Bool = true,
        authenticator: (any ClientAuthenticator)? = nil,
        authorizer: (any TopicAuthorizer)? = nil
    ) {
        self.allowAnonymous = allowAnonymous
        self.authenticator = authenticator
        self.authorizer = authorizer
    }

    /// Everything allowed, anonymous included: the behaviour of a broker with no security configured.
    package static let open = SecurityPolicy()
}

/// A listener's current security policy, replaced in place on reload so that connected clients follow the new
/// rules at their next operation.
package final class SecurityPolicyReference: Sendable {
    package let policy: SharedSetting<SecurityPolicy>

    package init(_ policy: SecurityPolicy) {
        self.policy = SharedSetting(policy)
    }

    package var current: SecurityPolicy { policy.value }

    package func replace(with policy: SecurityPolicy) {
        self.policy.replace(with: policy)
    }
}

/// Who a client is, for topic access decisions.
package struct ClientIdentity: Sendable, Hashable {
    package var clientID: String
    package var username: String?

    package init(clientID: String, username: String?) {
        self.clientID = clientID
        self.username = username
    }
}
