import Foundation
import Testing

@testable import FirewallPolicy

/// The edits the API makes to a configuration: rule ids that stay stable and are never handed out twice, moves
/// that cannot fall off the list, and list entries that leave when they expire.
@Suite("Configuration editing")
struct ConfigurationEditingTests {
    private func rule(_ port: Int) -> CustomRule {
        CustomRule(action: .allow, zone: .lan, destinationPort: "\(port)", protocol: .tcp)
    }

    private func ports(_ configuration: FirewallConfiguration) -> [String] {
        configuration.rules.map(\.destinationPort)
    }

    @Test func insertHandsOutIncreasingIDs() {
        var configuration = FirewallConfiguration()
        let ids = (1...3).map { configuration.insert(rule(100 + $0)) }
        #expect(ids == [1, 2, 3])
        #expect(configuration.rules.map(\.id) == [1, 2, 3])
        #expect(configuration.nextRuleID == 4)
        #expect(configuration.validate().isEmpty)
    }

    @Test func insertIgnoresTheIDItIsGiven() {
        var configuration = FirewallConfiguration()
        configuration.insert(rule(1))
        var taken = rule(2)
        taken.id = 1
        let second = configuration.insert(taken)
        taken.id = 99
        let third = configuration.insert(taken)
        #expect(second == 2 && third == 3)
        #expect(configuration.validate().isEmpty)
    }

    @Test func idsAreNeverReusedAfterADelete() {
        var configuration = FirewallConfiguration()
        for port in 1...3 { configuration.insert(rule(port)) }
        configuration.rules.removeAll { $0.id == 3 }
        let afterDelete = configuration.insert(rule(4))
        #expect(afterDelete == 4)
        configuration.rules.removeAll()
        let afterDeletingAll = configuration.insert(rule(5))
        #expect(afterDeletingAll == 5)
        #expect(configuration.rules.map(\.id) == [5])
        #expect(configuration.validate().isEmpty)
    }

    /// A document whose counter fell behind its rules (edited by hand, say) still gets a fresh id.
    @Test func insertStaysAboveTheHighestID() {
        var configuration = FirewallConfiguration(rules: [CustomRule(id: 7, action: .deny, zone: .wan)], nextRuleID: 3)
        let first = configuration.insert(rule(1))
        #expect(first == 8)
        #expect(configuration.nextRuleID == 9)
        let second = configuration.insert(rule(2))
        #expect(second == 9)
    }

    @Test(arguments: [
        (Int?.none, ["1", "2", "3", "new"]),
        (0, ["new", "1", "2", "3"]),
        (1, ["1", "new", "2", "3"]),
        (3, ["1", "2", "3", "new"]),
        (99, ["1", "2", "3", "new"]),
        (-5, ["new", "1", "2", "3"]),
    ])
    func insertAtAClampedPosition(position: Int?, expected: [String]) {
        var configuration = FirewallConfiguration()
        for port in 1...3 { configuration.insert(rule(port)) }
        var new = rule(0)
        new.destinationPort = "new"
        let id = configuration.insert(new, at: position)
        #expect(ports(configuration) == expected)
        #expect(id == 4)
    }

    @Test(arguments: [
        (1, 0, ["1", "2", "3", "4"]),
        (1, 2, ["2", "3", "1", "4"]),
        (1, 3, ["2", "3", "4", "1"]),
        (1, 100, ["2", "3", "4", "1"]),
        (4, 0, ["4", "1", "2", "3"]),
        (4, -1, ["4", "1", "2", "3"]),
        (3, 1, ["1", "3", "2", "4"]),
        (2, 2, ["1", "3", "2", "4"]),
    ])
    func moveClampsToTheList(id: Int, position: Int, expected: [String]) {
        var configuration = FirewallConfiguration()
        for port in 1...4 { configuration.insert(rule(port)) }
        let moved = configuration.move(rule: id, to: position)
        #expect(moved)
        #expect(ports(configuration) == expected)
        // A move keeps the rule's id.
        #expect(configuration.rules.first { $0.destinationPort == "\(id)" }?.id == id)
        #expect(configuration.nextRuleID == 5)
    }

    @Test func movingAnUnknownRuleChangesNothing() {
        var configuration = FirewallConfiguration()
        for port in 1...3 { configuration.insert(rule(port)) }
        let before = configuration
        let moved = configuration.move(rule: 9, to: 0)
        #expect(!moved)
        #expect(configuration == before)
    }

    @Test func portForwardsGetTheirOwnIDs() {
        var configuration = FirewallConfiguration()
        let first = configuration.insert(NATRule(protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10"))
        let second = configuration.insert(NATRule(id: 1, protocol: .udp, wanPort: "5000", lanAddress: "192.0.2.11"))
        #expect(first == 1 && second == 2)
        #expect(configuration.natRules.map(\.id) == [1, 2])
        // Port forwards and custom rules count separately.
        let ruleID = configuration.insert(rule(1))
        #expect(ruleID == 1)
    }

    @Test func dropExpiredEntries() {
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        var configuration = FirewallConfiguration(
            allowlist: [
                ListEntry(address: "192.0.2.1", expires: now - 1),
                ListEntry(address: "192.0.2.2"),
                ListEntry(address: "192.0.2.3", expires: now + 1),
            ],
            denylist: [
                ListEntry(address: "198.51.100.1", expires: now),
                ListEntry(address: "198.51.100.2", expires: now + 3600, source: .ips),
            ])
        let dropped = configuration.dropExpiredEntries(now: now)
        #expect(dropped)
        #expect(configuration.allowlist.map(\.address) == ["192.0.2.2", "192.0.2.3"])
        #expect(configuration.denylist.map(\.address) == ["198.51.100.2"])
        // Nothing more to drop at the same time; an hour later the rest of the expiring entries go.
        let droppedAgain = configuration.dropExpiredEntries(now: now)
        #expect(!droppedAgain)
        let droppedLater = configuration.dropExpiredEntries(now: now + 3600)
        #expect(droppedLater)
        #expect(configuration.allowlist.map(\.address) == ["192.0.2.2"])
        #expect(configuration.denylist.isEmpty)
    }

    @Test func dropExpiredEntriesAgreesWithTheCompiledSets() throws {
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        var configuration = FirewallConfiguration(
            denylist: [
                ListEntry(address: "198.51.100.1", expires: now),
                ListEntry(address: "198.51.100.2", expires: now + 0.5),
                ListEntry(address: "198.51.100.3", expires: now - 0.5),
            ])
        let policy = try PolicyCompiler.compile(configuration, environment: FirewallEnvironment(), now: now)
        let compiled = policy.elements(of: .denylist, family: .ipv4).map(\.address)
        configuration.dropExpiredEntries(now: now)
        #expect(compiled.map(\.description) == configuration.denylist.map(\.address))
        #expect(policy.elements(of: .denylist, family: .ipv4).first?.timeoutSeconds == 1)
    }

    @Test func aConfigurationSurvivesJSON() throws {
        var configuration = FirewallConfiguration(
            deviceType: .unidirectional, emergency: true, blockedProtocols: ["modbus"],
            allowlist: [ListEntry(address: "192.0.2.1", expires: Date(timeIntervalSince1970: 1_800_000_000))])
        configuration.insert(CustomRule(action: .deny, zone: .lan, source: "192.168.1.66", comment: "Kiosk"))
        configuration.insert(NATRule(enabled: false, protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10"))
        let data = try JSONEncoder().encode(configuration)
        #expect(try JSONDecoder().decode(FirewallConfiguration.self, from: data) == configuration)
    }
}
