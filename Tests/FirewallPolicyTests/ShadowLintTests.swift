import Foundation
import Testing

@testable import FirewallPolicy

/// Two rules and whether the first takes every packet of the second.
struct Cover: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var outer: CustomRule
    var inner: CustomRule
    var covers: Bool

    init(_ name: String, _ outer: CustomRule, _ inner: CustomRule, _ covers: Bool) {
        self.testDescription = name
        self.outer = outer
        self.inner = inner
        self.covers = covers
    }
}

@Suite("Shadowed rules")
struct ShadowLintTests {
    private func configuration(_ rules: [CustomRule]) -> FirewallConfiguration {
        var configuration = FirewallConfiguration()
        for rule in rules { configuration.insert(rule) }
        return configuration
    }

    private static func allow(
        _ protocol: RuleProtocol = .any, _ zone: Zone = .wan, source: String = "", sourcePort: String = "",
        destination: String = "", port: String = ""
    ) -> CustomRule {
        CustomRule(
            action: .allow, zone: zone, source: source, sourcePort: sourcePort, destination: destination,
            destinationPort: port, protocol: `protocol`)
    }

    /// Pairs of allow rules: the second, after the first, is shadowed exactly when the first covers it.
    static let covers: [Cover] = [
        .init("identical rules", allow(.tcp, port: "80"), allow(.tcp, port: "80"), true),
        .init("wider port range", allow(.tcp, port: "80-90"), allow(.tcp, port: "85"), true),
        .init("no ports covers ports", allow(.tcp), allow(.tcp, sourcePort: "1024-65535", port: "443"), true),
        .init("any protocol covers TCP", allow(), allow(.tcp, port: "443"), true),
        .init("any protocol covers ICMP", allow(), allow(.icmp), true),
        .init("wider network", allow(source: "10.0.0.0/8"), allow(.udp, source: "10.1.0.0/16"), true),
        .init(
            "network covers a range", allow(destination: "10.0.0.0/24"), allow(destination: "10.0.0.5-10.0.0.9"), true),
        .init("no address covers IPv6", allow(.tcp), allow(.tcp, source: "2001:db8::/32", port: "22"), true),
        .init(
            "source and destination both wider",
            allow(.udp, source: "198.51.100.0/24", destination: "192.0.2.0/24"),
            allow(.udp, source: "198.51.100.7", destination: "192.0.2.9", port: "53"), true),
        .init("other zone", allow(.tcp, .lan, port: "80"), allow(.tcp, .wan, port: "80"), false),
        .init("other protocol", allow(.tcp, port: "53"), allow(.udp, port: "53"), false),
        .init("TCP does not cover any protocol", allow(.tcp), allow(), false),
        .init("ICMP does not cover TCP", allow(.icmp), allow(.tcp), false),
        .init("other port", allow(.tcp, port: "80"), allow(.tcp, port: "81"), false),
        .init("port range partly outside", allow(.tcp, port: "80-90"), allow(.tcp, port: "85-95"), false),
        .init("ports do not cover no ports", allow(.tcp, port: "1-65535"), allow(.tcp), false),
        .init("source port", allow(.udp, sourcePort: "53"), allow(.udp, port: "53"), false),
        .init("narrower network", allow(source: "10.1.0.0/16"), allow(source: "10.0.0.0/8"), false),
        .init("an address does not cover no address", allow(source: "0.0.0.0/0"), allow(), false),
        .init("IPv4 everything does not cover IPv6", allow(source: "0.0.0.0/0"), allow(source: "2001:db8::1"), false),
        // A rule with an IPv4 source selects IPv4 destinations only, all of which 0.0.0.0/0 holds.
        .init(
            "IPv4-wide destination covers a rule limited to IPv4 by its source", allow(destination: "0.0.0.0/0"),
            allow(source: "10.0.0.1"), true),
        .init(
            "IPv6-wide source covers a rule limited to IPv6 by its destination", allow(.udp, source: "::/0"),
            allow(.udp, destination: "2001:db8::/32", port: "123"), true),
        .init(
            "a narrower destination does not cover a rule without one", allow(destination: "10.0.0.0/8"),
            allow(source: "10.0.0.1"), false),
        .init(
            "an IPv4-wide destination does not cover an IPv6 rule", allow(destination: "0.0.0.0/0"),
            allow(source: "2001:db8::1"), false),
        .init(
            "IPv4 ICMP rule does not cover an ICMP rule of both families", allow(.icmp, source: "0.0.0.0/0"),
            allow(.icmp), false),
        .init(
            "IPv6-wide destination covers a narrower one", allow(.icmp, destination: "::/0"),
            allow(.icmp, source: "2001:db8::1", destination: "2001:db8:1::/48"), true),
        .init("family-wide rule of the same family", allow(source: "::/0"), allow(source: "2001:db8::/32"), true),
    ]

