/// What a forwarder reports about itself to the dashboard, the API and the component supervisor.
package struct ForwarderStatus: Sendable, Codable, Hashable {
    /// Forwarding is switched on.
    package var enabled: Bool
    /// The receiver is reachable now (for UDP: the socket is open).
    package var connected: Bool
    /// Messages handed to the receiver since start.
    package var sent: Int
    /// Messages waiting in the buffer.
    package var buffered: Int
    /// Messages lost since start because the buffer was full (or, for push, retries were exhausted).
    package var dropped: Int
    /// The last failure, for the operator.
    package var lastError: String?

    package init(
        enabled: Bool, connected: Bool = false, sent: Int = 0, buffered: Int = 0, dropped: Int = 0,
        lastError: String? = nil
    ) {
        self.enabled = enabled
        self.connected = connected
        self.sent = sent
        self.buffered = buffered
        self.dropped = dropped
        self.lastError = lastError
    }
}
