/// Forwarding of network security events and audit records to a syslog receiver or SIEM (SPEC EVT-3).
///
/// The client private key for TLS is not part of the document: it is sealed in the store as a secret and only its
/// presence is shown.
package struct SyslogSettings: Codable, Sendable, Equatable {
    package enum Mode: String, Codable, Sendable, CaseIterable {
        /// RFC 5426: one message per datagram; nothing is buffered or confirmed.
        case udp
        /// RFC 6587 octet counting.
        case tcp
        /// RFC 5425.
        case tls
    }

    package enum Format: String, Codable, Sendable, CaseIterable {
        case rfc5424
        /// RFC 5424 header with a CEF payload, for SIEMs that parse CEF.
        case cef
    }

    package var enabled: Bool
    /// `IP:port`, `[IPv6]:port` for IPv6.
    package var address: String
    package var mode: Mode
    package var format: Format
    /// Forward network security events.
    package var networkEvents: Bool
    /// Forward audit records.
    package var audit: Bool
    /// Messages kept while the receiver is unreachable (TCP and TLS).
    package var bufferSize: Int
    /// PEM certificates the receiver's certificate must chain to (TLS).
    package var caCertificate: String
    /// PEM client certificate, optional (TLS); its key is a sealed secret.
    package var clientCertificate: String
    /// The name the receiver's certificate must carry; empty to accept any name when addressing it by IP.
    package var serverName: String

    package init(
        enabled: Bool, address: String, mode: Mode, format: Format, networkEvents: Bool, audit: Bool,
        bufferSize: Int, caCertificate: String = "", clientCertificate: String = "", serverName: String = ""
    ) {
        self.enabled = enabled
        self.address = address
        self.mode = mode
        self.format = format
        self.networkEvents = networkEvents
        self.audit = audit
        self.bufferSize = bufferSize
        self.caCertificate = caCertificate
        self.clientCertificate = clientCertificate
        self.serverName = serverName
    }

    package static let defaults = SyslogSettings(
        enabled: false, address: "", mode: .udp, format: .rfc5424, networkEvents: true, audit: true,
        bufferSize: 10_000)

    package static let bufferSizes = 100...1_000_000

    /// The checks that need no parsing of addresses or certificates (the application adds those).
    package func validate() -> [FieldError] {
        var errors: [FieldError] = []
        if !Self.bufferSizes.contains(bufferSize) {
            errors.append(
                FieldError(
                    field: "bufferSize", message: "the buffer holds 100 to 1,000,000 messages, not \(bufferSize)"))
        }
        if enabled {
            if address.isEmpty {
                errors.append(
                    FieldError(field: "address", message: "give the receiver as IP:port, e.g. 192.0.2.10:514"))
            }
            if !networkEvents && !audit {
                errors.append(FieldError(field: "audit", message: "choose at least one stream to forward"))
            }
            if mode == .tls && caCertificate.isEmpty {
                errors.append(
                    FieldError(field: "caCertificate", message: "TLS needs the CA certificate of the receiver"))
            }
        }
        if serverName.utf8.count > 253 || serverName.contains(where: { $0.isWhitespace }) {
            errors.append(FieldError(field: "serverName", message: "'\(serverName)' is not a host name"))
        }
        return errors
    }
}

/// Push notifications of events (SPEC EVT-5) in Firebase Cloud Messaging's HTTP v1 or legacy format.
///
/// Credentials (the service-account key or the legacy server key) are sealed in the store as secrets; the document
/// only says which are present.
package struct PushSettings: Codable, Sendable, Equatable {
    package enum Delivery: String, Codable, Sendable, CaseIterable {
        case fcmV1 = "fcm-v1"
        case legacy
    }

    package var enabled: Bool
    /// The name the gateway announces and prefixes its topics with.
    package var deviceName: String
    package var delivery: Delivery
    /// Base URL of the messaging service.
    package var endpoint: String
    /// FCM project; empty to use the service account's project.
    package var projectID: String
    /// OAuth2 token endpoint; empty to use the service account's `token_uri`.
    package var tokenEndpoint: String
    /// Extra PEM CA certificates to trust for the endpoint (private relays, tests).
    package var trustedCertificate: String
    package var networkEvents: Bool
    package var audit: Bool

    package init(
        enabled: Bool, deviceName: String, delivery: Delivery, endpoint: String, projectID: String = "",
        tokenEndpoint: String = "", trustedCertificate: String = "", networkEvents: Bool = true, audit: Bool = true
    ) {
        self.enabled = enabled
        self.deviceName = deviceName
        self.delivery = delivery
        self.endpoint = endpoint
        self.projectID = projectID
        self.tokenEndpoint = tokenEndpoint
        self.trustedCertificate = trustedCertificate
        self.networkEvents = networkEvents
        self.audit = audit
    }

    package static let defaults = PushSettings(
        enabled: false, deviceName: "rampart", delivery: .fcmV1, endpoint: "https://fcm.googleapis.com")

    package func validate() -> [FieldError] {
        var errors: [FieldError] = []
        if deviceName.isEmpty || deviceName.count > 64
            || deviceName.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            errors.append(FieldError(field: "deviceName", message: "the device name must be 1–64 printable characters"))
        }
        for (field, value, required) in [
            ("endpoint", endpoint, true), ("tokenEndpoint", tokenEndpoint, false),
        ] where required || !value.isEmpty {
            if !(value.hasPrefix("https://") || value.hasPrefix("http://")) || value.count < 10
                || value.contains(where: { $0.isWhitespace })
            {
                errors.append(FieldError(field: field, message: "'\(value)' is not an http(s) URL"))
            }
        }
        if !projectID.isEmpty, !projectID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            errors.append(FieldError(field: "projectID", message: "'\(projectID)' is not a project id"))
        }
        if enabled && !networkEvents && !audit {
            errors.append(FieldError(field: "audit", message: "choose at least one stream to notify"))
        }
        return errors
    }
}
