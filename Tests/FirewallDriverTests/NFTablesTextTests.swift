import Foundation
import Testing

@testable import FirewallDriver

@Suite("nft text: errors, elements, verification")
struct NFTablesTextTests {
    /// What nft 1.0.6 printed for a misspelt verdict on line 5 of /tmp/bad.nft (the live version of this is in
    /// NFTablesDriverTests.brokenRuleset).
    let syntaxError = """
        /tmp/bad.nft:5:23-23: Error: syntax error, unexpected newline
            tcp dport 22 acept
                              ^

        """

    @Test("the line of nft's first error about the submitted file")
    func errorLine() {
        #expect(FirewallDriverError.errorLine(in: syntaxError, file: "/tmp/bad.nft") == 5)
        #expect(FirewallDriverError.errorLine(in: syntaxError, file: "/tmp/other.nft") == nil)
        #expect(
            FirewallDriverError.errorLine(
                in: "Error: Could not process rule: Operation not permitted", file: "/tmp/bad.nft") == nil)
        let two = "/tmp/a.nft:12:1-3: Error: No such file or directory\n/tmp/a.nft:30:1-3: Error: again\n"
        #expect(FirewallDriverError.errorLine(in: two, file: "/tmp/a.nft") == 12)
    }

    @Test("the error names the phase, the line, its submitted text and nft's message")
    func located() {
        let submitted = ruleset("    chain c {\n        tcp dport 22 acept\n    }\n")
        let error = FirewallDriverError.located(
            phase: .check, stderr: syntaxError, file: "/tmp/bad.nft", submitted: submitted)
        #expect(error.line == 5)
        #expect(error.lineText == "        tcp dport 22 acept")
        #expect(error.message.hasPrefix("/tmp/bad.nft:5:23-23: Error: syntax error"))
        #expect(error.description.contains("check"))
        #expect(error.description.contains("line 5 (tcp dport 22 acept)"))
        #expect(error.description.contains("unexpected newline"))
    }

    @Test("a line number beyond the submitted text keeps the number without a text")
    func lineOutsideText() {
        let error = FirewallDriverError.located(
            phase: .apply, stderr: syntaxError, file: "/tmp/bad.nft", submitted: "one line")
        #expect(error.line == 5 && error.lineText == nil)
    }

    @Test("elements are written with nft's timeout notation and a quoted comment")
    func elementText() {
        #expect(NFTablesText.element(SetElement("192.0.2.5")) == "192.0.2.5")
        #expect(
            NFTablesText.element(SetElement("192.0.2.0/24", timeout: .seconds(5), comment: "scan"))
                == "192.0.2.0/24 timeout 5s comment \"scan\"")
        #expect(NFTablesText.timeout(.milliseconds(1500)) == "1500ms")
        #expect(NFTablesText.timeout(.seconds(3600)) == "3600s")
        #expect(NFTablesText.timeout(.zero) == "1ms")
    }

    @Test("comments cannot end the string or the line, and are cut to 128 bytes on a character boundary")
    func commentSafety() {
        #expect(NFTablesText.comment("say \"hi\"\nnext\tline") == "say 'hi' next line")
        let long = String(repeating: "x", count: 127) + "é"
        let cut = NFTablesText.comment(long)
        #expect(cut == String(repeating: "x", count: 127))
        #expect(NFTablesText.comment(String(repeating: "é", count: 64)).utf8.count == 128)
        #expect(NFTablesText.comment(String(repeating: "é", count: 65)).utf8.count == 128)
    }

    @Test("element values: addresses, prefixes, ranges and numbers; never names or nft syntax")
    func elementValues() {
        for valid in [
            "192.0.2.5", "192.0.2.0/24", "192.0.2.5-192.0.2.9", "2001:db8::/64", "2001:db8::1-2001:db8::9", "22",
        ] {
            #expect(NFTablesText.isElementValue(valid), "\(valid)")
        }
        for invalid in [
            "", "example.com", "dead.beef", "192.0.2.5 }", "192.0.2.5, 192.0.2.6", "1-2-3", "192.0.2.0/", "a/24",
        ] {
            #expect(!NFTablesText.isElementValue(invalid), "\(invalid)")
        }
        #expect(NFTablesText.isIdentifier("blocked_v4"))
        #expect(!NFTablesText.isIdentifier("x { flush ruleset }"))
        #expect(!NFTablesText.isIdentifier("4sets"))
    }

    @Test("an element update is one statement with one element a line")
    func elementsCommand() {
        let text = NFTablesText.elementsCommand(
            verb: "add", family: "inet", table: "rampart", set: "blocked4", elements: ["192.0.2.5", "192.0.2.6"])
        #expect(text == "add element inet rampart blocked4 {\n192.0.2.5,\n192.0.2.6\n}\n")
    }

    @Test("the table's block is cut from a listing of several tables")
    func tableBlock() {
        let listing = """
            table inet other {
            \tchain c {
            \t}
            }
            table inet rampart {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy drop;
            \t}
            }
            table ip rampart {
            }

            """
        let block = NFTablesText.tableBlock(in: listing, family: "inet", table: "rampart")
        #expect(
            block == """
                table inet rampart {
                \tchain forward {
                \t\ttype filter hook forward priority filter; policy drop;
                \t}
                }

                """)
        #expect(NFTablesText.tableBlock(in: listing, family: "inet", table: "absent") == nil)
    }

    @Test("verification names each difference and nothing when the table matches")
    func differences() {
        let listing = TableListing(
            chains: [
                ListedChain(name: "forward", hook: "forward", policy: "drop", ruleComments: ["a", nil]),
                ListedChain(name: "stray"),
            ],
            sets: ["blocked4", "extra"], counters: ["drops": CounterValue(packets: 0, bytes: 0)])
        let expected = ExpectedTable(
            chains: ["forward": 3, "input": 0], sets: ["blocked4", "blocked6"], counters: ["drops"])
        #expect(
            expected.differences(from: listing) == [
                "chain forward has 2 rules, expected 3", "chain input is missing",
                "chain stray is there but not expected",
                "set blocked6 is missing", "set extra is there but not expected",
            ])
        let matching = ExpectedTable(
            chains: ["forward": 2, "stray": 0], sets: ["blocked4", "extra"], counters: ["drops"])
        #expect(matching.differences(from: listing).isEmpty)
    }
}
