/// How the gateway sends push notifications (Firebase Cloud Messaging).
package struct PushConfiguration: Sendable, Hashable {
    /// The protocol variant and its credentials.
    package enum Delivery: Sendable, Hashable {
        /// HTTP v1: an OAuth access token obtained with the service account's key. `projectID` defaults to the
        /// account's project; `tokenEndpoint` to the account's `token_uri` (set it to reach a private receiver).
        case fcmV1(serviceAccount: ServiceAccountKey, projectID: String?, tokenEndpoint: String?)
        /// The legacy HTTP protocol, authorised by a server key.
        case legacy(serverKey: String)
    }

    /// The public service; tests and private receivers use their own.
    package static let defaultEndpoint = "https://fcm.googleapis.com"

    /// The device name in topics and in the announce (sanitised there).
    package var deviceName: String
    package var delivery: Delivery
    /// The base URL the send paths are appended to.
    package var endpoint: String
    /// Entity name → the event types it offers, announced on `DevicesAndTopics`.
    package var offered: [String: [String]]
    package var announceInterval: Duration
    /// Events waiting to be sent; when full the oldest is dropped.
    package var queueCapacity: Int
    /// Certificates (PEM) trusted besides the system's, for receivers with their own CA.
    package var additionalTrustRootsPEM: String?
    /// The wait after the first failed attempt; it doubles with each failure up to `maximumRetryDelay`.
    package var initialRetryDelay: Duration
    package var maximumRetryDelay: Duration

    package init(
        deviceName: String, delivery: Delivery, endpoint: String = Self.defaultEndpoint,
        offered: [String: [String]] = [:], announceInterval: Duration = .seconds(4), queueCapacity: Int = 1000,
        additionalTrustRootsPEM: String? = nil, initialRetryDelay: Duration = .seconds(1),
        maximumRetryDelay: Duration = .seconds(60)
    ) {
        self.deviceName = deviceName
        self.delivery = delivery
        self.endpoint = endpoint
        self.offered = offered
        self.announceInterval = announceInterval
        self.queueCapacity = queueCapacity
        self.additionalTrustRootsPEM = additionalTrustRootsPEM
        self.initialRetryDelay = initialRetryDelay
        self.maximumRetryDelay = maximumRetryDelay
    }
}

/// The start and end of a period in which push notifications could not be delivered, reported once each.
package enum PushOutage: Sendable, Hashable {
    /// The first failure after a success (or since start), with what went wrong.
    case began(reason: String)
    /// The first success after failures, with the number of events lost meanwhile (queue overflow or refused).
    case ended(lost: Int)
}

/// Why a push message was not delivered.
package enum PushError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The configuration cannot be used (trust roots, URLs).
    case configuration(String)
    /// No HTTP answer: connection refused, TLS failure, time-out.
    case unreachable(url: String, reason: String)
    /// The receiver answered with an error status.
    case rejected(url: String, status: Int, body: String)
    /// No access token could be obtained from the token endpoint.
    case authorization(String)

    /// Whether trying the same message again later may succeed. A refusal of the message itself (4xx other than
    /// 408 Request Timeout and 429 Too Many Requests) will not.
    package var isRetriable: Bool {
        switch self {
        case .configuration: false
        case .unreachable, .authorization: true
        case .rejected(_, let status, _): status >= 500 || status == 408 || status == 429
        }
    }

    package var description: String {
        switch self {
        case .configuration(let reason): "push configuration: \(reason)"
        case .unreachable(let url, let reason): "\(url): unreachable: \(reason)"
        case .rejected(let url, let status, let body):
            body.isEmpty ? "\(url): HTTP \(status)" : "\(url): HTTP \(status): \(body)"
        case .authorization(let reason): "access token: \(reason)"
        }
    }
}
