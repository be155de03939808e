/// An IPv4 address as the settings pages and the REST API carry it: dotted quad text outside, 32 bits inside.
package struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    package var value: UInt32

    package init(_ value: UInt32) { self.value = value }

    /// Parses strict dotted-quad text (`192.0.2.1`); no leading zeros, no shorthand forms such as `10.1`.
    package init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                part.count == 1 || part.first != "0", let octet = UInt8(part)
            else { return nil }
            value = value << 8 | UInt32(octet)
        }
        self.value = value
    }

    package var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    package static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPv4Address(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an IPv4 address"))
        }
        self = address
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An IPv4 subnet given by an address and a netmask in dotted form, as operators type it on a gateway's LAN page.
package struct IPv4Subnet: Hashable, Sendable {
    package var address: IPv4Address
    package var prefixLength: Int

    /// The prefix length of a contiguous netmask (`255.255.255.0` → 24); nil for a mask with holes.
    package static func prefixLength(ofMask mask: IPv4Address) -> Int? {
        let ones = mask.value.nonzeroBitCount
        let expected: UInt32 = ones == 0 ? 0 : UInt32.max << (32 - ones)
        return mask.value == expected ? ones : nil
    }

    package var mask: UInt32 { prefixLength == 0 ? 0 : UInt32.max << (32 - prefixLength) }
    package var network: IPv4Address { IPv4Address(address.value & mask) }
    package var broadcast: IPv4Address { IPv4Address(address.value | ~mask) }

    package func contains(_ other: IPv4Address) -> Bool { other.value & mask == address.value & mask }

    /// Whether `other` can be given to a host of this subnet: inside it, and neither its network nor (for
    /// prefixes up to /30) its broadcast address.
    package func isHostAddress(_ other: IPv4Address) -> Bool {
        guard contains(other) else { return false }
        if prefixLength >= 31 { return true }
        return other != network && other != broadcast
    }
}
