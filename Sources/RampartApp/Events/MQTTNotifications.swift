import BrokerCore
import Events
import Foundation
import MQTTCodec
import NIOCore
import Synchronization

/// The active broker profile's `kos_*` settings (SPEC EVT-4): where audit records and security events are
/// published, nil when off.
struct NotificationTopics: Sendable, Equatable {
    var audit: String?
    var event: String?

    static let defaults = NotificationTopics(audit: "SGW/audit", event: nil)
}

/// Publishes audit records and security events as JSON through the broker itself, so that its ACLs, bridges and
/// persistent sessions apply to them as to any message.
final class MQTTNotifications: Sendable {
    private let broker: Broker
    private let topics = Mutex(NotificationTopics.defaults)
    private let published = Atomic<Int>(0)

    init(broker: Broker) {
        self.broker = broker
    }

    /// Takes the settings of the profile that became active.
    func update(_ topics: NotificationTopics) {
        self.topics.withLock { $0 = topics }
    }

    var current: NotificationTopics { topics.withLock { $0 } }
    var publishedCount: Int { published.load(ordering: .relaxed) }

    /// Publishes `event` when its stream is switched on.
    func publish(_ event: SecurityEvent) {
        let topics = current
        guard let topic = event.stream == .audit ? topics.audit : topics.event else { return }
        let message = Message(
            topic: topic, payload: ByteBuffer(bytes: EventJSON.encode(event)), qos: .atLeastOnce, retain: false)
        broker.publish(message, now: .now())
        published.add(1, ordering: .relaxed)
    }

    /// Feeds the broker from `events` until the stream ends.
    func consume(_ events: AsyncStream<SecurityEvent>) async {
        for await event in events { publish(event) }
    }
}
