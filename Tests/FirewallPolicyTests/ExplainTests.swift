import Foundation
import Testing

@testable import FirewallPolicy

private let lan = Ingress.zone(.lan)
private let wan = Ingress.zone(.wan)
private let loopback = Ingress.loopback
/// The egress of a packet addressed to the gateway itself.
private let gateway: Zone? = nil

/// The stage order of each path as the product's specification gives it, written out here rather than read from
/// `StagePath.stages`, so a change of the compiler's order shows up as a wrong `passed` list.
private let specifiedOrder: [StagePath: [Stage]] = [
    .router: [
        .diagnosticAllow, .presetAllow, .applicationDeny, .emergencyDeny, .allowlist, .denylist, .natAllow,
        .customDeny, .customAllow, .presetServicesAllow, .established, .finalBlock,
    ],
    .external: [.diagnosticAllow, .outgoingAllow, .presetAllow, .vpnAllow, .finalBlock],
    .internal: [
        .diagnosticAllow, .outgoingAllow, .presetAllow, .applicationDeny, .emergencyDeny, .allowlist, .denylist,
        .customDeny, .customAllow, .presetServicesAllow, .established, .finalBlock,
    ],
]

/// A packet with its addresses as text, so a table row reads like what an operator types into the tracer.
struct TracedPacket: Sendable {
    var ingress: Ingress
    var egress: Zone?
    var source: String
    var destination: String
    var transport: Transport
    var sourcePort: UInt16?
    var destinationPort: UInt16?
    var icmpType: String?
    var state: ConnectionState

    func packet() throws -> PacketDescription {
        PacketDescription(
            ingress: ingress, egress: egress, source: try #require(IPAddress(source), "\(source)"),
            destination: try #require(IPAddress(destination), "\(destination)"), transport: transport,
            sourcePort: sourcePort, destinationPort: destinationPort, icmpType: icmpType, state: state)
    }
}

private func tcp(
    _ ingress: Ingress, to egress: Zone?, _ source: String, _ destination: String, port: UInt16,
    from sourcePort: UInt16 = 40000, _ state: ConnectionState = .new
) -> TracedPacket {
    TracedPacket(
        ingress: ingress, egress: egress, source: source, destination: destination, transport: .tcp,
        sourcePort: sourcePort, destinationPort: port, state: state)
}

private func udp(
    _ ingress: Ingress, to egress: Zone?, _ source: String, _ destination: String, port: UInt16,
    from sourcePort: UInt16 = 40000, _ state: ConnectionState = .new
) -> TracedPacket {
    TracedPacket(
        ingress: ingress, egress: egress, source: source, destination: destination, transport: .udp,
        sourcePort: sourcePort, destinationPort: port, state: state)
}

/// ICMP, or ICMPv6 when the source is an IPv6 address.
private func icmp(
    _ ingress: Ingress, to egress: Zone?, _ source: String, _ destination: String, type: String = "echo-request",
    _ state: ConnectionState = .new
) -> TracedPacket {
    TracedPacket(
        ingress: ingress, egress: egress, source: source, destination: destination,
        transport: source.contains(":") ? .icmpv6 : .icmp, icmpType: type, state: state)
}

private func other(
    _ transport: Transport, _ ingress: Ingress, to egress: Zone?, _ source: String, _ destination: String
) -> TracedPacket {
    TracedPacket(
        ingress: ingress, egress: egress, source: source, destination: destination, transport: transport, state: .new)
}

/// One question to the tracer and the answer the specification gives.
struct Trace: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var packet: TracedPacket
    var verdict: Verdict
    var stage: Stage
    var ruleID: String

    init(_ name: String, _ packet: TracedPacket, _ verdict: Verdict, _ stage: Stage, _ ruleID: String) {
        self.testDescription = name
        self.packet = packet
        self.verdict = verdict
        self.stage = stage
        self.ruleID = ruleID
    }
}

@Suite("Packet tracer")
struct ExplainTests {
    static let start = Date(timeIntervalSince1970: 1_750_000_000)

    /// LAN 192.168.1.0/24 and fd00:1::/64 with the gateway at .1; WAN 203.0.113.0/24 with the gateway at .2.
    static let environment = FirewallEnvironment(
        lanInterfaces: ["lan0"], wanInterfaces: ["wan0"], webPort: 8443, managementPort: 8444,
        mqttPorts: [1883, 8883], syslog: .init(address: "192.168.1.5", port: 6514, transport: .tcp),
        dhcpServer: true)