    @Test(arguments: covers)
    func anEarlierRuleOfTheSameActionShadows(_ pair: Cover) {
        let findings = configuration([pair.outer, pair.inner]).shadowedRules()
        if pair.covers {
            #expect(
                findings == [
                    ShadowFinding(
                        ruleID: 2, shadowedBy: 1,
                        message: "Rule 2 can never match: it comes after rule 1, which matches all of its traffic")
                ])
        } else {
            #expect(findings.isEmpty)
        }
    }

    /// The same pairs as deny rules: the deny stage has the same first-match order.
    @Test(arguments: covers)
    func anEarlierDenyShadowsALaterDeny(_ pair: Cover) {
        var outer = pair.outer
        var inner = pair.inner
        outer.action = .deny
        inner.action = .deny
        #expect(configuration([outer, inner]).shadowedRules().map(\.ruleID) == (pair.covers ? [2] : []))
    }

    /// A wider rule after a narrower one of the same action shadows nothing: the narrower one decides first.
    @Test(arguments: covers.filter { $0.covers && $0.outer != $0.inner })
    func aLaterWiderRuleOfTheSameActionDoesNotShadow(_ pair: Cover) {
        #expect(configuration([pair.inner, pair.outer]).shadowedRules().isEmpty)
        var (inner, outer) = (pair.inner, pair.outer)
        inner.action = .deny
        outer.action = .deny
        #expect(configuration([inner, outer]).shadowedRules().isEmpty)
    }

    /// Deny rules run as a stage before the allow rules, so a covering deny rule shadows an allow rule wherever it
    /// stands in the list.
    @Test(arguments: covers, [true, false])
    func aDenyShadowsAnAllowWhereverItStands(_ pair: Cover, denyFirst: Bool) {
        var deny = pair.outer
        deny.action = .deny
        let rules = denyFirst ? [deny, pair.inner] : [pair.inner, deny]
        let findings = configuration(rules).shadowedRules()
        let (denyID, allowID) = denyFirst ? (1, 2) : (2, 1)
        if pair.covers {
            #expect(
                findings == [
                    ShadowFinding(
                        ruleID: allowID, shadowedBy: denyID,
                        message: "Rule \(allowID) can never match: deny rule \(denyID) matches all of its traffic, "
                            + "and deny rules run before allow rules")
                ])
        } else {
            #expect(findings.isEmpty)
        }
    }

    @Test(arguments: covers)
    func anAllowNeverShadowsADeny(_ pair: Cover) {
        var deny = pair.inner
        deny.action = .deny
        #expect(!configuration([pair.outer, deny]).shadowedRules().contains { $0.ruleID == 2 })
    }

    @Test func disabledRulesAreIgnored() {
        var wide = Self.allow(.tcp)
        wide.action = .deny
        wide.enabled = false
        var disabledNarrow = Self.allow(.tcp, port: "443")
        disabledNarrow.enabled = false
        // A disabled deny shadows nothing, and a disabled rule is not reported as shadowed.
        let rules = [wide, Self.allow(.tcp, port: "443"), Self.allow(.tcp, port: "1-1024"), disabledNarrow]
        #expect(configuration(rules).shadowedRules().isEmpty)
        var enabled = configuration(rules)
        enabled.rules[0].enabled = true
        #expect(enabled.shadowedRules().map(\.ruleID) == [2, 3])
        #expect(enabled.shadowedRules().map(\.shadowedBy) == [1, 1])
    }

    @Test func eachShadowedRuleIsReportedOnceAgainstTheFirstCover() {
        var deny = Self.allow(.tcp, port: "1-1024")
        deny.action = .deny
        let rules = [
            Self.allow(.tcp),  // 1
            Self.allow(.tcp, port: "22"),  // 2: covered by 1 and by the deny rule 4
            Self.allow(.udp),  // 3
            deny,  // 4
            Self.allow(.udp, port: "53"),  // 5: covered by 3
        ]
        let findings = configuration(rules).shadowedRules()
        #expect(findings.map(\.ruleID) == [2, 5])
        #expect(findings.map(\.shadowedBy) == [1, 3])
        #expect(findings.map(\.description) == findings.map(\.message))
    }

    /// A rule whose selectors do not parse never reaches the kernel (validation refuses it): it is no wildcard that
    /// shadows the rules after it, and it is not reported itself.
    @Test func aRuleThatDoesNotParseShadowsNothing() {
        let rules = [
            Self.allow(.tcp, source: "10.0.0.1/8"),  // host bits set
            Self.allow(.tcp, source: "10.1.2.3", port: "443"),
            Self.allow(.any, destination: "gateway.example"),
            Self.allow(.udp, port: "53"),
            Self.allow(.tcp, port: "99999"),
        ]
        let configuration = configuration(rules)
        #expect(
            configuration.validate().map(\.field) == [
                "rules[0].source", "rules[2].destination", "rules[4].destinationPort",
            ])
        #expect(configuration.shadowedRules().isEmpty)
    }

    /// What the lint reports agrees with the tracer: the shadowing rule decides the shadowed rule's packets.
    @Test func theShadowingRuleDecidesTheShadowedRulesPackets() throws {
        var deny = Self.allow(.tcp, .wan, source: "198.51.100.0/24")
        deny.action = .deny
        let configuration = configuration([Self.allow(.tcp, .wan, source: "198.51.100.7", port: "443"), deny])
        #expect(configuration.shadowedRules().map(\.ruleID) == [1])
        let policy = try PolicyCompiler.compile(configuration, environment: FirewallEnvironment(), now: Date())
        let packet = PacketDescription(
            ingress: .zone(.wan), egress: .lan, source: try #require(IPAddress("198.51.100.7")),
            destination: try #require(IPAddress("192.168.1.20")), transport: .tcp, sourcePort: 40000,
            destinationPort: 443)
        #expect(policy.explain(packet).ruleID == "rule:2")
    }
}
