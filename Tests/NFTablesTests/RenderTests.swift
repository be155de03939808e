import FirewallPolicy
import Foundation
import Testing

@testable import NFTables

/// What the text of a ruleset holds, read back line by line the way the renderer lays it out (one statement per
/// line, tabs for nesting), independently of the renderer's own bookkeeping.
struct ParsedText {
    var chains: [String: [String]] = [:]
    var chainOrder: [String] = []
    var sets: [String] = []
    var counters: [String] = []
    /// The `elements = { … }` line of each set, without the braces.
    var elements: [String: String] = [:]

    init(_ text: String) {
        var chain: String?
        var set: String?
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("\tchain "), line.hasSuffix(" {") {
                let name = String(line.dropFirst("\tchain ".count).dropLast(2))
                chain = name
                chains[name] = []
                chainOrder.append(name)
            } else if line.hasPrefix("\tset "), line.hasSuffix(" {") {
                let name = String(line.dropFirst("\tset ".count).dropLast(2))
                set = name
                sets.append(name)
            } else if line.hasPrefix("\tcounter "), line.hasSuffix(" {") {
                counters.append(String(line.dropFirst("\tcounter ".count).dropLast(2)))
            } else if line == "\t}" {
                chain = nil
                set = nil
            } else if let name = chain, line.hasPrefix("\t\t"), !line.hasPrefix("\t\ttype ") {
                chains[name, default: []].append(String(line.dropFirst(2)))
            } else if let name = set, line.hasPrefix("\t\telements = { "), line.hasSuffix(" }") {
                elements[name] = String(line.dropFirst("\t\telements = { ".count).dropLast(2))
            }
        }
    }

    /// The rule ids of a chain, from the comments of its rules (nil for a rule without one).
    func comments(_ chain: String) -> [String?] {
        (chains[chain] ?? []).map { rule in
            guard let start = rule.range(of: " comment \"") else { return nil }
            return String(rule[start.upperBound...].dropLast())
        }
    }
}

@Suite struct RenderTests {
    @Test func commentsLoseQuotesAndControlCharactersAndFitNFTsLimit() {
        #expect(NFTText.comment("rule:7") == "rule:7")
        #expect(NFTText.comment("say \"hi\"\tnow\n") == "say hinow")
        #expect(NFTText.comment("caf\u{E9} \u{7F}\u{85}end") == "caf\u{E9} end")
        let ascii = String(repeating: "a", count: 200)
        #expect(NFTText.comment(ascii) == String(repeating: "a", count: NFTText.maximumCommentBytes))
        #expect(NFTText.comment(String(repeating: "b", count: 128)).utf8.count == 128)
        // Two-byte characters: an odd start leaves 127 bytes, where a whole character no longer fits in the last.
        let accented = "a" + String(repeating: "\u{E9}", count: 100)
        let cut = NFTText.comment(accented)
        #expect(cut.utf8.count == 127)
        #expect(cut == "a" + String(repeating: "\u{E9}", count: 63))
        let emoji = String(repeating: "\u{1F525}", count: 40)
        #expect(NFTText.comment(emoji).utf8.count == 128)
        #expect(NFTText.comment("xyz" + emoji).unicodeScalars.count == 3 + 31)
    }

    @Test func aCommentThatIsLeftEmptyIsNotWritten() {
        var text = "accept"
        NFTText.appendComment("\"\"", to: &text)
        #expect(text == "accept")
        NFTText.appendComment("final", to: &text)
        #expect(text == "accept comment \"final\"")
    }

    /// The fast address writer and `AddressSpec.description` agree (IPv6 zero runs at the start, middle and end,
    /// ties, single zero groups, IPv4-mapped).
    @Test func addressesAreWrittenAsTheirCanonicalText() throws {
        let texts = [
            "0.0.0.0", "255.255.255.255", "192.0.2.5", "10.0.0.0/8", "192.0.2.5-192.0.2.9", "::", "::1", "1::",
            "2001:db8::", "2001:db8::1", "2001:db8:0:1:0:0:0:1", "2001:0:0:1:0:0:0:1", "2001:db8:0:0:1:0:0:1",
            "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:0", "fe80::/10", "::ffff:192.0.2.1",
            "2001:db8::1-2001:db8::ff", "0:0:0:0:0:0:0:2", "1:0:1:0:1:0:1:0",
        ]
        for text in texts {
            let spec = try AddressSpec.parse(text).get()
            var written = ""
            NFTText.appendAddress(spec, to: &written)
            #expect(written == spec.description, "\(text)")
        }
        // A spread of values, every bit pattern of zero groups among them.
        for pattern in 0..<256 {
            let value = (0..<8).reduce(UInt128(0)) { value, group in
                let word: UInt128 = pattern & (1 << group) == 0 ? 0 : UInt128(0x1000 + group * 0x111 + pattern)
                return value << 16 | word
            }
            let address = IPAddress(family: .ipv6, value: value)
            var written = ""
            NFTText.appendAddress(address, to: &written)
            #expect(written == address.description)
        }
    }

