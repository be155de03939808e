/// One network interface for the troubleshooting page and the Network settings page (MAC shown).
package struct InterfaceInfo: Codable, Sendable, Equatable {
    package var name: String
    package var state: String
    package var mac: String?
    package var mtu: Int?
    package var addresses: [String]

    package init(name: String, state: String, mac: String?, mtu: Int?, addresses: [String]) {
        self.name = name
        self.state = state
        self.mac = mac
        self.mtu = mtu
        self.addresses = addresses
    }
}

package struct RouteInfo: Codable, Sendable, Equatable {
    package var destination: String
    package var gateway: String?
    package var device: String?
    package var source: String?

    package init(destination: String, gateway: String?, device: String?, source: String?) {
        self.destination = destination
        self.gateway = gateway
        self.device = device
        self.source = source
    }
}
