import MQTTClient
import MQTTCodec
import NIOCore

/// A bridge to another broker (mosquitto.conf `connection` section), as the runtime uses it.
package struct BridgeConfiguration: Sendable {
    /// One `topic` line: what crosses the bridge, in which direction, and how its topic is rewritten.
    package struct Route: Sendable, Hashable {
        package enum Direction: Sendable, Hashable {
            case outbound, inbound, both
        }

        package var direction: Direction
        package var qos: QoS
        /// The filter on this broker: local prefix + pattern.
        package var localFilter: String
        /// The filter on the remote broker: remote prefix + pattern.
        package var remoteFilter: String
        package var localPrefix: String
        package var remotePrefix: String

        package init(direction: Direction, qos: QoS, pattern: String, localPrefix: String, remotePrefix: String) {
            self.direction = direction
            self.qos = qos
            self.localFilter = localPrefix + pattern
            self.remoteFilter = remotePrefix + pattern
            self.localPrefix = localPrefix
            self.remotePrefix = remotePrefix
        }

        var sendsOut: Bool { direction != .inbound }
        var receivesIn: Bool { direction != .outbound }

        /// The remote topic of a local one, or nil when the topic does not belong to this route.
        func remoteTopic(for localTopic: String) -> String? {
            guard localTopic.hasPrefix(localPrefix) else { return nil }
            return remotePrefix + localTopic.dropFirst(localPrefix.count)
        }

        /// The local topic of a remote one, or nil when the topic does not belong to this route.
        func localTopic(for remoteTopic: String) -> String? {
            guard remoteTopic.hasPrefix(remotePrefix), Topic.matches(filter: remoteFilter, topic: remoteTopic) else {
                return nil
            }
            return localPrefix + remoteTopic.dropFirst(remotePrefix.count)
        }
    }

    package var name: String
    /// Remote brokers to try, in order (fail-over) or in turn (`round_robin`).
    package var addresses: [(host: String, port: Int)]
    package var roundRobin = false
    package var routes: [Route]
    /// How to connect to the remote broker; host and port are taken from `addresses`.
    package var client: MQTTClientConfiguration
    /// The bridge's client identifier on this broker; its session queues outbound messages while the remote is
    /// away.
    package var localClientID: String
    /// Reconnection delay: constant when `base == cap`, else doubling from `base` up to `cap`, with jitter.
    package var restartBase: TimeAmount = .seconds(5)
    package var restartCap: TimeAmount = .seconds(30)
    /// Publish the bridge state (`1` connected, `0` not) as a retained message on `notificationTopic`.
    package var notifications = true
    package var notificationTopic: String
    package var notificationsLocalOnly = false
    /// Keep the retain flag of messages sent out (`bridge_outgoing_retain`).
    package var outgoingRetain = true
    /// Outbound QoS 1/2 messages in flight to the remote broker at once.
    package var inflightWindow: UInt16 = 100
    /// `start_type once`: connect once and never again after the connection drops.
    package var connectOnce = false

    package init(
        name: String,
        addresses: [(host: String, port: Int)],
        routes: [Route],
        client: MQTTClientConfiguration,
        localClientID: String,
        notificationTopic: String
    ) {
        self.name = name
        self.addresses = addresses
        self.routes = routes
        self.client = client
        self.localClientID = localClientID
        self.notificationTopic = notificationTopic
    }
}
