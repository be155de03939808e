import Foundation
import Testing

@testable import FirewallPolicy

@Suite struct ManagementPathTests {
    static let environment = FirewallEnvironment()
    static let wanOperator = IPAddress(family: .ipv4, value: 0xC633_640A)  // 198.51.100.10
    static let gatewayWAN = IPAddress(family: .ipv4, value: 0xC633_6402)  // 198.51.100.2
    static let wanWeb = CustomRule(
        action: .allow, zone: .wan, source: "198.51.100.0/24", destinationPort: "8443", protocol: .tcp)

    func compile(_ configuration: FirewallConfiguration) throws -> CompiledPolicy {
        try PolicyCompiler.compile(configuration, environment: Self.environment, now: Date())
    }

    @Test func theAddressesAreTheOnesNamed() {
        #expect(Self.wanOperator.description == "198.51.100.10" && Self.gatewayWAN.description == "198.51.100.2")
    }

    @Test func denylistingTheWANOperatorCutsTheirWebSession() throws {
        var before = FirewallConfiguration()
        before.insert(Self.wanWeb)
        var after = before
        after.denylist.append(ListEntry(address: "198.51.100.0/28"))
        let cut = try #require(
            ManagementPath.lockout(
                of: Self.wanOperator, from: .zone(.wan), at: Self.gatewayWAN, before: try compile(before),
                after: try compile(after)))
        #expect(cut.stage == .denylist)
        // From the LAN the web UI is a preset before the lists: the same entry does not cut a LAN operator.
        #expect(
            ManagementPath.lockout(
                of: Self.wanOperator, from: .zone(.lan), at: nil, before: try compile(before),
                after: try compile(after)) == nil)
    }

    @Test func openingTheWebUIToTheWANChangesTheManagementPath() throws {
        let before = FirewallConfiguration()
        var after = before
        after.insert(Self.wanWeb)
        #expect(
            ManagementPath.reachabilityChanges(
                before: try compile(before), after: try compile(after), source: nil, local: nil, changing: before,
                to: after))
    }

    @Test func aRuleForAnotherPortLeavesTheManagementPathAlone() throws {
        let before = FirewallConfiguration()
        var after = before
        after.insert(CustomRule(action: .deny, zone: .wan, destinationPort: "502", protocol: .tcp))
        after.denylist.append(ListEntry(address: "203.0.113.9"))
        #expect(
            !ManagementPath.reachabilityChanges(
                before: try compile(before), after: try compile(after), source: Self.wanOperator,
                local: Self.gatewayWAN, changing: before, to: after))
    }

    @Test func aBulkChangeCountsAsOneToTheManagementPath() throws {
        let before = FirewallConfiguration()
        var after = before
        after.denylist = (0..<(ManagementPath.tracedChangesLimit + 1)).map {
            ListEntry(address: "198.18.\($0 / 256).\($0 % 256)")
        }
        #expect(
            ManagementPath.reachabilityChanges(
                before: try compile(before), after: try compile(after), source: nil, local: nil, changing: before,
                to: after))
    }
}
