import Foundation
import NetConfig
import Testing

@testable import FirewallDriver

/// Against the kernel, each test in a network namespace of its own (see `withTestNamespace`).
// Root with nft and ip only: CI runs as root with nftables and iproute2 installed by scripts/setup; elsewhere these
// tests show as skipped.
@Suite("nft driver against the kernel", .enabled(if: canChangeFirewall, "needs root, nft and ip"))
struct NFTablesDriverTests {
    @Test("apply, read back, verify; list, count and delete the table")
    func applyAndReadBack() async throws {
        try await withTestNamespace { namespace in
            let driver = NFTablesDriver(namespace: namespace)
            #expect(try await driver.listTable() == nil)
            let applied = try await driver.apply(ruleset(sampleBody), expecting: sampleExpected)
            #expect(applied.chains.map(\.name) == ["forward", "lan_out", "output"])
            #expect(applied.chains[0].ruleComments == ["established", "blocked v4 sources", nil, nil])
            #expect(applied.chains[0].hook == "forward" && applied.chains[0].policy == "drop")
            #expect(applied.listing.sets.sorted() == ["blocked4", "blocked6"])
            #expect(applied.text.hasPrefix("table inet rampart {"))
            #expect(applied.text.contains("comment \"lan out\""))
            #expect(await driver.lastApplied == ruleset(sampleBody))

            let counters = try await driver.counters()
            #expect(counters["lan_drop"] == CounterValue(packets: 0, bytes: 0))
            let listed = try #require(try await driver.listTable())
            #expect(listed.contains("set blocked6"))

            try await driver.deleteTable()
            #expect(try await driver.listTable() == nil)
            try await driver.deleteTable()
        }
    }

    @Test("a counter counts what its rule matched")
    func countersCount() async throws {
        try await withTestNamespace { namespace in
            let driver = NFTablesDriver(namespace: namespace)
            _ = try await driver.apply(ruleset(sampleBody), expecting: sampleExpected)
            try await inNamespace(namespace, [IPRoute2().executable, "link", "set", "lo", "up"])
            try await inNamespace(namespace, ["ping", "-c", "2", "-W", "1", "127.0.0.1"])
            let pings = try #require(try await driver.counters()["pings"])
            #expect(pings.packets >= 2 && pings.bytes > 0)
            #expect(try await driver.counters()["lan_drop"]?.packets == 0)
        }
    }

    @Test("a syntax error names its line and that line's text; the previous ruleset stays")
    func brokenRuleset() async throws {
        try await withTestNamespace { namespace in
            let driver = NFTablesDriver(namespace: namespace)
            _ = try await driver.apply(ruleset(sampleBody), expecting: sampleExpected)
            let badLine = "        tcp dport 22 acept comment \"broken\""
            let broken = ruleset(
                "    chain forward {\n        type filter hook forward priority 0;\n\(badLine)\n    }\n")
            let lineNumber = try #require(broken.split(separator: "\n").firstIndex(of: Substring(badLine))) + 1
            do throws(FirewallDriverError) {
                _ = try await driver.apply(broken, expecting: ExpectedTable(chains: ["forward": 1]))
                Issue.record("a broken ruleset was applied")
            } catch {
                #expect(error.phase == .check)
                #expect(error.line == lineNumber)
                #expect(error.lineText == badLine)
                #expect(error.message.contains("syntax error"))
                #expect(error.description.contains("line \(lineNumber)"))
            }
            let listed = try #require(try await driver.listTable())
            #expect(listed.contains("comment \"lan out\""))
            #expect(!listed.contains("broken"))
            #expect(await driver.lastApplied == ruleset(sampleBody))
        }
    }

