/// A transport and the ports an application protocol uses on it.
package struct ServicePorts: Hashable, Sendable {
    package var transport: Transport
    package var ports: [PortRange]

    package init(_ transport: Transport, _ ports: [PortRange]) {
        self.transport = transport
        self.ports = ports
    }
}

/// An application protocol the operator can deny (SPEC FW-1 "application-protocol deny"), matched by the server
/// ports it uses: the rule stops connections to those ports in both directions of the gateway.
package struct ApplicationProtocol: Hashable, Sendable, Identifiable {
    package var id: String
    package var name: String
    package var services: [ServicePorts]

    /// Industrial protocols first, then the general ones an OT network seldom needs to cross its boundary.
    package static let catalogue: [ApplicationProtocol] = [
        .init(id: "modbus", name: "Modbus/TCP", services: [.init(.tcp, [PortRange(502)])]),
        .init(id: "s7comm", name: "S7comm (ISO-TSAP)", services: [.init(.tcp, [PortRange(102)])]),
        .init(
            id: "dnp3", name: "DNP3", services: [.init(.tcp, [PortRange(20000)]), .init(.udp, [PortRange(20000)])]),
        .init(
            id: "enip", name: "EtherNet/IP (CIP)",
            services: [.init(.tcp, [PortRange(44818)]), .init(.udp, [PortRange(2222), PortRange(44818)])]),
        .init(id: "bacnet", name: "BACnet/IP", services: [.init(.udp, [PortRange(47808)])]),
        .init(id: "opcua", name: "OPC UA", services: [.init(.tcp, [PortRange(4840)])]),
        .init(id: "iec104", name: "IEC 60870-5-104", services: [.init(.tcp, [PortRange(2404)])]),
        .init(id: "mqtt", name: "MQTT", services: [.init(.tcp, [PortRange(1883), PortRange(8883)])]),
        .init(id: "telnet", name: "Telnet", services: [.init(.tcp, [PortRange(23)])]),
        .init(id: "ftp", name: "FTP", services: [.init(.tcp, [PortRange(20, 21)])]),
        .init(id: "tftp", name: "TFTP", services: [.init(.udp, [PortRange(69)])]),
        .init(
            id: "smb", name: "SMB / NetBIOS",
            services: [.init(.tcp, [PortRange(139), PortRange(445)]), .init(.udp, [PortRange(137, 138)])]),
        .init(id: "rdp", name: "RDP", services: [.init(.tcp, [PortRange(3389)]), .init(.udp, [PortRange(3389)])]),
        .init(id: "vnc", name: "VNC (RFB)", services: [.init(.tcp, [PortRange(5900, 5999)])]),
        .init(id: "http", name: "HTTP", services: [.init(.tcp, [PortRange(80), PortRange(8080)])]),
        .init(id: "snmp", name: "SNMP", services: [.init(.udp, [PortRange(161, 162)])]),
    ]

    package static func named(_ id: String) -> ApplicationProtocol? { catalogue.first { $0.id == id } }
}
