import BrokerCore
import MQTTCodec
import NIOCore
import Synchronization
import Testing

/// Message inspection (SPEC BRK-5): each check at its boundary, rule selection, rates on a hand-driven clock.
@Suite struct InspectionTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    static func utf8Failure(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { PayloadValidation.firstInvalidUTF8(in: $0) }
    }

    static func jsonFailure(_ text: String, maximumDepth: Int = 64) -> (offset: Int, error: JSONSyntaxError)? {
        Array(text.utf8).withUnsafeBytes { PayloadValidation.validateJSON($0, maximumDepth: maximumDepth) }
    }

    func check(
        _ inspector: MessageInspector, _ payload: String, topic: String = "t", port: Int? = 1883
    ) -> InspectionViolation? {
        inspector.check(topic: topic, payload: ByteBuffer(string: payload), listenerPort: port)
    }

    // MARK: Size

    @Test func payloadExactlyAtTheLimitPasses() {
        let inspector = MessageInspector(policies: [InspectionPolicy(name: "small", maximumPayloadSize: 10)])
        #expect(check(inspector, String(repeating: "x", count: 10)) == nil)
        #expect(check(inspector, "") == nil)
        let violation = check(inspector, String(repeating: "x", count: 11))
        #expect(violation?.kind == .payloadTooLarge(limit: 10, actual: 11))
        #expect(violation?.rule == "small")
        #expect(violation?.reasonCode == .quotaExceeded)
        #expect(violation?.description == "rule small: payload of 11 bytes is larger than 10 bytes")
    }

    @Test func aZeroLimitAllowsOnlyEmptyPayloads() {
        let inspector = MessageInspector(policies: [InspectionPolicy(name: "empty", maximumPayloadSize: 0)])
        #expect(check(inspector, "") == nil)
        #expect(check(inspector, "x")?.kind == .payloadTooLarge(limit: 0, actual: 1))
    }

    // MARK: UTF-8

    static let wellFormedUTF8: [[UInt8]] = [
        [],
        Array("plain ASCII, longer than eight bytes".utf8),
        Array("é € 𝄞 中文".utf8),
        [0x00],  // U+0000 is well-formed UTF-8 (MQTT forbids it in strings, not in payloads)
        [0x7F], [0xC2, 0x80], [0xDF, 0xBF],  // edges of one and two bytes
        [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],  // around surrogates
        [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],  // U+10000, U+10FFFF
    ]

    @Test(arguments: wellFormedUTF8)
    func wellFormedUTF8Passes(bytes: [UInt8]) {
        #expect(Self.utf8Failure(bytes) == nil)
    }

    static let illFormedUTF8: [(bytes: [UInt8], offset: Int)] = [
        ([0x80], 0),  // stray continuation byte
        ([0x61, 0xBF, 0x62], 1),
        ([0xC0, 0xAF], 0),  // overlong "/"
        ([0xC1, 0xBF], 0),  // overlong
        ([0xE0, 0x80, 0xAF], 0),  // overlong, three bytes
        ([0xE0, 0x9F, 0xBF], 0),  // overlong U+07FF
        ([0xF0, 0x80, 0x80, 0xAF], 0),  // overlong, four bytes
        ([0xF0, 0x8F, 0xBF, 0xBF], 0),  // overlong U+FFFF
        ([0xED, 0xA0, 0x80], 0),  // U+D800, high surrogate
        ([0xED, 0xBF, 0xBF], 0),  // U+DFFF, low surrogate
        ([0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80], 0),  // CESU-8 pair
        ([0xF4, 0x90, 0x80, 0x80], 0),  // U+110000
        ([0xF5, 0x80, 0x80, 0x80], 0),
        ([0xFE], 0), ([0xFF], 0),
        ([0x61, 0x62, 0xE2, 0x82], 2),  // truncated at the end
        ([0xE2, 0x82, 0x61], 0),  // truncated in the middle
        ([0xF0, 0x9F, 0x98], 0),  // truncated four-byte sequence
        ([0xC3], 0),
        (Array("seventeen bytes!!".utf8) + [0xC3, 0x28], 17),  // after the eight-byte ASCII path
        (Array("ok é".utf8) + [0xE0, 0xA0], 5),
    ]

    @Test(arguments: illFormedUTF8)
    func illFormedUTF8IsFoundAtItsFirstByte(bytes: [UInt8], offset: Int) {
        #expect(Self.utf8Failure(bytes) == offset)
    }

    @Test func utf8RuleReportsTheOffset() {
        let inspector = MessageInspector(policies: [InspectionPolicy(name: "text", payloadFormat: .utf8)])
        var payload = ByteBuffer(string: "temp=")
        payload.writeBytes([0xFF])
        let violation = inspector.check(topic: "t", payload: payload, listenerPort: nil)
        #expect(violation?.kind == .invalidUTF8(offset: 5))
        #expect(violation?.reasonCode == .payloadFormatInvalid)
        #expect(violation?.description == "rule text: payload is not valid UTF-8 at byte 5")
        #expect(check(inspector, "température 21,5 °C") == nil)
    }

    // MARK: JSON

    static let validJSON: [String] = [
        "0", "-0", "42", "-12.5", "1.5e10", "-1.25E-3", "1E+2", "0.0e0",
        "\"\"", "\"text\"", #""\" \\ \/ \b \f \n \r \t""#, #""\u00e9\u20AC""#, #""\ud83d\ude00""#,
        "\"é € 𝄞\"",
        "true", "false", "null",
        "[]", "{}", "[[]]", "{\"\":0}", " [ 1 , 2 ] ", "\n\t{\"a\" : 1}\r\n",
        #"{"a":{"b":[1,{"c":null}],"d":"e"},"f":[true,false]}"#,
    ]

    @Test(arguments: validJSON)
    func validJSONPasses(text: String) {
        #expect(Self.jsonFailure(text) == nil)
    }

    static let invalidJSON: [(text: String, offset: Int, error: JSONSyntaxError)] = [
        ("", 0, .empty),
        ("   ", 3, .unexpectedEnd),
        ("01", 0, .invalidNumber),
        ("-", 0, .invalidNumber),
        ("-a", 0, .invalidNumber),
        ("1.", 0, .invalidNumber),
        ("[1.e5]", 1, .invalidNumber),
        ("1e", 0, .invalidNumber),
        ("1e+", 0, .invalidNumber),
        (".5", 0, .unexpectedByte),
        ("+1", 0, .unexpectedByte),
        ("NaN", 0, .unexpectedByte),
        ("'a'", 0, .unexpectedByte),
        ("\u{FEFF}1", 0, .unexpectedByte),  // byte order mark
        ("[1,]", 3, .unexpectedByte),
        ("[,1]", 1, .unexpectedByte),
        (#"{"a":1,}"#, 7, .expectedKey),
        ("{1:2}", 1, .expectedKey),
        (#"{"a" 1}"#, 5, .expectedColon),
        (#"{"a"}"#, 4, .expectedColon),
        ("[1 2]", 3, .expectedCommaOrBracket),
        ("[1}", 2, .expectedCommaOrBracket),
        (#"{"a":1 "b":2}"#, 7, .expectedCommaOrBrace),
        (#"{"a":1]"#, 6, .expectedCommaOrBrace),
        ("\"abc", 4, .unexpectedEnd),
        ("\"abc\\", 5, .unexpectedEnd),
        (#""a\qb""#, 2, .invalidEscape),
        (#""\u12G4""#, 1, .invalidEscape),
        (#""\u12""#, 1, .invalidEscape),
        (#""\ud83d""#, 1, .unpairedSurrogate),
        (#""\ude00""#, 1, .unpairedSurrogate),
        (#""\ud83d\u0041""#, 1, .unpairedSurrogate),
        ("\"a\u{01}b\"", 2, .controlCharacter),
        ("\"tab\there\"", 4, .controlCharacter),
        ("tru", 0, .invalidLiteral),
        ("nul1", 0, .invalidLiteral),
        ("True", 0, .unexpectedByte),
        (#"{"a":1}x"#, 7, .trailingData),
        (#"{"a":1} {}"#, 8, .trailingData),
        ("1 2", 2, .trailingData),
        ("[", 1, .unexpectedEnd),
        ("[1,2", 4, .unexpectedEnd),
        (#"{"a":"#, 5, .unexpectedEnd),
        ("{", 1, .unexpectedEnd),
    ]

    @Test(arguments: invalidJSON)
    func invalidJSONIsFoundWhereTheGrammarBreaks(text: String, offset: Int, error: JSONSyntaxError) {
        let failure = Self.jsonFailure(text)
        #expect(failure?.offset == offset)
        #expect(failure?.error == error)
    }

    /// Arrays and objects mixed, so that every level's kind must be remembered on the way back out.
    static func nested(_ depth: Int) -> String {
        let opening = (0..<depth).map { $0 % 2 == 0 ? "[" : "{\"k\":" }.joined()
        let closing = (0..<depth).reversed().map { $0 % 2 == 0 ? "]" : "}" }.joined()
        return opening + "0" + closing
    }

    @Test func nestingIsLimitedTo64Levels() {
        #expect(Self.jsonFailure(Self.nested(64)) == nil)
        #expect(Self.jsonFailure(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)) == nil)
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(Self.jsonFailure(tooDeep)?.offset == 64)
        #expect(Self.jsonFailure(tooDeep)?.error == .tooDeep)
        // A closing bracket of the wrong kind deep down is found where it is.
        var wrong = Self.nested(64)
        wrong.replaceSubrange(wrong.lastIndex(of: "]")!...wrong.lastIndex(of: "]")!, with: "}")
        #expect(Self.jsonFailure(wrong)?.error == .expectedCommaOrBracket)
        // An unbounded input is refused at the limit, without recursion.
        let huge = String(repeating: "[", count: 100_000)
        #expect(Self.jsonFailure(huge)?.error == .tooDeep)
    }

    @Test func theDepthLimitCanBeLowered() {
        #expect(Self.jsonFailure("[[1]]", maximumDepth: 2) == nil)
        #expect(Self.jsonFailure("[[[1]]]", maximumDepth: 2)?.offset == 2)
        let inspector = MessageInspector(
            policies: [InspectionPolicy(name: "flat", payloadFormat: .json)], maximumJSONDepth: 1)
        #expect(check(inspector, #"{"a":1}"#) == nil)
        #expect(check(inspector, #"{"a":[1]}"#)?.kind == .invalidJSON(offset: 5, reason: .tooDeep))
    }

    @Test func jsonRuleChecksUTF8First() {
        let inspector = MessageInspector(policies: [InspectionPolicy(name: "json", payloadFormat: .json)])
        var payload = ByteBuffer(string: "\"")
        payload.writeBytes([0xC0, 0xAF])
        payload.writeString("\"")
        #expect(inspector.check(topic: "t", payload: payload, listenerPort: nil)?.kind == .invalidUTF8(offset: 1))
        let empty = check(inspector, "")
        #expect(empty?.kind == .invalidJSON(offset: 0, reason: .empty))
        #expect(empty?.reasonCode == .payloadFormatInvalid)
        #expect(empty?.description == "rule json: payload is not valid JSON at byte 0: empty payload")
        #expect(check(inspector, #"{"temperature":21.5,"unit":"°C"}"#) == nil)
    }

    // MARK: Denied patterns

    @Test(arguments: [
        ("DROP TABLE users", true), ("x; DROP TABLE users", true), ("users; DROP TABLE", true),
        ("DROP TABLE", true), ("DROP TABL", false), ("ROP TABLE", false), ("drop table", false), ("", false),
        ("DROP  TABLE", false), ("DROP DROP TABLE", true), ("DROP TABLDROP TABLE", true),
    ])
    func deniedPatternIsFoundAnywhere(payload: String, denied: Bool) {
        let inspector = MessageInspector(
            policies: [InspectionPolicy(name: "sql", deniedPatterns: [Array("DROP TABLE".utf8)])])
        let violation = check(inspector, payload)
        #expect((violation != nil) == denied)
        if denied {
            #expect(violation?.kind == .deniedPattern(index: 0, pattern: Array("DROP TABLE".utf8)))
            #expect(violation?.reasonCode == .payloadFormatInvalid)
        }
    }

    @Test func binaryPatternsAndTheirIndex() {
        let inspector = MessageInspector(
            policies: [InspectionPolicy(name: "bin", deniedPatterns: [[0xDE, 0xAD], [0x00], [0x0A, 0x22, 0x5C]])])
        #expect(inspector.check(topic: "t", payload: ByteBuffer(bytes: [1, 2, 0xDE, 3]), listenerPort: nil) == nil)
        let violation = inspector.check(topic: "t", payload: ByteBuffer(bytes: [1, 0xDE, 0xAD]), listenerPort: nil)
        #expect(violation?.kind == .deniedPattern(index: 0, pattern: [0xDE, 0xAD]))
        let zero = inspector.check(topic: "t", payload: ByteBuffer(bytes: [0, 1]), listenerPort: nil)
        #expect(zero?.kind == .deniedPattern(index: 1, pattern: [0x00]))
        #expect(zero?.description == "rule bin: payload contains denied pattern 2 (\"\\x00\")")
        let quoted = inspector.check(topic: "t", payload: ByteBuffer(bytes: [1, 0x0A, 0x22, 0x5C]), listenerPort: nil)
        #expect(quoted?.description == "rule bin: payload contains denied pattern 3 (\"\\n\\\"\\\\\")")
        // The client is not told which pattern: it could read the deny list back by probing.
        #expect(quoted?.clientReason == "rule bin: payload contains a denied pattern")
    }

    @Test func onlyTheReadableBytesAreSearched() {
        let inspector = MessageInspector(
            policies: [InspectionPolicy(name: "sql", deniedPatterns: [Array("DROP".utf8)])])
        var payload = ByteBuffer(string: "DROP hello")
        payload.moveReaderIndex(forwardBy: 4)
        #expect(inspector.check(topic: "t", payload: payload, listenerPort: nil) == nil)
        let whole = ByteBuffer(string: "xxDROPyy")
        let slice = whole.getSlice(at: 2, length: 3)!  // "DRO"
        #expect(inspector.check(topic: "t", payload: slice, listenerPort: nil) == nil)
        let match = whole.getSlice(at: 2, length: 4)!
        #expect(inspector.check(topic: "t", payload: match, listenerPort: nil) != nil)
    }

    @Test func bytePatternAgreesWithANaiveSearch() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<2_000 {
            let haystack = (0..<Int(generator.next() % 40)).map { _ in UInt8(generator.next() % 3) }
            let needle = (0..<Int(1 + generator.next() % 4)).map { _ in UInt8(generator.next() % 3) }
            let expected =
                needle.count <= haystack.count
                && (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<$0 + needle.count]) == needle }
            let found = haystack.withUnsafeBytes { BytePattern(needle).occurs(in: $0) }
            #expect(found == expected, "\(needle) in \(haystack)")
        }
    }

    // MARK: Rule selection

    @Test func rulesApplyByListenerAndTopic() {
        let inspector = MessageInspector(policies: [
            InspectionPolicy(
                name: "plain", listenerPort: 1883, topicFilters: ["sensors/#", "+/cmd"],
                maximumPayloadSize: 1)
        ])
        let big = "too large"
        #expect(check(inspector, big, topic: "sensors", port: 1883) != nil)  // `a/#` matches `a`
        #expect(check(inspector, big, topic: "sensors/a/b", port: 1883) != nil)
        #expect(check(inspector, big, topic: "pump/cmd", port: 1883) != nil)
        #expect(check(inspector, big, topic: "pump/cmd/x", port: 1883) == nil)
        #expect(check(inspector, big, topic: "other", port: 1883) == nil)
        #expect(check(inspector, big, topic: "sensors/a", port: 8883) == nil)
        #expect(check(inspector, big, topic: "sensors/a", port: nil) == nil)
        #expect(inspector.applies(rule: 0, topic: "sensors/x", listenerPort: 1883))
    }

    @Test func aRuleWithoutFiltersAppliesToEveryTopicButWildcardsSkipDollarTopics() {
        let inspector = MessageInspector(policies: [
            InspectionPolicy(name: "all", maximumPayloadSize: 1),
            InspectionPolicy(name: "hash", topicFilters: ["#"], payloadFormat: .json),
        ])
        #expect(check(inspector, "xx", topic: "$app/x", port: nil)?.rule == "all")
        #expect(check(inspector, "x", topic: "$app/x", port: nil) == nil)  // `#` does not match `$` topics
        #expect(check(inspector, "x", topic: "app/x", port: nil)?.rule == "hash")
    }

    @Test func theFirstViolatedRuleInOrderIsReported() {
        let inspector = MessageInspector(policies: [
            InspectionPolicy(name: "size", maximumPayloadSize: 8),
            InspectionPolicy(name: "json", topicFilters: ["data/#"], payloadFormat: .json),
            InspectionPolicy(name: "words", deniedPatterns: [Array("secret".utf8)]),
        ])
        #expect(check(inspector, "not json at all", topic: "data/1")?.rule == "size")
        #expect(check(inspector, "secret", topic: "data/1")?.rule == "json")
        #expect(check(inspector, "\"secret\"", topic: "data/1")?.rule == "words")
        #expect(check(inspector, "secret", topic: "logs/1")?.rule == "words")
        #expect(check(inspector, "[1,2]", topic: "data/1") == nil)
        #expect(check(inspector, "[1,2]", topic: "data/1")?.ruleIndex == nil)
        #expect(check(inspector, "secret", topic: "logs/1")?.ruleIndex == 2)
    }

    @Test func noRulesInspectNothing() {
        let inspector = MessageInspector(policies: [])
        #expect(inspector.isEmpty)
        var rates = PublishRateLimiter()
        #expect(
            inspector.inspect(
                topic: "t", payload: ByteBuffer(string: "x"), listenerPort: nil, rates: &rates, now: Self.start)
                == nil)
    }

    // MARK: Rates

    @Test func limiterAllowsTheBurstThenRefillsAtTheRate() {
        let rate = InspectionPolicy.Rate(messages: 10, per: .seconds(1), burst: 20)
        var limiter = PublishRateLimiter()
        var now = Self.start
        func admit(rule: Int = 0) -> Bool { limiter.admit(ruleIndex: rule, rate: rate, now: now) }
        for _ in 0..<20 { #expect(admit()) }
        #expect(!admit())
        now = now + .milliseconds(99)
        #expect(!admit())
        now = now + .milliseconds(1)  // one emission interval: one token back
        #expect(admit())
        #expect(!admit())
        now = now + .milliseconds(500)
        for _ in 0..<5 { #expect(admit()) }
        #expect(!admit())
        // A long pause fills the bucket up to the burst, not beyond.
        now = now + .seconds(60)
        for _ in 0..<20 { #expect(admit()) }
        #expect(!admit())
        // Other rules have their own buckets.
        #expect(admit(rule: 3))
    }

    @Test func perMinuteRateWithDefaultBurst() {
        let rate = InspectionPolicy.Rate(messages: 2, per: .minutes(1))
        #expect(rate.burst == 2)
        #expect(rate.description == "2/m burst 2")
        var limiter = PublishRateLimiter()
        func admit(at now: NIODeadline) -> Bool { limiter.admit(ruleIndex: 0, rate: rate, now: now) }
        #expect(admit(at: Self.start))
        #expect(admit(at: Self.start))
        #expect(!admit(at: Self.start + .seconds(29)))
        #expect(admit(at: Self.start + .seconds(30)))
        #expect(!admit(at: Self.start + .seconds(59)))
    }

    /// One connection: the shared inspector and the connection's own limiter.
    final class Publisher {
        var inspector: MessageInspector
        var rates = PublishRateLimiter()

        init(_ inspector: MessageInspector) {
            self.inspector = inspector
        }

        func send(_ payload: String, topic: String = "t", at now: NIODeadline) -> InspectionViolation? {
            inspector.inspect(
                topic: topic, payload: ByteBuffer(string: payload), listenerPort: 1883, rates: &rates, now: now)
        }
    }

    @Test func inspectLimitsThePublishRate() {
        let rate = InspectionPolicy.Rate(messages: 1, per: .seconds(1), burst: 2)
        let inspector = MessageInspector(policies: [InspectionPolicy(name: "slow", topicFilters: ["a/#"], rate: rate)])
        let client = Publisher(inspector)
        #expect(client.send("1", topic: "a/x", at: Self.start) == nil)
        #expect(client.send("2", topic: "a/y", at: Self.start) == nil)
        let refused = client.send("3", topic: "a/x", at: Self.start)
        #expect(refused?.kind == .rateExceeded(rate))
        #expect(refused?.reasonCode == .quotaExceeded)
        #expect(refused?.description == "rule slow: more than 1/s burst 2 messages")
        // Topics the rule does not cover are not limited, nor counted.
        #expect(client.send("4", topic: "b", at: Self.start) == nil)
        #expect(client.send("5", topic: "a/x", at: Self.start + .seconds(1)) == nil)
        // Another connection has its own allowance.
        let other = Publisher(inspector)
        #expect(other.send("6", topic: "a/x", at: Self.start) == nil)
    }

    @Test func aRefusedMessageUsesNoRateAllowance() {
        let rate = InspectionPolicy.Rate(messages: 1, per: .seconds(1), burst: 1)
        let inspector = MessageInspector(policies: [
            InspectionPolicy(name: "limit", rate: rate),
            InspectionPolicy(name: "json", payloadFormat: .json),
        ])
        let client = Publisher(inspector)
        for _ in 0..<5 {
            #expect(client.send("not json", at: Self.start)?.rule == "json")
        }
        #expect(client.send("{}", at: Self.start) == nil)
        #expect(client.send("{}", at: Self.start)?.rule == "limit")
        // `check` ignores rates altogether.
        #expect(inspector.check(topic: "t", payload: ByteBuffer(string: "{}"), listenerPort: 1883) == nil)
    }

    @Test func everyApplicableRateIsCountedOnlyWhenAllAllow() {
        let inspector = MessageInspector(policies: [
            InspectionPolicy(name: "wide", rate: .init(messages: 3, per: .seconds(1), burst: 3)),
            InspectionPolicy(name: "narrow", topicFilters: ["x"], rate: .init(messages: 1, per: .seconds(1), burst: 1)),
        ])
        #expect(inspector.ratedRules(topic: "x", listenerPort: nil) == [0, 1])
        #expect(inspector.ratedRules(topic: "y", listenerPort: nil) == [0])
        let client = Publisher(inspector)
        #expect(client.send("", topic: "x", at: Self.start) == nil)
        #expect(client.send("", topic: "x", at: Self.start)?.rule == "narrow")
        // The refusal by "narrow" did not use "wide": two more fit.
        #expect(client.send("", topic: "y", at: Self.start) == nil)
        #expect(client.send("", topic: "y", at: Self.start) == nil)
        #expect(client.send("", topic: "y", at: Self.start)?.rule == "wide")
    }

    @Test func aNewRuleSetStartsTheBucketsAfresh() {
        let rate = InspectionPolicy.Rate(messages: 1, per: .seconds(1), burst: 1)
        let before = MessageInspector(policies: [InspectionPolicy(name: "a", rate: rate)])
        let client = Publisher(before)
        #expect(client.send("", at: Self.start) == nil)
        #expect(client.send("", at: Self.start) != nil)
        // A reload: the same rules, but a new set; the connection's limiter notices and starts afresh.
        client.inspector = MessageInspector(policies: [InspectionPolicy(name: "a", rate: rate)])
        #expect(client.send("", at: Self.start) == nil)
        #expect(client.send("", at: Self.start) != nil)
    }

    // MARK: Reporting

    final class Recorder: InspectionObserver {
        let rejections = Mutex<[InspectionRejection]>([])

        func messageRejected(_ rejection: InspectionRejection) {
            rejections.withLock { $0.append(rejection) }
        }
    }

    @Test func evaluateCountsAndReportsEveryRefusal() {
        let recorder = Recorder()
        let inspection = MessageInspection(
            inspector: MessageInspector(policies: [
                InspectionPolicy(name: "size", maximumPayloadSize: 4),
                InspectionPolicy(name: "json", payloadFormat: .json),
            ]),
            observer: recorder)
        var rates = PublishRateLimiter()
        func evaluate(_ payload: String) -> InspectionViolation? {
            inspection.evaluate(
                topic: "site/a", payload: ByteBuffer(string: payload), listenerPort: 1883, listenerName: "mqtt:1883",
                clientID: "dev-1", username: "alice", rates: &rates, now: Self.start)
        }
        #expect(evaluate("[1]") == nil)
        #expect(evaluate("12345")?.rule == "size")
        #expect(evaluate("{")?.rule == "json")
        #expect(evaluate("x")?.rule == "json")
        #expect(inspection.statistics.rejected.load(ordering: .relaxed) == 3)
        #expect(inspection.statistics.counts(rule: "size").payloadTooLarge == 1)
        #expect(inspection.statistics.counts(rule: "json").invalidJSON == 2)
        #expect(inspection.statistics.counts(rule: "json").total == 2)
        #expect(inspection.statistics.counts(rule: "none").total == 0)
        #expect(inspection.statistics.byRule.count == 2)
        let rejections = recorder.rejections.withLock { $0 }
        #expect(rejections.count == 3)
        #expect(
            rejections.first
                == InspectionRejection(
                    violation: InspectionViolation(
                        kind: .payloadTooLarge(limit: 4, actual: 5), rule: "size", ruleIndex: 0),
                    clientID: "dev-1", username: "alice", topic: "site/a", listener: "mqtt:1883"))
    }
}

/// A small deterministic generator, so the randomized comparison is the same on every run.
private struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
