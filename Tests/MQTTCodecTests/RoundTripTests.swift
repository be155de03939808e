import MQTTCodec
import NIOCore
import Testing

/// One packet to encode and decode again for one version.
struct RoundTripCase: Sendable, CustomTestStringConvertible {
    var version: ProtocolVersion
    var packet: MQTTPacket
    var testDescription: String { "\(packet.type) \(version) #\(index)" }
    var index: Int
}

/// Packets of every type, each carrying only what `version` can express so that decode(encode(p)) == p.
enum RoundTripSamples {
    static let userProperties = [
        UserProperty(name: "k", value: "v"), UserProperty(name: "k", value: "v2"), UserProperty(name: "", value: ""),
    ]

    /// Every property allowed in CONNECT (MQTT 5 §3.1.2.11).
    static let connectProperties: Properties = {
        var p = Properties()
        p.sessionExpiryInterval = 0xFFFF_FFFF
        p.receiveMaximum = 20
        p.maximumPacketSize = 1_048_576
        p.topicAliasMaximum = 10
        p.requestResponseInformation = 1
        p.requestProblemInformation = 0
        p.userProperties = userProperties
        p.authenticationMethod = "SCRAM-SHA-1"
        p.authenticationData = ByteBuffer(bytes: [0, 1, 2])
        return p
    }()

    /// Every will property (MQTT 5 §3.1.3.2).
    static let willProperties: Properties = {
        var p = Properties()
        p.willDelayInterval = 30
        p.payloadFormatIndicator = 1
        p.messageExpiryInterval = 3600
        p.contentType = "application/json"
        p.responseTopic = "reply/here"
        p.correlationData = ByteBuffer(bytes: [9, 8, 7])
        p.userProperties = userProperties
        return p
    }()

    /// Every property allowed in CONNACK (MQTT 5 §3.2.2.3).
    static let connackProperties: Properties = {
        var p = Properties()
        p.sessionExpiryInterval = 60
        p.receiveMaximum = 100
        p.maximumQoS = 1
        p.retainAvailable = 0
        p.maximumPacketSize = 65536
        p.assignedClientIdentifier = "auto-1"
        p.topicAliasMaximum = 0
        p.reasonString = "welcome"
        p.userProperties = userProperties
        p.wildcardSubscriptionAvailable = 1
        p.subscriptionIdentifierAvailable = 0
        p.sharedSubscriptionAvailable = 1
        p.serverKeepAlive = 30
        p.responseInformation = "resp"
        p.serverReference = "other:1883"
        p.authenticationMethod = "m"
        p.authenticationData = ByteBuffer()
        return p
    }()

    /// Every property allowed in PUBLISH (MQTT 5 §3.3.2.3), with several subscription identifiers.
    static let publishProperties: Properties = {
        var p = Properties()
        p.payloadFormatIndicator = 0
        p.messageExpiryInterval = 1
        p.topicAlias = 65535
        p.responseTopic = "r/t"
        p.correlationData = ByteBuffer(bytes: [0xFF])
        p.userProperties = userProperties
        p.subscriptionIdentifiers = [1, 127, 128, 16_383, 16_384, 268_435_455]
        p.contentType = ""
        return p
    }()

    static let reasonProperties: Properties = {
        var p = Properties()
        p.reasonString = "because"
        p.userProperties = userProperties
        return p
    }()

