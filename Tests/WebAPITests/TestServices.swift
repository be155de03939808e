import Events
import FirewallPolicy
import Foundation
import Logging
import RampartModel
import Store

@testable import WebAPI

/// A broker that answers from memory, for routing and rendering tests.
actor FakeBrokerProfiles: BrokerProfileService {
    func profiles() async throws -> [BrokerProfileInfo] {
        [BrokerProfileInfo(name: "default", active: true, readOnly: true, modified: Date(), files: ["mosquitto.conf"])]
    }
    func templates() async -> [String] { ["default"] }
    func create(_ name: String, template: String?) async throws {}
    func read(_ file: String, of profile: String) async throws -> Data { Data("listener 1883\n".utf8) }
    func write(_ contents: Data, as file: String, in profile: String) async throws -> [LineDiagnostic] { [] }
    func remove(_ file: String, from profile: String) async throws {}
    func validate(_ profile: String) async throws -> [LineDiagnostic] { [] }
    func activate(_ profile: String) async throws -> ApplyOutcome { .applied() }
    func delete(_ profile: String) async throws {}
    func state() async -> BrokerState {
        BrokerState(
            status: "configured", activeProfile: "default", problems: [], clientsConnected: 0, messagesPerSecond: 0)
    }
}

struct FakeSystem: SystemService {
    func identity() async -> SystemIdentity {
        SystemIdentity(
            hostName: "test", serial: "0000", version: "0", buildCommit: "test", uptimeSeconds: 1,
            gatewayUptimeSeconds: 1)
    }
    func interfaces() async throws -> [InterfaceInfo] {
        [InterfaceInfo(name: "lo", state: "UNKNOWN", mac: "00:00:00:00:00:00", mtu: 65536, addresses: ["127.0.0.1/8"])]
    }
    func routes() async throws -> [RouteInfo] { [] }
    func setClock(_ date: Date) async -> ApplyOutcome { .notApplied("test") }
}

/// A forwarder that records what it was given and answers its test from `delivered`.
actor FakeForwarder<Settings: ConfigurationDocument>: ForwarderControl {
    private(set) var applied: [(Settings, String?)] = []
    let delivered: Bool

    init(delivered: Bool = true) { self.delivered = delivered }

    nonisolated func validate(_ settings: Settings, secret: String?) -> [FieldError] { [] }
    func apply(_ settings: Settings, secret: String?) async -> ApplyOutcome {
        applied.append((settings, secret))
        return .applied("test")
    }
    func test(_ settings: Settings, secret: String?) async -> TestOutcome {
        TestOutcome(delivered: delivered, detail: delivered ? "sent" : "refused")
    }
    func status() async -> ForwarderStatus { ForwarderStatus(enabled: !applied.isEmpty) }
}

/// A kernel that keeps what it is given: the policies applied, the set operations, and a failure to give on demand.
actor FakeFirewallBackend: FirewallBackend {
    private(set) var applied: [CompiledPolicy] = []
    private(set) var setOperations: [String] = []
    var refusal: FirewallApplyError?
    var unavailable: String?

    func refuse(_ error: FirewallApplyError?) { refusal = error }
    func makeUnavailable(_ reason: String?) { unavailable = reason }

    nonisolated func ruleset(for policy: CompiledPolicy) -> String {
        policy.chains.map { "\($0.name): \($0.stages.flatMap(\.rules).map(\.id).joined(separator: " "))" }
            .joined(separator: "\n")
    }
    func unavailableReason() async -> String? { unavailable }
    func apply(_ policy: CompiledPolicy) async throws(FirewallApplyError) {
        if let refusal { throw refusal }
        applied.append(policy)
    }
    func add(_ elements: [CompiledSetElement], to set: String) async throws(FirewallApplyError) {
        if let refusal { throw refusal }
        setOperations += elements.map { "add \(set) \($0.address)" }
    }
    func remove(_ addresses: [AddressSpec], from set: String) async throws(FirewallApplyError) {
        setOperations += addresses.map { "remove \(set) \($0)" }
    }
    func counters() async -> [String: RuleHits] { [:] }
    func appliedRuleset() async -> String? { applied.last.map(ruleset(for:)) }
}

/// A store in a temporary folder with every service of the management plane over it.
struct TestPlane {
    let folder: String
    let services: ManagementServices
    let syslog = FakeForwarder<SyslogSettings>()
    let push = FakeForwarder<PushSettings>()
    let bus: EventBus
    let firewallBackend = FakeFirewallBackend()

    init(firewallConfirmation: Duration = .seconds(60)) throws {
        folder = NSTemporaryDirectory() + "rampart-webapi-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try GatewayStore(databasePath: folder + "/rampart.db", masterKeyPath: folder + "/master.key")
        let logger = Logger(label: "test")
        let accounts = try AccountService(
            store: store, initialPasswordFile: folder + "/initial-admin-password",
            commonPasswords: .init(text: WebResources.commonPasswordList), configuration: .init(), logger: logger)
        let bus = EventBus()
        let ring = NetworkEventRing(capacity: 100)
        let supervisor = ComponentSupervisor()
        let trail = AuditTrail(log: store.auditLog, bus: bus, supervisor: supervisor, logger: logger)
        let web = try WebProfileService.open(
            store: store, hostName: "localhost", addresses: ["127.0.0.1"], publishedCertificate: nil, logger: logger)
        services = ManagementServices(
            store: store, accounts: accounts, webProfiles: web, brokerProfiles: FakeBrokerProfiles(),
            system: FakeSystem(),
            network: SettingsEndpoint(
                store: store, validate: { $0.validate() }, reconciler: SavedOnly<NetworkSettings>(detail: "test")),
            centralServer: SettingsEndpoint(
                store: store, validate: { $0.validate() }, reconciler: SavedOnly<CentralServerSettings>(detail: "test")),
            device: SettingsEndpoint(
                store: store, validate: { $0.validate() }, reconciler: SavedOnly<DeviceSettings>(detail: "test")),
            recorder: trail,
            events: EventServices(
                ring: ring, trail: trail, supervisor: supervisor,
                syslog: ForwardingEndpoint(
                    store: store, secretName: "syslog/client-key", validate: { $0.validate() }, control: syslog),
                push: ForwardingEndpoint(
                    store: store, secretName: "push/credentials", validate: { $0.validate() }, control: push)),
            firewall: FirewallService(
                store: store, backend: firewallBackend, environment: { FirewallEnvironment() },
                zoneOf: { $0.description.hasPrefix("192.0.2.") ? .lan : .wan }, reporter: trail,
                options: .init(confirmationTimeout: firewallConfirmation, sweepInterval: .milliseconds(100))),
            thirdPartyComponents: [])
        self.bus = bus
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: folder)
    }
}