    @Test("a table that is not the expected one is replaced by the previous ruleset")
    func verifyMismatchRestores() async throws {
        try await withTestNamespace { namespace in
            let driver = NFTablesDriver(namespace: namespace)
            _ = try await driver.apply(ruleset(sampleBody), expecting: sampleExpected)
            let other = ruleset(
                """
                    chain input {
                        type filter hook input priority 0;
                        accept comment "other"
                    }

                """)
            var expected = ExpectedTable(chains: ["input": 1, "ghost": 2])
            do throws(FirewallDriverError) {
                _ = try await driver.apply(other, expecting: expected)
                Issue.record("a ruleset without the expected chain passed the verification")
            } catch {
                #expect(error.phase == .verify)
                #expect(error.message.contains("chain ghost is missing"))
                #expect(error.message.contains("previous ruleset was put back"))
            }
            let listed = try #require(try await driver.listTable())
            #expect(listed.contains("comment \"lan out\""))
            #expect(!listed.contains("other"))

            // The same ruleset passes when the expectation matches it.
            expected.chains["ghost"] = nil
            let applied = try await driver.apply(other, expecting: expected)
            #expect(applied.chains.map(\.ruleComments) == [["other"]])
        }
    }

    @Test("without a previous ruleset, a failed verification removes the table")
    func verifyMismatchWithoutPrevious() async throws {
        try await withTestNamespace { namespace async throws in
            let driver = NFTablesDriver(namespace: namespace)
            var expected = sampleExpected
            expected.chains["forward"] = 5
            do throws(FirewallDriverError) {
                _ = try await driver.apply(ruleset(sampleBody), expecting: expected)
                Issue.record("a rule count that differs passed the verification")
            } catch {
                #expect(error.phase == .verify)
                #expect(error.message.contains("chain forward has 4 rules, expected 5"))
            }
            #expect(try await driver.listTable() == nil)
        }
    }

