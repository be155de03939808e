import FirewallPolicy
import Foundation
import NFTables
import Testing

/// What the kernel holds after loading a ruleset, from `nft -j list ruleset`.
struct KernelRuleset {
    /// Per chain, the comments of its rules in order (nil for a rule without one).
    var chains: [String: [String?]] = [:]
    var sets: [String: Int] = [:]
    var counters: [String] = []

    init(json: Data) throws {
        let root = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let objects = try #require(root["nftables"] as? [[String: Any]])
        for object in objects {
            if let chain = object["chain"] as? [String: Any], let name = chain["name"] as? String {
                if chains[name] == nil { chains[name] = [] }
            } else if let rule = object["rule"] as? [String: Any], let chain = rule["chain"] as? String {
                chains[chain, default: []].append(rule["comment"] as? String)
            } else if let set = object["set"] as? [String: Any], let name = set["name"] as? String {
                sets[name] = (set["elem"] as? [Any])?.count ?? 0
            } else if let counter = object["counter"] as? [String: Any], let name = counter["name"] as? String {
                counters.append(name)
            }
        }
    }
}

/// The populated router ruleset loaded into a real kernel, in a throwaway network namespace, and read back: the
/// kernel holds each stage's rules in the compiled order, so the rule explain names is the rule the kernel runs.
/// Needs root, nft and ip (namespaces), hence only where they are there.
@Suite(.enabled(if: Tools.canUseNamespaces, "needs root, nft and ip to load a ruleset into a network namespace"))
struct KernelTests {
    @Test func theKernelHoldsTheCompiledRulesInOrder() async throws {
        let nft = try #require(Tools.nft)
        let ip = try #require(Tools.ip)
        let scenario = Scenario.routerPopulated
        let policy = try scenario.policy()
        let ruleset = NFTablesCompiler.render(policy)

        let namespace = "rampart-t-" + UUID().uuidString.prefix(8).lowercased()
        let file = try Tools.temporaryFile(ruleset.text, name: "ruleset.nft")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try await Tools.run(ip, ["netns", "add", namespace])
        let listing: Data
        do {
            try await Tools.run(ip, ["netns", "exec", namespace, nft, "-f", file.path])
            // Loading the same file again replaces the table in one transaction instead of failing or doubling it.
            try await Tools.run(ip, ["netns", "exec", namespace, nft, "-f", file.path])
            listing = try await Tools.run(ip, ["netns", "exec", namespace, nft, "-j", "list", "ruleset"])
        } catch {
            _ = try? await Tools.run(ip, ["netns", "delete", namespace])
            throw error
        }
        try await Tools.run(ip, ["netns", "delete", namespace])
        let kernel = try KernelRuleset(json: listing)

        #expect(kernel.chains.mapValues(\.count) == ruleset.chains)
        for chain in policy.chains {
            for stage in chain.stages {
                let name = NFTablesCompiler.chainName(chain, stage.stage)
                #expect(kernel.chains[name] == stage.rules.map(\.id), "\(name)")
            }
        }
        #expect(kernel.chains["dstnat"] == policy.portForwards.map(\.id))
        #expect(kernel.chains["srcnat"] == ["masquerade"])
        #expect(Set(kernel.sets.keys) == Set(ruleset.sets))
        for set in policy.sets {
            #expect(kernel.sets[set.name] == set.elements.count, "\(set.name)")
        }
        #expect(Set(kernel.counters) == Set(ruleset.counters))
    }
}
