import MQTTCodec
import NIOCore
import Testing

/// Where a v5 property list can appear, for building test packets.
enum PropertyPlace: String, CaseIterable, Sendable {
    case connect, will, connack, publish, puback, pubrec, pubrel, pubcomp
    case subscribe, suback, unsubscribe, unsuback, disconnect, auth

    /// A v5 packet whose (only) property list is `properties` (the raw property bytes without length).
    func packet(properties: [UInt8]) -> [UInt8] {
        let list = [UInt8(properties.count)] + properties  // tests keep lists below 128 bytes
        let s = TestSupport.mqttString
        let (first, body): (UInt8, [UInt8])
        switch self {
        case .connect: (first, body) = (0x10, s("MQTT") + [0x05, 0x02, 0x00, 0x00] + list + s("c"))
        case .will: (first, body) = (0x10, s("MQTT") + [0x05, 0x06, 0x00, 0x00, 0x00] + s("c") + list + s("t") + s(""))
        case .connack: (first, body) = (0x20, [0x00, 0x00] + list)
        case .publish: (first, body) = (0x30, s("t") + list)
        case .puback: (first, body) = (0x40, [0x00, 0x01, 0x00] + list)
        case .pubrec: (first, body) = (0x50, [0x00, 0x01, 0x00] + list)
        case .pubrel: (first, body) = (0x62, [0x00, 0x01, 0x00] + list)
        case .pubcomp: (first, body) = (0x70, [0x00, 0x01, 0x00] + list)
        case .subscribe: (first, body) = (0x82, [0x00, 0x01] + list + s("a") + [0x00])
        case .suback: (first, body) = (0x90, [0x00, 0x01] + list + [0x00])
        case .unsubscribe: (first, body) = (0xA2, [0x00, 0x01] + list + s("a"))
        case .unsuback: (first, body) = (0xB0, [0x00, 0x01] + list + [0x00])
        case .disconnect: (first, body) = (0xE0, [0x00] + list)
        case .auth: (first, body) = (0xF0, [0x18] + list)
        }
        return [first, UInt8(body.count)] + body
    }

    var decoderVersion: ProtocolVersion? { self == .connect || self == .will ? nil : .v5 }
}

/// A valid encoding of each property (identifier + value).
private func sample(_ id: PropertyIdentifier) -> [UInt8] {
    let s = TestSupport.mqttString
    switch id {
    case .payloadFormatIndicator: return [0x01, 0x01]
    case .messageExpiryInterval: return [0x02, 0x00, 0x00, 0x00, 0x10]
    case .contentType: return [0x03] + s("text/plain")
    case .responseTopic: return [0x08] + s("r/t")
    case .correlationData: return [0x09, 0x00, 0x01, 0xAA]
    case .subscriptionIdentifier: return [0x0B, 0x80, 0x01]
    case .sessionExpiryInterval: return [0x11, 0x00, 0x00, 0x00, 0x01]
    case .assignedClientIdentifier: return [0x12] + s("id")
    case .serverKeepAlive: return [0x13, 0x00, 0x05]
    case .authenticationMethod: return [0x15] + s("m")
    case .authenticationData: return [0x15] + s("m") + [0x16, 0x00, 0x01, 0xBB]  // needs a method
    case .requestProblemInformation: return [0x17, 0x01]
    case .willDelayInterval: return [0x18, 0x00, 0x00, 0x00, 0x01]
    case .requestResponseInformation: return [0x19, 0x01]
    case .responseInformation: return [0x1A] + s("info")
    case .serverReference: return [0x1C] + s("srv")
    case .reasonString: return [0x1F] + s("why")
    case .receiveMaximum: return [0x21, 0x00, 0x01]
    case .topicAliasMaximum: return [0x22, 0x00, 0x00]
    case .topicAlias: return [0x23, 0x00, 0x01]
    case .maximumQoS: return [0x24, 0x00]
    case .retainAvailable: return [0x25, 0x01]
    case .userProperty: return [0x26] + s("k") + s("v")
    case .maximumPacketSize: return [0x27, 0x00, 0x00, 0x01, 0x00]
    case .wildcardSubscriptionAvailable: return [0x28, 0x01]
    case .subscriptionIdentifierAvailable: return [0x29, 0x00]
    case .sharedSubscriptionAvailable: return [0x2A, 0x01]
    }
}

