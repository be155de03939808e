import Foundation
import RampartModel

/// The `ip` tool of iproute2: reads interfaces and routes as JSON (`ip -j`) and applies interface addresses and
/// the default route.
package struct IPRoute2: Sendable {
    package var executable: String

    package init(executable: String = "/usr/sbin/ip") {
        self.executable = FileManager.default.isExecutableFile(atPath: executable) ? executable : "/sbin/ip"
    }

    package func interfaces() async throws -> [InterfaceInfo] {
        try Self.parseInterfaces(try await run(["-j", "address", "show"]))
    }

    package func routes() async throws -> [RouteInfo] {
        try Self.parseRoutes(try await run(["-j", "route", "show"]))
    }

    package func interfaceExists(_ name: String) async -> Bool {
        (try? await run(["-j", "link", "show", "dev", name])) != nil
    }

    /// Replaces the IPv4 addresses of `interface` by `address/prefix` and brings it up.
    package func setAddress(_ address: String, prefixLength: Int, on interface: String) async throws {
        _ = try await run(["-4", "address", "flush", "dev", interface])
        _ = try await run(["address", "add", "\(address)/\(prefixLength)", "dev", interface])
        _ = try await run(["link", "set", "dev", interface, "up"])
    }

    package func setDefaultRoute(via gateway: String, device: String) async throws {
        _ = try await run(["route", "replace", "default", "via", gateway, "dev", device])
    }

    // MARK: Parsing (internal for tests)

    private struct AddressJSON: Decodable {
        struct AddressInfo: Decodable {
            var local: String?
            var prefixlen: Int?
        }
        var ifname: String
        var operstate: String?
        var address: String?
        var mtu: Int?
        var addr_info: [AddressInfo]?
    }

    private struct RouteJSON: Decodable {
        var dst: String?
        var gateway: String?
        var dev: String?
        var prefsrc: String?
    }

    static func parseInterfaces(_ data: Data) throws -> [InterfaceInfo] {
        try JSONDecoder().decode([AddressJSON].self, from: data).map { item in
            InterfaceInfo(
                name: item.ifname, state: item.operstate ?? "UNKNOWN", mac: item.address, mtu: item.mtu,
                addresses: (item.addr_info ?? []).compactMap { info in
                    info.local.map { local in info.prefixlen.map { "\(local)/\($0)" } ?? local }
                })
        }
    }

    static func parseRoutes(_ data: Data) throws -> [RouteInfo] {
        try JSONDecoder().decode([RouteJSON].self, from: data).map { item in
            RouteInfo(destination: item.dst ?? "default", gateway: item.gateway, device: item.dev, source: item.prefsrc)
        }
    }

    // MARK: Running

    private func run(_ arguments: [String]) async throws(SystemCommandError) -> Data {
        try await SystemCommand.run(executable, arguments)
    }
}