    static func packets(for version: ProtocolVersion) -> [MQTTPacket] {
        let v5 = version == .v5
        let payload = ByteBuffer(bytes: Array(0...255))
        var packets: [MQTTPacket] = []

        // CONNECT
        packets.append(
            .connect(ConnectPacket(protocolVersion: version, clientIdentifier: "", cleanStart: false, keepAlive: 0)))
        packets.append(
            .connect(
                ConnectPacket(
                    protocolVersion: version,
                    clientIdentifier: "client-\u{1F600}",
                    cleanStart: true,
                    keepAlive: 65535,
                    username: "user",
                    password: ByteBuffer(bytes: [0, 0xFF]),
                    will: WillMessage(
                        topic: "will/\u{E9}",
                        payload: payload,
                        qos: .exactlyOnce,
                        retain: true,
                        properties: v5 ? willProperties : Properties()
                    ),
                    properties: v5 ? connectProperties : Properties()
                )
            )
        )
        packets.append(
            .connect(
                ConnectPacket(
                    protocolVersion: version,
                    clientIdentifier: "c",
                    cleanStart: true,
                    keepAlive: 5,
                    username: "",
                    will: WillMessage(topic: "w", payload: ByteBuffer(), qos: .atLeastOnce, retain: false)
                )
            )
        )
        if v5 {
            packets.append(
                .connect(
                    ConnectPacket(
                        protocolVersion: .v5, clientIdentifier: "c", cleanStart: true, keepAlive: 5, password: payload)
                )
            )
        }

        // CONNACK
        let connackCodes: [ReasonCode] =
            v5
            ? [.success, .unspecifiedError, .banned, .useAnotherServer]
            : [
                .success, .unsupportedProtocolVersion, .clientIdentifierNotValid, .serverUnavailable,
                .badUserNameOrPassword, .notAuthorized,
            ]
        for code in connackCodes {
            packets.append(.connack(ConnAckPacket(sessionPresent: false, reasonCode: code)))
        }
        packets.append(
            .connack(
                ConnAckPacket(
                    sessionPresent: version != .v3_1,
                    reasonCode: .success,
                    properties: v5 ? connackProperties : Properties()
                )
            )
        )

        // PUBLISH
        for qos in [QoS.atMostOnce, .atLeastOnce, .exactlyOnce] {
            for retain in [false, true] {
                packets.append(
                    .publish(
                        PublishPacket(
                            topic: "a/b/\u{E9}",
                            payload: payload,
                            qos: qos,
                            retain: retain,
                            dup: qos != .atMostOnce && retain,
                            packetIdentifier: qos == .atMostOnce ? nil : 0xBEEF,
                            properties: v5 ? publishProperties : Properties()
                        )
                    )
                )
            }
        }
        packets.append(.publish(PublishPacket(topic: "/", payload: ByteBuffer())))
        packets.append(
            .publish(
                PublishPacket(
                    topic: "$SYS/x", payload: ByteBuffer(repeating: 1, count: 70_000), qos: .atLeastOnce,
                    packetIdentifier: 1))
        )
        if v5 {
            var alias = Properties()
            alias.topicAlias = 1
            packets.append(.publish(PublishPacket(topic: "", payload: payload, properties: alias)))
        }

        // PUBACK, PUBREC, PUBREL, PUBCOMP
        let ackVariants: [AckPacket] =
            v5
            ? [
                AckPacket(packetIdentifier: 1),
                AckPacket(packetIdentifier: 2, reasonCode: .noMatchingSubscribers),
                AckPacket(packetIdentifier: 65535, reasonCode: .success, properties: reasonProperties),
                AckPacket(packetIdentifier: 3, reasonCode: .packetIdentifierNotFound, properties: reasonProperties),
            ]
            : [AckPacket(packetIdentifier: 1), AckPacket(packetIdentifier: 65535)]
        for ack in ackVariants {
            packets += [.puback(ack), .pubrec(ack), .pubrel(ack), .pubcomp(ack)]
        }

        // SUBSCRIBE
        var subscriptions = [
            TopicSubscription(filter: "a/+/c", options: SubscriptionOptions(qos: .atMostOnce)),
            TopicSubscription(filter: "#", options: SubscriptionOptions(qos: .atLeastOnce)),
            TopicSubscription(filter: "$share/g/x/#", options: SubscriptionOptions(qos: .exactlyOnce)),
        ]
        var subscribeProperties = Properties()
        if v5 {
            subscriptions.append(
                TopicSubscription(
                    filter: "+",
                    options: SubscriptionOptions(
                        qos: .exactlyOnce, noLocal: true, retainAsPublished: true, retainHandling: .doNotSend)
                )
            )
            subscriptions.append(
                TopicSubscription(
                    filter: "x", options: SubscriptionOptions(qos: .atMostOnce, retainHandling: .sendIfNewSubscription))
            )
            subscribeProperties.subscriptionIdentifiers = [268_435_455]
            subscribeProperties.userProperties = userProperties
        }
        packets.append(
            .subscribe(
                SubscribePacket(packetIdentifier: 10, subscriptions: subscriptions, properties: subscribeProperties))
        )

        // SUBACK
        let subackCodes: [ReasonCode] =
            v5
            ? [.grantedQoS0, .grantedQoS1, .grantedQoS2, .unspecifiedError, .topicFilterInvalid, .quotaExceeded]
            : [.grantedQoS0, .grantedQoS1, .grantedQoS2, .unspecifiedError]
        packets.append(
            .suback(
                SubAckPacket(
                    packetIdentifier: 10,
                    reasonCodes: subackCodes,
                    properties: v5 ? reasonProperties : Properties()
                )
            )
        )

        // UNSUBSCRIBE, UNSUBACK
        packets.append(
            .unsubscribe(
                UnsubscribePacket(
                    packetIdentifier: 11,
                    filters: ["a/+/c", "#", "$share/g/t"],
                    properties: v5 ? reasonPropertiesWithoutReason : Properties()
                )
            )
        )
        packets.append(
            .unsuback(
                UnsubAckPacket(
                    packetIdentifier: 11,
                    reasonCodes: v5 ? [.success, .noSubscriptionExisted, .notAuthorized] : [],
                    properties: v5 ? reasonProperties : Properties()
                )
            )
        )

        // PINGREQ, PINGRESP
        packets += [.pingreq, .pingresp]

        // DISCONNECT
        packets.append(.disconnect(DisconnectPacket()))
        if v5 {
            var disconnectProperties = reasonProperties
            disconnectProperties.sessionExpiryInterval = 0
            disconnectProperties.serverReference = "elsewhere"
            packets.append(.disconnect(DisconnectPacket(reasonCode: .disconnectWithWillMessage)))
            packets.append(
                .disconnect(DisconnectPacket(reasonCode: .serverShuttingDown, properties: disconnectProperties)))
            packets.append(
                .disconnect(DisconnectPacket(reasonCode: .normalDisconnection, properties: reasonProperties)))

            // AUTH
            var authProperties = reasonProperties
            authProperties.authenticationMethod = "SCRAM-SHA-256"
            authProperties.authenticationData = payload
            packets.append(.auth(AuthPacket()))
            packets.append(.auth(AuthPacket(reasonCode: .reAuthenticate)))
            packets.append(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: authProperties)))
        }
        return packets
    }

    static let reasonPropertiesWithoutReason: Properties = {
        var p = Properties()
        p.userProperties = userProperties
        return p
    }()

    static let all: [RoundTripCase] = TestSupport.allVersions.flatMap { version in
        packets(for: version).enumerated().map { RoundTripCase(version: version, packet: $1, index: $0) }
    }
}

