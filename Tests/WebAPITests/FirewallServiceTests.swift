import Events
import FirewallPolicy
import Foundation
import Store
import Testing

@testable import WebAPI

@Suite("Firewall service: apply-then-save, commit-confirm, lock-out, list updates")
struct FirewallServiceTests {
    static let lanOperator = FirewallOperator(user: "admin", source: "192.0.2.10", local: "192.0.2.1")
    static let wanOperator = FirewallOperator(user: "admin", source: "198.51.100.10", local: "198.51.100.2")
    static let wanWeb = CustomRule(
        action: .allow, zone: .wan, source: "198.51.100.0/24", destinationPort: "8443", protocol: .tcp)

    /// Polls `condition` until it holds or `seconds` pass (generous: the whole suite shares two cores).
    static func eventually(_ seconds: Double = 30, _ condition: () async -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    @Test func aChangeToTheManagementPathRevertsUnlessConfirmed() async throws {
        let plane = try TestPlane(firewallConfirmation: .milliseconds(300))
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await firewall.start(deviceType: nil)
        let report = try await firewall.change(by: Self.lanOperator) { $0.insert(Self.wanWeb) }
        #expect(report.applied)
        #expect(report.confirmBy != nil)
        #expect(await firewall.pending != nil)
        #expect(try await firewall.read().document.rules.count == 1)

        #expect(await Self.eventually { await firewall.pending == nil })
        #expect(await Self.eventually { (try? await firewall.read().document.rules.isEmpty) ?? false })
        let last = try #require(await plane.firewallBackend.applied.last)
        #expect(!last.chains.flatMap { $0.stages.flatMap(\.rules) }.contains { $0.id.hasPrefix("rule:") })
        let audited = try plane.services.store.auditLog.entries(AuditQuery()).entries.map(\.event.type)
        #expect(audited.contains("FirewallChangeReverted"))
    }

    @Test func aConfirmedChangeStays() async throws {
        let plane = try TestPlane(firewallConfirmation: .milliseconds(200))
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await firewall.start(deviceType: nil)
        _ = try await firewall.change(by: Self.lanOperator) { $0.insert(Self.wanWeb) }
        let confirmed = try await firewall.confirm()
        #expect(confirmed.contains { $0.hasPrefix("rule 1 added") })
        // Nothing can be awaited for "did not revert": wait past the deadline, then look.
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await firewall.read().document.rules.count == 1)
        do {
            _ = try await firewall.confirm()
            Issue.record("a second confirmation was accepted")
        } catch {
            #expect(error.code == "nothing_pending")
        }
    }

