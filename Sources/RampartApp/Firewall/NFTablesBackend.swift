import FirewallDriver
import FirewallPolicy
import Foundation
import NFTables
import NetConfig
import WebAPI

/// The firewall's kernel side: rulesets rendered by `NFTablesCompiler` and applied by `NFTablesDriver`.
struct NFTablesBackend: FirewallBackend {
    let driver: NFTablesDriver
    /// false: rulesets are compiled and shown, never applied (`--system-changes off`).
    let systemChanges: Bool
    let environment: @Sendable () async -> FirewallEnvironment

    func ruleset(for policy: CompiledPolicy) -> String { NFTablesCompiler.render(policy).text }

    /// The ruleset filters by interface name: on a host without the zones' interfaces (a developer's machine, a
    /// test run) it would only cut the host off, so it is not applied there.
    func unavailableReason() async -> String? {
        guard systemChanges else { return "system changes are turned off (--system-changes off)" }
        if let reason = driver.unavailableReason { return reason }
        let environment = await environment()
        let ip = IPRoute2()
        var missing: [String] = []
        for name in environment.lanInterfaces + environment.wanInterfaces where !(await ip.interfaceExists(name)) {
            missing.append(name)
        }
        guard missing.isEmpty else {
            return "the zone interface(s) \(missing.joined(separator: ", ")) do not exist on this host"
        }
        return nil
    }

    func apply(_ policy: CompiledPolicy) async throws(FirewallApplyError) {
        let ruleset = NFTablesCompiler.render(policy)
        do {
            _ = try await driver.apply(
                ruleset.text,
                expecting: ExpectedTable(
                    chains: ruleset.chains, sets: Set(ruleset.sets), counters: Set(ruleset.counters)))
        } catch {
            throw FirewallApplyError(message: error.description, line: error.line, lineText: error.lineText)
        }
    }

    func add(_ elements: [CompiledSetElement], to set: String) async throws(FirewallApplyError) {
        do {
            try await driver.addElements(
                elements.map { element in
                    SetElement(
                        element.address.description, timeout: element.timeoutSeconds.map { .seconds($0) },
                        comment: element.comment.isEmpty ? nil : element.comment)
                }, to: set)
        } catch {
            throw FirewallApplyError(message: error.description)
        }
    }

    /// Elements the kernel already dropped (expired) are skipped: deleting a missing element fails the batch.
    func remove(_ addresses: [AddressSpec], from set: String) async throws(FirewallApplyError) {
        do {
            let present = Set(try await driver.elements(of: set).map(\.text))
            let texts = addresses.map(\.description).filter { present.contains($0) }
            guard !texts.isEmpty else { return }
            try await driver.deleteElements(texts, from: set)
        } catch {
            throw FirewallApplyError(message: error.description)
        }
    }

    func counters() async -> [String: RuleHits] {
        guard let counters = try? await driver.counters() else { return [:] }
        return counters.mapValues { RuleHits(packets: $0.packets, bytes: $0.bytes) }
    }

    func appliedRuleset() async -> String? { try? await driver.listTable() }
}