/// The MQTT 5 §2.2.2.2 table, written out independently of the decoder's.
private func allowed(_ id: PropertyIdentifier) -> Set<PropertyPlace> {
    switch id {
    case .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData:
        return [.publish, .will]
    case .subscriptionIdentifier: return [.publish, .subscribe]
    case .sessionExpiryInterval: return [.connect, .connack, .disconnect]
    case .assignedClientIdentifier, .serverKeepAlive, .responseInformation, .maximumQoS, .retainAvailable,
        .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable, .sharedSubscriptionAvailable:
        return [.connack]
    case .authenticationMethod, .authenticationData: return [.connect, .connack, .auth]
    case .requestProblemInformation, .requestResponseInformation: return [.connect]
    case .willDelayInterval: return [.will]
    case .serverReference: return [.connack, .disconnect]
    case .reasonString:
        return [.connack, .puback, .pubrec, .pubrel, .pubcomp, .suback, .unsuback, .disconnect, .auth]
    case .receiveMaximum, .topicAliasMaximum, .maximumPacketSize: return [.connect, .connack]
    case .topicAlias: return [.publish]
    case .userProperty: return Set(PropertyPlace.allCases)
    }
}

@Suite("Properties")
struct PropertiesTests {
    @Test(
        "each property is accepted exactly where MQTT 5 §2.2.2.2 allows it, else protocol error",
        arguments: PropertyIdentifier.allCases, PropertyPlace.allCases
    )
    func placement(_ id: PropertyIdentifier, _ place: PropertyPlace) throws {
        let bytes = place.packet(properties: sample(id))
        if allowed(id).contains(place) {
            _ = try TestSupport.decode(bytes, version: place.decoderVersion)
        } else {
            let error = TestSupport.decodeError(bytes, version: place.decoderVersion)
            #expect(error?.code == .protocolError, "\(error?.description ?? "decoded")")
        }
    }

    @Test(
        "a property twice is a protocol error, except User Property and Subscription Identifier in PUBLISH",
        arguments: PropertyIdentifier.allCases
    )
    func duplicates(_ id: PropertyIdentifier) throws {
        for place in allowed(id) {
            let twice = id == .authenticationData ? sample(id) + [0x16, 0x00, 0x00] : sample(id) + sample(id)
            let bytes = place.packet(properties: twice)
            if id == .userProperty || (id == .subscriptionIdentifier && place == .publish) {
                _ = try TestSupport.decode(bytes, version: place.decoderVersion)
            } else {
                let error = TestSupport.decodeError(bytes, version: place.decoderVersion)
                #expect(error?.code == .protocolError, "\(place): \(error?.description ?? "decoded")")
            }
        }
    }

    @Test(
        "value ranges (MQTT 5 §3.1.2.11, §3.2.2.3, §3.3.2.3, §3.8.2.1)",
        arguments: [
            (PropertyPlace.publish, [UInt8]([0x01, 0x02])),  // payload format indicator 0/1
            (.will, [0x01, 0xFF]),
            (.connect, [0x17, 0x02]),  // request problem information 0/1
            (.connect, [0x19, 0x02]),  // request response information 0/1
            (.connack, [0x24, 0x02]),  // maximum QoS 0/1
            (.connack, [0x25, 0x02]),  // retain available 0/1
            (.connack, [0x28, 0x02]),  // wildcard subscription available 0/1
            (.connack, [0x29, 0x02]),  // subscription identifiers available 0/1
            (.connack, [0x2A, 0x02]),  // shared subscription available 0/1
            (.connect, [0x21, 0x00, 0x00]),  // receive maximum 0
            (.connack, [0x21, 0x00, 0x00]),
            (.connect, [0x27, 0x00, 0x00, 0x00, 0x00]),  // maximum packet size 0
            (.connack, [0x27, 0x00, 0x00, 0x00, 0x00]),
            (.publish, [0x0B, 0x00]),  // subscription identifier 0
            (.subscribe, [0x0B, 0x00]),
            (.subscribe, [0x0B, 0x80, 0x00]),  // 0 in two bytes
            (.publish, [0x23, 0x00, 0x00]),  // topic alias 0 [MQTT-3.3.2-8]
            (.connect, [0x16, 0x00, 0x00]),  // authentication data without method
            (.auth, [0x16, 0x00, 0x00]),
            (.publish, [0x08] + TestSupport.mqttString("r/#")),  // response topic with wildcard [MQTT-3.3.2-14]
            (.will, [0x08] + TestSupport.mqttString("+")),
        ])
    func ranges(_ place: PropertyPlace, _ properties: [UInt8]) {
        let error = TestSupport.decodeError(place.packet(properties: properties), version: place.decoderVersion)
        #expect(error?.code == .protocolError, "\(error?.description ?? "decoded")")
    }

