import Foundation
import Testing

@testable import NetConfig

@Suite("ip -j parsing")
struct IPRoute2Tests {
    @Test("addresses: name, state, MAC and CIDR addresses")
    func interfaces() throws {
        let json = """
            [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"operstate":"UNKNOWN",
              "address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},
              {"family":"inet6","local":"::1","prefixlen":128}]},
             {"ifindex":2,"ifname":"lan0","mtu":1500,"operstate":"DOWN","address":"02:00:00:00:00:01","addr_info":[]}]
            """
        let interfaces = try IPRoute2.parseInterfaces(Data(json.utf8))
        #expect(interfaces.map(\.name) == ["lo", "lan0"])
        #expect(interfaces[0].addresses == ["127.0.0.1/8", "::1/128"])
        #expect(interfaces[1].mac == "02:00:00:00:00:01")
        #expect(interfaces[1].state == "DOWN")
    }

    @Test("routes: default and connected")
    func routes() throws {
        let json = """
            [{"dst":"default","gateway":"198.51.100.1","dev":"wan0","flags":[]},
             {"dst":"192.0.2.0/24","dev":"lan0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.1","flags":[]}]
            """
        let routes = try IPRoute2.parseRoutes(Data(json.utf8))
        #expect(routes.count == 2)
        #expect(routes[0].destination == "default" && routes[0].gateway == "198.51.100.1")
        #expect(routes[1].source == "192.0.2.1" && routes[1].gateway == nil)
    }

    @Test("what ip prints on error is not parsed as data")
    func garbage() {
        #expect(throws: (any Error).self) { try IPRoute2.parseInterfaces(Data("Device does not exist".utf8)) }
    }
}
