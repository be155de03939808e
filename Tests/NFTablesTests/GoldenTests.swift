import Foundation
import NFTables
import Testing

/// The rendered ruleset of each scenario, byte for byte against `Golden/<name>.nft`: the golden files are the
/// reviewable specification of the renderer.
///
/// After an intended change to the rendering, regenerate them and read the diff before committing it:
///
///     RAMPART_UPDATE_GOLDEN=1 swift test --filter GoldenTests
///
/// With the variable set, the test writes the files in the source tree instead of comparing.
@Suite struct GoldenTests {
    static let updating = ProcessInfo.processInfo.environment["RAMPART_UPDATE_GOLDEN"] == "1"

    /// The golden file in the source tree, which updating rewrites.
    static func sourceFile(_ scenario: Scenario, filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().appending(path: "Golden/\(scenario.name).nft")
    }

    /// The golden file as the test bundle holds it.
    static func bundledFile(_ scenario: Scenario) throws -> URL {
        try #require(
            Bundle.module.url(forResource: scenario.name, withExtension: "nft", subdirectory: "Golden"),
            "Golden/\(scenario.name).nft is missing; create it with RAMPART_UPDATE_GOLDEN=1")
    }

    @Test(arguments: Scenario.all)
    func rendersTheGoldenFile(_ scenario: Scenario) throws {
        let text = try scenario.ruleset().text
        if Self.updating {
            try Data(text.utf8).write(to: Self.sourceFile(scenario))
            return
        }
        let golden = try String(contentsOf: try Self.bundledFile(scenario), encoding: .utf8)
        if text != golden {
            let rendered = text.split(separator: "\n", omittingEmptySubsequences: false)
            let expected = golden.split(separator: "\n", omittingEmptySubsequences: false)
            let line =
                (0..<min(rendered.count, expected.count)).first { rendered[$0] != expected[$0] }
                ?? min(rendered.count, expected.count)
            Issue.record(
                """
                \(scenario.name): the ruleset differs from Golden/\(scenario.name).nft from line \(line + 1):
                rendered: \(line < rendered.count ? String(rendered[line]) : "<end>")
                golden:   \(line < expected.count ? String(expected[line]) : "<end>")
                """)
        }
    }

    /// nft itself parses every golden file and builds its transaction against the kernel without committing it
    /// (`-c`), so a rendering nft refuses fails here rather than when the gateway applies it. Needs root and nft
    /// (check mode still talks to the kernel), hence only where both are there.
    @Test(.enabled(if: Tools.canRunNFT, "needs root and the nft tool"), arguments: Scenario.all)
    func nftAcceptsTheGoldenFile(_ scenario: Scenario) async throws {
        let nft = try #require(Tools.nft)
        let file = try Self.bundledFile(scenario)
        do {
            try await Tools.run(nft, ["-c", "-f", file.path])
        } catch {
            Issue.record("nft refuses Golden/\(scenario.name).nft: \(error)")
        }
    }
}
