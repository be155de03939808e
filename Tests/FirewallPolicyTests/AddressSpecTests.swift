import Testing

@testable import FirewallPolicy

/// Address selectors and port ranges as operators type them: what parses, the canonical text it is shown back as,
/// and the message an operator gets for what does not.
@Suite("Addresses and ports")
struct AddressSpecTests {
    private func spec(_ text: String) throws -> AddressSpec { try AddressSpec.parse(text).get() }

    private func address(_ text: String) throws -> IPAddress { try #require(IPAddress(text), "\(text)") }

    private func problem(_ text: String) -> String? {
        guard case .failure(let error) = AddressSpec.parse(text) else { return nil }
        return error.message
    }

    // MARK: Parsing

    /// Text as typed, the kind of selector, its family and its canonical (RFC 5952 for IPv6) text.
    @Test(arguments: [
        ("192.0.2.1", "host", IPFamily.ipv4, "192.0.2.1"),
        ("  10.0.0.1 ", "host", .ipv4, "10.0.0.1"),
        ("0.0.0.0", "host", .ipv4, "0.0.0.0"),
        ("255.255.255.255", "host", .ipv4, "255.255.255.255"),
        ("2001:DB8::1", "host", .ipv6, "2001:db8::1"),
        ("2001:0db8:0000:0000:0001:0000:0000:0001", "host", .ipv6, "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "host", .ipv6, "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "host", .ipv6, "2001:0:0:1::1"),
        ("fe80:0:0:0:0:0:0:1", "host", .ipv6, "fe80::1"),
        ("::", "host", .ipv6, "::"),
        ("::ffff:192.0.2.1", "host", .ipv6, "::ffff:192.0.2.1"),
        ("10.0.0.0/8", "network", .ipv4, "10.0.0.0/8"),
        ("192.0.2.7/32", "network", .ipv4, "192.0.2.7/32"),
        ("0.0.0.0/0", "network", .ipv4, "0.0.0.0/0"),
        ("10.0.0.0/08", "network", .ipv4, "10.0.0.0/8"),
        ("2001:DB8::/32", "network", .ipv6, "2001:db8::/32"),
        ("2001:db8:0:0:1::/80", "network", .ipv6, "2001:db8:0:0:1::/80"),
        ("::/0", "network", .ipv6, "::/0"),
        ("2001:db8::1/128", "network", .ipv6, "2001:db8::1/128"),
        ("10.0.0.1-10.0.0.9", "range", .ipv4, "10.0.0.1-10.0.0.9"),
        ("10.0.0.1 - 10.0.0.9", "range", .ipv4, "10.0.0.1-10.0.0.9"),
        ("10.0.0.4-10.0.0.4", "range", .ipv4, "10.0.0.4-10.0.0.4"),
        ("2001:DB8::1-2001:db8:0::ff", "range", .ipv6, "2001:db8::1-2001:db8::ff"),
    ])
    func parsesAndPrintsCanonically(text: String, kind: String, family: IPFamily, canonical: String) throws {
        let parsed = try spec(text)
        switch parsed {
        case .host: #expect(kind == "host")
        case .network: #expect(kind == "network")
        case .range: #expect(kind == "range")
        }
        #expect(parsed.family == family)
        #expect(parsed.description == canonical)
        // The canonical text reads back as the same selector.
        #expect(try spec(canonical) == parsed)
    }

    /// What an operator typed wrong, and the message naming it.
    @Test(arguments: [
        ("10.0.0.1/8", "10.0.0.1/8 has host bits set; the network is 10.0.0.0/8"),
        ("192.168.1.77/24", "192.168.1.77/24 has host bits set; the network is 192.168.1.0/24"),
        ("2001:db8::1/32", "2001:db8::1/32 has host bits set; the network is 2001:db8::/32"),
        ("10.0.0.0/33", "'/33' is not a prefix length (0…32) in '10.0.0.0/33'"),
        ("2001:db8::/129", "'/129' is not a prefix length (0…128) in '2001:db8::/129'"),
        ("10.0.0.0/", "'/' is not a prefix length (0…32) in '10.0.0.0/'"),
        ("10.0.0.0/-1", "'/-1' is not a prefix length (0…32) in '10.0.0.0/-1'"),
        ("10.0.0.0/+8", "'/+8' is not a prefix length (0…32) in '10.0.0.0/+8'"),
        ("10.0.0.0/8/8", "'/8/8' is not a prefix length (0…32) in '10.0.0.0/8/8'"),
        ("10.0.0/8", "'10.0.0' is not an IPv4 or IPv6 address"),
        ("10.0.0.9-10.0.0.1", "the range 10.0.0.9-10.0.0.1 ends before it starts"),
        ("2001:db8::9-2001:db8::1", "the range 2001:db8::9-2001:db8::1 ends before it starts"),
        ("10.0.0.1-2001:db8::1", "the range 10.0.0.1-2001:db8::1 mixes IPv4 and IPv6"),
        ("::1-10.0.0.1", "the range ::1-10.0.0.1 mixes IPv4 and IPv6"),
        ("10.0.0.1-", "'' is not an IPv4 or IPv6 address"),
        ("-10.0.0.1", "'' is not an IPv4 or IPv6 address"),
        ("10.0.0.1-10.0.0.2-10.0.0.3", "'10.0.0.2-10.0.0.3' is not an IPv4 or IPv6 address"),
        ("", "an address is empty"),
        ("   ", "an address is empty"),
        ("gateway.example", "'gateway.example' is not an IPv4 or IPv6 address, network (CIDR) or range"),
        ("010.0.0.1", "'010.0.0.1' is not an IPv4 or IPv6 address, network (CIDR) or range"),
        ("256.1.1.1", "'256.1.1.1' is not an IPv4 or IPv6 address, network (CIDR) or range"),
        ("1.2.3", "'1.2.3' is not an IPv4 or IPv6 address, network (CIDR) or range"),
        ("fe80::1%eth0", "'fe80::1%eth0' is not an IPv4 or IPv6 address, network (CIDR) or range"),
        ("1::2::3", "'1::2::3' is not an IPv4 or IPv6 address, network (CIDR) or range"),
        ("10.0.0.1,10.0.0.2", "'10.0.0.1,10.0.0.2' is not an IPv4 or IPv6 address, network (CIDR) or range"),
    ])
    func refusesWithAMessage(text: String, message: String) {
        #expect(problem(text) == message)
    }

    // MARK: Containment

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0", true),
        ("10.0.0.0/8", "10.255.255.255", true),
        ("10.0.0.0/8", "11.0.0.0", false),
        ("10.0.0.0/8", "9.255.255.255", false),
        // The same number in the other family is another address.
        ("10.0.0.0/8", "::a00:1", false),
        ("::/96", "10.0.0.1", false),
        ("0.0.0.0/0", "255.255.255.255", true),
        ("0.0.0.0/0", "::", false),
        ("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("::/0", "0.0.0.0", false),
        ("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", true),
        ("2001:db8::/64", "2001:db8:0:1::", false),
        ("10.0.0.5-10.0.0.9", "10.0.0.5", true),
        ("10.0.0.5-10.0.0.9", "10.0.0.9", true),
        ("10.0.0.5-10.0.0.9", "10.0.0.10", false),
        ("10.0.0.5-10.0.0.9", "10.0.0.4", false),
        ("192.0.2.1", "192.0.2.1", true),
        ("192.0.2.1", "192.0.2.2", false),
        ("2001:db8::1/128", "2001:db8::1", true),
        ("2001:db8::1/128", "2001:db8::2", false),
    ])
    func contains(selector: String, candidate: String, expected: Bool) throws {
        #expect(try spec(selector).contains(address(candidate)) == expected)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.1.0.0/16", true),
        ("10.1.0.0/16", "10.0.0.0/8", false),
        ("10.0.0.0/8", "10.0.0.0/8", true),
        ("10.0.0.0/8", "10.2.3.4", true),
        ("10.0.0.0/8", "10.0.0.5-10.0.0.9", true),
        ("10.0.0.0/8", "9.255.255.255-10.0.0.1", false),
        ("10.0.0.0-10.0.0.255", "10.0.0.0/24", true),
        ("10.0.0.0/24", "10.0.0.0-10.0.0.255", true),
        ("10.0.0.1-10.0.0.254", "10.0.0.0/24", false),
        ("10.0.0.1", "10.0.0.1/32", true),
        ("0.0.0.0/0", "::/0", false),
        ("::/0", "0.0.0.0/0", false),
        ("::/0", "2001:db8::/32", true),
        ("10.0.0.0/8", "::a00:0/104", false),
        ("2001:db8::/32", "2001:db8:ffff::1-2001:db8:ffff::9", true),
    ])
    func covers(outer: String, inner: String, expected: Bool) throws {
        #expect(try spec(outer).covers(spec(inner)) == expected)
    }

    @Test(arguments: [
        ("10.0.0.0/24", "10.0.0.200-10.0.1.5", true),
        ("10.0.0.0/25", "10.0.0.128/25", false),
        ("10.0.0.1-10.0.0.5", "10.0.0.5-10.0.0.9", true),
        ("10.0.0.1-10.0.0.5", "10.0.0.6-10.0.0.9", false),
        ("10.0.0.0/8", "10.9.9.9", true),
        ("192.0.2.1", "192.0.2.1", true),
        ("0.0.0.0/0", "::/0", false),
        ("10.0.0.0/8", "::a00:1", false),
        ("2001:db8::/48", "2001:db8:0:ffff::/64", true),
        ("2001:db8::/48", "2001:db8:1::/48", false),
    ])
    func overlaps(first: String, second: String, expected: Bool) throws {
        let (a, b) = (try spec(first), try spec(second))
        #expect(a.overlaps(b) == expected)
        #expect(b.overlaps(a) == expected, "overlap is symmetric")
    }

    @Test func boundsSpanTheWholeFamilyAtPrefixZero() throws {
        #expect(try spec("0.0.0.0/0").bounds == 0...0xFFFF_FFFF)
        #expect(try spec("::/0").bounds == 0...UInt128.max)
        #expect(try spec("10.0.0.0/31").bounds == 0x0A00_0000...0x0A00_0001)
        #expect(try spec("2001:db8::/127").bounds.count == 2)
        #expect(try spec("192.0.2.9/32").bounds == 0xC000_0209...0xC000_0209)
    }

    @Test func addressesOrderIPv4BeforeIPv6AndThenByValue() throws {
        let sorted = try ["::1", "10.0.0.2", "::", "10.0.0.10", "255.255.255.255"].map(address).sorted()
        #expect(sorted.map(\.description) == ["10.0.0.2", "10.0.0.10", "255.255.255.255", "::", "::1"])
        #expect(try address("10.0.0.1").bytes == [10, 0, 0, 1])
        #expect(try address("2001:db8::1").bytes.count == 16)
        #expect(IPAddress("10.0.0.1/32") == nil)
        #expect(IPAddress(" 10.0.0.1") == nil)
    }

    // MARK: Ports

    @Test(arguments: [
        ("1", UInt16(1), UInt16(1), "1"),
        ("65535", 65535, 65535, "65535"),
        ("502", 502, 502, "502"),
        ("20000-20010", 20000, 20010, "20000-20010"),
        (" 80 - 90 ", 80, 90, "80-90"),
        ("443-443", 443, 443, "443"),
        ("1-65535", 1, 65535, "1-65535"),
    ])
    func parsesPorts(text: String, lower: UInt16, upper: UInt16, canonical: String) throws {
        let range = try PortRange.parse(text).get()
        #expect(range == PortRange(lower, upper))
        #expect(range.description == canonical)
    }

    @Test(arguments: [
        ("0", "'0' is not a port (1…65535)"),
        ("65536", "'65536' is not a port (1…65535)"),
        ("0-80", "'0' is not a port (1…65535)"),
        ("80-65536", "'65536' is not a port (1…65535)"),
        ("90-80", "the port range 90-80 is inverted: it ends before it starts"),
        ("http", "'http' is not a port (1…65535)"),
        ("+80", "'+80' is not a port (1…65535)"),
        ("8 0", "'8 0' is not a port (1…65535)"),
        ("1-2-3", "'1-2-3' is not a port or a port range"),
        ("99999999999999999999", "'99999999999999999999' is not a port (1…65535)"),
    ])
    func refusesPorts(text: String, message: String) {
        guard case .failure(let error) = PortRange.parse(text) else {
            Issue.record("\(text) parsed as a port range")
            return
        }
        #expect(error.message == message)
    }

    @Test(arguments: ["", "-80", "80-", "-"])
    func refusesEmptyPortParts(text: String) {
        #expect(throws: AddressSpecError.self) { try PortRange.parse(text).get() }
    }

    @Test func portRangesContainAndCover() {
        let range = PortRange(8000, 8010)
        #expect(range.contains(8000) && range.contains(8010) && range.contains(8005))
        #expect(!range.contains(7999) && !range.contains(8011))
        #expect(range.covers(PortRange(8000)) && range.covers(PortRange(8002, 8010)) && range.covers(range))
        #expect(!range.covers(PortRange(7999, 8001)) && !range.covers(PortRange(8010, 8011)))
        #expect(!PortRange(8005).covers(range))
    }
}
