import BrokerConfig
import Foundation
import Testing

/// The fixture corpus: valid files render to their `.expected` normalized text; broken files give exactly the
/// diagnostics their `.expected` lists.
@Suite struct CorpusTests {
    @Test(arguments: Fixtures.configurations("valid"))
    func validConfigurationRendersAsExpected(name: String) throws {
        let result = try Fixtures.load("valid", name)
        #expect(result.errors.isEmpty, "\(result.errors.map(\.description))")
        let configuration = try #require(result.configuration)
        let rendered = configuration.render()
        // Warnings head the expected rendering as comments, so the golden file shows everything the loader said.
        let warnings = Fixtures.lines(result.warnings).map { "# \($0)\n" }.joined()
        let expectedName = String(name.dropLast(".conf".count)) + ".expected"
        if Fixtures.regenerate { try Fixtures.write(warnings + rendered, "valid", expectedName) }
        #expect(warnings + rendered == (try Fixtures.text("valid", expectedName)))

        // The rendering means the same configuration.
        var files = try Fixtures.rootTree()
        files["rendered.conf"] = rendered
        let again = ConfigurationLoader.load(mainFile: "rendered.conf", source: InMemorySource(files))
        #expect(again.errors.isEmpty, "\(again.errors.map(\.description))")
        var reparsed = try #require(again.configuration)
        reparsed.files = configuration.files
        #expect(reparsed == configuration)
    }

    @Test(arguments: Fixtures.configurations("invalid"))
    func invalidConfigurationReportsEveryProblem(name: String) throws {
        let result = try Fixtures.load("invalid", name)
        #expect(result.configuration == nil)
        #expect(!result.errors.isEmpty)
        for error in result.errors {
            // Each message names the file, the line and the option at fault.
            #expect(error.file == name || error.file.hasPrefix("/etc/rampart/"), "\(error)")
            #expect(error.line > 0, "\(error)")
            #expect(error.description == "\(error.file):\(error.line): \(error.message)")
            #expect(Self.namesAnOption(error.message), "\(error)")
        }
        let actual = Fixtures.lines(result.diagnostics).map { $0 + "\n" }.joined()
        let expectedName = String(name.dropLast(".conf".count)) + ".expected"
        if Fixtures.regenerate { try Fixtures.write(actual, "invalid", expectedName) }
        #expect(actual == (try Fixtures.text("invalid", expectedName)))
    }

    @Test func corpusHasAtLeastThirtyBrokenFiles() {
        #expect(Fixtures.configurations("invalid").count >= 30)
        #expect(Fixtures.configurations("valid").count >= 10)
    }

    /// Whether a message mentions an option by name, so the operator knows which line part to fix.
    static func namesAnOption(_ message: String) -> Bool {
        let words = message.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") })
        return message.hasPrefix("unknown option \"") || words.contains { MosquittoOptions.lookup(String($0)) != nil }
    }
}