    static func routerConfiguration(emergency: Bool = false) -> FirewallConfiguration {
        var configuration = FirewallConfiguration(
            deviceType: .router, emergency: emergency, masquerade: true, blockedProtocols: ["modbus", "telnet"],
            allowlist: [
                ListEntry(address: "198.51.100.10"), ListEntry(address: "2001:db8:a::/48"),
                ListEntry(address: "198.51.100.77", expires: start + 3600, source: .discovery),
            ],
            denylist: [
                ListEntry(address: "198.51.100.66", source: .ips), ListEntry(address: "203.0.113.128/25"),
                ListEntry(address: "198.51.100.99", expires: start + 60, comment: "probe"),
            ])
        configuration.insert(NATRule(protocol: .tcp, wanPort: "8080", lanAddress: "192.0.2.10", lanPort: "80"))
        configuration.insert(NATRule(protocol: .udp, wanPort: "5000-5010", lanAddress: "192.0.2.11"))
        configuration.insert(
            NATRule(enabled: false, protocol: .tcp, wanPort: "2222", lanAddress: "192.0.2.12", lanPort: "22"))
        // Inserted in this order, so rule n has id n.
        let rules = [
            CustomRule(action: .deny, zone: .wan, destinationPort: "22", protocol: .tcp),
            CustomRule(action: .deny, zone: .wan, source: "198.51.100.10"),
            CustomRule(action: .allow, zone: .wan, source: "198.51.100.66"),
            CustomRule(action: .allow, zone: .wan, destinationPort: "502", protocol: .tcp),
            CustomRule(
                action: .allow, zone: .lan, destination: "198.51.100.0/24", destinationPort: "443", protocol: .tcp),
            CustomRule(action: .deny, zone: .lan, destination: "198.51.100.200"),
            CustomRule(action: .allow, zone: .wan, protocol: .icmp),
            CustomRule(action: .allow, zone: .wan, source: "198.51.100.5", destinationPort: "22", protocol: .tcp),
            CustomRule(enabled: false, action: .allow, zone: .wan, destinationPort: "3389", protocol: .tcp),
            CustomRule(action: .deny, zone: .wan, source: "198.51.100.20"),
            CustomRule(
                action: .allow, zone: .lan, destination: "2001:db8::/32", destinationPort: "123", protocol: .udp),
        ]
        for rule in rules { configuration.insert(rule) }
        return configuration
    }

    static func unidirectionalConfiguration(emergency: Bool = false) -> FirewallConfiguration {
        var configuration = FirewallConfiguration(
            deviceType: .unidirectional, emergency: emergency, blockedProtocols: ["s7comm"],
            allowlist: [ListEntry(address: "192.168.1.50"), ListEntry(address: "198.51.100.10")],
            denylist: [ListEntry(address: "198.51.100.66")])
        // Rules 1, 2 and 3.
        configuration.insert(
            CustomRule(
                action: .allow, zone: .lan, destination: "198.51.100.0/24", destinationPort: "443", protocol: .tcp))
        configuration.insert(CustomRule(action: .deny, zone: .lan, source: "192.168.1.66"))
        configuration.insert(CustomRule(enabled: false, action: .allow, zone: .wan, protocol: .tcp))
        return configuration
    }

    // MARK: Tables

