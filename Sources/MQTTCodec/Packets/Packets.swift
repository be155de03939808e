import NIOCore

/// The control packet types (MQTT 5 §2.1.2).
package enum PacketType: UInt8, Sendable, Hashable, CustomStringConvertible {
    case connect = 1
    case connack = 2
    case publish = 3
    case puback = 4
    case pubrec = 5
    case pubrel = 6
    case pubcomp = 7
    case subscribe = 8
    case suback = 9
    case unsubscribe = 10
    case unsuback = 11
    case pingreq = 12
    case pingresp = 13
    case disconnect = 14
    case auth = 15

    package var description: String {
        switch self {
        case .connect: return "CONNECT"
        case .connack: return "CONNACK"
        case .publish: return "PUBLISH"
        case .puback: return "PUBACK"
        case .pubrec: return "PUBREC"
        case .pubrel: return "PUBREL"
        case .pubcomp: return "PUBCOMP"
        case .subscribe: return "SUBSCRIBE"
        case .suback: return "SUBACK"
        case .unsubscribe: return "UNSUBSCRIBE"
        case .unsuback: return "UNSUBACK"
        case .pingreq: return "PINGREQ"
        case .pingresp: return "PINGRESP"
        case .disconnect: return "DISCONNECT"
        case .auth: return "AUTH"
        }
    }
}

/// One decoded MQTT control packet.
package enum MQTTPacket: Sendable, Hashable {
    case connect(ConnectPacket)
    case connack(ConnAckPacket)
    case publish(PublishPacket)
    case puback(AckPacket)
    case pubrec(AckPacket)
    case pubrel(AckPacket)
    case pubcomp(AckPacket)
    case subscribe(SubscribePacket)
    case suback(SubAckPacket)
    case unsubscribe(UnsubscribePacket)
    case unsuback(UnsubAckPacket)
    case pingreq
    case pingresp
    case disconnect(DisconnectPacket)
    case auth(AuthPacket)

    package var type: PacketType {
        switch self {
        case .connect: return .connect
        case .connack: return .connack
        case .publish: return .publish
        case .puback: return .puback
        case .pubrec: return .pubrec
        case .pubrel: return .pubrel
        case .pubcomp: return .pubcomp
        case .subscribe: return .subscribe
        case .suback: return .suback
        case .unsubscribe: return .unsubscribe
        case .unsuback: return .unsuback
        case .pingreq: return .pingreq
        case .pingresp: return .pingresp
        case .disconnect: return .disconnect
        case .auth: return .auth
        }
    }
}

