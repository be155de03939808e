/// What the gateway's other settings decide and its preset rules need: the interfaces of each zone and the ports of
/// its own services. The application builds it from the network settings, the web server and the active broker
/// profile, so a preset rule always follows the service it opens.
package struct FirewallEnvironment: Sendable, Hashable, Codable {
    /// Where remote syslog goes; its replies (TCP) are admitted by a preset rule.
    package struct SyslogTarget: Sendable, Hashable, Codable {
        /// Empty when the destination is a host name (then only its port is matched).
        package var address: String
        package var port: UInt16
        /// `tcp` or `udp`.
        package var transport: Transport

        package init(address: String, port: UInt16, transport: Transport) {
            self.address = address
            self.port = port
            self.transport = transport
        }
    }

    package static let defaultManagementPort: UInt16 = 8444

    package var lanInterfaces: [String]
    package var wanInterfaces: [String]
    /// HTTPS port of the web UI and REST API.
    package var webPort: UInt16
    /// Port on which the central management server (or relay) reaches the gateway's management agent.
    package var managementPort: UInt16
    /// TCP ports of the active broker profile's listeners.
    package var mqttPorts: [UInt16]
    package var syslog: SyslogTarget?
    /// Whether the gateway serves DHCP on the LAN.
    package var dhcpServer: Bool

    package init(
        lanInterfaces: [String] = ["lan0"], wanInterfaces: [String] = ["wan0"], webPort: UInt16 = 8443,
        managementPort: UInt16 = FirewallEnvironment.defaultManagementPort, mqttPorts: [UInt16] = [1883],
        syslog: SyslogTarget? = nil, dhcpServer: Bool = true
    ) {
        self.lanInterfaces = lanInterfaces
        self.wanInterfaces = wanInterfaces
        self.webPort = webPort
        self.managementPort = managementPort
        self.mqttPorts = mqttPorts
        self.syslog = syslog
        self.dhcpServer = dhcpServer
    }

    package func interfaces(of zone: Zone) -> [String] { zone == .lan ? lanInterfaces : wanInterfaces }

    /// The zone of an interface name; nil for one in neither zone.
    package func zone(ofInterface name: String) -> Zone? {
        if lanInterfaces.contains(name) { return .lan }
        if wanInterfaces.contains(name) { return .wan }
        return nil
    }
}
