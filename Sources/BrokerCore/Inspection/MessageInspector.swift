import MQTTCodec
import NIOCore

/// Checks PUBLISH messages against the inspection rules of the broker profile (SPEC BRK-5).
///
/// Built once per rule set and shared by every connection (immutable, `Sendable`); the per-connection publish rate
/// state lives in each connection's `PublishRateLimiter`. Everything a check needs per rule (shift tables of the
/// denied patterns, the filter list, the rate's emission interval) is computed here, so that a message that passes
/// costs topic matches and byte scans, and no allocation.
///
/// Rules are checked in order and a message must pass every rule that applies to it; the first violation is the one
/// reported. Within a rule, the checks run cheapest first: size, rate, UTF-8/JSON, denied patterns. A message that
/// is refused does not use up any rate allowance, so a client sending bad messages does not also lock itself out
/// of sending good ones.
package struct MessageInspector: Sendable {
    /// Identifies one rule set, so that a connection's limiter notices a reload (see `PublishRateLimiter`).
    final class Identity: Sendable {}

    private struct CompiledPolicy: Sendable {
        var name: String
        var listenerPort: Int?
        var topicFilters: [String]
        var maximumPayloadSize: Int?
        var payloadFormat: InspectionPolicy.PayloadFormat?
        var patterns: [BytePattern]
        var rate: InspectionPolicy.Rate?

        init(_ policy: InspectionPolicy) {
            name = policy.name
            listenerPort = policy.listenerPort
            topicFilters = policy.topicFilters
            maximumPayloadSize = policy.maximumPayloadSize
            payloadFormat = policy.payloadFormat
            patterns = policy.deniedPatterns.map(BytePattern.init)
            rate = policy.rate
        }

        func applies(topic: String, listenerPort port: Int?) -> Bool {
            if let listenerPort, listenerPort != port { return false }
            if topicFilters.isEmpty { return true }
            for filter in topicFilters where Topic.matches(filter: filter, topic: topic) {
                return true
            }
            return false
        }
    }

    /// The rules as given, in order.
    package let policies: [InspectionPolicy]
    /// Deepest JSON nesting accepted by `payload json` rules, 1 to `PayloadValidation.maximumJSONDepth`.
    package let maximumJSONDepth: Int
    let identity = Identity()
    private let compiled: [CompiledPolicy]
    /// Indices of the rules with a rate, for the second pass that counts an accepted message.
    private let rated: [Int]

    package init(policies: [InspectionPolicy], maximumJSONDepth: Int = PayloadValidation.maximumJSONDepth) {
        self.policies = policies
        self.maximumJSONDepth = min(max(maximumJSONDepth, 1), PayloadValidation.maximumJSONDepth)
        compiled = policies.map(CompiledPolicy.init)
        rated = policies.indices.filter { policies[$0].rate != nil }
    }

    /// Whether no message is ever inspected: the connection may skip the call.
    package var isEmpty: Bool { policies.isEmpty }

    /// Whether rule `index` applies to a message on (broker-side) `topic` arriving on listener `listenerPort`.
    ///
    /// A rule limited to a listener never applies when the port is unknown (nil).
    package func applies(rule index: Int, topic: String, listenerPort: Int?) -> Bool {
        compiled[index].applies(topic: topic, listenerPort: listenerPort)
    }

    /// Indices of the rules with a rate that apply to (`topic`, `listenerPort`); for callers that drive a
    /// `PublishRateLimiter` themselves (`inspect` does it for the connection).
    package func ratedRules(topic: String, listenerPort: Int?) -> [Int] {
        rated.filter { compiled[$0].applies(topic: topic, listenerPort: listenerPort) }
    }

    /// The stateless checks (size, UTF-8, JSON, denied patterns) of every rule that applies; rates are ignored.
    package func check(topic: String, payload: ByteBuffer, listenerPort: Int?) -> InspectionViolation? {
        var noRates = PublishRateLimiter()
        return evaluate(topic: topic, payload: payload, listenerPort: listenerPort, rates: &noRates, now: nil)
    }

    /// Every check of every rule that applies, rates included: the call a connection makes for each PUBLISH.
    ///
    /// - Parameters:
    ///   - topic: the broker-side topic, after alias resolution and `mount_point`.
    ///   - listenerPort: the port of the listener the message arrived on; nil when unknown.
    ///   - rates: the connection's limiter; an accepted message is counted against every rate that applies.
    ///   - now: the time of arrival, the clock of the rates.
    /// - Returns: the first violation, nil when the message may be routed.
    package func inspect(
        topic: String, payload: ByteBuffer, listenerPort: Int?, rates: inout PublishRateLimiter, now: NIODeadline
    ) -> InspectionViolation? {
        guard !compiled.isEmpty else { return nil }
        rates.prepare(for: self)
        if let violation = evaluate(topic: topic, payload: payload, listenerPort: listenerPort, rates: &rates, now: now)
        {
            return violation
        }
        for index in rated where compiled[index].applies(topic: topic, listenerPort: listenerPort) {
            if let rate = compiled[index].rate { rates.consume(ruleIndex: index, rate: rate, now: now) }
        }
        return nil
    }

    /// The checks, in rule order; rates are checked only when `now` is given, and never counted here.
    private func evaluate(
        topic: String, payload: ByteBuffer, listenerPort: Int?, rates: inout PublishRateLimiter, now: NIODeadline?
    ) -> InspectionViolation? {
        let size = payload.readableBytes
        let maximumJSONDepth = self.maximumJSONDepth
        return payload.withUnsafeReadableBytes { bytes -> InspectionViolation? in
            // Several rules may ask for UTF-8 or JSON: each is checked at most once per message.
            var utf8Checked = false
            var utf8Failure: Int?
            var jsonChecked = false
            var jsonFailure: (offset: Int, error: JSONSyntaxError)?
            for (index, rule) in compiled.enumerated() where rule.applies(topic: topic, listenerPort: listenerPort) {
                func violation(_ kind: InspectionViolation.Kind) -> InspectionViolation {
                    InspectionViolation(kind: kind, rule: rule.name, ruleIndex: index)
                }
                if let limit = rule.maximumPayloadSize, size > limit {
                    return violation(.payloadTooLarge(limit: limit, actual: size))
                }
                if let rate = rule.rate, let now, !rates.allows(ruleIndex: index, rate: rate, now: now) {
                    return violation(.rateExceeded(rate))
                }
                if let format = rule.payloadFormat {
                    if !utf8Checked {
                        utf8Failure = PayloadValidation.firstInvalidUTF8(in: bytes)
                        utf8Checked = true
                    }
                    if let offset = utf8Failure { return violation(.invalidUTF8(offset: offset)) }
                    if format == .json {
                        if !jsonChecked {
                            jsonFailure = PayloadValidation.validateJSON(bytes, maximumDepth: maximumJSONDepth)
                            jsonChecked = true
                        }
                        if let failure = jsonFailure {
                            return violation(.invalidJSON(offset: failure.offset, reason: failure.error))
                        }
                    }
                }
                for (patternIndex, pattern) in rule.patterns.enumerated() where pattern.occurs(in: bytes) {
                    return violation(.deniedPattern(index: patternIndex, pattern: pattern.bytes))
                }
            }
            return nil
        }
    }
}
