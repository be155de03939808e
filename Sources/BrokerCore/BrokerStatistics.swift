import Synchronization

/// Counters published under `$SYS/broker/` and read by the management plane.
///
/// Relaxed atomics: each counter is exact, the set is not a snapshot.
package final class BrokerStatistics: Sendable {
    package let clientsConnected = Atomic<Int>(0)
    package let messagesReceived = Atomic<Int>(0)
    package let messagesSent = Atomic<Int>(0)
    /// Deliveries dropped because a session queue was full or the session was offline (QoS 0).
    package let messagesDropped = Atomic<Int>(0)
    /// PUBLISH packets dropped because they exceeded the receiver's Maximum Packet Size.
    package let messagesOversized = Atomic<Int>(0)
    /// Times a publisher's reading was paused because it filled a subscriber's queue (flow control).
    package let publisherPauses = Atomic<Int>(0)
    package let bytesReceived = Atomic<Int>(0)
    package let bytesSent = Atomic<Int>(0)
    package let connectionsRefused = Atomic<Int>(0)
    package let protocolErrors = Atomic<Int>(0)

    package init() {}

    package static func add(_ counter: borrowing Atomic<Int>, _ value: Int = 1) {
        counter.wrappingAdd(value, ordering: .relaxed)
    }
}