/// The will message carried by CONNECT (MQTT 5 §3.1.3.2–§3.1.3.4).
package struct WillMessage: Sendable, Hashable {
    package var topic: String
    package var payload: ByteBuffer
    package var qos: QoS
    package var retain: Bool
    /// Will properties (v5 only): will delay, payload format, expiry, content type, response topic,
    /// correlation data, user properties.
    package var properties: Properties

    package init(topic: String, payload: ByteBuffer, qos: QoS, retain: Bool, properties: Properties = Properties()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

/// CONNECT (MQTT 5 §3.1).
package struct ConnectPacket: Sendable, Hashable {
    package var protocolVersion: ProtocolVersion
    package var clientIdentifier: String
    /// Clean Start (v5) or Clean Session (3.1/3.1.1).
    package var cleanStart: Bool
    package var keepAlive: UInt16
    package var username: String?
    package var password: ByteBuffer?
    package var will: WillMessage?
    package var properties: Properties

    package init(
        protocolVersion: ProtocolVersion,
        clientIdentifier: String,
        cleanStart: Bool,
        keepAlive: UInt16,
        username: String? = nil,
        password: ByteBuffer? = nil,
        will: WillMessage? = nil,
        properties: Properties = Properties()
    ) {
        self.protocolVersion = protocolVersion
        self.clientIdentifier = clientIdentifier
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.will = will
        self.properties = properties
    }
}

/// CONNACK (MQTT 5 §3.2). For 3.1/3.1.1 the reason code is mapped with `ReasonCode.connectReturnCodeV3`.
package struct ConnAckPacket: Sendable, Hashable {
    package var sessionPresent: Bool
    package var reasonCode: ReasonCode
    package var properties: Properties

    package init(sessionPresent: Bool, reasonCode: ReasonCode, properties: Properties = Properties()) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// PUBLISH (MQTT 5 §3.3). `topic` is empty when a v5 sender uses an established topic alias.
package struct PublishPacket: Sendable, Hashable {
    package var topic: String
    package var payload: ByteBuffer
    package var qos: QoS
    package var retain: Bool
    package var dup: Bool
    /// Present exactly when `qos` is 1 or 2.
    package var packetIdentifier: UInt16?
    package var properties: Properties

    package init(
        topic: String,
        payload: ByteBuffer,
        qos: QoS = .atMostOnce,
        retain: Bool = false,
        dup: Bool = false,
        packetIdentifier: UInt16? = nil,
        properties: Properties = Properties()
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetIdentifier = packetIdentifier
        self.properties = properties
    }
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape (MQTT 5 §3.4–§3.7).
package struct AckPacket: Sendable, Hashable {
    package var packetIdentifier: UInt16
    package var reasonCode: ReasonCode
    package var properties: Properties

    package init(packetIdentifier: UInt16, reasonCode: ReasonCode = .success, properties: Properties = Properties()) {
        self.packetIdentifier = packetIdentifier
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// Retain handling option of a subscription (MQTT 5 §3.8.3.1).
package enum RetainHandling: UInt8, Sendable, Hashable {
    /// Send retained messages at the time of the subscribe.
    case sendOnSubscribe = 0
    /// Send retained messages only if the subscription did not exist before.
    case sendIfNewSubscription = 1
    /// Do not send retained messages.
    case doNotSend = 2
}

/// The options byte of one SUBSCRIBE entry (MQTT 5 §3.8.3.1).
package struct SubscriptionOptions: Sendable, Hashable {
    package var qos: QoS
    package var noLocal: Bool
    package var retainAsPublished: Bool
    package var retainHandling: RetainHandling

    package init(
        qos: QoS,
        noLocal: Bool = false,
        retainAsPublished: Bool = false,
        retainHandling: RetainHandling = .sendOnSubscribe
    ) {
        self.qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
    }
}

/// One topic filter with its options in SUBSCRIBE.
package struct TopicSubscription: Sendable, Hashable {
    package var filter: String
    package var options: SubscriptionOptions

    package init(filter: String, options: SubscriptionOptions) {
        self.filter = filter
        self.options = options
    }
}

/// SUBSCRIBE (MQTT 5 §3.8).
package struct SubscribePacket: Sendable, Hashable {
    package var packetIdentifier: UInt16
    package var subscriptions: [TopicSubscription]
    package var properties: Properties

    package init(packetIdentifier: UInt16, subscriptions: [TopicSubscription], properties: Properties = Properties()) {
        self.packetIdentifier = packetIdentifier
        self.subscriptions = subscriptions
        self.properties = properties
    }
}

/// SUBACK (MQTT 5 §3.9). In 3.1.1 only 0x00, 0x01, 0x02 and 0x80 are encodable; other failures map to 0x80.
package struct SubAckPacket: Sendable, Hashable {
    package var packetIdentifier: UInt16
    package var reasonCodes: [ReasonCode]
    package var properties: Properties

    package init(packetIdentifier: UInt16, reasonCodes: [ReasonCode], properties: Properties = Properties()) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

/// UNSUBSCRIBE (MQTT 5 §3.10).
package struct UnsubscribePacket: Sendable, Hashable {
    package var packetIdentifier: UInt16
    package var filters: [String]
    package var properties: Properties

    package init(packetIdentifier: UInt16, filters: [String], properties: Properties = Properties()) {
        self.packetIdentifier = packetIdentifier
        self.filters = filters
        self.properties = properties
    }
}

/// UNSUBACK (MQTT 5 §3.11). Reason codes and properties exist only in v5.
package struct UnsubAckPacket: Sendable, Hashable {
    package var packetIdentifier: UInt16
    package var reasonCodes: [ReasonCode]
    package var properties: Properties

    package init(packetIdentifier: UInt16, reasonCodes: [ReasonCode] = [], properties: Properties = Properties()) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}

/// DISCONNECT (MQTT 5 §3.14). In 3.1/3.1.1 it has no variable header.
package struct DisconnectPacket: Sendable, Hashable {
    package var reasonCode: ReasonCode
    package var properties: Properties

    package init(reasonCode: ReasonCode = .normalDisconnection, properties: Properties = Properties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}

/// AUTH (MQTT 5 §3.15).
package struct AuthPacket: Sendable, Hashable {
    package var reasonCode: ReasonCode
    package var properties: Properties

    package init(reasonCode: ReasonCode = .success, properties: Properties = Properties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
