import Foundation
import Testing

@testable import Events

@Suite struct PushMessageTests {
    private let loginError = SecurityEvent(
        stream: .network, time: Date(timeIntervalSince1970: 1_700_000_000.123), severity: .warning,
        entity: EventEntity.authServer, type: "LoginError", title: "Login failed for bob",
        fields: [EventField(EventField.sourceAddress, "10.0.0.5"), EventField(EventField.user, "bob")], sequence: 7)

    private func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    // MARK: Bodies

    @Test func eventInTheLegacyForm() {
        let message = PushMessage.event(device: "Device-1", loginError)
        #expect(message.topic == "Device-1_AuthServer_LoginError")
        #expect(
            text(message.legacyBody())
                == #"{"data":{"data":"Login failed for bob","entity":"Auth server","sequence":"7","#
                + #""severity":"warning","src":"10.0.0.5","stream":"network","time":"2023-11-14T22:13:20.123Z","#
                + #""type":"LoginError","user":"bob"},"to":"/topics/Device-1_AuthServer_LoginError"}"#)
    }

    @Test func eventInTheV1Form() {
        let message = PushMessage.event(device: "Device-1", loginError)
        #expect(
            text(message.v1Body())
                == #"{"message":{"data":{"data":"Login failed for bob","entity":"Auth server","sequence":"7","#
                + #""severity":"warning","src":"10.0.0.5","stream":"network","time":"2023-11-14T22:13:20.123Z","#
                + #""type":"LoginError","user":"bob"},"topic":"Device-1_AuthServer_LoginError"}}"#)
    }

    @Test func announceNamesTheDeviceAndEachEntitysTypes() {
        let message = PushMessage.devicesAndTopics(
            device: "Device-1", offered: ["Audit": ["NewRecord"], "TrafficProcessor": ["NewDevice", "DeviceUpdate"]])
        #expect(message.topic == PushTopic.devicesAndTopics)
        #expect(
            text(message.legacyBody())
                == #"{"data":{"Audit":"NewRecord","Device":"Device-1","TrafficProcessor":"NewDevice, DeviceUpdate"},"#
                + #""to":"/topics/DevicesAndTopics"}"#)
        #expect(
            text(message.v1Body())
                == #"{"message":{"data":{"Audit":"NewRecord","Device":"Device-1","#
                + #""TrafficProcessor":"NewDevice, DeviceUpdate"},"topic":"DevicesAndTopics"}}"#)
    }

    /// The announce's keys and values are the names the event topics use, so a phone can build the topics.
    @Test func announceUsesTheTopicSpellingOfEntitiesAndTheDevice() {
        let message = PushMessage.devicesAndTopics(
            device: "Gate way/1",
            offered: ["Auth server": ["LoginError", "LoginSuccess"], "MQTT broker": ["InspectionDrop"]])
        #expect(
            message.data == [
                "Device": "Gateway_1", "AuthServer": "LoginError, LoginSuccess", "MQTTBroker": "InspectionDrop",
            ])
        let event = SecurityEvent(
            stream: .network, severity: .critical, entity: "MQTT broker", type: "InspectionDrop",
            title: "t")
        #expect(PushMessage.event(device: "Gate way/1", event).topic == "Gateway_1_MQTTBroker_InspectionDrop")
    }

    @Test func entitiesThatSanitiseAlikeShareOneKeyAndCannotHideTheDevice() {
        let message = PushMessage.devicesAndTopics(
            device: "d", offered: ["Web server": ["A", "B"], "web server": ["B", "C"], "device": ["X"]])
        #expect(message.data == ["Device": "d", "WebServer": "A, B, C"])
    }

    // MARK: Fields

    @Test func fieldsCannotReplaceTheFixedKeysNorUseReservedOnes() {
        var event = loginError
        event.fields = [
            EventField("type", "spoofed"), EventField("from", "x"), EventField("google.c.a", "y"),
            EventField("detail", "first"), EventField("detail", "second"),
        ]
        let data = PushMessage.event(device: "d", event).data
        #expect(data["type"] == "LoginError")
        #expect(data["field_type"] == "spoofed")
        #expect(data["from"] == nil)
        #expect(data["field_from"] == "x")
        #expect(data["field_google.c.a"] == "y")
        #expect(data["detail"] == "first")
    }

    @Test func timeIsRFC3339InUTCWithMilliseconds() {
        var event = loginError
        event.time = Date(timeIntervalSince1970: 0.5)
        #expect(PushMessage.event(device: "d", event).data["time"] == "1970-01-01T00:00:00.500Z")
        event.time = Date(timeIntervalSince1970: 1_700_000_000.999)
        #expect(PushMessage.event(device: "d", event).data["time"] == "2023-11-14T22:13:20.999Z")
        event.time = Date(timeIntervalSince1970: 1_700_000_000.001)
        #expect(PushMessage.event(device: "d", event).data["time"] == "2023-11-14T22:13:20.001Z")
        event.time = Date(timeIntervalSince1970: -0.25)
        #expect(PushMessage.event(device: "d", event).data["time"] == "1969-12-31T23:59:59.750Z")
    }

    // MARK: Sanitising

    @Test func entitiesBecomeUpperCamelCase() {
        #expect(PushTopic.entity("Auth server") == "AuthServer")
        #expect(PushTopic.entity("MQTT broker") == "MQTTBroker")
        #expect(PushTopic.entity("  push\tforwarder  ") == "PushForwarder")
        #expect(PushTopic.entity("Audit") == "Audit")
    }

    @Test func charactersOutsideTheTopicAlphabetBecomeUnderscores() {
        #expect(PushTopic.sanitize("a/b") == "a_b")
        #expect(PushTopic.sanitize("Café") == "Caf_")
        #expect(PushTopic.sanitize("Cafe\u{301}") == "Caf_")  // é as e + combining accent: one character
        #expect(PushTopic.sanitize("🔥x") == "_x")
        #expect(PushTopic.sanitize("a+b#c:d") == "a_b_c_d")
        #expect(PushTopic.entity("Zugriff prüfen") == "ZugriffPr_fen")
        #expect(PushTopic.sanitize("ok-_.~%AZaz09") == "ok-_.~%AZaz09")
    }

    @Test func spacesAreRemovedAndTheDeviceKeepsItsCase() {
        #expect(PushTopic.sanitize("my gateway") == "mygateway")
        #expect(PushTopic.sanitize("Device-1") == "Device-1")
    }

    @Test func anEmptyNameBecomesAnUnderscore() {
        #expect(PushTopic.sanitize("") == "_")
        #expect(PushTopic.sanitize("   ") == "_")
        #expect(PushTopic.entity("") == "_")
        let event = SecurityEvent(stream: .audit, severity: .informational, entity: "", type: "", title: "t")
        #expect(PushTopic.forEvent(device: "", event: event) == "_____")
    }

    @Test func eventTopicsUseOnlyTheTopicAlphabet() {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%")
        let event = SecurityEvent(
            stream: .network, severity: .critical, entity: "Brücke / Äußeres", type: "Type:ü", title: "t")
        let topic = PushTopic.forEvent(device: "Gerät №1", event: event)
        #expect(topic == "Ger_t_1_Br_cke__u_eres_Type__")
        #expect(topic.allSatisfy { allowed.contains($0) })
    }
}
