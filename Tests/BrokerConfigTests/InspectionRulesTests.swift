import BrokerConfig
import MQTTCodec
import Testing

/// `inspection.conf` (SPEC BRK-5): the model a valid file gives, and the exact diagnostic of each broken one.
@Suite struct InspectionRulesTests {
    static let file = "/profiles/iot/inspection.conf"

    func parse(_ text: String) -> (rules: InspectionRules?, diagnostics: [ConfigurationDiagnostic]) {
        InspectionRulesLoader.parse(text, file: Self.file)
    }

    @Test func validFileGivesTheModel() throws {
        let text = """
            # Rules are checked in order; a message must pass every rule that applies to it.
            rule telemetry                 # starts a rule
            listener 1883                  # only this listener
            topic sensors/#                # repeatable
            topic "plant floor/+/temp"
            max_payload 4096               # bytes
            payload json
            deny_pattern "DROP TABLE"      # repeatable
            deny_pattern "say \\"hi\\"\\\\\\n\\xff"
            deny_pattern_hex 00ff13
            rate 10/s burst 20

              # an indented comment
            rule commands.v2
            topic #                        # every topic
            payload utf8
            rate 30/m
            rule size-only
            max_payload 0
            """
        let result = parse(text)
        #expect(result.diagnostics.isEmpty)
        let rules = try #require(result.rules).rules
        #expect(rules.count == 3)
        #expect(
            rules[0]
                == InspectionRule(
                    name: "telemetry", line: 2, listenerPort: 1883, topicFilters: ["sensors/#", "plant floor/+/temp"],
                    maxPayload: 4096, payloadFormat: .json,
                    denyPatterns: [
                        Array("DROP TABLE".utf8), Array("say \"hi\"\\\n".utf8) + [0xFF], [0x00, 0xFF, 0x13],
                    ],
                    rate: .init(messages: 10, per: .second, burst: 20)))
        #expect(
            rules[1]
                == InspectionRule(
                    name: "commands.v2", line: 14, topicFilters: ["#"], payloadFormat: .utf8,
                    rate: .init(messages: 30, per: .minute)))
        #expect(rules[1].rate?.burst == 30)
        #expect(rules[1].rate?.description == "30/m burst 30")
        #expect(rules[2] == InspectionRule(name: "size-only", line: 18, maxPayload: 0))
    }

    @Test func emptyFileAndCommentsOnlyGiveNoRules() throws {
        #expect(parse("").rules == InspectionRules())
        let result = parse("# nothing yet\r\n\r\n   \t\n")
        #expect(result.diagnostics.isEmpty)
        #expect(try #require(result.rules).isEmpty)
    }

    @Test func windowsLineEndingsAreAccepted() throws {
        let result = parse("rule a\r\nmax_payload 10\r\ntopic a/b\r\n")
        #expect(result.diagnostics.isEmpty)
        #expect(result.rules?.rules == [InspectionRule(name: "a", line: 1, topicFilters: ["a/b"], maxPayload: 10)])
    }

    static let broken: [(text: String, expected: String)] = [
        (
            "rule a\nmax_payload 1\nbogus 1",
            "3: unknown keyword \"bogus\"; expected rule, listener, topic, "
                + "max_payload, payload, deny_pattern, deny_pattern_hex or rate"
        ),
        ("max_payload 10\nrule a\nmax_payload 1", "1: max_payload: outside a rule; start one with \"rule NAME\" first"),
        ("rule a\nmax_payload 4k", "2: max_payload: \"4k\" is not a number"),
        ("rule a\nmax_payload 300000000", "2: max_payload: 300000000 is out of range (0 to 268435455)"),
        ("rule a\nmax_payload", "2: max_payload: missing value"),
        ("rule a\nmax_payload # no value", "2: max_payload: missing value"),
        (
            "rule a\nmax_payload 1\nmax_payload 2",
            "3: max_payload: duplicate in rule a (first set at line 2); remove one"
        ),
        (
            "rule a\nmax_payload 10 bytes",
            "2: max_payload: unexpected \"bytes\" after the value; a comment after a value starts with \"#\""
        ),
        ("rule a\nlistener 70000", "2: listener: 70000 is out of range (1 to 65535)"),
        ("rule a\nlistener mqtt", "2: listener: \"mqtt\" is not a port number"),
        (
            "rule a\nmax_payload 1\ntopic a/#/b",
            "3: topic: \"a/#/b\" is not a valid topic filter: '#' must be the whole last level of a topic filter "
                + "[MQTT-4.7.1-1]"
        ),
        (
            "rule a\nmax_payload 1\ntopic a+",
            "3: topic: \"a+\" is not a valid topic filter: '+' must occupy a whole level of a topic filter "
                + "[MQTT-4.7.1-2]"
        ),
        (
            "rule a\nmax_payload 1\ntopic $share/g/a/#",
            "3: topic: \"$share/g/a/#\" is a shared subscription filter; messages are published to topics, write "
                + "the filter without $share/GROUP/"
        ),
        (
            "rule a\ndeny_pattern \"a\\qb\"",
            "2: deny_pattern: unknown escape \"\\q\"; use \\\" \\\\ \\n \\r \\t or \\xHH"
        ),
        ("rule a\ndeny_pattern \"\\x4\"", "2: deny_pattern: \"\\x\" must be followed by two hex digits"),
        ("rule a\ndeny_pattern \"DROP TABLE", "2: deny_pattern: unterminated quoted string"),
        (
            "rule a\ndeny_pattern \"DROP\"TABLE",
            "2: deny_pattern: text right after the closing quote; separate values with blanks"
        ),
        ("rule a\ndeny_pattern DROP", "2: deny_pattern: the pattern must be quoted, e.g. deny_pattern \"DROP\""),
        ("rule a\ndeny_pattern \"\"", "2: deny_pattern: empty pattern; it would match every message"),
        ("rule a\ndeny_pattern_hex 0ff", "2: deny_pattern_hex: \"0ff\" has an odd number of hex digits (two per byte)"),
        ("rule a\ndeny_pattern_hex 0g", "2: deny_pattern_hex: \"0g\" is not hexadecimal (two digits 0-9a-f per byte)"),
        ("rule a\npayload xml", "2: payload: \"xml\" is not one of utf8, json"),
        (
            "rule a\nrate 10/h",
            "2: rate: \"10/h\" is not a rate; write N/s or N/m (messages per second or per minute), "
                + "e.g. 10/s"
        ),
        ("rule a\nrate 0/s", "2: rate: 0 is out of range (1 to 1000000)"),
        ("rule a\nrate 10/s burst", "2: rate: missing value"),
        ("rule a\nrate 10/s burst 0", "2: rate: burst 0 is out of range (1 to 1000000)"),
        ("rule a\nrate 10/s every 2", "2: rate: unexpected \"every\" after the rate; write rate N/s burst B"),
        (
            "rule bad!name\nmax_payload 1",
            "1: rule: name \"bad!name\" may only contain letters, digits, '.', '_' and '-'"
        ),
        ("rule\nmax_payload 1", "1: rule: missing value"),
        (
            "rule a b\nmax_payload 1",
            "1: rule: unexpected \"b\" after the value; a comment after a value starts with \"#\""
        ),
        ("rule a\nmax_payload 1\nrule a\nmax_payload 2", "3: duplicate rule name \"a\" (first at line 1)"),
        (
            "rule a\nlistener 1883\ntopic x/#",
            "1: rule a checks nothing; add max_payload, payload, deny_pattern, deny_pattern_hex or rate"
        ),
    ]

    @Test(arguments: broken)
    func brokenSnippetIsReportedAtItsLine(text: String, expected: String) {
        let result = parse(text)
        #expect(result.rules == nil)
        #expect(result.diagnostics.map(\.description) == ["\(Self.file):\(expected)"])
        #expect(result.diagnostics.allSatisfy { $0.severity == .error })
    }

    /// A rule whose lines had errors is not also said to check nothing: that would only repeat them.
    @Test func everyProblemIsReportedInLineOrder() {
        let text = """
            topic a
            rule one
            topic a/#/b
            rule two
            max_payload -1
            payload yaml
            rule one
            rate 5/s
            """
        let result = parse(text)
        #expect(result.rules == nil)
        #expect(
            result.diagnostics.map(\.description) == [
                "\(Self.file):1: topic: outside a rule; start one with \"rule NAME\" first",
                "\(Self.file):3: topic: \"a/#/b\" is not a valid topic filter: '#' must be the whole last level of a "
                    + "topic filter [MQTT-4.7.1-1]",
                "\(Self.file):5: max_payload: -1 is out of range (0 to 268435455)",
                "\(Self.file):6: payload: \"yaml\" is not one of utf8, json",
                "\(Self.file):7: duplicate rule name \"one\" (first at line 2)",
            ])
    }

    @Test func aCommentMayHoldAnything() throws {
        let result = parse("rule a # \"unbalanced \\q\nmax_payload 1 #\"")
        #expect(result.diagnostics.isEmpty)
        #expect(try #require(result.rules).rules.map(\.name) == ["a"])
    }

    @Test func theFileIsOptionalInAProfile() throws {
        let profile = "/profiles/iot"
        let without = InMemorySource(["/profiles/iot/mosquitto.conf": ""])
        let absent = InspectionRulesLoader.load(profileDirectory: profile, source: without)
        #expect(absent.diagnostics.isEmpty)
        #expect(absent.rules == InspectionRules())

        let with = InMemorySource([
            "/profiles/iot/mosquitto.conf": "",
            "/profiles/iot/inspection.conf": "rule a\nmax_payload x\n",
        ])
        let present = InspectionRulesLoader.load(profileDirectory: profile + "/", source: with)
        #expect(present.rules == nil)
        #expect(present.diagnostics.map(\.description) == ["\(Self.file):2: max_payload: \"x\" is not a number"])
    }

    @Test func aListenerPortThatNoListenerHasIsWarnedAbout() throws {
        let configuration = try #require(
            ConfigurationLoader.load(
                mainFile: "/profiles/iot/mosquitto.conf",
                source: InMemorySource([
                    "/profiles/iot/mosquitto.conf": "listener 1883\nallow_anonymous true\nlistener 8883\n"
                ])
            ).configuration)
        let rules = try #require(parse("rule a\nlistener 1883\nmax_payload 1\nrule b\nlistener 1884\nrate 1/s\n").rules)
        let warnings = InspectionRulesLoader.validate(rules, file: Self.file, against: configuration)
        #expect(
            warnings.map(\.description) == [
                "\(Self.file):4: rule b: no listener of mosquitto.conf has port 1884 (listening on 1883, 8883); the "
                    + "rule never applies"
            ])
        #expect(warnings.allSatisfy { $0.severity == .warning })
    }
}