    static let routerTraces: [Trace] = [
        // To the gateway.
        .init(
            "web UI from the LAN", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 8443), .accept,
            .presetAllow, "preset:web"),
        .init(
            "web UI from the LAN over IPv6", tcp(lan, to: gateway, "fd00:1::20", "fd00:1::1", port: 8443), .accept,
            .presetAllow, "preset:web"),
        .init(
            "web UI from the WAN", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8443), .drop,
            .finalBlock, "final"),
        .init(
            "management from the WAN", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8444), .accept,
            .presetAllow, "preset:management"),
        .init(
            "echo request from the WAN", icmp(wan, to: gateway, "198.51.100.30", "203.0.113.2"), .accept,
            .presetAllow, "preset:icmp"),
        .init(
            "neighbour solicitation from the LAN",
            icmp(lan, to: gateway, "fe80::20", "ff02::1:ff00:1", type: "nd-neighbor-solicit"), .accept, .presetAllow,
            "preset:icmpv6"),
        .init(
            "ICMP redirect from the LAN", icmp(lan, to: gateway, "192.168.1.20", "192.168.1.1", type: "redirect"),
            .drop, .finalBlock, "final"),
        .init(
            "reply to the gateway's ping",
            icmp(wan, to: gateway, "198.51.100.30", "203.0.113.2", type: "echo-reply", .established), .accept,
            .diagnosticAllow, "preset:diagnostic-echo"),
        .init(
            "reply to the gateway's IPv6 ping",
            icmp(wan, to: gateway, "2001:db8:1::5", "2001:db8:ffff::2", type: "echo-reply", .established), .accept,
            .diagnosticAllow, "preset:diagnostic-echo6"),
        .init(
            "loopback", tcp(loopback, to: gateway, "127.0.0.1", "127.0.0.1", port: 1883), .accept, .diagnosticAllow,
            "preset:loopback"),
        .init(
            "CARP from the LAN", other(.vrrp, lan, to: gateway, "192.168.1.3", "224.0.0.18"), .accept, .presetAllow,
            "preset:carp"),
        .init(
            "MQTT from the LAN", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 1883), .accept,
            .presetServicesAllow, "preset:mqtt"),
        .init(
            "MQTT over TLS from the WAN", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8883), .accept,
            .presetServicesAllow, "preset:mqtt"),
        .init(
            "a port no service listens on", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 1884), .drop,
            .finalBlock, "final"),
        .init(
            "DHCP request from the LAN", udp(lan, to: gateway, "0.0.0.0", "255.255.255.255", port: 67, from: 68),
            .accept, .presetServicesAllow, "preset:dhcp-server"),
        .init(
            "DHCP answer on the WAN", udp(wan, to: gateway, "203.0.113.1", "203.0.113.2", port: 68, from: 67),
            .accept, .presetServicesAllow, "preset:dhcp-client"),
        .init(
            "DNS answer to the gateway (a reply: no preset opens source port 53)",
            udp(wan, to: gateway, "198.51.100.53", "203.0.113.2", port: 41000, from: 53, .established), .accept,
            .established, "preset:established"),
        .init(
            "a new packet from source port 53 is no DNS answer",
            udp(wan, to: gateway, "198.51.100.53", "203.0.113.2", port: 41000, from: 53), .drop, .finalBlock,
            "final"),
        .init(
            "answer of the syslog receiver (a reply)",
            tcp(lan, to: gateway, "192.168.1.5", "192.168.1.1", port: 38000, from: 6514, .established), .accept,
            .established, "preset:established"),
        .init(
            "a LAN device logs to the gateway's syslog receiver",
            tcp(lan, to: .wan, "192.168.1.20", "192.168.1.5", port: 6514), .accept, .presetServicesAllow,
            "preset:syslog"),
        .init(
            "the syslog receiver's port on another host is not a preset",
            tcp(lan, to: .wan, "192.168.1.20", "192.168.1.6", port: 6514), .drop, .finalBlock, "final"),
        .init(
            "reply to a connection of the gateway",
            tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 45000, from: 443, .established), .accept,
            .established, "preset:established"),
        .init(
            "SSH from the WAN to the gateway", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 22),
            .drop, .customDeny, "rule:1"),
        .init(
            "SSH from the LAN to the gateway", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 22), .drop,
            .finalBlock, "final"),
        // Through the gateway.
        .init(
            "HTTPS out, allowed by a custom rule", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 443),
            .accept, .customAllow, "rule:5"),
        .init(
            "HTTP out, not allowed", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 80), .drop,
            .finalBlock, "final"),
        .init(
            "custom deny before custom allow", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.200", port: 443), .drop,
            .customDeny, "rule:6"),
        .init(
            "allowlisted source beats a custom deny", tcp(wan, to: .lan, "198.51.100.10", "192.168.1.20", port: 22),
            .accept, .allowlist, "allowlist"),
        .init(
            "allowlisted IPv6 network", tcp(wan, to: .lan, "2001:db8:a::7", "fd00:1::20", port: 80), .accept,
            .allowlist, "allowlist"),
        .init(
            "allowlist matches the destination too", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.10", port: 8000),
            .accept, .allowlist, "allowlist"),
        .init(
            "denylisted source beats a custom allow", tcp(wan, to: .lan, "198.51.100.66", "192.168.1.20", port: 80),
            .drop, .denylist, "denylist"),
        .init(
            "denylisted destination beats a custom allow",
            tcp(lan, to: .wan, "192.168.1.20", "198.51.100.66", port: 443), .drop, .denylist, "denylist"),
        .init(
            "denylisted network", tcp(lan, to: .wan, "192.168.1.20", "203.0.113.200", port: 443), .drop, .denylist,
            "denylist"),
        .init(
            "blocked protocol beats a custom allow", tcp(wan, to: .lan, "198.51.100.30", "192.0.2.10", port: 502),
            .drop, .applicationDeny, "app:modbus"),
        .init(
            "blocked protocol beats the allowlist", tcp(wan, to: .lan, "198.51.100.10", "192.0.2.10", port: 502),
            .drop, .applicationDeny, "app:modbus"),
        .init(
            "blocked protocol from the LAN", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 23), .drop,
            .applicationDeny, "app:telnet"),
        .init(
            "blocked protocol to the gateway", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 502),
            .drop, .applicationDeny, "app:modbus"),
        .init(
            "a blocked protocol's port over the other transport",
            udp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 502), .drop, .finalBlock, "final"),
        .init(
            "port forward", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8080), .accept, .natAllow,
            "nat:1"),
        .init(
            "port forward of a UDP range", udp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 5005),
            .accept, .natAllow, "nat:2"),
        .init(
            "forwarded port over the other transport",
            udp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8080), .drop, .finalBlock, "final"),
        .init(
            "disabled port forward", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 2222), .drop,
            .finalBlock, "final"),
        .init(
            "forward target reached directly", tcp(wan, to: .lan, "198.51.100.30", "192.0.2.10", port: 80), .drop,
            .finalBlock, "final"),
        .init(
            "reply from a host a custom rule denies",
            tcp(wan, to: .lan, "198.51.100.20", "192.168.1.20", port: 50000, from: 443, .established), .accept,
            .established, "preset:established"),
        .init(
            "related ICMP error from a host a custom rule denies",
            icmp(wan, to: .lan, "198.51.100.20", "192.168.1.20", type: "destination-unreachable", .related), .accept,
            .established, "preset:established"),
        .init(
            "new connection from a host a custom rule denies",
            tcp(wan, to: .lan, "198.51.100.20", "192.168.1.20", port: 8000), .drop, .customDeny, "rule:10"),
        .init(
            "ICMP rule without addresses, IPv4", icmp(wan, to: .lan, "198.51.100.30", "192.168.1.20"), .accept,
            .customAllow, "rule:7"),
        .init(
            "ICMP rule without addresses, IPv6", icmp(wan, to: .lan, "2001:db8:1::5", "fd00:1::20"), .accept,
            .customAllow, "rule:7"),
        .init(
            "custom deny beats a later, narrower allow", tcp(wan, to: .lan, "198.51.100.5", "192.168.1.20", port: 22),
            .drop, .customDeny, "rule:1"),
        .init(
            "disabled rule", tcp(wan, to: .lan, "198.51.100.30", "192.168.1.20", port: 3389), .drop, .finalBlock,
            "final"),
        .init(
            "DNS query from the LAN", udp(lan, to: .wan, "192.168.1.20", "198.51.100.53", port: 53), .accept,
            .presetServicesAllow, "preset:dns"),
        .init(
            "IPv6 rule, IPv6 packet", udp(lan, to: .wan, "fd00:1::20", "2001:db8:1::5", port: 123), .accept,
            .customAllow, "rule:11"),
        .init(
            "IPv6 rule, IPv4 packet", udp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 123), .drop,
            .finalBlock, "final"),
        .init(
            "allowlist entry before its expiry", tcp(wan, to: .lan, "198.51.100.77", "192.168.1.20", port: 8000),
            .accept, .allowlist, "allowlist"),
        .init(
            "denylist entry before its expiry", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.99", port: 443), .drop,
            .denylist, "denylist"),
    ]

    static let unidirectionalTraces: [Trace] = [
        // From the external network.
        .init(
            "connection started from the WAN", tcp(wan, to: .lan, "198.51.100.30", "192.168.1.20", port: 80), .drop,
            .finalBlock, "final"),
        .init(
            "reply to a connection the LAN started",
            tcp(wan, to: .lan, "198.51.100.30", "192.168.1.20", port: 50000, from: 443, .established), .accept,
            .outgoingAllow, "preset:outgoing-replies"),
        .init(
            "related ICMP error",
            icmp(wan, to: .lan, "198.51.100.30", "192.168.1.20", type: "destination-unreachable", .related),
            .accept, .outgoingAllow, "preset:outgoing-replies"),
        .init(
            "web UI from the WAN", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8443), .drop,
            .finalBlock, "final"),
        .init(
            "management from the WAN", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8444), .drop,
            .finalBlock, "final"),
        .init(
            "MQTT from the WAN", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 1883), .drop,
            .finalBlock, "final"),
        .init(
            "echo request from the WAN", icmp(wan, to: gateway, "198.51.100.30", "203.0.113.2"), .accept,
            .presetAllow, "preset:icmp"),
        .init(
            "reply to the gateway's ping",
            icmp(wan, to: gateway, "198.51.100.30", "203.0.113.2", type: "echo-reply", .established), .accept,
            .diagnosticAllow, "preset:diagnostic-echo"),
        .init(
            "DHCP answer on the WAN", udp(wan, to: gateway, "203.0.113.1", "203.0.113.2", port: 68, from: 67),
            .accept, .presetAllow, "preset:dhcp-client"),
        .init(
            "the allowlist does not open the WAN", tcp(wan, to: .lan, "198.51.100.10", "192.168.1.20", port: 80),
            .drop, .finalBlock, "final"),
        .init(
            "a disabled WAN rule", tcp(wan, to: .lan, "198.51.100.30", "192.168.1.20", port: 22), .drop,
            .finalBlock, "final"),
        // From the internal network.
        .init(
            "between LAN devices", tcp(lan, to: .lan, "192.168.1.20", "192.168.2.5", port: 80), .accept,
            .outgoingAllow, "preset:internal"),
        .init(
            "between LAN devices, a blocked protocol", tcp(lan, to: .lan, "192.168.1.20", "192.168.2.5", port: 102),
            .accept, .outgoingAllow, "preset:internal"),
        .init(
            "HTTPS out, allowed by a custom rule", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 443),
            .accept, .customAllow, "rule:1"),
        .init(
            "HTTP out, not allowed", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 80), .drop,
            .finalBlock, "final"),
        .init(
            "blocked protocol out", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 102), .drop,
            .applicationDeny, "app:s7comm"),
        .init(
            "custom deny", tcp(lan, to: .wan, "192.168.1.66", "198.51.100.30", port: 443), .drop, .customDeny,
            "rule:2"),
        .init(
            "allowlisted LAN device", tcp(lan, to: .wan, "192.168.1.50", "198.51.100.30", port: 8000), .accept,
            .allowlist, "allowlist"),
        .init(
            "denylisted destination beats a custom allow",
            tcp(lan, to: .wan, "192.168.1.20", "198.51.100.66", port: 443), .drop, .denylist, "denylist"),
        .init(
            "web UI from the LAN", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 8443), .accept,
            .presetAllow, "preset:web"),
        .init(
            "management from the LAN", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 8444), .accept,
            .presetAllow, "preset:management"),
        .init(
            "MQTT from the LAN has no preset", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 1883),
            .drop, .finalBlock, "final"),
        .init(
            "DHCP request from the LAN", udp(lan, to: gateway, "0.0.0.0", "255.255.255.255", port: 67, from: 68),
            .accept, .presetServicesAllow, "preset:dhcp-server"),
        .init(
            "answer of the syslog receiver (a reply)",
            tcp(lan, to: gateway, "192.168.1.5", "192.168.1.1", port: 38000, from: 6514, .established), .accept,
            .established, "preset:established"),
        .init(
            "reply to a connection of the gateway",
            tcp(lan, to: gateway, "192.168.1.9", "192.168.1.1", port: 40000, from: 8080, .established), .accept,
            .established, "preset:established"),
        .init(
            "echo request from the LAN", icmp(lan, to: gateway, "192.168.1.20", "192.168.1.1"), .accept,
            .presetAllow, "preset:icmp"),
        .init(
            "CARP from the LAN", other(.vrrp, lan, to: gateway, "192.168.1.3", "224.0.0.18"), .accept, .presetAllow,
            "preset:carp"),
        .init(
            "loopback", tcp(loopback, to: gateway, "::1", "::1", port: 8443), .accept, .diagnosticAllow,
            "preset:loopback"),
    ]

    /// Emergency mode blocks everything but the management path; the stages before it still decide.
    static let emergencyRouterTraces: [Trace] = [
        .init(
            "LAN to WAN", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 443), .drop, .emergencyDeny,
            "emergency"),
        .init(
            "web UI from the LAN", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 8443), .accept,
            .presetAllow, "preset:web"),
        .init(
            "echo request to the gateway", icmp(lan, to: gateway, "192.168.1.20", "192.168.1.1"), .accept,
            .presetAllow, "preset:icmp"),
        .init(
            "IPv6 echo request to the gateway", icmp(wan, to: gateway, "2001:db8:1::5", "2001:db8:ffff::2"),
            .accept, .presetAllow, "preset:icmpv6"),
        .init(
            "management from the WAN", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8444), .accept,
            .presetAllow, "preset:management"),
        .init(
            "loopback", tcp(loopback, to: gateway, "127.0.0.1", "127.0.0.1", port: 1883), .accept, .diagnosticAllow,
            "preset:loopback"),
        .init(
            "allowlisted source", tcp(wan, to: .lan, "198.51.100.10", "192.168.1.20", port: 80), .drop,
            .emergencyDeny, "emergency"),
        .init(
            "established reply",
            tcp(wan, to: .lan, "198.51.100.30", "192.168.1.20", port: 50000, from: 443, .established),
            .drop, .emergencyDeny, "emergency"),
        .init(
            "port forward", tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8080), .drop, .emergencyDeny,
            "emergency"),
        .init(
            "MQTT from the LAN", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 1883), .drop,
            .emergencyDeny, "emergency"),
        .init(
            "blocked protocol", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 502), .drop,
            .applicationDeny, "app:modbus"),
    ]

    static let emergencyUnidirectionalTraces: [Trace] = [
        .init(
            "LAN to WAN", tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 443), .drop, .emergencyDeny,
            "emergency"),
        .init(
            "web UI from the LAN", tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 8443), .accept,
            .presetAllow, "preset:web"),
        .init(
            "echo request to the gateway", icmp(lan, to: gateway, "192.168.1.20", "192.168.1.1"), .accept,
            .presetAllow, "preset:icmp"),
        .init(
            "DHCP request from the LAN", udp(lan, to: gateway, "0.0.0.0", "255.255.255.255", port: 67, from: 68),
            .drop, .emergencyDeny, "emergency"),
    ]

    // MARK: Checks

    /// The verdict, deciding stage and rule of the row; the path, hook and chain the packet takes; the stages passed
    /// before, in the specified order; and the counter of a custom rule.
    private func check(_ trace: Trace, _ policy: CompiledPolicy) throws {
        let packet = try trace.packet.packet()
        let explanation = policy.explain(packet)
        #expect(explanation.verdict == trace.verdict)
        #expect(explanation.stage == trace.stage)
        #expect(explanation.ruleID == trace.ruleID)

        let path: StagePath = policy.deviceType == .router ? .router : packet.ingress == wan ? .external : .internal
        #expect(explanation.path == path)
        let order = try #require(specifiedOrder[path])
        #expect(explanation.passed == Array(order.prefix { $0 != trace.stage }))
        let forwarded = packet.egress != nil || explanation.translation != nil
        #expect(explanation.hook == (forwarded ? .forward : .input))
        let chainNames: [StagePath: (input: String, forward: String)] = [
            .router: ("input", "forward"), .internal: ("input_internal", "forward_internal"),
            .external: ("input_external", "forward_external"),
        ]
        let names = try #require(chainNames[path])
        #expect(explanation.chain == (forwarded ? names.forward : names.input))
        if trace.ruleID.hasPrefix("rule:") {
            #expect(explanation.counter == "rule_" + trace.ruleID.dropFirst("rule:".count))
        } else {
            #expect(explanation.counter == nil)
        }
        #expect(!explanation.summary.isEmpty)
    }

    @Test(arguments: routerTraces)
    func router(_ trace: Trace) throws {
        let policy = try PolicyCompiler.compile(
            Self.routerConfiguration(), environment: Self.environment, now: Self.start)
        try check(trace, policy)
    }

    @Test(arguments: unidirectionalTraces)
    func unidirectional(_ trace: Trace) throws {
        let policy = try PolicyCompiler.compile(
            Self.unidirectionalConfiguration(), environment: Self.environment, now: Self.start)
        try check(trace, policy)
    }

    @Test(arguments: emergencyRouterTraces)
    func emergencyRouter(_ trace: Trace) throws {
        let policy = try PolicyCompiler.compile(
            Self.routerConfiguration(emergency: true), environment: Self.environment, now: Self.start)
        try check(trace, policy)
    }

    @Test(arguments: emergencyUnidirectionalTraces)
    func emergencyUnidirectional(_ trace: Trace) throws {
        let policy = try PolicyCompiler.compile(
            Self.unidirectionalConfiguration(emergency: true), environment: Self.environment, now: Self.start)
        try check(trace, policy)
    }

    // MARK: Port forwards

    @Test func portForwardTranslatesToTheLANTarget() throws {
        let policy = try PolicyCompiler.compile(
            Self.routerConfiguration(), environment: Self.environment, now: Self.start)
        let explanation = policy.explain(
            try tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8080).packet())
        let target = try #require(IPAddress("192.0.2.10"))
        #expect(explanation.translation == .init(ruleID: "nat:1", destination: target, destinationPort: 80))
        #expect(explanation.verdict == .accept)
        #expect(explanation.ruleID == "nat:1")
        #expect(explanation.hook == .forward && explanation.chain == "forward")
        #expect(explanation.summary.contains("192.0.2.10:80"))
    }

    @Test(arguments: [UInt16(5000), 5007, 5010])
    func portRangeForwardKeepsThePort(port: UInt16) throws {
        let policy = try PolicyCompiler.compile(
            Self.routerConfiguration(), environment: Self.environment, now: Self.start)
        let explanation = policy.explain(try udp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: port).packet())
        let target = try #require(IPAddress("192.0.2.11"))
        #expect(explanation.translation == .init(ruleID: "nat:2", destination: target, destinationPort: port))
        #expect(explanation.ruleID == "nat:2")
    }

    /// What is not a forwarded port of the WAN is not translated.
    @Test(arguments: [
        udp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 5011),
        udp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 4999),
        udp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 8080),
        tcp(wan, to: gateway, "198.51.100.30", "203.0.113.2", port: 2222),
        tcp(wan, to: gateway, "2001:db8:1::5", "2001:db8:ffff::2", port: 8080),
        tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: 8080),
        tcp(wan, to: .lan, "198.51.100.30", "192.0.2.10", port: 8080),
    ])
    func noTranslationWithoutAForward(_ traced: TracedPacket) throws {
        let policy = try PolicyCompiler.compile(
            Self.routerConfiguration(), environment: Self.environment, now: Self.start)
        let explanation = policy.explain(try traced.packet())
        #expect(explanation.translation == nil)
        #expect(explanation.verdict == .drop)
        #expect(!explanation.ruleID.hasPrefix("nat:"))
    }

    // MARK: List expiry

    @Test func expiredListEntriesNoLongerMatch() throws {
        let later = Self.start + 7200
        let policy = try PolicyCompiler.compile(Self.routerConfiguration(), environment: Self.environment, now: later)
        let formerlyAllowed = policy.explain(
            try tcp(wan, to: .lan, "198.51.100.77", "192.168.1.20", port: 8000).packet())
        #expect(formerlyAllowed.ruleID == "final")
        #expect(formerlyAllowed.passed.contains(.allowlist))
        // The custom allow rule 5 decides once the denylist entry is gone.
        let formerlyDenied = policy.explain(try tcp(lan, to: .wan, "192.168.1.20", "198.51.100.99", port: 443).packet())
        #expect(formerlyDenied.verdict == .accept)
        #expect(formerlyDenied.ruleID == "rule:5")
        // Entries without an expiry stay.
        #expect(
            policy.explain(try tcp(wan, to: .lan, "198.51.100.66", "192.168.1.20", port: 80).packet()).ruleID
                == "denylist")
    }

    @Test func listEntriesCarryWhatIsLeftOfTheirLifetime() throws {
        let policy = try PolicyCompiler.compile(
            Self.routerConfiguration(), environment: Self.environment, now: Self.start + 10.25)
        let allowlist = policy.elements(of: .allowlist, family: .ipv4)
        #expect(allowlist.map(\.address.description) == ["198.51.100.10", "198.51.100.77"])
        #expect(allowlist.map(\.timeoutSeconds) == [nil, 3590])
        #expect(allowlist.map(\.comment) == ["manual", "discovery"])
        let denylist = policy.elements(of: .denylist, family: .ipv4)
        // Single addresses (a hash set) come before networks and ranges (an interval set).
        #expect(denylist.map(\.timeoutSeconds) == [nil, 50, nil])
        #expect(denylist.map(\.comment) == ["ips", "manual: probe", "manual"])
        let allowlist6 = policy.elements(of: .allowlist, family: .ipv6)
        #expect(allowlist6.map(\.address.description) == ["2001:db8:a::/48"])
    }

    @Test func anEntryExpiringNowIsLeftOut() throws {
        let policy = try PolicyCompiler.compile(
            Self.routerConfiguration(), environment: Self.environment, now: Self.start + 60)
        let denylist = policy.elements(of: .denylist, family: .ipv4)
        #expect(denylist.map(\.address.description) == ["198.51.100.66", "203.0.113.128/25"])
    }

    // MARK: Presets follow the environment

    @Test(arguments: [[UInt16(1883)], [8883, 1883], [9001], []])
    func mqttPresetFollowsTheBrokerProfile(ports: [UInt16]) throws {
        var environment = Self.environment
        environment.mqttPorts = ports
        let router = try PolicyCompiler.compile(Self.routerConfiguration(), environment: environment, now: Self.start)
        let unidirectional = try PolicyCompiler.compile(
            Self.unidirectionalConfiguration(), environment: environment, now: Self.start)
        for port in [UInt16(1883), 8883, 9001] {
            let packet = try tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: port).packet()
            #expect(router.explain(packet).ruleID == (ports.contains(port) ? "preset:mqtt" : "final"), "\(port)")
            #expect(unidirectional.explain(packet).ruleID == "final", "\(port)")
        }
    }

    @Test func webPresetFollowsTheWebServer() throws {
        var environment = Self.environment
        environment.webPort = 9443
        environment.managementPort = 9444
        let policy = try PolicyCompiler.compile(Self.routerConfiguration(), environment: environment, now: Self.start)
        func decider(_ port: UInt16) throws -> String {
            policy.explain(try tcp(lan, to: gateway, "192.168.1.20", "192.168.1.1", port: port).packet()).ruleID
        }
        #expect(try decider(9443) == "preset:web")
        #expect(try decider(9444) == "preset:management")
        #expect(try decider(8443) == "final")
        #expect(try decider(8444) == "final")
    }

    @Test func withoutADHCPServerDHCPRequestsAreDropped() throws {
        var environment = Self.environment
        environment.dhcpServer = false
        let policy = try PolicyCompiler.compile(Self.routerConfiguration(), environment: environment, now: Self.start)
        let request = try udp(lan, to: gateway, "0.0.0.0", "255.255.255.255", port: 67, from: 68).packet()
        #expect(policy.explain(request).ruleID == "final")
    }

    // MARK: Custom rules

    @Test func anICMPRuleWithAnIPv6AddressAppliesToICMPv6Only() throws {
        var configuration = FirewallConfiguration()
        let id = configuration.insert(CustomRule(action: .allow, zone: .wan, source: "2001:db8::/32", protocol: .icmp))
        let policy = try PolicyCompiler.compile(configuration, environment: Self.environment, now: Self.start)
        let forward = try #require(policy.chain(.forward, .router))
        let lowered = forward.stages.flatMap(\.rules).filter { $0.id == "rule:\(id)" }
        #expect(lowered.map(\.match.transport) == [.icmpv6])
        #expect(policy.explain(try icmp(wan, to: .lan, "2001:db8:1::5", "fd00:1::20").packet()).ruleID == "rule:\(id)")
        #expect(policy.explain(try icmp(wan, to: .lan, "198.51.100.30", "192.168.1.20").packet()).ruleID == "final")
    }

    @Test func anICMPRuleWithoutAddressesIsLoweredForBothFamilies() throws {
        let policy = try PolicyCompiler.compile(
            Self.routerConfiguration(), environment: Self.environment, now: Self.start)
        let forward = try #require(policy.chain(.forward, .router))
        let lowered = forward.stages.flatMap(\.rules).filter { $0.id == "rule:7" }
        #expect(lowered.map(\.match.transport) == [.icmp, .icmpv6])
        #expect(lowered.allSatisfy { $0.match.states == [.new] && $0.counter == "rule_7" })
    }

    @Test func aDisabledRuleHasNoCounterAndDecidesNothing() throws {
        var configuration = FirewallConfiguration()
        configuration.insert(CustomRule(enabled: false, action: .deny, zone: .lan, protocol: .any))
        configuration.insert(CustomRule(action: .allow, zone: .lan, destinationPort: "443", protocol: .tcp))
        let policy = try PolicyCompiler.compile(configuration, environment: Self.environment, now: Self.start)
        #expect(policy.counters == ["rule_2"])
        let explanation = policy.explain(try tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 443).packet())
        #expect(explanation.ruleID == "rule:2")
        #expect(explanation.verdict == .accept)
    }

    /// Rules run deny before allow whatever their order in the list; within each group, in list order.
    @Test func denyRulesRunBeforeAllowRulesWhereverTheyStand() throws {
        var configuration = FirewallConfiguration()
        configuration.insert(CustomRule(action: .allow, zone: .lan, protocol: .tcp))
        configuration.insert(CustomRule(action: .allow, zone: .lan, destinationPort: "443", protocol: .tcp))
        configuration.insert(CustomRule(action: .deny, zone: .lan, destination: "198.51.100.0/24"))
        let policy = try PolicyCompiler.compile(configuration, environment: Self.environment, now: Self.start)
        #expect(
            policy.explain(try tcp(lan, to: .wan, "192.168.1.20", "198.51.100.30", port: 443).packet()).ruleID
                == "rule:3")
        #expect(
            policy.explain(try tcp(lan, to: .wan, "192.168.1.20", "192.0.2.30", port: 443).packet()).ruleID == "rule:1")
    }
}
