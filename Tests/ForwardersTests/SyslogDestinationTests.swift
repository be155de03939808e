import NIOCore
import Testing

@testable import Forwarders

@Suite struct SyslogDestinationTests {
    @Test func acceptsIPv4AndBracketedIPv6WithPorts() throws {
        #expect(try SyslogDestination.parse(address: "192.0.2.10:514") == ("192.0.2.10", 514))
        #expect(try SyslogDestination.parse(address: "[2001:db8::1]:6514") == ("2001:db8::1", 6514))
        #expect(try SyslogDestination.parse(address: "  10.0.0.1:1 ") == ("10.0.0.1", 1))
        #expect(try SyslogDestination.parse(address: "[::1]:65535") == ("::1", 65535))
        // A link-local address with its interface.
        #expect(try SyslogDestination.parse(address: "[fe80::1%eth0]:514") == ("fe80::1%eth0", 514))
    }

    @Test(arguments: [
        ("", SyslogAddressError.empty),
        ("192.0.2.10", .missingPort("192.0.2.10")),
        ("192.0.2.10:", .missingPort("192.0.2.10:")),
        ("[2001:db8::1]", .missingPort("[2001:db8::1]")),
        ("[2001:db8::1]:", .missingPort("[2001:db8::1]:")),
        ("192.0.2.10:0", .invalidPort("0")),
        ("192.0.2.10:65536", .invalidPort("65536")),
        ("192.0.2.10:syslog", .invalidPort("syslog")),
        ("192.0.2.10:+514", .invalidPort("+514")),
        ("[2001:db8::1]:-1", .invalidPort("-1")),
        ("syslog.example.com:514", .notAnIPAddress("syslog.example.com")),
        (":514", .notAnIPAddress("")),
        ("192.0.2.300:514", .notAnIPAddress("192.0.2.300")),
        ("[192.0.2.10]:514", .notAnIPAddress("192.0.2.10")),
        ("2001:db8::1:514", .unbracketedIPv6("2001:db8::1:514")),
        ("[2001:db8::1:514", .unclosedBracket("[2001:db8::1:514")),
    ])
    func refusesBadAddresses(address: String, expected: SyslogAddressError) {
        do {
            let parsed = try SyslogDestination.parse(address: address)
            Issue.record("\"\(address)\" was accepted as \(parsed)")
        } catch let error as SyslogAddressError {
            #expect(error == expected)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func errorMessagesNameTheProblem() {
        #expect(SyslogAddressError.invalidPort("0").description.contains("1 to 65535"))
        #expect(SyslogAddressError.notAnIPAddress("syslog.lan").description.contains("\"syslog.lan\" is not an IP"))
        #expect(SyslogAddressError.missingPort("10.0.0.1").description.contains("has no port"))
        #expect(SyslogAddressError.unbracketedIPv6("2001:db8::1:514").description.contains("in brackets"))
    }

    @Test func displayAddressBracketsIPv6() {
        #expect(
            SyslogDestination(host: "2001:db8::1", port: 6514, transport: .tcp).displayAddress == "[2001:db8::1]:6514")
        #expect(SyslogDestination(host: "192.0.2.1", port: 514, transport: .udp).displayAddress == "192.0.2.1:514")
    }

    @Test func octetCountingCountsUTF8Bytes() {
        // "é" is 2 bytes, "€" 3: 5 bytes in 2 characters.
        #expect(String(buffer: SyslogFraming.octetCounted("é€")) == "5 é€")
        #expect(String(buffer: SyslogFraming.octetCounted("<13>1 - - - - - - a\nb")) == "21 <13>1 - - - - - - a\nb")
        #expect(String(buffer: SyslogFraming.octetCounted("")) == "0 ")
    }

    @Test func datagramsAreCutAtACharacterBoundary() {
        let short = "<13>1 - - - - - - short"
        #expect(String(buffer: SyslogFraming.datagram(short)) == short)

        let limit = SyslogFraming.maximumDatagramSize
        let exact = String(repeating: "a", count: limit)
        #expect(SyslogFraming.datagram(exact).readableBytes == limit)

        // The 3-byte "€" would straddle the limit: it goes whole.
        let straddling = String(repeating: "a", count: limit - 1) + "€" + "tail"
        let cut = SyslogFraming.datagram(straddling)
        #expect(cut.readableBytes == limit - 1)
        #expect(String(buffer: cut) == String(repeating: "a", count: limit - 1))
    }
}
