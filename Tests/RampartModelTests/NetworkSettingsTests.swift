import RampartModel
import Testing

@Suite("Network settings")
struct NetworkSettingsTests {
    @Test("the embedded defaults are valid")
    func defaultsValid() {
        #expect(NetworkSettings.defaults.validate() == [])
    }

    @Test(
        "IPv4 text is strict",
        arguments: [
            ("192.0.2.1", true), ("0.0.0.0", true), ("255.255.255.255", true), ("192.0.2", false),
            ("192.0.2.256", false), ("192.0.02.1", false), ("192.0.2.1 ", false), ("a.b.c.d", false), ("", false),
        ])
    func addressParsing(text: String, valid: Bool) {
        #expect((IPv4Address(text) != nil) == valid)
        if valid { #expect(IPv4Address(text)?.description == text) }
    }

    @Test("netmasks must be contiguous")
    func masks() throws {
        #expect(IPv4Subnet.prefixLength(ofMask: try #require(IPv4Address("255.255.255.0"))) == 24)
        #expect(IPv4Subnet.prefixLength(ofMask: try #require(IPv4Address("255.255.0.255"))) == nil)
    }

    private func errors(_ change: (inout NetworkSettings) -> Void) -> [String] {
        var settings = NetworkSettings.defaults
        change(&settings)
        return settings.validate().map(\.field)
    }

    @Test("each problem names its field")
    func fieldErrors() {
        #expect(errors { $0.lan.address = "192.0.2.300" } == ["lan.address"])
        #expect(errors { $0.lan.netmask = "255.0.255.0" } == ["lan.netmask"])
        #expect(errors { $0.lan.address = "192.0.2.0" } == ["lan.address"])
        #expect(
            errors {
                $0.lan.dhcpServer.enabled = true
                $0.lan.dhcpServer.rangeStart = "198.51.100.5"
            }
                == ["lan.dhcpServer.rangeStart"])
        #expect(
            errors {
                $0.lan.dhcpServer.enabled = true
                $0.lan.dhcpServer.rangeEnd = "192.0.2.50"
            }
                == ["lan.dhcpServer.rangeEnd"])
        #expect(
            errors {
                $0.lan.dhcpServer.enabled = true
                $0.lan.dhcpServer.rangeStart = "192.0.2.1"
            }
                == ["lan.dhcpServer.rangeStart"])
        #expect(errors { $0.wan.interface = "lan0" } == ["wan.interface"])
        #expect(errors { $0.lan.interface = "this-name-is-far-too-long" } == ["lan.interface"])
        #expect(errors { $0.lan.dns = ["192.0.2.53", "nope"] } == ["lan.dns[1]"])
    }

    @Test("a static WAN needs a gateway inside its subnet")
    func gatewayReachable() {
        #expect(errors { $0.wan.dhcpClient = false } == [])
        #expect(
            errors {
                $0.wan.dhcpClient = false
                $0.wan.gateway = "203.0.113.1"
            } == ["wan.gateway"])
        #expect(
            errors {
                $0.wan.dhcpClient = false
                $0.wan.gateway = "198.51.100.2"
            } == ["wan.gateway"])
        // With DHCP the static fields are kept but not checked.
        #expect(errors { $0.wan.gateway = "203.0.113.1" } == [])
        #expect(
            errors {
                $0.wan.dhcpClient = false
                $0.wan.address = "192.0.2.7"
            }.contains("wan.address"))
    }

    @Test("central server address and port")
    func centralServer() {
        #expect(CentralServerSettings(address: "", port: 8444).validate() == [])
        #expect(CentralServerSettings(address: "fleet.example.com", port: 8444).validate() == [])
        #expect(CentralServerSettings(address: "fleet example", port: 8444).validate().map(\.field) == ["address"])
        #expect(CentralServerSettings(address: "198.51.100.9", port: 0).validate().map(\.field) == ["port"])
    }
}
