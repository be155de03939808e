import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A three-namespace network on this machine for trying the gateway and testing it end to end:
/// `rampart-lan` (devices) ↔ `rampart-gw` (the gateway, forwarding) ↔ `rampart-wan` (the outside). Only
/// documentation addresses are used, and nothing is created in the root namespace: the veth pairs are made with
/// their ends already in place, so deleting the three namespaces removes everything.
package struct Lab: Sendable {
    package static let lanNamespace = "rampart-lan"
    package static let gatewayNamespace = "rampart-gw"
    package static let wanNamespace = "rampart-wan"
    package static let namespaces = [lanNamespace, gatewayNamespace, wanNamespace]

    package static let gatewayLANAddresses = ["192.0.2.1/24", "2001:db8:1::1/64"]
    package static let gatewayWANAddresses = ["198.51.100.2/24", "2001:db8:2::2/64"]
    package static let lanAddresses = ["192.0.2.10/24", "192.0.2.11/24", "2001:db8:1::10/64", "2001:db8:1::11/64"]
    package static let wanAddresses = ["198.51.100.1/24", "198.51.100.10/24", "2001:db8:2::1/64", "2001:db8:2::10/64"]
    package static let forwardingSysctls = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]

    /// Every interface of the lab with its namespace and addresses.
    package static let interfaces: [(namespace: String, name: String, addresses: [String])] = [
        (gatewayNamespace, "lan0", gatewayLANAddresses),
        (gatewayNamespace, "wan0", gatewayWANAddresses),
        (lanNamespace, "eth0", lanAddresses),
        (wanNamespace, "eth0", wanAddresses),
    ]

    /// Routes: namespace, `ip route add` arguments.
    private static let routes: [(namespace: String, arguments: [String])] = [
        (lanNamespace, ["-4", "route", "add", "default", "via", "192.0.2.1"]),
        (lanNamespace, ["-6", "route", "add", "default", "via", "2001:db8:1::1"]),
        (wanNamespace, ["-4", "route", "add", "192.0.2.0/24", "via", "198.51.100.2"]),
        (wanNamespace, ["-6", "route", "add", "2001:db8:1::/64", "via", "2001:db8:2::2"]),
    ]

    package var ip: String
    package var sysctl: String

    package init(ip: IPRoute2 = IPRoute2(), sysctl: String = "/usr/sbin/sysctl") {
        self.ip = ip.executable
        self.sysctl = FileManager.default.isExecutableFile(atPath: sysctl) ? sysctl : "/sbin/sysctl"
    }

    /// Why the lab cannot be managed from this process; nil when it can.
    package var unavailableReason: String? {
        if geteuid() != 0 { return "the lab needs root: it creates network namespaces" }
        if !FileManager.default.isExecutableFile(atPath: ip) { return "ip not found at \(ip) (install iproute2)" }
        if !FileManager.default.isExecutableFile(atPath: sysctl) {
            return "sysctl not found at \(sysctl) (install procps)"
        }
        return nil
    }

    // MARK: Status

    /// An interface of a lab namespace as `ip` shows it.
    package struct Interface: Sendable, Equatable {
        package var name: String
        /// Administratively up.
        package var isUp: Bool
        /// CIDR notation.
        package var addresses: [String]
    }

    package struct Namespace: Sendable, Equatable {
        package var name: String
        package var exists: Bool
        package var interfaces: [Interface]
        /// The forwarding sysctls that are off (the gateway namespace only).
        package var forwardingOff: [String]
    }

    package struct Status: Sendable, Equatable {
        package enum State: String, Sendable { case complete, partial, down }

        package var namespaces: [Namespace]
        /// What is missing or wrong, one sentence each; empty when the lab is complete.
        package var problems: [String]

        package var state: State {
            if !namespaces.contains(where: \.exists) { return .down }
            return problems.isEmpty ? .complete : .partial
        }
    }

    package func status() async throws(SystemCommandError) -> Status {
        let existing = try await existingNamespaces()
        var namespaces: [Namespace] = []
        var problems: [String] = []
        for name in Self.namespaces {
            guard existing.contains(name) else {
                namespaces.append(Namespace(name: name, exists: false, interfaces: [], forwardingOff: []))
                problems.append("namespace \(name) is missing")
                continue
            }
            let interfaces = try Self.parseInterfaces(try await run(ip, ["-n", name, "-j", "address", "show"]))
            var forwardingOff: [String] = []
            if name == Self.gatewayNamespace {
                for key in Self.forwardingSysctls {
                    let value = try await run(ip, ["netns", "exec", name, sysctl, "-n", key])
                    if String(decoding: value, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) != "1" {
                        forwardingOff.append(key)
                        problems.append("\(name): \(key) is off")
                    }
                }
            }
            let expectedInterfaces =
                [(name: "lo", addresses: [String]())]
                + Self.interfaces.filter { $0.namespace == name }.map { (name: $0.name, addresses: $0.addresses) }
            for expected in expectedInterfaces {
                guard let interface = interfaces.first(where: { $0.name == expected.name }) else {
                    problems.append("\(name): interface \(expected.name) is missing")
                    continue
                }
                if !interface.isUp { problems.append("\(name): \(expected.name) is down") }
                for address in expected.addresses where !interface.addresses.contains(address) {
                    problems.append("\(name): \(expected.name) lacks \(address)")
                }
            }
            namespaces.append(Namespace(name: name, exists: true, interfaces: interfaces, forwardingOff: forwardingOff))
        }
        return Status(namespaces: namespaces, problems: problems)
    }

    // MARK: Up and down

    package enum UpOutcome: Sendable, Equatable {
        case alreadyUp
        case created
        /// It was partial (the problems found) and was rebuilt.
        case rebuilt([String])
    }

    /// Builds the lab; leaves a complete lab alone and rebuilds a partial one from scratch. When a step fails, what
    /// was built is removed again.
    package func up() async throws(SystemCommandError) -> UpOutcome {
        let before = try await status()
        switch before.state {
        case .complete: return .alreadyUp
        case .partial: _ = try await down()
        case .down: break
        }
        do { try await build() } catch {
            _ = try? await down()
            throw error
        }
        return before.state == .partial ? .rebuilt(before.problems) : .created
    }

    /// Deletes the lab's namespaces (their interfaces go with them); returns the ones that were there.
    package func down() async throws(SystemCommandError) -> [String] {
        let existing = try await existingNamespaces()
        var deleted: [String] = []
        for name in Self.namespaces where existing.contains(name) {
            _ = try await run(ip, ["netns", "delete", name])
            deleted.append(name)
        }
        return deleted
    }

    private func build() async throws(SystemCommandError) {
        for name in Self.namespaces {
            _ = try await run(ip, ["netns", "add", name])
            _ = try await run(ip, ["-n", name, "link", "set", "lo", "up"])
        }
        _ = try await run(
            ip,
            [
                "link", "add", "lan0", "netns", Self.gatewayNamespace, "type", "veth", "peer", "name", "eth0", "netns",
                Self.lanNamespace,
            ])
        _ = try await run(
            ip,
            [
                "link", "add", "wan0", "netns", Self.gatewayNamespace, "type", "veth", "peer", "name", "eth0", "netns",
                Self.wanNamespace,
            ])
        for interface in Self.interfaces {
            for address in interface.addresses {
                // Without duplicate address detection an IPv6 address is usable at once instead of after ~2 s.
                let nodad = address.contains(":") ? ["nodad"] : []
                _ = try await run(
                    ip, ["-n", interface.namespace, "address", "add", address, "dev", interface.name] + nodad)
            }
            _ = try await run(ip, ["-n", interface.namespace, "link", "set", interface.name, "up"])
        }
        for route in Self.routes {
            _ = try await run(ip, ["-n", route.namespace] + route.arguments)
        }
        for key in Self.forwardingSysctls {
            _ = try await run(ip, ["netns", "exec", Self.gatewayNamespace, sysctl, "-w", "\(key)=1"])
        }
    }

    private func existingNamespaces() async throws(SystemCommandError) -> Set<String> {
        try Self.parseNamespaces(try await run(ip, ["-j", "netns", "list"]))
    }

    private func run(_ executable: String, _ arguments: [String]) async throws(SystemCommandError) -> Data {
        try await SystemCommand.run(executable, arguments)
    }

    // MARK: Parsing (internal for tests)

    private struct NamespaceJSON: Decodable {
        var name: String
    }

    private struct InterfaceJSON: Decodable {
        struct AddressInfo: Decodable {
            var local: String?
            var prefixlen: Int?
        }
        var ifname: String
        var flags: [String]?
        var addr_info: [AddressInfo]?
    }

    /// `ip -j netns list` prints nothing at all when there is no namespace.
    static func parseNamespaces(_ data: Data) throws(SystemCommandError) -> Set<String> {
        guard data.contains(where: { !Character(UnicodeScalar($0)).isWhitespace }) else { return [] }
        do { return Set(try JSONDecoder().decode([NamespaceJSON].self, from: data).map(\.name)) } catch {
            throw SystemCommandError(command: "ip -j netns list", status: 0, output: "unreadable output: \(error)")
        }
    }

    static func parseInterfaces(_ data: Data) throws(SystemCommandError) -> [Interface] {
        do {
            return try JSONDecoder().decode([InterfaceJSON].self, from: data).map { item in
                Interface(
                    name: item.ifname, isUp: item.flags?.contains("UP") ?? false,
                    addresses: (item.addr_info ?? []).compactMap { info in
                        guard let local = info.local, let length = info.prefixlen else { return nil }
                        return "\(local)/\(length)"
                    })
            }
        } catch {
            throw SystemCommandError(command: "ip -j address show", status: 0, output: "unreadable output: \(error)")
        }
    }
}
