import FirewallPolicy
import Foundation
import NFTables
import Testing

/// A configuration and the environment it is compiled in, at a fixed time, so its ruleset is the same on every run;
/// each has a golden file `Golden/<name>.nft`.
struct Scenario: Sendable, CustomTestStringConvertible {
    /// 2026-01-01 00:00:00 UTC; list entries expire relative to it.
    static let now = Date(timeIntervalSince1970: 1_767_225_600)

    var name: String
    var configuration: FirewallConfiguration
    var environment: FirewallEnvironment

    var testDescription: String { name }

    func policy() throws -> CompiledPolicy {
        try PolicyCompiler.compile(configuration, environment: environment, now: Self.now)
    }

    func ruleset() throws -> Ruleset { NFTablesCompiler.render(try policy()) }

    static let all: [Scenario] = [
        Scenario(name: "router-defaults", configuration: FirewallConfiguration(), environment: FirewallEnvironment()),
        routerPopulated,
        Scenario(
            name: "unidirectional-defaults", configuration: FirewallConfiguration(deviceType: .unidirectional),
            environment: FirewallEnvironment()),
        unidirectionalPopulated,
        twoLANInterfaces,
    ]

    /// Every stage of a router has rules: blocked protocols, emergency mode, both lists in both families with a
    /// network, a range and expiring entries, port forwards, custom rules with every kind of field.
    static var routerPopulated: Scenario {
        var configuration = FirewallConfiguration(
            deviceType: .router, emergency: true, masquerade: true, blockedProtocols: ["modbus", "mqtt"],
            allowlist: [
                ListEntry(address: "192.0.2.0/28", comment: "office"),
                ListEntry(address: "198.51.100.5-198.51.100.9", source: .discovery),
                ListEntry(address: "2001:db8:1::/48", comment: "site \"B\""),
                ListEntry(address: "203.0.113.7", expires: now + 90_061, comment: "visitor"),
                ListEntry(address: "203.0.113.8", expires: now - 1, comment: "expired, left out"),
            ],
            denylist: [
                ListEntry(address: "192.0.2.200", expires: now + 3_600, comment: "port scan", source: .ips),
                ListEntry(address: "2001:db8:bad::1-2001:db8:bad::ff", source: .ips),
                ListEntry(address: "2001:db8:dead::/64", expires: now + 300),
            ])
        configuration.insert(
            NATRule(protocol: .tcp, wanPort: "8080", lanAddress: "192.168.1.10", lanPort: "80", comment: "web"))
        configuration.insert(NATRule(protocol: .udp, wanPort: "10000-10010", lanAddress: "192.168.1.20"))
        configuration.insert(
            NATRule(enabled: false, protocol: .tcp, wanPort: "2222", lanAddress: "192.168.1.30", lanPort: "22"))
        configuration.insert(
            CustomRule(
                action: .deny, zone: .lan, source: "192.168.1.0/24", sourcePort: "1024-65535",
                destination: "203.0.113.0/24", destinationPort: "23", protocol: .tcp, comment: "no telnet out"))
        configuration.insert(
            CustomRule(
                action: .deny, zone: .wan, source: "198.51.100.10-198.51.100.20", destinationPort: "161-162",
                protocol: .udp))
        configuration.insert(CustomRule(action: .deny, zone: .wan, protocol: .icmp, comment: "no ping from outside"))
        configuration.insert(
            CustomRule(action: .allow, zone: .wan, destination: "2001:db8::10", destinationPort: "443", protocol: .tcp))
        configuration.insert(CustomRule(action: .allow, zone: .lan, source: "2001:db8::/64", protocol: .icmp))
        configuration.insert(CustomRule(action: .allow, zone: .lan, destination: "192.168.1.50"))
        configuration.insert(
            CustomRule(enabled: false, action: .allow, zone: .wan, destinationPort: "22", protocol: .tcp))
        return Scenario(
            name: "router-populated", configuration: configuration,
            environment: FirewallEnvironment(
                mqttPorts: [8883, 1883],
                syslog: .init(address: "192.0.2.50", port: 6514, transport: .tcp)))
    }

    /// A unidirectional gateway with what it can have: no port forwards and no WAN rules.
    static var unidirectionalPopulated: Scenario {
        var configuration = FirewallConfiguration(
            deviceType: .unidirectional, masquerade: true, blockedProtocols: ["s7comm", "smb"],
            allowlist: [ListEntry(address: "10.1.0.0/16", comment: "plant network")],
            denylist: [
                ListEntry(address: "10.1.2.3", expires: now + 59, source: .ips),
                ListEntry(address: "fd00::/8", comment: "unique local"),
            ])
        configuration.insert(
            CustomRule(
                action: .deny, zone: .lan, destination: "10.1.9.0/24", destinationPort: "502", protocol: .tcp,
                comment: "no Modbus to the safety cell"))
        configuration.insert(
            CustomRule(action: .allow, zone: .lan, source: "10.1.1.0-10.1.1.99", destinationPort: "123", protocol: .udp)
        )
        configuration.insert(CustomRule(action: .allow, zone: .lan, protocol: .icmp))
        return Scenario(
            name: "unidirectional-populated", configuration: configuration,
            environment: FirewallEnvironment(
                mqttPorts: [], syslog: .init(address: "", port: 514, transport: .udp), dhcpServer: false))
    }

    static var twoLANInterfaces: Scenario {
        var configuration = FirewallConfiguration(deviceType: .unidirectional)
        configuration.insert(CustomRule(action: .allow, zone: .lan, destinationPort: "8000-8100", protocol: .tcp))
        return Scenario(
            name: "unidirectional-two-lans", configuration: configuration,
            environment: FirewallEnvironment(lanInterfaces: ["lan0", "lan1"], wanInterfaces: ["wan0"]))
    }
}
