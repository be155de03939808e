import Foundation
import Testing

@testable import FirewallPolicy

@Suite struct StageOrderTests {
    /// The seed's order: for a router, the allowlist before the denylist, NAT before the custom rules, custom deny
    /// before custom allow, and the preset services after them.
    @Test func routerStagesFollowTheSeed() throws {
        let policy = try PolicyCompiler.compile(
            FirewallConfiguration(), environment: FirewallEnvironment(), now: Date())
        let forward = try #require(policy.chain(.forward, .router))
        #expect(
            forward.stages.map(\.stage) == [
                .diagnosticAllow, .presetAllow, .applicationDeny, .emergencyDeny, .allowlist, .denylist, .natAllow,
                .customDeny, .customAllow, .presetServicesAllow, .established, .finalBlock,
            ])
    }

    @Test func unidirectionalHasAnInternalAndAnExternalOrder() throws {
        let policy = try PolicyCompiler.compile(
            FirewallConfiguration(deviceType: .unidirectional), environment: FirewallEnvironment(), now: Date())
        #expect(
            policy.chains.map(\.name) == ["input_internal", "forward_internal", "input_external", "forward_external"])
        #expect(
            policy.chain(.input, .external)?.stages.map(\.stage) == [
                .diagnosticAllow, .outgoingAllow, .presetAllow, .vpnAllow, .finalBlock,
            ])
    }
}
