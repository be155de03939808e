import NIOCore

/// The publish-rate state of one connection: one token bucket per inspection rule with a `rate`.
///
/// Owned by the connection and used on its event loop only, so it needs no lock; the rules themselves are shared in
/// the immutable `MessageInspector`. Time is passed in, so tests drive it with a hand-advanced clock.
///
/// Each bucket is kept as the generic cell rate algorithm keeps it: one "theoretical arrival time" instead of a token
/// count and a refill time. A message at `now` conforms when that time is no more than the burst tolerance ahead of
/// `now`; sending it moves the time one emission interval on. That is a token bucket of `burst` tokens refilled at
/// `messages` per `period`, in integer nanoseconds, with nothing to recompute while the client is quiet.
package struct PublishRateLimiter: Sendable {
    /// The inspector the buckets belong to: rule indices mean nothing for another rule set (after a reload).
    private var owner: MessageInspector.Identity?
    /// Per rule index, in `NIODeadline.uptimeNanoseconds`; `Int64.min` for a full bucket.
    private var arrivals: [Int64] = []

    package init() {}

    /// Whether a message at `now` is within `rate` for rule `ruleIndex`, without counting it.
    package func allows(ruleIndex: Int, rate: InspectionPolicy.Rate, now: NIODeadline) -> Bool {
        guard ruleIndex < arrivals.count else { return true }
        let instant = Self.instant(now)
        let tolerance = rate.emissionInterval.multipliedReportingOverflow(by: Int64(rate.burst - 1))
        if tolerance.overflow { return true }
        return arrivals[ruleIndex] <= instant || arrivals[ruleIndex] - instant <= tolerance.partialValue
    }

    /// Counts a message at `now` against rule `ruleIndex`.
    package mutating func consume(ruleIndex: Int, rate: InspectionPolicy.Rate, now: NIODeadline) {
        if ruleIndex >= arrivals.count {
            arrivals.append(contentsOf: repeatElement(Int64.min, count: ruleIndex + 1 - arrivals.count))
        }
        let start = max(arrivals[ruleIndex], Self.instant(now))
        let next = start.addingReportingOverflow(rate.emissionInterval)
        arrivals[ruleIndex] = next.overflow ? Int64.max : next.partialValue
    }

    /// `allows` then `consume`: whether the message may go, counted when it may.
    package mutating func admit(ruleIndex: Int, rate: InspectionPolicy.Rate, now: NIODeadline) -> Bool {
        guard allows(ruleIndex: ruleIndex, rate: rate, now: now) else { return false }
        consume(ruleIndex: ruleIndex, rate: rate, now: now)
        return true
    }

    /// Starts afresh for the rules of `inspector` when they are not the ones the buckets were kept for.
    ///
    /// The one allocation of the limiter happens here, once per connection and rule set, not per message.
    mutating func prepare(for inspector: MessageInspector) {
        guard owner !== inspector.identity else { return }
        owner = inspector.identity
        arrivals = [Int64](repeating: Int64.min, count: inspector.policies.count)
    }

    private static func instant(_ deadline: NIODeadline) -> Int64 {
        Int64(clamping: deadline.uptimeNanoseconds)
    }
}
