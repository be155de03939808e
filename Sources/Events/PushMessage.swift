import Foundation

/// Topic names of push notifications (Firebase Cloud Messaging topics).
///
/// A phone subscribes to `DevicesAndTopics` to learn which gateways exist and what they offer, then to the topics
/// `<Device>_<Entity>_<EventType>` it wants. Topic names allow only `[a-zA-Z0-9-_.~%]`, so every name that goes into
/// one is sanitised the same way here, once, for the announce and for the events alike.
package enum PushTopic {
    /// The topic every gateway announces itself and its event topics on.
    package static let devicesAndTopics = "DevicesAndTopics"

    /// `name` in the topic alphabet: white space is removed (the words are joined), every other character outside
    /// `[a-zA-Z0-9-_.~%]` becomes `_` (one per character as a person sees it, so "é" is one `_`), and an empty
    /// result becomes `_`. Letters keep their case.
    package static func sanitize(_ name: String) -> String {
        var result = ""
        for character in name where !character.isWhitespace {
            result.append(isAllowed(character) ? character : "_")
        }
        return result.isEmpty ? "_" : result
    }

    /// An entity name as it appears in topics and announce keys: its words in UpperCamelCase without spaces
    /// ("Auth server" → "AuthServer", "MQTT broker" → "MQTTBroker"), then sanitised.
    package static func entity(_ name: String) -> String {
        let words = name.split(whereSeparator: \.isWhitespace).map { word in
            word.prefix(1).uppercased() + word.dropFirst()
        }
        return sanitize(words.joined())
    }

    /// The topic of `event` on `device`: `<Device>_<Entity>_<EventType>`.
    package static func forEvent(device: String, event: SecurityEvent) -> String {
        "\(sanitize(device))_\(entity(event.entity))_\(sanitize(event.type))"
    }

    private static func isAllowed(_ character: Character) -> Bool {
        guard character.isASCII, let value = character.asciiValue else { return false }
        switch value {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-_.~%".utf8.contains(value)
        }
    }
}

/// One push notification: a topic and a map of strings (Firebase Cloud Messaging "data" messages carry only
/// strings), rendered in the legacy HTTP form or the HTTP v1 form.
package struct PushMessage: Sendable, Hashable {
    package var topic: String
    package var data: [String: String]

    package init(topic: String, data: [String: String]) {
        self.topic = topic
        self.data = data
    }

    /// The announce: `Device` names the device, and each offered entity (sanitised) maps to its event types joined
    /// by ", ". Two entities that sanitise to the same key share it; an entity that would take the key `Device`
    /// is left out rather than hide the device's name.
    package static func devicesAndTopics(device: String, offered: [String: [String]]) -> PushMessage {
        var typesByKey: [String: [String]] = [:]
        for entity in offered.keys.sorted() {
            let key = PushTopic.entity(entity)
            guard key != deviceKey else { continue }
            for type in offered[entity] ?? [] {
                let type = PushTopic.sanitize(type)
                if !(typesByKey[key]?.contains(type) ?? false) { typesByKey[key, default: []].append(type) }
            }
        }
        var data = typesByKey.mapValues { $0.joined(separator: ", ") }
        data[deviceKey] = PushTopic.sanitize(device)
        return PushMessage(topic: PushTopic.devicesAndTopics, data: data)
    }

    /// The notification of one event, on its own topic: the title under `data`, then its entity, type, severity,
    /// time (RFC 3339, milliseconds, UTC), sequence, stream and every field.
    ///
    /// A field cannot replace one of these keys nor use a key the protocol reserves (`from`, `message_type`,
    /// `collapse_key`, anything starting with `google` or `gcm`, which would make the receiver refuse the whole
    /// message): such a field is sent as `field_<name>`. When two fields have one name, the first is kept.
    package static func event(device: String, _ event: SecurityEvent) -> PushMessage {
        var data: [String: String] = [
            "data": event.title,
            "entity": event.entity,
            "type": event.type,
            "severity": event.severity.rawValue,
            "time": EventTime.rfc3339(event.time),
            "sequence": String(event.sequence),
            "stream": event.stream.rawValue,
        ]
        let fixedKeys = Set(data.keys)
        for field in event.fields {
            let key = fixedKeys.contains(field.name) || isReserved(field.name) ? "field_\(field.name)" : field.name
            if data[key] == nil { data[key] = field.value }
        }
        return PushMessage(topic: PushTopic.forEvent(device: device, event: event), data: data)
    }

    /// The legacy HTTP body: `{"data":{…},"to":"/topics/<topic>"}`, keys sorted.
    package func legacyBody() -> Data {
        Self.encode(LegacyBody(data: data, to: "/topics/\(topic)"))
    }

    /// The HTTP v1 body: `{"message":{"data":{…},"topic":"<topic>"}}`, keys sorted.
    package func v1Body() -> Data {
        Self.encode(V1Body(message: V1Body.Message(data: data, topic: topic)))
    }

    private static let deviceKey = "Device"

    private static func isReserved(_ key: String) -> Bool {
        let lowercased = key.lowercased()
        return ["from", "message_type", "collapse_key"].contains(lowercased) || lowercased.hasPrefix("google")
            || lowercased.hasPrefix("gcm")
    }

    private struct LegacyBody: Encodable {
        var data: [String: String]
        var to: String
    }

    private struct V1Body: Encodable {
        struct Message: Encodable {
            var data: [String: String]
            var topic: String
        }
        var message: Message
    }

    private static func encode(_ body: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(body)
        } catch {
            // Only strings in string-keyed maps: encoding cannot fail.
            preconditionFailure("push message body could not be encoded: \(error)")
        }
    }
}