    @Test("boundary values are accepted")
    func boundaries() throws {
        let bytes = PropertyPlace.publish.packet(
            properties: [
                0x0B, 0xFF, 0xFF, 0xFF, 0x7F, 0x0B, 0x01, 0x23, 0xFF, 0xFF, 0x01, 0x00, 0x02, 0xFF, 0xFF, 0xFF, 0xFF,
            ]
        )
        guard case .publish(let publish) = try TestSupport.decode(bytes, version: .v5) else {
            Issue.record("not a PUBLISH")
            return
        }
        #expect(publish.properties.subscriptionIdentifiers == [268_435_455, 1])
        #expect(publish.properties.topicAlias == 65535)
        #expect(publish.properties.payloadFormatIndicator == 0)
        #expect(publish.properties.messageExpiryInterval == 0xFFFF_FFFF)
    }

    @Test("user properties keep their order and duplicates (MQTT 5 §3.3.2.3.7 [MQTT-3.3.2-18])")
    func userPropertyOrder() throws {
        let s = TestSupport.mqttString
        let list = [0x26] + s("b") + s("1") + [0x26] + s("a") + s("2") + [0x26] + s("b") + s("1")
        guard
            case .puback(let ack) = try TestSupport.decode(PropertyPlace.puback.packet(properties: list), version: .v5)
        else {
            Issue.record("not a PUBACK")
            return
        }
        #expect(
            ack.properties.userProperties == [
                UserProperty(name: "b", value: "1"), UserProperty(name: "a", value: "2"),
                UserProperty(name: "b", value: "1"),
            ]
        )
    }

    @Test(
        "malformed property lists",
        arguments: [
            [UInt8]([0x00]),  // unknown identifier 0
            [0x04, 0x00],  // unknown identifier 4
            [0x7F, 0x00],  // unknown identifier
            [0x02, 0x00, 0x00],  // truncated four-byte integer
            [0x23, 0x00],  // truncated two-byte integer
            [0x03, 0x00, 0x05, 0x61],  // truncated string
            [0x09, 0x00, 0x03, 0x61],  // truncated binary data
            [0x0B, 0x80, 0x80, 0x80, 0x80, 0x01],  // subscription identifier longer than 4 bytes
            [0x0B, 0x80],  // truncated variable byte integer
            [0x03, 0x00, 0x02, 0xC3, 0x28],  // invalid UTF-8 in a string property
            [0x26, 0x00, 0x01, 0x00, 0x00, 0x00],  // U+0000 in a user property name
            [0x26, 0x00, 0x01, 0x61],  // user property without a value
        ])
    func malformedLists(_ properties: [UInt8]) {
        let error = TestSupport.decodeError(PropertyPlace.publish.packet(properties: properties), version: .v5)
        #expect(error?.code == .malformedPacket, "\(error?.description ?? "decoded")")
    }

    @Test("a property length beyond the packet is malformed (MQTT 5 §2.2.2.1)")
    func propertyLengthBeyondPacket() {
        let bytes: [UInt8] = [0x40, 0x05, 0x00, 0x01, 0x00, 0x05, 0x1F]
        #expect(TestSupport.decodeError(bytes, version: .v5)?.code == .malformedPacket)
        // A five-byte property length.
        let long: [UInt8] = [0x40, 0x08, 0x00, 0x01, 0x00, 0x80, 0x80, 0x80, 0x80, 0x01]
        #expect(TestSupport.decodeError(long, version: .v5)?.code == .malformedPacket)
    }

    @Test("properties are ignored by 3.x decoders: the bytes are payload or trailing data")
    func v3HasNoProperties() throws {
        // In 3.1.1 this PUBLISH payload happens to start with what would be a v5 property length.
        guard
            case .publish(let publish) = try TestSupport.decode([0x30, 0x04, 0x00, 0x01, 0x74, 0x00], version: .v3_1_1)
        else {
            Issue.record("not a PUBLISH")
            return
        }
        #expect(publish.payload == ByteBuffer(bytes: [0x00]))
        #expect(publish.properties.isEmpty)
    }

    @Test(
        "encoded property length matches the bytes written for every property", arguments: PropertyIdentifier.allCases)
    func encodedLength(_ id: PropertyIdentifier) throws {
        let place = allowed(id).sorted { $0.rawValue < $1.rawValue }.first ?? .publish
        let bytes = place.packet(properties: sample(id))
        let packet = try TestSupport.decode(bytes, version: place.decoderVersion)
        let version: ProtocolVersion = .v5
        #expect(try TestSupport.encode(packet, version: version) == bytes)
    }
}
