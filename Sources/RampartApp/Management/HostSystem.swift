import Foundation
import NetConfig
import RampartModel
import WebAPI

/// The machine below the gateway: identity, interfaces and routes, the clock.
struct HostSystem: SystemService {
    /// false: the gateway saves interface and clock settings but never changes the system (`--system-changes off`,
    /// used by tests and by gateways whose host is managed otherwise).
    let systemChanges: Bool
    let started: ContinuousClock.Instant
    let ip = IPRoute2()
    /// Read once: neither changes while the gateway runs.
    let hostName = ProcessInfo.processInfo.hostName
    let machineID =
        (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines)

    func identity() async -> SystemIdentity {
        let uptime =
            (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))?
            .split(separator: " ").first.flatMap { Double($0) } ?? 0
        return SystemIdentity(
            hostName: hostName, serial: machineID ?? "unknown", version: ProductInfo.version,
            buildCommit: buildCommit, uptimeSeconds: Int(uptime),
            gatewayUptimeSeconds: Int((ContinuousClock.now - started).components.seconds))
    }

    func interfaces() async throws -> [InterfaceInfo] {
        do { return try await ip.interfaces() } catch {
            throw APIError(status: .serviceUnavailable, code: "system", message: "\(error)")
        }
    }

    func routes() async throws -> [RouteInfo] {
        do { return try await ip.routes() } catch {
            throw APIError(status: .serviceUnavailable, code: "system", message: "\(error)")
        }
    }

    func setClock(_ date: Date) async -> ApplyOutcome {
        guard systemChanges else { return .notApplied("system changes are turned off (--system-changes off)") }
        guard Capability.sysTime.isEffective else { return .notApplied("needs \(Capability.sysTime)") }
        do {
            try SystemClock.set(date)
            return .applied("the system clock is set")
        } catch {
            return .notApplied("\(error)")
        }
    }
}

/// Applies the LAN and WAN settings with `ip` when the gateway may change the system.
struct NetworkReconciler: Reconciler {
    let systemChanges: Bool
    let ip = IPRoute2()

    func apply(_ settings: NetworkSettings) async -> ApplyOutcome {
        guard systemChanges else { return .notApplied("system changes are turned off (--system-changes off)") }
        guard Capability.netAdmin.isEffective else { return .notApplied("needs \(Capability.netAdmin)") }
        for interface in [settings.lan.interface, settings.wan.interface] where await !ip.interfaceExists(interface) {
            return .notApplied("the interface \(interface) does not exist on this machine")
        }
        var notes: [String] = []
        do {
            if let mask = IPv4Address(settings.lan.netmask), let prefix = IPv4Subnet.prefixLength(ofMask: mask) {
                try await ip.setAddress(settings.lan.address, prefixLength: prefix, on: settings.lan.interface)
            }
            if settings.wan.dhcpClient {
                notes.append("WAN DHCP client not applied: this build has no DHCP client")
            } else if let mask = IPv4Address(settings.wan.netmask), let prefix = IPv4Subnet.prefixLength(ofMask: mask) {
                try await ip.setAddress(settings.wan.address, prefixLength: prefix, on: settings.wan.interface)
                try await ip.setDefaultRoute(via: settings.wan.gateway, device: settings.wan.interface)
            }
            if settings.lan.dhcpServer.enabled {
                notes.append("DHCP server not applied: this build has no DHCP server")
            }
        } catch {
            return .notApplied("\(error)")
        }
        return ApplyOutcome(
            applied: notes.isEmpty, detail: (["interface addresses applied"] + notes).joined(separator: "; "))
    }
}
