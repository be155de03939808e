import NIOCore

/// One MQTT 5 user property (a name/value pair of UTF-8 strings, MQTT 5 §3.1.2.11.8).
package struct UserProperty: Sendable, Hashable {
    package var name: String
    package var value: String

    package init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// The MQTT 5 property identifiers (MQTT 5 §2.2.2.2).
package enum PropertyIdentifier: UInt8, Sendable, CaseIterable {
    case payloadFormatIndicator = 0x01
    case messageExpiryInterval = 0x02
    case contentType = 0x03
    case responseTopic = 0x08
    case correlationData = 0x09
    case subscriptionIdentifier = 0x0B
    case sessionExpiryInterval = 0x11
    case assignedClientIdentifier = 0x12
    case serverKeepAlive = 0x13
    case authenticationMethod = 0x15
    case authenticationData = 0x16
    case requestProblemInformation = 0x17
    case willDelayInterval = 0x18
    case requestResponseInformation = 0x19
    case responseInformation = 0x1A
    case serverReference = 0x1C
    case reasonString = 0x1F
    case receiveMaximum = 0x21
    case topicAliasMaximum = 0x22
    case topicAlias = 0x23
    case maximumQoS = 0x24
    case retainAvailable = 0x25
    case userProperty = 0x26
    case maximumPacketSize = 0x27
    case wildcardSubscriptionAvailable = 0x28
    case subscriptionIdentifierAvailable = 0x29
    case sharedSubscriptionAvailable = 0x2A
}

/// The MQTT 5 properties of a packet. Every field is optional; an absent field is not encoded.
///
/// Which properties a packet may carry is checked by the decoder (MQTT 5 §2.2.2.2 table); a property
/// that appears twice where the specification forbids it is a protocol error.
///
/// Stored out of line, copy-on-write, and not at all while empty: the fields take ~250 bytes, which every PUBLISH
/// would otherwise carry and copy (most telemetry has no properties), so a packet without properties is 8 bytes of
/// them and copying one costs one reference count, not one per string, array and buffer field.
package struct Properties: Sendable, Hashable {
    /// The fields themselves.
    package struct Fields: Sendable, Hashable {
        package var payloadFormatIndicator: UInt8?
        package var messageExpiryInterval: UInt32?
        package var contentType: String?
        package var responseTopic: String?
        package var correlationData: ByteBuffer?
        /// PUBLISH from the server may carry several; SUBSCRIBE carries at most one.
        package var subscriptionIdentifiers: [UInt32] = []
        package var sessionExpiryInterval: UInt32?
        package var assignedClientIdentifier: String?
        package var serverKeepAlive: UInt16?
        package var authenticationMethod: String?
        package var authenticationData: ByteBuffer?
        package var requestProblemInformation: UInt8?
        package var willDelayInterval: UInt32?
        package var requestResponseInformation: UInt8?
        package var responseInformation: String?
        package var serverReference: String?
        package var reasonString: String?
        package var receiveMaximum: UInt16?
        package var topicAliasMaximum: UInt16?
        package var topicAlias: UInt16?
        package var maximumQoS: UInt8?
        package var retainAvailable: UInt8?
        package var userProperties: [UserProperty] = []
        package var maximumPacketSize: UInt32?
        package var wildcardSubscriptionAvailable: UInt8?
        package var subscriptionIdentifierAvailable: UInt8?
        package var sharedSubscriptionAvailable: UInt8?

        package init() {}
    }

    /// Shared between copies until one of them is mutated.
    private final class Storage: @unchecked Sendable {
        var fields: Fields

        init(_ fields: Fields) {
            self.fields = fields
        }
    }

    private var storage: Storage?

    package init() {}

    /// The fields, for reading several at once.
    package var fields: Fields { storage?.fields ?? Fields() }

    /// True when no property is set, so that an empty property length (a single 0 byte) is encoded.
    package var isEmpty: Bool {
        guard let storage else { return true }
        return storage.fields == Fields()
    }

    package static func == (lhs: Properties, rhs: Properties) -> Bool {
        lhs.storage === rhs.storage || lhs.fields == rhs.fields
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(fields)
    }

    /// The storage to write to: allocated at the first write, copied when shared.
    private mutating func writableFields<Value>(_ body: (inout Fields) -> Value) -> Value {
        var current = storage ?? Storage(Fields())
        storage = nil  // so that `current` is the only reference unless another copy shares it
        if !isKnownUniquelyReferenced(&current) { current = Storage(current.fields) }
        storage = current
        return body(&current.fields)
    }

    package var payloadFormatIndicator: UInt8? {
        get { storage?.fields.payloadFormatIndicator }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.payloadFormatIndicator = newValue }
        }
    }

    package var messageExpiryInterval: UInt32? {
        get { storage?.fields.messageExpiryInterval }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.messageExpiryInterval = newValue }
        }
    }

    package var contentType: String? {
        get { storage?.fields.contentType }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.contentType = newValue }
        }
    }

    package var responseTopic: String? {
        get { storage?.fields.responseTopic }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.responseTopic = newValue }
        }
    }

    package var correlationData: ByteBuffer? {
        get { storage?.fields.correlationData }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.correlationData = newValue }
        }
    }

    /// PUBLISH from the server may carry several; SUBSCRIBE carries at most one.
    package var subscriptionIdentifiers: [UInt32] {
        get { storage?.fields.subscriptionIdentifiers ?? [] }
        set {
            if newValue.isEmpty && storage == nil { return }
            writableFields { $0.subscriptionIdentifiers = newValue }
        }
    }

    package var sessionExpiryInterval: UInt32? {
        get { storage?.fields.sessionExpiryInterval }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.sessionExpiryInterval = newValue }
        }
    }

    package var assignedClientIdentifier: String? {
        get { storage?.fields.assignedClientIdentifier }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.assignedClientIdentifier = newValue }
        }
    }

    package var serverKeepAlive: UInt16? {
        get { storage?.fields.serverKeepAlive }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.serverKeepAlive = newValue }
        }
    }

    package var authenticationMethod: String? {
        get { storage?.fields.authenticationMethod }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.authenticationMethod = newValue }
        }
    }

    package var authenticationData: ByteBuffer? {
        get { storage?.fields.authenticationData }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.authenticationData = newValue }
        }
    }

    package var requestProblemInformation: UInt8? {
        get { storage?.fields.requestProblemInformation }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.requestProblemInformation = newValue }
        }
    }

    package var willDelayInterval: UInt32? {
        get { storage?.fields.willDelayInterval }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.willDelayInterval = newValue }
        }
    }

    package var requestResponseInformation: UInt8? {
        get { storage?.fields.requestResponseInformation }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.requestResponseInformation = newValue }
        }
    }

    package var responseInformation: String? {
        get { storage?.fields.responseInformation }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.responseInformation = newValue }
        }
    }

    package var serverReference: String? {
        get { storage?.fields.serverReference }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.serverReference = newValue }
        }
    }

    package var reasonString: String? {
        get { storage?.fields.reasonString }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.reasonString = newValue }
        }
    }

    package var receiveMaximum: UInt16? {
        get { storage?.fields.receiveMaximum }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.receiveMaximum = newValue }
        }
    }

    package var topicAliasMaximum: UInt16? {
        get { storage?.fields.topicAliasMaximum }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.topicAliasMaximum = newValue }
        }
    }

    package var topicAlias: UInt16? {
        get { storage?.fields.topicAlias }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.topicAlias = newValue }
        }
    }

    package var maximumQoS: UInt8? {
        get { storage?.fields.maximumQoS }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.maximumQoS = newValue }
        }
    }

    package var retainAvailable: UInt8? {
        get { storage?.fields.retainAvailable }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.retainAvailable = newValue }
        }
    }

    package var userProperties: [UserProperty] {
        get { storage?.fields.userProperties ?? [] }
        set {
            if newValue.isEmpty && storage == nil { return }
            writableFields { $0.userProperties = newValue }
        }
    }

    package var maximumPacketSize: UInt32? {
        get { storage?.fields.maximumPacketSize }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.maximumPacketSize = newValue }
        }
    }

    package var wildcardSubscriptionAvailable: UInt8? {
        get { storage?.fields.wildcardSubscriptionAvailable }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.wildcardSubscriptionAvailable = newValue }
        }
    }

    package var subscriptionIdentifierAvailable: UInt8? {
        get { storage?.fields.subscriptionIdentifierAvailable }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.subscriptionIdentifierAvailable = newValue }
        }
    }

    package var sharedSubscriptionAvailable: UInt8? {
        get { storage?.fields.sharedSubscriptionAvailable }
        set {
            if newValue == nil && storage == nil { return }
            writableFields { $0.sharedSubscriptionAvailable = newValue }
        }
    }
}