    @Test func durationsUseTheLargestUnits() {
        func duration(_ seconds: Int) -> String {
            var text = ""
            NFTText.appendDuration(seconds: seconds, to: &text)
            return text
        }
        #expect(duration(1) == "1s")
        #expect(duration(59) == "59s")
        #expect(duration(3_600) == "1h")
        #expect(duration(90_061) == "1d1h1m1s")
        // nft refuses a number of more than eight digits; a century has to be days.
        #expect(duration(100 * 365 * 86_400) == "36500d")
    }

    /// A lifetime beyond what the kernel can hold is written as none.
    @Test func anOverlongLifetimeIsWrittenWithoutTimeout() throws {
        var policy = try PolicyCompiler.compile(
            FirewallConfiguration(), environment: FirewallEnvironment(), now: Scenario.now)
        let spec = try AddressSpec.parse("192.0.2.1").get()
        policy.sets[0].elements = [
            CompiledSetElement(address: spec, timeoutSeconds: NFTText.maximumTimeoutSeconds + 1, comment: "long"),
            CompiledSetElement(
                address: try AddressSpec.parse("192.0.2.2").get(), timeoutSeconds: NFTText.maximumTimeoutSeconds),
        ]
        let parsed = ParsedText(NFTablesCompiler.render(policy).text)
        #expect(parsed.elements[policy.sets[0].name] == "192.0.2.1 comment \"long\", 192.0.2.2 timeout 200000d")
    }

    /// The manifest says what the text holds: every chain with its number of rules, the sets and the counters; and
    /// every stage of every path has its chain, with or without rules.
    @Test(arguments: Scenario.all)
    func manifestMatchesTheText(_ scenario: Scenario) throws {
        let policy = try scenario.policy()
        let ruleset = NFTablesCompiler.render(policy)
        let parsed = ParsedText(ruleset.text)
        #expect(ruleset.chains == parsed.chains.mapValues(\.count))
        #expect(ruleset.sets == parsed.sets)
        #expect(ruleset.counters == parsed.counters)
        #expect(ruleset.sets == policy.sets.map(\.name))
        #expect(ruleset.counters == policy.counters)

        var expectedChains: Set<String> = ["dstnat", "srcnat", "input", "forward"]
        for chain in policy.chains {
            expectedChains.insert(chain.name)
            for stage in chain.stages { expectedChains.insert(NFTablesCompiler.chainName(chain, stage.stage)) }
        }
        #expect(Set(parsed.chainOrder) == expectedChains)
        #expect(parsed.chainOrder.count == expectedChains.count)

        // Every compiled rule is in its stage chain, in order, known by its id.
        for chain in policy.chains {
            for stage in chain.stages {
                let name = NFTablesCompiler.chainName(chain, stage.stage)
                #expect(parsed.comments(name) == stage.rules.map(\.id), "\(name)")
            }
        }
        #expect(parsed.comments("dstnat") == policy.portForwards.map(\.id))
        #expect(parsed.comments("srcnat") == policy.masquerade.map { _ in "masquerade" })
    }

    /// A zone without interfaces can send nothing: its rules are left out (nft has no empty interface set), and
    /// the unidirectional dispatch skips it.
    @Test func aZoneWithoutInterfacesLeavesItsRulesOut() throws {
        var configuration = FirewallConfiguration(deviceType: .unidirectional)
        configuration.insert(CustomRule(action: .allow, zone: .lan, protocol: .tcp))
        let policy = try PolicyCompiler.compile(
            configuration, environment: FirewallEnvironment(lanInterfaces: [], wanInterfaces: []), now: Scenario.now)
        let ruleset = NFTablesCompiler.render(policy)
        let parsed = ParsedText(ruleset.text)
        #expect(!ruleset.text.contains("{  }"))
        #expect(parsed.chains["input"] == ["iifname { \"lo\" } jump input_internal"])
        #expect(parsed.comments("forward_internal_custom_allow") == [])
        #expect(parsed.comments("input_internal_diagnostic_allow").first == "preset:loopback")
        #expect(ruleset.chains == parsed.chains.mapValues(\.count))
    }

