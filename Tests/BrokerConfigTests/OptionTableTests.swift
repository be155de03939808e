import BrokerConfig
import Foundation
import Testing

/// The parser's option table, docs/mosquitto-options.md and the Mosquitto 2.0 manual must agree.
@Suite struct OptionTableTests {
    static let beginMarker = "<!-- BEGIN OPTION TABLE: generated from MosquittoOptions.all by OptionTableTests -->"
    static let endMarker = "<!-- END OPTION TABLE -->"

    /// `Fixtures/mosquitto-2.0-options.txt`: the option headings of mosquitto.conf(5), Mosquitto 2.0.11.
    func manualOptions() throws -> [String] {
        let text = try String(
            contentsOf: Fixtures.directory.appendingPathComponent("mosquitto-2.0-options.txt"), encoding: .utf8)
        return text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    @Test func everyManualOptionIsInTheParserTable() throws {
        let names = try manualOptions()
        #expect(names.count >= 100)
        for name in names {
            #expect(MosquittoOptions.all.contains { $0.name == name }, "\(name) is not in MosquittoOptions.all")
        }
    }

    @Test func everyOptionOutsideTheManualSaysWhereItComesFrom() throws {
        let manual = Set(try manualOptions())
        for option in MosquittoOptions.all where !manual.contains(option.name) {
            #expect(option.origin != nil, "\(option.name) is not in the 2.0 manual and has no origin")
        }
    }

    @Test func everyManualOptionIsDocumented() throws {
        let docs = try String(contentsOf: Fixtures.docs, encoding: .utf8)
        for name in try manualOptions() {
            #expect(docs.contains("| `\(name)` |"), "\(name) is missing from docs/mosquitto-options.md")
        }
    }

    /// The table in the docs is exactly what the parser enforces (regenerate with RAMPART_REGENERATE_FIXTURES=1).
    @Test func documentationTableMatchesTheParser() throws {
        let docs = try String(contentsOf: Fixtures.docs, encoding: .utf8)
        let begin = try #require(docs.range(of: Self.beginMarker))
        let end = try #require(docs.range(of: Self.endMarker))
        let table = "\n" + Self.table() + "\n"
        if Fixtures.regenerate {
            let updated = docs.replacingCharacters(in: begin.upperBound..<end.lowerBound, with: table)
            try updated.write(to: Fixtures.docs, atomically: true, encoding: .utf8)
            return
        }
        #expect(String(docs[begin.upperBound..<end.lowerBound]) == table)
    }

    @Test func refusedOptionsAreRefusedWithTheirReason() {
        for option in MosquittoOptions.all {
            guard case .refused(let reason) = option.support else { continue }
            let name = option.name.hasSuffix("*") ? option.name.dropLast() + "x" : option.name[...]
            let source = InMemorySource(["/c.conf": "connection b\n\(name) value\n"])
            let result = ConfigurationLoader.load(mainFile: "/c.conf", source: source)
            #expect(
                result.errors.map(\.message).contains("option \"\(name)\" is not supported: \(reason)"),
                "\(name): \(result.diagnostics)")
        }
    }

    @Test func misspeltOptionsGetASuggestion() {
        let result = ConfigurationLoader.load(
            mainFile: "/c.conf", source: InMemorySource(["/c.conf": "max_inflight_message 10\n"]))
        #expect(
            result.errors.map(\.message) == [
                "unknown option \"max_inflight_message\"; did you mean max_inflight_messages?"
            ])
    }

    static func table() -> String {
        var lines = ["| Option | Status | Notes |", "| --- | --- | --- |"]
        for option in MosquittoOptions.all {
            var notes: [String] = []
            let status: String
            switch option.support {
            case .supported:
                status = "supported"
            case .differs(let note):
                status = "supported with differences"
                notes.append(note)
            case .refused(let reason):
                status = "refused at validation"
                notes.append(reason)
            }
            if let alias = option.aliasOf { notes.append("old name of `\(alias)`") }
            if let origin = option.origin { notes.append("not in the 2.0 manual: \(origin)") }
            notes.append(sectionNote(option.section))
            let text = notes.joined(separator: "; ").replacingOccurrences(of: "|", with: "\\|")
            lines.append("| `\(option.name)` | \(status) | \(text) |")
        }
        return lines.joined(separator: "\n")
    }

    static func sectionNote(_ section: MosquittoOptions.Section) -> String {
        switch section {
        case .global: "scope: global"
        case .security: "scope: global, or the current listener with `per_listener_settings true`"
        case .listener: "scope: current listener"
        case .bridge: "scope: current bridge (`connection`)"
        }
    }
}