    @Test func anotherChangeWaitsForThePendingOne() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await firewall.start(deviceType: nil)
        _ = try await firewall.change(by: Self.lanOperator) { $0.insert(Self.wanWeb) }
        do {
            _ = try await firewall.change(by: Self.lanOperator) { $0.masquerade = true }
            Issue.record("a change was accepted while another awaited confirmation")
        } catch {
            #expect(error.code == "confirmation_pending")
        }
        await firewall.stop()
    }

    @Test func aChangeThatCutsTheOperatorOffIsRefusedUnlessForced() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await firewall.start(deviceType: nil)
        _ = try await firewall.change(by: Self.lanOperator) { $0.insert(Self.wanWeb) }
        _ = try await firewall.confirm()
        let entry = ListEntry(address: "198.51.100.10", comment: "oops")
        do {
            _ = try await firewall.change(by: Self.wanOperator) { $0.denylist.append(entry) }
            Issue.record("the operator's own address was denylisted without force")
        } catch {
            #expect(error.code == "lockout")
            #expect(error.message.contains("198.51.100.10"))
            #expect(error.message.contains("denylist"))
        }
        #expect(try await firewall.read().document.denylist.isEmpty)
        // The LAN operator is not concerned: the web UI from the LAN is a preset rule before the lists.
        let report = try await firewall.change(by: Self.lanOperator, force: false) { $0.denylist.append(entry) }
        #expect(report.applied)
        await firewall.stop()
    }

    @Test func aForcedLockOutGoesThrough() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await firewall.start(deviceType: nil)
        _ = try await firewall.change(by: Self.lanOperator) { $0.insert(Self.wanWeb) }
        _ = try await firewall.confirm()
        let report = try await firewall.change(by: Self.wanOperator, force: true) {
            $0.insert(CustomRule(action: .deny, zone: .wan, source: "198.51.100.10"))
        }
        #expect(report.changes.contains { $0.hasPrefix("rule 2 added") })
        await firewall.stop()
    }

    @Test func aRulesetTheKernelRefusesLeavesEverythingAsItWas() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await firewall.start(deviceType: nil)
        let before = try await firewall.read()
        let appliedBefore = await plane.firewallBackend.applied.count
        await plane.firewallBackend.refuse(
            FirewallApplyError(message: "Error: conflicting intervals specified", line: 9, lineText: "elements = …"))
        do {
            _ = try await firewall.change(by: Self.lanOperator) { $0.masquerade = true }
            Issue.record("a refused ruleset was reported as applied")
        } catch {
            #expect(error.code == "ruleset_rejected")
            #expect(error.message.contains("conflicting intervals"))
            #expect(error.message.contains("line 9"))
        }
        #expect(try await firewall.read().version == before.version)
        #expect(await plane.firewallBackend.applied.count == appliedBefore)
        await firewall.stop()
    }

    @Test func listChangesTouchOnlyTheSets() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await firewall.start(deviceType: nil)
        let applied = await plane.firewallBackend.applied.count
        _ = try await firewall.change(by: Self.lanOperator) {
            $0.denylist.append(ListEntry(address: "203.0.113.9", expires: Date().addingTimeInterval(30)))
            $0.denylist.append(ListEntry(address: "2001:db8:5::/64"))
        }
        _ = try await firewall.change(by: Self.lanOperator) { $0.denylist.removeAll { $0.address == "203.0.113.9" } }
        #expect(await plane.firewallBackend.applied.count == applied)
        #expect(
            await plane.firewallBackend.setOperations == [
                "add denylist_v4 203.0.113.9", "add denylist_v6_net 2001:db8:5::/64", "remove denylist_v4 203.0.113.9",
            ])
        // An allowlist entry opens the web UI to its addresses: that is a change to the management path, applied
        // as a whole ruleset with commit-confirm.
        let report = try await firewall.change(by: Self.lanOperator) {
            $0.allowlist.append(ListEntry(address: "203.0.113.0/28"))
        }
        #expect(report.confirmBy != nil)
        #expect(await plane.firewallBackend.applied.count == applied + 1)
        await firewall.stop()
    }

    @Test func withoutAKernelTheChangeIsSavedAndReportedNotApplied() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await plane.firewallBackend.makeUnavailable("CAP_NET_ADMIN missing")
        await firewall.start(deviceType: .unidirectional)
        #expect(try await firewall.read().document.deviceType == .unidirectional)
        #expect(await firewall.state.detail.contains("CAP_NET_ADMIN missing"))
        let report = try await firewall.change(by: Self.lanOperator) { $0.emergency = true }
        #expect(!report.applied)
        #expect(report.detail.contains("not applied"))
        #expect(try await firewall.read().document.emergency)
        await firewall.stop()
    }

    @Test func expiredEntriesLeaveTheStoredDocument() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let firewall = plane.services.firewall
        await firewall.start(deviceType: nil)
        _ = try await firewall.change(by: Self.lanOperator) {
            $0.denylist.append(ListEntry(address: "203.0.113.9", expires: Date().addingTimeInterval(0.3)))
        }
        #expect(await Self.eventually { (try? await firewall.read().document.denylist.isEmpty) ?? false })
        await firewall.stop()
    }
}