    /// A family that only the transport gives (ICMP without addresses or types) is written out, since the
    /// kernel's `meta l4proto icmp` alone would also select IPv6 packets carrying protocol 1.
    @Test func aFamilyOnlyTheTransportImpliesIsWrittenOut() {
        var match = Match()
        match.transport = .icmp
        let rule = CompiledRule(id: "rule:1", match: match, verdict: .drop, summary: "")
        #expect(
            RuleStatement.text(rule, environment: FirewallEnvironment())
                == "meta nfproto ipv4 meta l4proto icmp drop comment \"rule:1\"")
        match.icmpTypes = ["echo-request"]
        let typed = CompiledRule(id: "rule:1", match: match, verdict: .drop, summary: "")
        #expect(
            RuleStatement.text(typed, environment: FirewallEnvironment())
                == "icmp type echo-request drop comment \"rule:1\"")
        var ported = Match()
        ported.destinationPorts = [PortRange(53)]
        let either = CompiledRule(id: "x", match: ported, verdict: .accept, summary: "")
        #expect(
            RuleStatement.text(either, environment: FirewallEnvironment())
                == "meta l4proto { tcp, udp } th dport 53 accept comment \"x\"")
    }

    /// The largest policy the configuration allows, with a hundred thousand list entries, renders completely.
    /// The time is printed for the record, not asserted.
    @Test func aThousandRulesAndAHundredThousandElementsRender() throws {
        var configuration = FirewallConfiguration()
        let protocols: [RuleProtocol] = [.tcp, .udp, .any, .icmp]
        for index in 0..<FirewallConfiguration.maximumRules {
            let ruleProtocol = protocols[index % protocols.count]
            configuration.insert(
                CustomRule(
                    action: index.isMultiple(of: 2) ? .deny : .allow, zone: index.isMultiple(of: 3) ? .wan : .lan,
                    source: "10.\(index / 256).\(index % 256).0/24",
                    destinationPort: ruleProtocol == .tcp || ruleProtocol == .udp ? "\(1_000 + index)" : "",
                    protocol: ruleProtocol, comment: "rule number \(index)"))
        }
        var policy = try PolicyCompiler.compile(configuration, environment: FirewallEnvironment(), now: Scenario.now)
        let elementCount = 100_000
        policy.sets[0].elements = (0..<elementCount).map { index in
            let value = UInt128(0x0A00_0000 + index * 4)
            let address = IPAddress(family: .ipv4, value: value)
            let spec: AddressSpec =
                switch index % 3 {
                case 0: .host(address)
                case 1: .network(address, prefixLength: 30)
                default: .range(address, IPAddress(family: .ipv4, value: value + 2))
                }
            return CompiledSetElement(
                address: spec, timeoutSeconds: index.isMultiple(of: 2) ? 3_600 + index : nil,
                comment: index.isMultiple(of: 5) ? "ips" : "")
        }

        let clock = ContinuousClock()
        var ruleset: Ruleset?
        let duration = clock.measure { ruleset = NFTablesCompiler.render(policy) }
        let rendered = try #require(ruleset)
        print("Rendering 1,000 custom rules and \(elementCount) set elements took \(duration)")

        let parsed = ParsedText(rendered.text)
        let elements = try #require(parsed.elements[policy.sets[0].name]).split(separator: ", ")
        #expect(elements.count == elementCount)
        for index in [0, 1, 2, 49_999, elementCount - 1] {
            let element = policy.sets[0].elements[index]
            #expect(elements[index].hasPrefix(element.address.description + (element.timeoutSeconds == nil ? "" : " ")))
        }
        let customRules = policy.chains.flatMap { $0.stages.flatMap(\.rules) }.filter { $0.counter != nil }
        let customLines = parsed.chains.values.joined().filter { $0.contains(" comment \"rule:") }
        #expect(customLines.count == customRules.count)
        #expect(rendered.counters.count == FirewallConfiguration.maximumRules)
        #expect(rendered.chains == parsed.chains.mapValues(\.count))
    }
}
