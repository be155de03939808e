import Foundation
import RampartModel
import Testing

@testable import FirewallPolicy

/// A configuration and every problem `validate()` must report for it, in order.
struct InvalidConfiguration: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var configuration: FirewallConfiguration
    var errors: [FieldError]

    init(_ name: String, _ configuration: FirewallConfiguration, _ errors: [FieldError]) {
        self.testDescription = name
        self.configuration = configuration
        self.errors = errors
    }

    init(_ name: String, _ configuration: FirewallConfiguration, _ field: String, _ message: String) {
        self.init(name, configuration, [FieldError(field: field, message: message)])
    }
}

extension FirewallConfiguration {
    /// Two valid rules, then `rule`: its problems are reported at `rules[2]`.
    fileprivate static func withRule(_ rule: CustomRule, deviceType: DeviceType = .router) -> FirewallConfiguration {
        var configuration = FirewallConfiguration(deviceType: deviceType)
        configuration.insert(CustomRule(action: .allow, zone: .lan, destinationPort: "443", protocol: .tcp))
        configuration.insert(CustomRule(action: .deny, zone: .lan, source: "192.168.1.66"))
        configuration.insert(rule)
        return configuration
    }

    fileprivate static func withForwards(_ forwards: [NATRule], deviceType: DeviceType = .router)
        -> FirewallConfiguration
    {
        var configuration = FirewallConfiguration(deviceType: deviceType)
        for forward in forwards { configuration.insert(forward) }
        return configuration
    }
}

@Suite("Validation")
struct ValidationTests {
    private static let unidirectionalMessage =
        "a unidirectional gateway admits nothing started from the WAN: rules for the WAN zone need the router device "
        + "type"