@Suite("Round trip")
struct RoundTripTests {
    @Test("decode(encode(packet)) == packet for every packet type and version", arguments: RoundTripSamples.all)
    func roundTrip(_ sample: RoundTripCase) throws {
        let bytes = try TestSupport.encode(sample.packet, version: sample.version)
        let decoded = try TestSupport.decode(bytes, version: sample.packet.type == .connect ? nil : sample.version)
        #expect(decoded == sample.packet)
        // Encoding is deterministic: the decoded packet encodes to the same bytes.
        #expect(try TestSupport.encode(decoded, version: sample.version) == bytes)
    }

    @Test("every packet type is covered for every version", arguments: TestSupport.allVersions)
    func coverage(_ version: ProtocolVersion) {
        let types = Set(RoundTripSamples.packets(for: version).map(\.type.rawValue))
        let expected = Set(UInt8(1)...UInt8(version == .v5 ? 15 : 14))
        #expect(types == expected)
    }

    @Test("a large PUBLISH (4-byte remaining length) round-trips")
    func largePublish() throws {
        let payload = ByteBuffer(repeating: 0x42, count: 2_097_152)
        let packet = MQTTPacket.publish(
            PublishPacket(topic: "big", payload: payload, qos: .atLeastOnce, packetIdentifier: 1))
        let bytes = try TestSupport.encode(packet, version: .v5)
        #expect(bytes.count == 1 + 4 + 5 + 2 + 1 + 2_097_152)
        #expect(try TestSupport.decode(bytes, version: .v5) == packet)
    }
}
