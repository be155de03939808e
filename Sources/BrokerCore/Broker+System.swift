import MQTTCodec
import NIOCore
import RampartModel

extension Broker {
    /// The `$SYS/broker/…` statistics as retained messages, in the layout Mosquitto uses so existing dashboards
    /// keep working.
    package func systemMessages(now: NIODeadline) -> [Message] {
        let statistics = self.statistics
        let uptime = (now - startedAt).nanoseconds / 1_000_000_000
        let values: [(String, String)] = [
            ("version", ProductInfo.nameAndVersion),
            ("uptime", "\(uptime) seconds"),
            ("clients/connected", "\(statistics.clientsConnected.load(ordering: .relaxed))"),
            ("clients/total", "\(sessionCount)"),
            ("messages/received", "\(statistics.messagesReceived.load(ordering: .relaxed))"),
            ("messages/sent", "\(statistics.messagesSent.load(ordering: .relaxed))"),
            ("messages/dropped", "\(statistics.messagesDropped.load(ordering: .relaxed))"),
            ("publishers/paused", "\(statistics.publisherPauses.load(ordering: .relaxed))"),
            ("messages/rejected", "\(inspectionStatistics.rejected.load(ordering: .relaxed))"),
            ("bytes/received", "\(statistics.bytesReceived.load(ordering: .relaxed))"),
            ("bytes/sent", "\(statistics.bytesSent.load(ordering: .relaxed))"),
            ("subscriptions/count", "\(subscriptionCount)"),
            ("retained messages/count", "\(retainedCount)"),
        ]
        return values.map { suffix, value in
            Message(
                topic: "$SYS/broker/" + suffix,
                payload: ByteBuffer(string: value),
                qos: .atMostOnce,
                retain: true
            )
        }
    }

    /// Publishes `systemMessages` through the normal routing path. The broker's own messages are not counted
    /// as received.
    package func publishSystemTopics(now: NIODeadline) {
        let messages = systemMessages(now: now)
        for message in messages { publish(message, now: now) }
        BrokerStatistics.add(statistics.messagesReceived, -messages.count)
    }
}