    static let invalid: [InvalidConfiguration] = [
        // Custom rules.
        .init(
            "CIDR with host bits", .withRule(CustomRule(action: .allow, zone: .wan, source: "10.0.0.1/8")),
            "rules[2].source", "10.0.0.1/8 has host bits set; the network is 10.0.0.0/8"),
        .init(
            "junk destination", .withRule(CustomRule(action: .deny, zone: .lan, destination: "plc.local")),
            "rules[2].destination", "'plc.local' is not an IPv4 or IPv6 address, network (CIDR) or range"),
        .init(
            "inverted address range",
            .withRule(CustomRule(action: .deny, zone: .lan, destination: "10.0.0.9-10.0.0.1")),
            "rules[2].destination", "the range 10.0.0.9-10.0.0.1 ends before it starts"),
        .init(
            "inverted port range",
            .withRule(CustomRule(action: .allow, zone: .lan, destinationPort: "90-80", protocol: .tcp)),
            "rules[2].destinationPort", "the port range 90-80 is inverted: it ends before it starts"),
        .init(
            "port 0", .withRule(CustomRule(action: .allow, zone: .lan, sourcePort: "0", protocol: .udp)),
            "rules[2].sourcePort", "'0' is not a port (1…65535)"),
        .init(
            "port 65536",
            .withRule(CustomRule(action: .allow, zone: .wan, destinationPort: "65536", protocol: .tcp)),
            "rules[2].destinationPort", "'65536' is not a port (1…65535)"),
        .init(
            "ports with ICMP", .withRule(CustomRule(action: .allow, zone: .wan, destinationPort: "8", protocol: .icmp)),
            "rules[2].destinationPort", "ports apply to TCP and UDP only; this rule's protocol is ICMP"),
        .init(
            "ports with any protocol",
            .withRule(CustomRule(action: .deny, zone: .lan, sourcePort: "53", protocol: .any)),
            "rules[2].sourcePort", "ports apply to TCP and UDP only; this rule's protocol is any"),
        .init(
            "source and destination of different families",
            .withRule(CustomRule(action: .allow, zone: .lan, source: "10.0.0.0/8", destination: "2001:DB8::/32")),
            "rules[2].destination",
            "the source 10.0.0.0/8 and the destination 2001:db8::/32 are of different IP versions"),
        .init(
            "WAN rule on a unidirectional gateway",
            .withRule(CustomRule(action: .allow, zone: .wan, protocol: .icmp), deviceType: .unidirectional),
            "rules[2].zone", unidirectionalMessage),
        .init(
            "comment of 101 characters",
            .withRule(CustomRule(action: .allow, zone: .lan, comment: String(repeating: "x", count: 101))),
            "rules[2].comment", "a comment holds at most 100 characters"),
        .init(
            "comment with a line break", .withRule(CustomRule(action: .allow, zone: .lan, comment: "one\ntwo")),
            "rules[2].comment", "a comment cannot hold control characters"),
        .init(
            "comment with a tab", .withRule(CustomRule(action: .allow, zone: .lan, comment: "one\ttwo")),
            "rules[2].comment", "a comment cannot hold control characters"),
        .init(
            "comment with DEL", .withRule(CustomRule(action: .allow, zone: .lan, comment: "one\u{7F}")),
            "rules[2].comment", "a comment cannot hold control characters"),
        .init(
            "comment with a C1 control", .withRule(CustomRule(action: .allow, zone: .lan, comment: "one\u{85}two")),
            "rules[2].comment", "a comment cannot hold control characters"),
        .init(
            "comment too long and with NUL",
            .withRule(CustomRule(action: .allow, zone: .lan, comment: String(repeating: "é", count: 101) + "\0")),
            [
                FieldError(field: "rules[2].comment", message: "a comment holds at most 100 characters"),
                FieldError(field: "rules[2].comment", message: "a comment cannot hold control characters"),
            ]),
        .init(
            "every problem of one rule",
            .withRule(
                CustomRule(
                    action: .deny, zone: .wan, source: "host", sourcePort: "1-2-3", destination: "::1/200",
                    destinationPort: "22", protocol: .icmp, comment: "\u{1B}[31m")),
            [
                FieldError(
                    field: "rules[2].source",
                    message: "'host' is not an IPv4 or IPv6 address, network (CIDR) or range"),
                FieldError(
                    field: "rules[2].destination", message: "'/200' is not a prefix length (0…128) in '::1/200'"),
                FieldError(
                    field: "rules[2].sourcePort",
                    message: "ports apply to TCP and UDP only; this rule's protocol is ICMP"),
                FieldError(
                    field: "rules[2].destinationPort",
                    message: "ports apply to TCP and UDP only; this rule's protocol is ICMP"),
                FieldError(field: "rules[2].comment", message: "a comment cannot hold control characters"),
            ]),
        // Rule ids.
        .init(
            "duplicate id",
            FirewallConfiguration(
                rules: [CustomRule(id: 1, action: .allow, zone: .lan), CustomRule(id: 1, action: .deny, zone: .lan)],
                nextRuleID: 2),
            "rules[1].id", "rule id 1 is not unique"),
        .init(
            "id never handed out",
            FirewallConfiguration(rules: [CustomRule(id: 5, action: .allow, zone: .lan)], nextRuleID: 5),
            "rules[0].id", "rule id 5 was never handed out"),
        .init(
            "id 0",
            FirewallConfiguration(rules: [CustomRule(id: 0, action: .allow, zone: .lan)], nextRuleID: 1),
            "rules[0].id", "rule id 0 was never handed out"),
        // Lists.
        .init(
            "same list entry twice",
            FirewallConfiguration(allowlist: [ListEntry(address: "192.0.2.1"), ListEntry(address: "192.0.2.1")]),
            "allowlist[1].address", "192.0.2.1 is already entry 1 of the list"),
        .init(
            "same IPv6 entry in two spellings",
            FirewallConfiguration(denylist: [ListEntry(address: "2001:DB8::1"), ListEntry(address: "2001:db8:0:0::1")]),
            "denylist[1].address", "2001:db8::1 is already entry 1 of the list"),
        .init(
            "overlapping list entries",
            FirewallConfiguration(denylist: [
                ListEntry(address: "10.0.0.0/8"), ListEntry(address: "192.0.2.1"),
                ListEntry(address: "10.1.2.3-10.1.2.9"),
            ]),
            "denylist[2].address", "10.1.2.3-10.1.2.9 overlaps entry 1 (10.0.0.0/8); a list holds each address once"),
        .init(
            "list entry with host bits",
            FirewallConfiguration(allowlist: [ListEntry(address: "192.0.3.0/23")]),
            "allowlist[0].address", "192.0.3.0/23 has host bits set; the network is 192.0.2.0/23"),
        .init(
            "list entry comment with a control character",
            FirewallConfiguration(denylist: [ListEntry(address: "198.51.100.66", comment: "bell\u{7}", source: .ips)]),
            "denylist[0].comment", "a comment cannot hold control characters"),
        // Blocked protocols.
        .init(
            "protocol blocked twice", FirewallConfiguration(blockedProtocols: ["modbus", "dnp3", "modbus"]),
            "blockedProtocols", "a protocol is listed twice"),
        // Port forwards.
        .init(
            "forward of any protocol",
            .withForwards([NATRule(protocol: .any, wanPort: "8080", lanAddress: "192.0.2.10")]),
            "natRules[0].protocol", "a port forward is TCP or UDP"),
        .init(
            "forward of ICMP", .withForwards([NATRule(protocol: .icmp, wanPort: "8080", lanAddress: "192.0.2.10")]),
            "natRules[0].protocol", "a port forward is TCP or UDP"),
        .init(
            "forward of port 0", .withForwards([NATRule(protocol: .tcp, wanPort: "0", lanAddress: "192.0.2.10")]),
            "natRules[0].wanPort", "'0' is not a port (1…65535)"),
        .init(
            "forward to IPv6",
            .withForwards([NATRule(protocol: .tcp, wanPort: "8080", lanAddress: "2001:db8::10", lanPort: "80")]),
            "natRules[0].lanAddress", "port forwards are IPv4 only"),
        .init(
            "forward to a name",
            .withForwards([NATRule(protocol: .udp, wanPort: "5000", lanAddress: "plc.local")]),
            "natRules[0].lanAddress", "'plc.local' is not an IPv4 address"),
        .init(
            "forward to a network",
            .withForwards([NATRule(protocol: .udp, wanPort: "5000", lanAddress: "192.0.2.0/24")]),
            "natRules[0].lanAddress", "'192.0.2.0/24' is not an IPv4 address"),
        .init(
            "forward to a LAN port range",
            .withForwards([NATRule(protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10", lanPort: "80-81")]),
            "natRules[0].lanPort", "give one LAN port, or leave it empty to keep the WAN ports"),
        .init(
            "WAN port range with a LAN port",
            .withForwards([NATRule(protocol: .tcp, wanPort: "8000-8010", lanAddress: "192.0.2.10", lanPort: "80")]),
            "natRules[0].lanPort", "a WAN port range (8000-8010) keeps its ports: leave the LAN port empty"),
        .init(
            "forward to LAN port 70000",
            .withForwards([NATRule(protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10", lanPort: "70000")]),
            "natRules[0].lanPort", "'70000' is not a port (1…65535)"),
        .init(
            "overlapping forwards",
            .withForwards([
                NATRule(protocol: .tcp, wanPort: "8000-8010", lanAddress: "192.0.2.10"),
                NATRule(protocol: .udp, wanPort: "8005", lanAddress: "192.0.2.11"),
                NATRule(protocol: .tcp, wanPort: "8005", lanAddress: "192.0.2.12", lanPort: "80"),
            ]),
            "natRules[2].wanPort", "TCP 8005 is already forwarded by port forward 1"),
        .init(
            "forward on a unidirectional gateway",
            .withForwards(
                [NATRule(protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10")], deviceType: .unidirectional),
            "natRules[0]",
            "a unidirectional gateway admits nothing started from the WAN: port forwards need the router device type"),
        .init(
            "forward comment too long",
            .withForwards([
                NATRule(
                    protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10",
                    comment: String(repeating: "w", count: 101))
            ]),
            "natRules[0].comment", "a comment holds at most 100 characters"),
        .init(
            "every problem of one forward",
            .withForwards([
                NATRule(protocol: .any, wanPort: "0", lanAddress: "2001:db8::1", lanPort: "1-2", comment: "a\nb")
            ]),
            [
                FieldError(field: "natRules[0].protocol", message: "a port forward is TCP or UDP"),
                FieldError(field: "natRules[0].wanPort", message: "'0' is not a port (1…65535)"),
                FieldError(field: "natRules[0].lanAddress", message: "port forwards are IPv4 only"),
                FieldError(
                    field: "natRules[0].lanPort", message: "give one LAN port, or leave it empty to keep the WAN ports"),
                FieldError(field: "natRules[0].comment", message: "a comment cannot hold control characters"),
            ]),
    ]

    @Test(arguments: invalid)
    func reportsTheFieldAndTheProblem(_ example: InvalidConfiguration) {
        #expect(example.configuration.validate() == example.errors)
    }

    /// Compiling refuses what validation reports, with the same errors.
    @Test(arguments: invalid)
    func compileRefusesAnInvalidConfiguration(_ example: InvalidConfiguration) {
        do {
            let policy = try PolicyCompiler.compile(
                example.configuration, environment: FirewallEnvironment(), now: Date())
            Issue.record("compiled to \(policy.chains.count) chains")
        } catch {
            #expect(error.errors == example.errors)
            #expect(error.description.contains(example.errors[0].field))
        }
    }

    @Test func unknownBlockedProtocolNamesTheCatalogue() throws {
        let errors = FirewallConfiguration(blockedProtocols: ["modbus", "gopher"]).validate()
        let error = try #require(errors.first)
        #expect(errors.count == 1)
        #expect(error.field == "blockedProtocols[1]")
        #expect(error.message.hasPrefix("'gopher' is not in the catalogue ("))
        for known in ApplicationProtocol.catalogue {
            #expect(error.message.contains(known.id))
        }
    }

    @Test func emptyForwardPortsAreReportedOnTheirFields() {
        let errors = FirewallConfiguration.withForwards([NATRule(protocol: .tcp, wanPort: "", lanAddress: "")])
            .validate()
        #expect(errors.map(\.field) == ["natRules[0].wanPort", "natRules[0].lanAddress"])
    }

    @Test func moreThanAThousandRulesAreRefused() {
        var configuration = FirewallConfiguration()
        for port in 1...1000 {
            configuration.insert(
                CustomRule(action: .allow, zone: .lan, destinationPort: "\(10_000 + port)", protocol: .tcp))
        }
        #expect(configuration.validate().isEmpty)
        configuration.insert(CustomRule(action: .deny, zone: .wan))
        #expect(
            configuration.validate() == [
                FieldError(field: "rules", message: "at most 1000 custom rules are allowed; this change makes 1001")
            ])
    }

    // MARK: What is valid

    /// Everything a router's operator can configure, each in several forms.
    static func richRouter() -> FirewallConfiguration {
        var configuration = FirewallConfiguration(
            deviceType: .router, emergency: false, masquerade: true,
            blockedProtocols: ApplicationProtocol.catalogue.map(\.id),
            allowlist: [
                ListEntry(address: "198.51.100.10", comment: "vendor support"),
                ListEntry(address: "2001:db8:a::/48", expires: Date(timeIntervalSince1970: 1_900_000_000)),
                ListEntry(address: "198.51.100.20-198.51.100.29", source: .discovery),
            ],
            denylist: [
                ListEntry(address: "203.0.113.0/24", source: .ips),
                ListEntry(address: "2001:db8:bad::1", comment: "scanner"),
                // The allowlist wins for it; being on both lists is not a conflict.
                ListEntry(address: "198.51.100.10"),
            ])
        configuration.insert(NATRule(protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10", lanPort: "80"))
        configuration.insert(NATRule(protocol: .udp, wanPort: "5000-5010", lanAddress: "192.0.2.11"))
        // The same port over the other transport is another forward.
        configuration.insert(NATRule(protocol: .udp, wanPort: "8080", lanAddress: "192.0.2.12", comment: "video"))
        // A disabled forward does not claim its port.
        configuration.insert(NATRule(enabled: false, protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.13"))
        for rule in [
            CustomRule(action: .deny, zone: .wan, destinationPort: "22", protocol: .tcp, comment: "no SSH"),
            CustomRule(
                action: .allow, zone: .lan, destination: "198.51.100.0/24", destinationPort: "443", protocol: .tcp),
            CustomRule(action: .allow, zone: .lan, source: "fd00::/8", destination: "2001:db8::/32", protocol: .udp),
            CustomRule(
                action: .allow, zone: .wan, source: "198.51.100.5-198.51.100.9", sourcePort: "1024-65535",
                destinationPort: "502", protocol: .tcp),
            CustomRule(action: .allow, zone: .wan, protocol: .icmp),
            CustomRule(action: .deny, zone: .lan, source: " 192.168.1.66 ", protocol: .any),
            CustomRule(enabled: false, action: .allow, zone: .wan, destinationPort: "3389", protocol: .tcp),
            CustomRule(
                action: .allow, zone: .lan, destinationPort: "1883", protocol: .tcp,
                comment: String(repeating: "ü", count: 100)),
        ] {
            configuration.insert(rule)
        }
        return configuration
    }

    /// A one-way gateway may keep WAN rules and port forwards, disabled, for a later change of device type.
    static func richUnidirectional() -> FirewallConfiguration {
        var configuration = FirewallConfiguration(
            deviceType: .unidirectional, emergency: true, blockedProtocols: ["s7comm", "telnet"],
            allowlist: [ListEntry(address: "192.168.1.50")], denylist: [ListEntry(address: "198.51.100.66")])
        configuration.insert(NATRule(enabled: false, protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10"))
        configuration.insert(CustomRule(action: .allow, zone: .lan, destinationPort: "443", protocol: .tcp))
        configuration.insert(CustomRule(enabled: false, action: .allow, zone: .wan, protocol: .any))
        return configuration
    }

    @Test func aRichRouterConfigurationIsValid() throws {
        let configuration = Self.richRouter()
        #expect(configuration.validate() == [])
        let policy = try PolicyCompiler.compile(configuration, environment: FirewallEnvironment(), now: Date())
        #expect(policy.portForwards.map(\.id) == ["nat:1", "nat:2", "nat:3"])
        // One counter per enabled rule (the disabled rule 7 has none), even for a rule lowered to two.
        #expect(policy.counters.sorted() == ["rule_1", "rule_2", "rule_3", "rule_4", "rule_5", "rule_6", "rule_8"])
        #expect(policy.masquerade == [.wan])
    }

    @Test func aRichUnidirectionalConfigurationIsValid() throws {
        let configuration = Self.richUnidirectional()
        #expect(configuration.validate() == [])
        let policy = try PolicyCompiler.compile(configuration, environment: FirewallEnvironment(), now: Date())
        #expect(policy.portForwards.isEmpty)
        #expect(policy.counters == ["rule_1"])
    }

    @Test func overlapsPassWhenAllowed() throws {
        let configuration = FirewallConfiguration(
            allowlist: [ListEntry(address: "10.0.0.0/8"), ListEntry(address: "10.1.0.0/16")],
            denylist: [ListEntry(address: "192.0.2.1"), ListEntry(address: "192.0.2.1")])
        #expect(configuration.validate().map(\.field) == ["allowlist[1].address", "denylist[1].address"])
        #expect(configuration.validate(allowOverlaps: true) == [])
        let policy = try PolicyCompiler.compile(
            configuration, environment: FirewallEnvironment(), now: Date(), allowOverlaps: true)
        let allowlist = policy.elements(of: .allowlist, family: .ipv4)
        #expect(allowlist.map(\.address.description) == ["10.0.0.0/8", "10.1.0.0/16"])
    }

    @Test func allowingOverlapsStillRefusesWhatDoesNotParse() {
        let configuration = FirewallConfiguration(
            allowlist: [ListEntry(address: "10.0.0.0/8"), ListEntry(address: "10.0.0.1/8")])
        #expect(
            configuration.validate(allowOverlaps: true) == [
                FieldError(
                    field: "allowlist[1].address", message: "10.0.0.1/8 has host bits set; the network is 10.0.0.0/8")
            ])
    }

    @Test func aCommentOfExactlyTheLimitIsKept() {
        let comment = String(repeating: "🔥", count: FirewallConfiguration.maximumCommentLength)
        let configuration = FirewallConfiguration.withRule(CustomRule(action: .allow, zone: .lan, comment: comment))
        #expect(configuration.validate() == [])
    }
}
