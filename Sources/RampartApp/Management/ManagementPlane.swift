import Accounts
import ArgumentParser
import BrokerCore
import Events
import FirewallPolicy
import Foundation
import Logging
import NIOCore
import NIOPosix
import RampartModel
import Store
import WebAPI

/// The management plane of `rampart run`: the store, accounts, web-server profiles and the HTTPS server, wired to
/// the broker and the host.
struct ManagementPlane {
    struct Options {
        var dataDirectory: String
        var webBind: String
        var webPort: Int
        var sessionIdleTimeout: Duration
        var loginDelayBase: Duration
        var systemChanges: Bool
        /// The device type chosen at setup; used when the firewall was never configured.
        var deviceType: DeviceType?
        var mqttPorts: [Int]
        var firewallConfirmation: Duration
    }

    let server: WebServer
    let store: GatewayStore
    let firewall: FirewallService

    /// The file that holds the local console's API token (`rampart ctl` as root on the gateway).
    static func consoleTokenFile(dataDirectory: String) -> String { dataDirectory + "/console-token" }
    static func initialPasswordFile(dataDirectory: String) -> String { dataDirectory + "/initial-admin-password" }

    static func start(
        options: Options, store: GatewayStore, events: EventsPlane, forwarding: EventForwarding,
        brokerRuntime: BrokerRuntime, statistics: BrokerStatistics, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) async throws -> ManagementPlane {
        let data = options.dataDirectory
        let commonPasswords = CommonPasswords(text: WebResources.commonPasswordList)
        // The High policy's "not a common password" rule must never pass silently for want of its list.
        guard commonPasswords.count >= 10_000 else {
            throw ValidationError("the common-password list shipped with the web UI is missing or incomplete")
        }
        var accountConfiguration = AccountService.Configuration()
        accountConfiguration.idleTimeout = options.sessionIdleTimeout
        accountConfiguration.throttle.baseDelay = options.loginDelayBase
        let accounts = try AccountService(
            store: store, initialPasswordFile: initialPasswordFile(dataDirectory: data),
            commonPasswords: commonPasswords, configuration: accountConfiguration,
            logger: logger)
        try await accounts.issueConsoleToken(file: consoleTokenFile(dataDirectory: data), now: Date())
        await accounts.report(to: events.trail)

        let hostName = ProcessInfo.processInfo.hostName
        let webProfiles = try WebProfileService.open(
            store: store, hostName: hostName, addresses: localAddresses(),
            publishedCertificate: data + "/web-certificate.pem", logger: logger)
        let started = ContinuousClock.now
        let network = SettingsEndpoint<NetworkSettings>(
            store: store, validate: { $0.validate() },
            reconciler: NetworkReconciler(systemChanges: options.systemChanges))
        let firewall = FirewallSetup.service(
            options: FirewallSetup.Options(
                systemChanges: options.systemChanges, webPort: options.webPort, mqttPorts: options.mqttPorts,
                confirmationTimeout: options.firewallConfirmation, dataDirectory: data),
            store: store, reporter: events.trail)
        await firewall.start(deviceType: options.deviceType)
        let firewallState = await firewall.state
        events.supervisor.report(
            EventEntity.firewall, firewallState.applied ? .running : .disabled, detail: firewallState.detail)
        logger.info("firewall", metadata: ["state": "\(firewallState.detail)"])
        let services = ManagementServices(
            store: store, accounts: accounts, webProfiles: webProfiles,
            brokerProfiles: BrokerProfileAdapter(runtime: brokerRuntime, statistics: statistics),
            system: HostSystem(systemChanges: options.systemChanges, started: started),
            network: network,
            centralServer: SettingsEndpoint(
                store: store, validate: { $0.validate() },
                reconciler: SavedOnly<CentralServerSettings>(detail: "saved; the fleet agent will use it")),
            device: SettingsEndpoint(
                store: store, validate: { $0.validate() }, reconciler: SavedOnly<DeviceSettings>(detail: "applied")),
            recorder: events.trail,
            events: EventServices(
                ring: events.ring, trail: events.trail, supervisor: events.supervisor,
                syslog: forwarding.syslogEndpoint(store: store), push: forwarding.pushEndpoint(store: store)),
            firewall: firewall, thirdPartyComponents: thirdPartyComponents)
        for outcome in await [
            services.events.syslog.reconcileStored(), services.events.push.reconcileStored(),
        ] where !outcome.applied {
            logger.warning("event forwarding", metadata: ["outcome": "\(outcome.detail)"])
        }
        let outcome = await network.reconcileStored()
        logger.info("network settings", metadata: ["outcome": "\(outcome.detail)"])
        var configuration = WebServer.Configuration()
        configuration.host = options.webBind
        configuration.port = options.webPort
        let server = try WebServer(
            configuration: configuration, services: services, onRunning: onRunning, logger: logger)
        return ManagementPlane(server: server, store: store, firewall: firewall)
    }

    /// Every local unicast address, for the generated certificate's subject alternative names.
    static func localAddresses() -> [String] {
        let devices = (try? System.enumerateDevices()) ?? []
        let addresses = devices.compactMap { $0.address?.ipAddress }
        return Array(Set(addresses.map { $0.split(separator: "%").first.map(String.init) ?? $0 })).sorted()
    }
}
