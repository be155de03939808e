import MQTTCodec
import NIOCore
import Testing

/// A packet and its canonical encoding for one protocol version, written by hand from the specification.
///
/// Canonical means the encoder produces exactly these bytes and the decoder turns them into exactly this packet,
/// so one table serves both `DecoderTests` and `EncoderTests`.
struct SpecVector: Sendable, CustomTestStringConvertible {
    var name: String
    var version: ProtocolVersion
    var bytes: [UInt8]
    var packet: MQTTPacket

    var testDescription: String { "\(name) (\(version))" }
}

private func s(_ string: String) -> [UInt8] { TestSupport.mqttString(string) }
private func b(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

private func properties(_ build: (inout Properties) -> Void) -> Properties {
    var properties = Properties()
    build(&properties)
    return properties
}

enum SpecVectors {
    static let all: [SpecVector] = connect + connack + publish + acks + subscribe + others

    // MQTT 3.1 §3.1, 3.1.1 §3.1 (figure 3.6 example), MQTT 5 §3.1.
    static let connect: [SpecVector] = [
        SpecVector(
            name: "CONNECT 3.1 MQIsdp level 3",
            version: .v3_1,
            bytes: [0x10, 0x0F] + s("MQIsdp") + [0x03, 0x02, 0x00, 0x3C] + s("c"),
            packet: .connect(
                ConnectPacket(protocolVersion: .v3_1, clientIdentifier: "c", cleanStart: true, keepAlive: 60))
        ),
        SpecVector(
            name: "CONNECT 3.1.1 empty client identifier [MQTT-3.1.3-6]",
            version: .v3_1_1,
            bytes: [0x10, 0x0C] + s("MQTT") + [0x04, 0x02, 0x00, 0x3C, 0x00, 0x00],
            packet: .connect(
                ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "", cleanStart: true, keepAlive: 60))
        ),
        SpecVector(
            name: "CONNECT 3.1.1 will QoS 1 retained, user name and password",
            version: .v3_1_1,
            bytes: [0x10, 0x1D] + s("MQTT") + [0x04, 0xEE, 0x00, 0x0A] + s("id") + s("w/t") + [0x00, 0x02, 0x01, 0x02]
                + s("u") + [0x00, 0x01, 0x70],
            packet: .connect(
                ConnectPacket(
                    protocolVersion: .v3_1_1,
                    clientIdentifier: "id",
                    cleanStart: true,
                    keepAlive: 10,
                    username: "u",
                    password: b([0x70]),
                    will: WillMessage(topic: "w/t", payload: b([0x01, 0x02]), qos: .atLeastOnce, retain: true)
                )
            )
        ),
        SpecVector(
            name: "CONNECT 5 session expiry, user name and password",
            version: .v5,
            bytes: [0x10, 0x1B] + s("MQTT") + [0x05, 0xC2, 0x00, 0x3C] + [0x05, 0x11, 0x00, 0x00, 0x00, 0x0A] + s("id")
                + s("u") + s("pw"),
            packet: .connect(
                ConnectPacket(
                    protocolVersion: .v5,
                    clientIdentifier: "id",
                    cleanStart: true,
                    keepAlive: 60,
                    username: "u",
                    password: b(Array("pw".utf8)),
                    properties: properties { $0.sessionExpiryInterval = 10 }
                )
            )
        ),
        SpecVector(
            name: "CONNECT 5 will with Will Delay Interval",
            version: .v5,
            bytes: [0x10, 0x19] + s("MQTT") + [0x05, 0x06, 0x00, 0x3C, 0x00] + s("a")
                + [0x05, 0x18, 0x00, 0x00, 0x00, 0x05] + s("t") + [0x00, 0x00],
            packet: .connect(
                ConnectPacket(
                    protocolVersion: .v5,
                    clientIdentifier: "a",
                    cleanStart: true,
                    keepAlive: 60,
                    will: WillMessage(
                        topic: "t",
                        payload: ByteBuffer(),
                        qos: .atMostOnce,
                        retain: false,
                        properties: properties { $0.willDelayInterval = 5 }
                    )
                )
            )
        ),
        SpecVector(
            name: "CONNECT 5 password without user name (MQTT 5 §3.1.2.9)",
            version: .v5,
            bytes: [0x10, 0x11] + s("MQTT") + [0x05, 0x40, 0x00, 0x00, 0x00] + s("") + s("pw"),
            packet: .connect(
                ConnectPacket(
                    protocolVersion: .v5, clientIdentifier: "", cleanStart: false, keepAlive: 0,
                    password: b(Array("pw".utf8)))
            )
        ),
    ]

    // MQTT 3.1.1 §3.2, MQTT 5 §3.2.
    static let connack: [SpecVector] = [
        SpecVector(
            name: "CONNACK 3.1 accepted",
            version: .v3_1,
            bytes: [0x20, 0x02, 0x00, 0x00],
            packet: .connack(ConnAckPacket(sessionPresent: false, reasonCode: .success))
        ),
        SpecVector(
            name: "CONNACK 3.1.1 session present",
            version: .v3_1_1,
            bytes: [0x20, 0x02, 0x01, 0x00],
            packet: .connack(ConnAckPacket(sessionPresent: true, reasonCode: .success))
        ),
        SpecVector(
            name: "CONNACK 3.1.1 return code 5 not authorized",
            version: .v3_1_1,
            bytes: [0x20, 0x02, 0x00, 0x05],
            packet: .connack(ConnAckPacket(sessionPresent: false, reasonCode: .notAuthorized))
        ),
        SpecVector(
            name: "CONNACK 3.1.1 return code 1 unacceptable protocol version",
            version: .v3_1_1,
            bytes: [0x20, 0x02, 0x00, 0x01],
            packet: .connack(ConnAckPacket(sessionPresent: false, reasonCode: .unsupportedProtocolVersion))
        ),
        SpecVector(
            name: "CONNACK 5 success no properties",
            version: .v5,
            bytes: [0x20, 0x03, 0x00, 0x00, 0x00],
            packet: .connack(ConnAckPacket(sessionPresent: false, reasonCode: .success))
        ),
        SpecVector(
            name: "CONNACK 5 Receive Maximum and Maximum QoS",
            version: .v5,
            bytes: [0x20, 0x08, 0x01, 0x00, 0x05, 0x21, 0x00, 0x0A, 0x24, 0x01],
            packet: .connack(
                ConnAckPacket(
                    sessionPresent: true,
                    reasonCode: .success,
                    properties: properties {
                        $0.receiveMaximum = 10
                        $0.maximumQoS = 1
                    }
                )
            )
        ),
        SpecVector(
            name: "CONNACK 5 bad user name or password",
            version: .v5,
            bytes: [0x20, 0x03, 0x00, 0x86, 0x00],
            packet: .connack(ConnAckPacket(sessionPresent: false, reasonCode: .badUserNameOrPassword))
        ),
    ]

    // MQTT 3.1.1 §3.3, MQTT 5 §3.3.
    static let publish: [SpecVector] = [
        SpecVector(
            name: "PUBLISH 3.1 QoS 0 retain",
            version: .v3_1,
            bytes: [0x31, 0x07] + s("a/b") + Array("hi".utf8),
            packet: .publish(PublishPacket(topic: "a/b", payload: b(Array("hi".utf8)), retain: true))
        ),
        SpecVector(
            name: "PUBLISH 3.1.1 QoS 1",
            version: .v3_1_1,
            bytes: [0x32, 0x09] + s("a/b") + [0x00, 0x0A] + Array("hi".utf8),
            packet: .publish(
                PublishPacket(topic: "a/b", payload: b(Array("hi".utf8)), qos: .atLeastOnce, packetIdentifier: 10))
        ),
        SpecVector(
            name: "PUBLISH 3.1.1 QoS 2 DUP empty payload",
            version: .v3_1_1,
            bytes: [0x3C, 0x05] + s("t") + [0xFF, 0xFF],
            packet: .publish(
                PublishPacket(topic: "t", payload: ByteBuffer(), qos: .exactlyOnce, dup: true, packetIdentifier: 65535))
        ),
        SpecVector(
            name: "PUBLISH 5 QoS 2 DUP payload format and topic alias",
            version: .v5,
            bytes: [0x3C, 0x0C] + s("t") + [0x00, 0x01, 0x05, 0x01, 0x01, 0x23, 0x00, 0x05, 0x78],
            packet: .publish(
                PublishPacket(
                    topic: "t",
                    payload: b([0x78]),
                    qos: .exactlyOnce,
                    dup: true,
                    packetIdentifier: 1,
                    properties: properties {
                        $0.payloadFormatIndicator = 1
                        $0.topicAlias = 5
                    }
                )
            )
        ),
        SpecVector(
            name: "PUBLISH 5 empty topic with topic alias (MQTT 5 §3.3.2.3.4)",
            version: .v5,
            bytes: [0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01],
            packet: .publish(
                PublishPacket(topic: "", payload: ByteBuffer(), properties: properties { $0.topicAlias = 1 }))
        ),
        SpecVector(
            name: "PUBLISH 5 QoS 0 no properties",
            version: .v5,
            bytes: [0x30, 0x06] + s("a/b") + [0x00],
            packet: .publish(PublishPacket(topic: "a/b", payload: ByteBuffer()))
        ),
    ]

    // PUBACK/PUBREC/PUBREL/PUBCOMP: MQTT 3.1.1 §3.4–§3.7, MQTT 5 §3.4–§3.7.
    static let acks: [SpecVector] = {
        var vectors: [SpecVector] = []
        let kinds: [(String, UInt8, (AckPacket) -> MQTTPacket)] = [
            ("PUBACK", 0x40, { .puback($0) }),
            ("PUBREC", 0x50, { .pubrec($0) }),
            ("PUBREL", 0x62, { .pubrel($0) }),
            ("PUBCOMP", 0x70, { .pubcomp($0) }),
        ]
        for (name, first, make) in kinds {
            for version in [ProtocolVersion.v3_1, .v3_1_1] {
                vectors.append(
                    SpecVector(
                        name: "\(name) packet identifier only",
                        version: version,
                        bytes: [first, 0x02, 0x00, 0x07],
                        packet: make(AckPacket(packetIdentifier: 7))
                    )
                )
            }
            vectors.append(
                SpecVector(
                    name: "\(name) 5 success short form (MQTT 5 §3.4.2.1)",
                    version: .v5,
                    bytes: [first, 0x02, 0x00, 0x07],
                    packet: make(AckPacket(packetIdentifier: 7))
                )
            )
            vectors.append(
                SpecVector(
                    name: "\(name) 5 reason code without properties",
                    version: .v5,
                    bytes: [first, 0x03, 0x01, 0x00, 0x92],
                    packet: make(AckPacket(packetIdentifier: 256, reasonCode: .packetIdentifierNotFound))
                )
            )
            vectors.append(
                SpecVector(
                    name: "\(name) 5 reason string",
                    version: .v5,
                    bytes: [first, 0x07, 0x00, 0x07, 0x80, 0x03, 0x1F, 0x00, 0x00],
                    packet: make(
                        AckPacket(
                            packetIdentifier: 7,
                            reasonCode: .unspecifiedError,
                            properties: properties { $0.reasonString = "" }
                        )
                    )
                )
            )
        }
        return vectors
    }()

    // MQTT 3.1.1 §3.8–§3.11, MQTT 5 §3.8–§3.11.
    static let subscribe: [SpecVector] = [
        SpecVector(
            name: "SUBSCRIBE 3.1 one filter",
            version: .v3_1,
            bytes: [0x82, 0x08, 0x00, 0x01] + s("a/+") + [0x01],
            packet: .subscribe(
                SubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [TopicSubscription(filter: "a/+", options: SubscriptionOptions(qos: .atLeastOnce))]
                )
            )
        ),
        SpecVector(
            name: "SUBSCRIBE 3.1.1 two filters",
            version: .v3_1_1,
            bytes: [0x82, 0x0C, 0x00, 0x01] + s("a/+") + [0x01] + s("#") + [0x02],
            packet: .subscribe(
                SubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [
                        TopicSubscription(filter: "a/+", options: SubscriptionOptions(qos: .atLeastOnce)),
                        TopicSubscription(filter: "#", options: SubscriptionOptions(qos: .exactlyOnce)),
                    ]
                )
            )
        ),
        SpecVector(
            name: "SUBSCRIBE 5 subscription identifier and all options",
            version: .v5,
            bytes: [0x82, 0x0B, 0x00, 0x02, 0x02, 0x0B, 0x05] + s("a/+") + [0x2D],
            packet: .subscribe(
                SubscribePacket(
                    packetIdentifier: 2,
                    subscriptions: [
                        TopicSubscription(
                            filter: "a/+",
                            options: SubscriptionOptions(
                                qos: .atLeastOnce,
                                noLocal: true,
                                retainAsPublished: true,
                                retainHandling: .doNotSend
                            )
                        )
                    ],
                    properties: properties { $0.subscriptionIdentifiers = [5] }
                )
            )
        ),
        SpecVector(
            name: "SUBSCRIBE 5 shared subscription",
            version: .v5,
            bytes: [0x82, 0x10, 0x00, 0x03, 0x00] + s("$share/g/t") + [0x00],
            packet: .subscribe(
                SubscribePacket(
                    packetIdentifier: 3,
                    subscriptions: [
                        TopicSubscription(filter: "$share/g/t", options: SubscriptionOptions(qos: .atMostOnce))
                    ]
                )
            )
        ),
        SpecVector(
            name: "SUBACK 3.1.1 granted QoS 1 and failure",
            version: .v3_1_1,
            bytes: [0x90, 0x04, 0x00, 0x01, 0x01, 0x80],
            packet: .suback(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1, .unspecifiedError]))
        ),
        SpecVector(
            name: "SUBACK 5 granted QoS 2 and topic filter invalid",
            version: .v5,
            bytes: [0x90, 0x05, 0x00, 0x01, 0x00, 0x02, 0x8F],
            packet: .suback(SubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS2, .topicFilterInvalid]))
        ),
        SpecVector(
            name: "UNSUBSCRIBE 3.1.1",
            version: .v3_1_1,
            bytes: [0xA2, 0x05, 0x00, 0x03] + s("#"),
            packet: .unsubscribe(UnsubscribePacket(packetIdentifier: 3, filters: ["#"]))
        ),
        SpecVector(
            name: "UNSUBSCRIBE 5",
            version: .v5,
            bytes: [0xA2, 0x0B, 0x00, 0x03, 0x00] + s("#") + s("a/b"),
            packet: .unsubscribe(UnsubscribePacket(packetIdentifier: 3, filters: ["#", "a/b"]))
        ),
        SpecVector(
            name: "UNSUBACK 3.1.1 packet identifier only",
            version: .v3_1_1,
            bytes: [0xB0, 0x02, 0x00, 0x03],
            packet: .unsuback(UnsubAckPacket(packetIdentifier: 3))
        ),
        SpecVector(
            name: "UNSUBACK 5 success and no subscription existed",
            version: .v5,
            bytes: [0xB0, 0x05, 0x00, 0x03, 0x00, 0x00, 0x11],
            packet: .unsuback(UnsubAckPacket(packetIdentifier: 3, reasonCodes: [.success, .noSubscriptionExisted]))
        ),
    ]

    // PINGREQ, PINGRESP, DISCONNECT, AUTH: MQTT 5 §3.12–§3.15.
    static let others: [SpecVector] = {
        var vectors: [SpecVector] = []
        for version in TestSupport.allVersions {
            vectors.append(SpecVector(name: "PINGREQ", version: version, bytes: [0xC0, 0x00], packet: .pingreq))
            vectors.append(SpecVector(name: "PINGRESP", version: version, bytes: [0xD0, 0x00], packet: .pingresp))
            vectors.append(
                SpecVector(
                    name: "DISCONNECT normal, remaining length 0",
                    version: version,
                    bytes: [0xE0, 0x00],
                    packet: .disconnect(DisconnectPacket())
                )
            )
        }
        vectors += [
            SpecVector(
                name: "DISCONNECT 5 with will message, no properties",
                version: .v5,
                bytes: [0xE0, 0x01, 0x04],
                packet: .disconnect(DisconnectPacket(reasonCode: .disconnectWithWillMessage))
            ),
            SpecVector(
                name: "DISCONNECT 5 server shutting down with session expiry",
                version: .v5,
                bytes: [0xE0, 0x07, 0x8B, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00],
                packet: .disconnect(
                    DisconnectPacket(
                        reasonCode: .serverShuttingDown, properties: properties { $0.sessionExpiryInterval = 0 })
                )
            ),
            SpecVector(
                name: "AUTH 5 success, remaining length 0", version: .v5, bytes: [0xF0, 0x00],
                packet: .auth(AuthPacket())),
            SpecVector(
                name: "AUTH 5 continue authentication with method",
                version: .v5,
                bytes: [0xF0, 0x08, 0x18, 0x06, 0x15] + s("abc"),
                packet: .auth(
                    AuthPacket(
                        reasonCode: .continueAuthentication, properties: properties { $0.authenticationMethod = "abc" })
                )
            ),
        ]
        return vectors
    }()
}
