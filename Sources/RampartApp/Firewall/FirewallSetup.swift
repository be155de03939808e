import Events
import FirewallDriver
import FirewallPolicy
import Foundation
import NetConfig
import RampartModel
import Store
import WebAPI

/// Builds the firewall service from the gateway's other settings: the zones' interfaces and the LAN's services come
/// from the network settings, the web port from the command line, the MQTT ports from the active broker profile,
/// the syslog target from the forwarding settings.
enum FirewallSetup {
    struct Options {
        var systemChanges: Bool
        var webPort: Int
        var mqttPorts: [Int]
        var confirmationTimeout: Duration
        var dataDirectory: String
    }

    static func service(
        options: Options, store: GatewayStore, reporter: any SecurityEventReporting
    ) -> FirewallService {
        let webPort = UInt16(clamping: options.webPort)
        let mqttPorts = options.mqttPorts.filter { (1...65535).contains($0) }.map { UInt16($0) }
        let environment: @Sendable () async -> FirewallEnvironment = {
            let network = (try? store.document(NetworkSettings.self).document) ?? .defaults
            let syslog = try? store.document(SyslogSettings.self).document
            return FirewallEnvironment(
                lanInterfaces: [network.lan.interface], wanInterfaces: [network.wan.interface], webPort: webPort,
                mqttPorts: mqttPorts, syslog: syslog.flatMap(syslogTarget), dhcpServer: network.lan.dhcpServer.enabled)
        }
        let work = URL(fileURLWithPath: options.dataDirectory).appendingPathComponent("firewall")
        try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let backend = NFTablesBackend(
            driver: NFTablesDriver(workDirectory: work), systemChanges: options.systemChanges,
            environment: environment)
        return FirewallService(
            store: store, backend: backend, environment: environment,
            zoneOf: { address in await zone(of: address, store: store, environment: environment) },
            reporter: reporter,
            options: FirewallService.Options(confirmationTimeout: options.confirmationTimeout))
    }

    private static func syslogTarget(_ settings: SyslogSettings) -> FirewallEnvironment.SyslogTarget? {
        guard settings.enabled else { return nil }
        let text = settings.address
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return FirewallEnvironment.SyslogTarget(
            address: IPAddress(host) == nil ? "" : host, port: port, transport: settings.mode == .udp ? .udp : .tcp)
    }

    /// The zone whose interface the kernel routes `address` through; the LAN subnet of the settings when the
    /// kernel cannot say.
    private static func zone(
        of address: IPAddress, store: GatewayStore, environment: @Sendable () async -> FirewallEnvironment
    ) async -> Zone {
        let environment = await environment()
        if let output = try? await SystemCommand.run(IPRoute2().executable, ["-j", "route", "get", "\(address)"]),
            let routes = try? JSONSerialization.jsonObject(with: output) as? [[String: Any]],
            let device = routes.first?["dev"] as? String, let zone = environment.zone(ofInterface: device)
        {
            return zone
        }
        let network = (try? store.document(NetworkSettings.self).document) ?? .defaults
        if address.family == .ipv4, let lan = IPv4Address(network.lan.address),
            let mask = IPv4Address(network.lan.netmask), UInt32(address.value) & mask.value == lan.value & mask.value
        {
            return .lan
        }
        return .wan
    }
}