    @Test("elements are added and deleted with timeouts and comments; a 1 s element expires")
    func elements() async throws {
        try await withTestNamespace { namespace in
            let driver = NFTablesDriver(namespace: namespace)
            _ = try await driver.apply(ruleset(sampleBody), expecting: sampleExpected)
            try await driver.addElements(
                [
                    SetElement("192.0.2.5", timeout: .seconds(1), comment: "short \"lived\""),
                    SetElement("198.51.100.0/28", timeout: .seconds(3600), comment: "scanner"),
                    SetElement("203.0.113.5-203.0.113.9"),
                ], to: "blocked4")
            try await driver.addElements([SetElement("2001:db8::/64", comment: "v6")], to: "blocked6")

            let listed = try await driver.elements(of: "blocked4")
            #expect(Set(listed.map(\.text)).isSuperset(of: ["198.51.100.0/28", "203.0.113.5-203.0.113.9"]))
            let scanner = try #require(listed.first { $0.text == "198.51.100.0/28" })
            #expect(scanner.comment == "scanner")
            #expect(scanner.timeout == .seconds(3600))
            #expect(try #require(scanner.expires) <= .seconds(3600))
            #expect(try await driver.elements(of: "blocked6") == [ListedElement(text: "2001:db8::/64", comment: "v6")])
            // Listed at once, unless this machine was slower than the element's 1 s.
            if let shortLived = listed.first(where: { $0.text == "192.0.2.5" }) {
                #expect(shortLived.comment == "short 'lived'")
            }

            #expect(
                try await eventually { try await !driver.elements(of: "blocked4").contains { $0.text == "192.0.2.5" } })

            try await driver.deleteElements(["198.51.100.0/28"], from: "blocked4")
            #expect(try await driver.elements(of: "blocked4").map(\.text) == ["203.0.113.5-203.0.113.9"])
            // The rules were not touched.
            #expect(try await driver.listing()?.chains.map(\.ruleComments.count) == [4, 1, 1])
        }
    }

    @Test("a refused set update changes nothing and names the element's line")
    func refusedSetUpdate() async throws {
        try await withTestNamespace { namespace in
            let driver = NFTablesDriver(namespace: namespace)
            _ = try await driver.apply(ruleset(sampleBody), expecting: sampleExpected)
            do throws(FirewallDriverError) {
                try await driver.addElements([SetElement("192.0.2.5"), SetElement("2001:db8::1")], to: "blocked4")
                Issue.record("an IPv6 address was added to an IPv4 set")
            } catch {
                #expect(error.phase == .setUpdate)
                #expect(error.line == 3)
                #expect(error.lineText == "2001:db8::1")
            }
            #expect(try await driver.elements(of: "blocked4").isEmpty)
            do throws(FirewallDriverError) {
                try await driver.addElements([SetElement("example.com")], to: "blocked4")
                Issue.record("a host name was handed to nft")
            } catch {
                #expect(error.phase == .setUpdate && error.message.contains("example.com"))
            }
            do throws(FirewallDriverError) {
                try await driver.addElements([SetElement("192.0.2.5")], to: "blocked4 { }")
                Issue.record("a set name with nft syntax was handed to nft")
            } catch {
                #expect(error.phase == .setUpdate)
            }
        }
    }

    @Test("10,000 elements in one call")
    func manyElements() async throws {
        try await withTestNamespace { namespace in
            let driver = NFTablesDriver(namespace: namespace)
            _ = try await driver.apply(ruleset(sampleBody), expecting: sampleExpected)
            let elements = (0..<10_000).map { index in
                SetElement(
                    "10.\(index / 65_536).\(index / 256 % 256).\(index % 256)", timeout: .seconds(600),
                    comment: "n\(index)")
            }
            try await driver.addElements(elements, to: "blocked4")
            let listed = try await driver.elements(of: "blocked4")
            #expect(listed.count == 10_000)
            #expect(Set(listed.compactMap(\.comment)) == Set(elements.compactMap(\.comment)))
            // The verification's listing leaves the elements out.
            #expect(try await driver.listing()?.sets.sorted() == ["blocked4", "blocked6"])
        }
    }

    @Test("nft's JSON decodes to what the ruleset defines")
    func decodesLiveJSON() async throws {
        try await withTestNamespace { namespace in
            let nft = NFTablesDriver(namespace: namespace).executable
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-json-\(namespace).nft")
            try Data(ruleset(sampleBody).utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            try await inNamespace(namespace, [nft, "-f", file.path])
            // A second table of the same family must not leak into the listing.
            try await inNamespace(namespace, [nft, "add table inet other; add chain inet other c"])
            try await inNamespace(
                namespace,
                [
                    nft, "add element inet rampart blocked4",
                    "{ 192.0.2.1 timeout 60s comment \"one\", 192.0.2.8/29, 192.0.2.20-192.0.2.30 }",
                ])

            let ruleset = Data(try await inNamespace(namespace, [nft, "-j", "-t", "list", "ruleset", "inet"]).utf8)
            let listing = try #require(try NFTablesJSON.tableListing(ruleset, family: "inet", table: "rampart"))
            #expect(listing.chains.map(\.name) == ["forward", "lan_out", "output"])
            #expect(listing.chains.map(\.ruleComments.count) == [4, 1, 1])
            #expect(listing.chains[2].ruleComments == ["pings"])
            #expect(listing.chains[1].hook == nil)
            #expect(Set(listing.counters.keys) == ["lan_drop", "pings"])
            #expect(sampleExpected.differences(from: listing).isEmpty)
            #expect(try NFTablesJSON.tableListing(ruleset, family: "inet", table: "absent") == nil)
            let other = try #require(try NFTablesJSON.tableListing(ruleset, family: "inet", table: "other"))
            #expect(other.chains.map(\.name) == ["c"])

            let set = Data(
                try await inNamespace(namespace, [nft, "-j", "list", "set", "inet", "rampart", "blocked4"]).utf8)
            let elements = try NFTablesJSON.setElements(set)
            #expect(elements.map(\.text) == ["192.0.2.1", "192.0.2.8/29", "192.0.2.20-192.0.2.30"])
            #expect(elements[0].comment == "one" && elements[0].timeout == .seconds(60))
            #expect(elements[1].timeout == nil && elements[1].comment == nil)
        }
    }
}
