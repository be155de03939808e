import NIOCore
import Synchronization

/// A message refused by inspection, as the event system receives it.
package struct InspectionRejection: Sendable, Hashable {
    package var violation: InspectionViolation
    package var clientID: String
    /// The authenticated username (or certificate identity), nil for anonymous clients.
    package var username: String?
    /// The broker-side topic (after alias resolution and `mount_point`).
    package var topic: String
    /// The listener's name, such as `mqtt:1883`.
    package var listener: String

    package init(violation: InspectionViolation, clientID: String, username: String?, topic: String, listener: String) {
        self.violation = violation
        self.clientID = clientID
        self.username = username
        self.topic = topic
        self.listener = listener
    }
}

/// Hears of every message that inspection refuses; the event system implements it.
///
/// Called on the publishing connection's event loop, right after the refusal: an implementation hands the
/// rejection over (to a queue, a channel) and returns; it must neither block nor do I/O itself.
package protocol InspectionObserver: Sendable {
    func messageRejected(_ rejection: InspectionRejection)
}

/// A CONNECT refused because of its credentials (or for want of them).
package struct AuthenticationFailure: Sendable, Hashable {
    package var clientID: String
    package var username: String?
    /// The client's address, as the connection knows it.
    package var address: String
    /// The listener's name, such as `mqtt:1883`.
    package var listener: String
    package var reason: String

    package init(clientID: String, username: String?, address: String, listener: String, reason: String) {
        self.clientID = clientID
        self.username = username
        self.address = address
        self.listener = listener
        self.reason = reason
    }
}

/// Told about each refused log-in. Called on the connection's event loop: it must not block.
package protocol AuthenticationObserver: Sendable {
    func authenticationFailed(_ failure: AuthenticationFailure)
}

/// Counts refused messages, in total and per rule and kind, for `$SYS` and the management plane.
///
/// Kept by rule name rather than index, so one instance can outlive a reload of the rules and the counts of the
/// rules that remain go on. Refusals are rare next to messages, so a lock per refusal costs nothing that matters;
/// the total is an atomic that readers can poll without it.
package final class InspectionStatistics: Sendable {
    /// Refusals of one rule, by kind of violation.
    package struct Counts: Sendable, Hashable {
        package var payloadTooLarge = 0
        package var invalidUTF8 = 0
        package var invalidJSON = 0
        package var deniedPattern = 0
        package var rateExceeded = 0

        package init() {}

        package var total: Int { payloadTooLarge + invalidUTF8 + invalidJSON + deniedPattern + rateExceeded }
    }

    /// Every message refused since the statistics were made.
    package let rejected = Atomic<Int>(0)
    private let rules = Mutex<[String: Counts]>([:])

    package init() {}

    package func record(_ violation: InspectionViolation) {
        rejected.wrappingAdd(1, ordering: .relaxed)
        rules.withLock { rules in
            switch violation.kind {
            case .payloadTooLarge: rules[violation.rule, default: Counts()].payloadTooLarge += 1
            case .invalidUTF8: rules[violation.rule, default: Counts()].invalidUTF8 += 1
            case .invalidJSON: rules[violation.rule, default: Counts()].invalidJSON += 1
            case .deniedPattern: rules[violation.rule, default: Counts()].deniedPattern += 1
            case .rateExceeded: rules[violation.rule, default: Counts()].rateExceeded += 1
            }
        }
    }

    /// The counts of one rule; zero for a rule that refused nothing.
    package func counts(rule: String) -> Counts {
        rules.withLock { $0[rule] ?? Counts() }
    }

    /// The counts of every rule that refused something.
    package var byRule: [String: Counts] {
        rules.withLock { $0 }
    }
}

/// What a connection needs to inspect its PUBLISH packets: the rules, the counters and the observer.
///
/// The one type the connection code deals with; `evaluate` inspects, counts and reports in one call.
package struct MessageInspection: Sendable {
    package var inspector: MessageInspector
    package var statistics: InspectionStatistics
    package var observer: (any InspectionObserver)?

    package init(
        inspector: MessageInspector,
        statistics: InspectionStatistics = InspectionStatistics(),
        observer: (any InspectionObserver)? = nil
    ) {
        self.inspector = inspector
        self.statistics = statistics
        self.observer = observer
    }

    /// Inspects one PUBLISH; on a violation, counts it and tells the observer before returning it.
    ///
    /// - Returns: nil when the message may be routed; otherwise the violation, whose `reasonCode` (and, when the
    ///   client asked for problem information, `clientReason`) go into the PUBACK/PUBREC of a v5 client.
    package func evaluate(
        topic: String,
        payload: ByteBuffer,
        listenerPort: Int?,
        listenerName: String,
        clientID: String,
        username: String?,
        rates: inout PublishRateLimiter,
        now: NIODeadline
    ) -> InspectionViolation? {
        guard
            let violation = inspector.inspect(
                topic: topic, payload: payload, listenerPort: listenerPort, rates: &rates, now: now)
        else { return nil }
        statistics.record(violation)
        observer?.messageRejected(
            InspectionRejection(
                violation: violation, clientID: clientID, username: username, topic: topic, listener: listenerName))
        return violation
    }
}
