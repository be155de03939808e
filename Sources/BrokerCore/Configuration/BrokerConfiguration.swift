import MQTTCodec

/// The broker's protocol limits and features. Defaults follow Mosquitto's so that clients see familiar values.
package struct BrokerConfiguration: Sendable, Hashable {
    /// Highest QoS granted to subscriptions and accepted on PUBLISH.
    package var maximumQoS: QoS = .exactlyOnce
    package var retainAvailable = true
    /// Largest keep-alive a client may ask for; v5 clients are told the value with Server Keep Alive, 3.1.1 clients
    /// asking for more are refused, as they cannot be told (MQTT 5 §3.2.2.3.14).
    package var maxKeepAlive: UInt16 = 65535
    /// Receive Maximum the broker announces: QoS 2 messages a client may have unreleased at once (MQTT 5 §3.2.2.3.3).
    package var receiveMaximum: UInt16 = 20
    /// Outgoing in-flight window for 3.1/3.1.1 clients, which cannot announce their own.
    package var maxInflightMessages: Int = 20
    /// Queued messages per session beyond the in-flight window.
    package var maxQueuedMessages: Int = 1000
    /// Whether QoS 0 messages are queued for disconnected persistent sessions.
    package var queueQoS0Messages = false
    /// Largest packet the broker accepts; nil for the protocol maximum (256 MiB).
    ///
    /// The default is 8 MiB rather than the protocol maximum: a connection buffers up to one packet, so the limit
    /// bounds what one client can make the gateway hold. Telemetry is far smaller; raise it for large payloads.
    package var maximumPacketSize: UInt32? = 8 * 1024 * 1024
    /// Topic aliases a client may establish towards the broker (MQTT 5 §3.2.2.3.8).
    package var topicAliasMaximum: UInt16 = 10
    /// Seconds between `$SYS/broker/…` updates; 0 turns them off.
    package var sysInterval: UInt32 = 10
    /// Whether a client may connect with an empty client identifier and get one assigned.
    package var allowZeroLengthClientID = true
    /// Prefix of assigned client identifiers.
    package var assignedClientIDPrefix = "rampart-"
    /// Upper bound on a v5 client's Session Expiry Interval; nil for none.
    package var maximumSessionExpiry: UInt32?
    /// Expiry of 3.1/3.1.1 persistent sessions (`persistent_client_expiration`); nil for never, as MQTT 3.1.1 has it.
    package var persistentClientExpiration: UInt32?
    /// Largest payload accepted in PUBLISH (`message_size_limit`); larger messages are dropped (v5 clients get
    /// 0x95 in the acknowledgement). nil for no limit beyond the packet size.
    package var maximumPayloadSize: Int?

    package init() {}

    package var queueLimits: QueueLimits {
        QueueLimits(maxQueuedMessages: maxQueuedMessages, queueQoS0WhileOffline: queueQoS0Messages)
    }

    /// The largest packet accepted, as the decoder takes it.
    package var decoderMaximumPacketSize: Int {
        maximumPacketSize.map(Int.init) ?? 268_435_460
    }
}
