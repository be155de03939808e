import RampartModel
import Testing

@Suite struct IPAddressTextTests {
    @Test func ipv4TextAndBytes() {
        #expect(IPAddressText.bytes(of: "192.168.1.10") == [192, 168, 1, 10])
        #expect(IPAddressText.bytes(of: "0.0.0.0") == [0, 0, 0, 0])
        #expect(IPAddressText.bytes(of: "255.255.255.255") == [255, 255, 255, 255])
        #expect(IPAddressText.text(of: [10, 0, 0, 1]) == "10.0.0.1")
        for bad in ["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "1.2.3.+4", "a.b.c.d", "1..2.3"] {
            #expect(IPAddressText.bytes(of: bad) == nil, "\(bad)")
        }
    }

    @Test func ipv6TextToBytes() {
        #expect(IPAddressText.bytes(of: "::") == Array(repeating: 0, count: 16))
        #expect(IPAddressText.bytes(of: "::1") == Array(repeating: 0, count: 15) + [1])
        #expect(IPAddressText.bytes(of: "fe80::") == [0xFE, 0x80] + Array(repeating: 0, count: 14))
        #expect(
            IPAddressText.bytes(of: "2001:DB8:0:0:1:0:0:1")
                == [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
        #expect(
            IPAddressText.bytes(of: "::ffff:192.0.2.1")
                == Array(repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 1])
        for bad in [
            ":::", "1::2::3", ":1::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2:3:4:5:6:7:8", "12345::",
            "g::1", "fe80::1%eth0", "::1.2.3", "1.2.3.4::", "+1::",
        ] {
            #expect(IPAddressText.bytes(of: bad) == nil, "\(bad)")
        }
    }

    @Test func ipv6BytesToRFC5952Text() {
        func text(_ input: String) -> String? { IPAddressText.bytes(of: input).map { IPAddressText.text(of: $0) } }
        #expect(text("2001:0DB8:0000:0000:0001:0000:0000:0001") == "2001:db8::1:0:0:1")
        #expect(text("2001:db8:0:1:1:1:1:1") == "2001:db8:0:1:1:1:1:1")
        #expect(text("2001:0:0:1:0:0:0:1") == "2001:0:0:1::1")
        #expect(text("::") == "::")
        #expect(text("::1") == "::1")
        #expect(text("1::") == "1::")
        #expect(text("::ffff:192.0.2.1") == "::ffff:192.0.2.1")
    }
}
