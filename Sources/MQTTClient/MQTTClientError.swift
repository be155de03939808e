import MQTTCodec

/// Why a connection attempt or an operation on an `MQTTClientConnection` failed.
package struct MQTTClientError: Error, Sendable, CustomStringConvertible {
    package enum Code: Hashable, Sendable, CustomStringConvertible {
        /// The server answered CONNECT with a failure (MQTT 5 §3.2.2.2; 3.1.1 return codes are mapped).
        case connectionRefused(ReasonCode)
        /// The server broke the protocol (malformed packet, unknown topic alias, unexpected packet …), or a request
        /// would have broken it (QoS above the server's Maximum QoS …).
        case protocolError
        /// No CONNACK within the connect timeout, or no answer to PINGREQ in time.
        case timeout
        /// The connection is closed or closing: by `disconnect`, by the server or by the network.
        case closed
        /// The local publish queue (publishes waiting for the server's Receive Maximum) is full.
        case queueFull
        /// The packet is larger than the server's Maximum Packet Size (MQTT 5 §3.2.2.3.6) or than MQTT allows.
        case packetTooLarge
        /// The TCP connection or the TLS handshake failed; `underlying` has the cause.
        case transport

        package var description: String {
            switch self {
            case .connectionRefused(let reason): return "connection refused (\(reason))"
            case .protocolError: return "protocol error"
            case .timeout: return "timeout"
            case .closed: return "closed"
            case .queueFull: return "queue full"
            case .packetTooLarge: return "packet too large"
            case .transport: return "transport error"
            }
        }
    }

    package var code: Code
    package var message: String
    /// The Reason String the server sent with a refusing CONNACK or a DISCONNECT (v5), if any.
    package var reasonString: String?
    /// The transport error behind `.transport` (or `.closed` when the network failed).
    package var underlying: (any Error)?

    package init(_ code: Code, _ message: String, reasonString: String? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.reasonString = reasonString
        self.underlying = underlying
    }

    package var description: String {
        var text = "\(code): \(message)"
        if let reasonString { text += " (server: \(reasonString))" }
        if let underlying { text += " [\(underlying)]" }
        return text
    }

    static let closedError = MQTTClientError(.closed, "the connection is closed")
}
