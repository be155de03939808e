/// The LAN and WAN interface settings of the gateway (SPEC WEB-3 Network, WEB-5).
///
/// Addresses are kept as text in the document so that what the operator typed is stored and shown back as typed;
/// `validate()` says which field is wrong and why before anything is saved.
package struct NetworkSettings: Codable, Sendable, Equatable {
    package struct LAN: Codable, Sendable, Equatable {
        package var interface: String
        package var address: String
        package var netmask: String
        package var dns: [String]
        package var dhcpServer: DHCPServer
    }

    package struct DHCPServer: Codable, Sendable, Equatable {
        package var enabled: Bool
        package var rangeStart: String
        package var rangeEnd: String
    }

    package struct WAN: Codable, Sendable, Equatable {
        package var interface: String
        /// true: address, mask, gateway and DNS come from a DHCP server; the static fields are kept but unused.
        package var dhcpClient: Bool
        package var address: String
        package var netmask: String
        package var gateway: String
        package var dns: [String]
    }

    package var lan: LAN
    package var wan: WAN

    /// The embedded defaults: documentation address ranges (RFC 5737) on the lab's interface names.
    package static let defaults = NetworkSettings(
        lan: LAN(
            interface: "lan0", address: "192.0.2.1", netmask: "255.255.255.0", dns: [],
            dhcpServer: DHCPServer(enabled: false, rangeStart: "192.0.2.100", rangeEnd: "192.0.2.199")),
        wan: WAN(
            interface: "wan0", dhcpClient: true, address: "198.51.100.2", netmask: "255.255.255.0",
            gateway: "198.51.100.1", dns: [])
    )

    /// Every problem at once, each naming its field.
    package func validate() -> [FieldError] {
        var errors: [FieldError] = []
        let lanSubnet = Self.subnet(
            address: lan.address, netmask: lan.netmask, field: "lan", errors: &errors)
        Self.checkInterface(lan.interface, field: "lan.interface", errors: &errors)
        Self.checkDNS(lan.dns, field: "lan.dns", errors: &errors)
        if lan.dhcpServer.enabled, let lanSubnet {
            let start = Self.address(lan.dhcpServer.rangeStart, field: "lan.dhcpServer.rangeStart", errors: &errors)
            let end = Self.address(lan.dhcpServer.rangeEnd, field: "lan.dhcpServer.rangeEnd", errors: &errors)
            var inside = true
            for (value, field) in [(start, "rangeStart"), (end, "rangeEnd")] {
                if let value, !lanSubnet.isHostAddress(value) {
                    inside = false
                    errors.append(
                        FieldError(
                            field: "lan.dhcpServer.\(field)",
                            message: "\(value) is not a host address of the LAN subnet \(lanSubnet.network)/"
                                + "\(lanSubnet.prefixLength)"))
                }
            }
            if inside, let start, let end, start > end {
                errors.append(
                    FieldError(
                        field: "lan.dhcpServer.rangeEnd", message: "the range ends (\(end)) before it starts (\(start))"
                    ))
            }
            if let start, let end, let own = IPv4Address(lan.address), start <= own, own <= end {
                errors.append(
                    FieldError(
                        field: "lan.dhcpServer.rangeStart",
                        message: "the range \(start)–\(end) contains the gateway's own LAN address \(own)"))
            }
        }
        Self.checkInterface(wan.interface, field: "wan.interface", errors: &errors)
        if wan.interface == lan.interface {
            errors.append(FieldError(field: "wan.interface", message: "the WAN and LAN interfaces must differ"))
        }
        if !wan.dhcpClient {
            let wanSubnet = Self.subnet(address: wan.address, netmask: wan.netmask, field: "wan", errors: &errors)
            Self.checkDNS(wan.dns, field: "wan.dns", errors: &errors)
            if let gateway = Self.address(wan.gateway, field: "wan.gateway", errors: &errors), let wanSubnet {
                if !wanSubnet.isHostAddress(gateway) {
                    errors.append(
                        FieldError(
                            field: "wan.gateway",
                            message: "the gateway \(gateway) is not reachable: it is outside the WAN subnet "
                                + "\(wanSubnet.network)/\(wanSubnet.prefixLength)"))
                } else if gateway == wanSubnet.address {
                    errors.append(FieldError(field: "wan.gateway", message: "the gateway is the WAN address itself"))
                }
            }
            if let wanSubnet, let lanSubnet,
                wanSubnet.contains(lanSubnet.network) || lanSubnet.contains(wanSubnet.network)
            {
                errors.append(FieldError(field: "wan.address", message: "the WAN subnet overlaps the LAN subnet"))
            }
        }
        return errors
    }

    private static func address(_ text: String, field: String, errors: inout [FieldError]) -> IPv4Address? {
        guard let address = IPv4Address(text) else {
            errors.append(FieldError(field: field, message: "'\(text)' is not an IPv4 address (e.g. 192.0.2.1)"))
            return nil
        }
        return address
    }

    private static func subnet(address text: String, netmask: String, field: String, errors: inout [FieldError])
        -> IPv4Subnet?
    {
        let address = Self.address(text, field: field + ".address", errors: &errors)
        guard let mask = Self.address(netmask, field: field + ".netmask", errors: &errors) else { return nil }
        guard let prefix = IPv4Subnet.prefixLength(ofMask: mask), (8...30).contains(prefix) else {
            errors.append(
                FieldError(
                    field: field + ".netmask",
                    message: "'\(netmask)' is not a usable netmask (contiguous, between 255.0.0.0 and 255.255.255.252)"
                ))
            return nil
        }
        guard let address else { return nil }
        let subnet = IPv4Subnet(address: address, prefixLength: prefix)
        guard subnet.isHostAddress(address) else {
            errors.append(
                FieldError(
                    field: field + ".address",
                    message: "\(address) is the network or broadcast address of \(subnet.network)/\(prefix)"))
            return nil
        }
        return subnet
    }

    private static func checkDNS(_ servers: [String], field: String, errors: inout [FieldError]) {
        if servers.count > 3 { errors.append(FieldError(field: field, message: "at most 3 DNS servers")) }
        for (index, server) in servers.enumerated() {
            _ = address(server, field: "\(field)[\(index)]", errors: &errors)
        }
    }

    private static func checkInterface(_ name: String, field: String, errors: inout [FieldError]) {
        // Linux's IFNAMSIZ is 16 including the terminating NUL.
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }
        if name.isEmpty || name.utf8.count > 15 || !allowed {
            errors.append(
                FieldError(field: field, message: "'\(name)' is not an interface name (1–15 of a-z A-Z 0-9 . - _)"))
        }
    }
}

/// Where the central management server is (saved now, used by the fleet agent).
package struct CentralServerSettings: Codable, Sendable, Equatable {
    /// Host name or address; empty means "not managed centrally".
    package var address: String
    package var port: Int

    package init(address: String, port: Int) {
        self.address = address
        self.port = port
    }

    package static let defaults = CentralServerSettings(address: "", port: 8444)

    package func validate() -> [FieldError] {
        var errors: [FieldError] = []
        if !(1...65535).contains(port) {
            errors.append(FieldError(field: "port", message: "\(port) is not a port (1–65535)"))
        }
        let host = address
        let hostCharacters = host.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x3A
        }
        if !host.isEmpty && (host.utf8.count > 253 || !hostCharacters) {
            errors.append(FieldError(field: "address", message: "'\(host)' is not a host name or IP address"))
        }
        return errors
    }
}

/// Device identity shown on the dashboard.
package struct DeviceSettings: Codable, Sendable, Equatable {
    package var name: String

    package static let defaults = DeviceSettings(name: "rampart")

    package func validate() -> [FieldError] {
        if name.allSatisfy(\.isWhitespace) || name.count > 64
            || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            return [FieldError(field: "name", message: "the device name must be 1–64 printable characters")]
        }
        return []
    }
}
