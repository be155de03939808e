import RampartModel

/// The two address families the firewall filters.
package enum IPFamily: String, Sendable, Hashable, Codable, CaseIterable {
    case ipv4
    case ipv6

    var bitWidth: Int { self == .ipv4 ? 32 : 128 }
}

/// An IPv4 or IPv6 address as one 128-bit number (IPv4 in the low 32 bits), so comparisons, ranges and prefix
/// tests are plain integer arithmetic.
package struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    package var family: IPFamily
    package var value: UInt128

    package init(family: IPFamily, value: UInt128) {
        self.family = family
        self.value = value
    }

    /// Strict text: dotted quad (no leading zeros) or RFC 4291 IPv6 text; no zone identifiers, no prefixes.
    package init?(_ text: some StringProtocol) {
        guard let bytes = IPAddressText.bytes(of: String(text)) else { return nil }
        family = bytes.count == 4 ? .ipv4 : .ipv6
        value = bytes.reduce(0) { $0 << 8 | UInt128($1) }
    }

    package var bytes: [UInt8] {
        let count = family == .ipv4 ? 4 : 16
        return (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt128(8 * (count - 1 - $0))) }
    }

    /// Dotted quad, or the RFC 5952 form of an IPv6 address.
    package var description: String { IPAddressText.text(of: bytes) }

    package static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.family == .ipv4 ? 0 : 1, lhs.value) < (rhs.family == .ipv4 ? 0 : 1, rhs.value)
    }

    /// The mask of a prefix of `length` bits in this family.
    static func mask(family: IPFamily, length: Int) -> UInt128 {
        let width = family.bitWidth
        guard length > 0 else { return 0 }
        let all: UInt128 = width == 128 ? .max : (UInt128(1) << width) - 1
        return all ^ (all >> UInt128(length))
    }
}

/// An address selector as operators write it in a rule or a list: one address, a network in CIDR notation, or an
/// inclusive range `first-last` of one family.
package enum AddressSpec: Hashable, Sendable, CustomStringConvertible {
    case host(IPAddress)
    case network(IPAddress, prefixLength: Int)
    case range(IPAddress, IPAddress)

    /// Parses `text`; the error says what is wrong in words an operator can act on.
    package static func parse(_ text: String) -> Result<AddressSpec, AddressSpecError> {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return .failure(.init("an address is empty")) }
        if let slash = text.firstIndex(of: "/") {
            guard let address = IPAddress(text[..<slash]) else {
                return .failure(.init("'\(text[..<slash])' is not an IPv4 or IPv6 address"))
            }
            let lengthText = text[text.index(after: slash)...]
            guard let length = Int(lengthText), lengthText.allSatisfy(\.isNumber),
                (0...address.family.bitWidth).contains(length)
            else {
                return .failure(
                    .init("'/\(lengthText)' is not a prefix length (0…\(address.family.bitWidth)) in '\(text)'"))
            }
            let mask = IPAddress.mask(family: address.family, length: length)
            guard address.value & ~mask == 0 else {
                let network = IPAddress(family: address.family, value: address.value & mask)
                return .failure(.init("\(text) has host bits set; the network is \(network)/\(length)"))
            }
            return .success(.network(address, prefixLength: length))
        }
        if let dash = text.firstIndex(of: "-") {
            let firstText = text[..<dash].trimmingCharacters(in: .whitespaces)
            let lastText = text[text.index(after: dash)...].trimmingCharacters(in: .whitespaces)
            guard let first = IPAddress(firstText) else {
                return .failure(.init("'\(firstText)' is not an IPv4 or IPv6 address"))
            }
            guard let last = IPAddress(lastText) else {
                return .failure(.init("'\(lastText)' is not an IPv4 or IPv6 address"))
            }
            guard first.family == last.family else {
                return .failure(.init("the range \(text) mixes IPv4 and IPv6"))
            }
            guard first <= last else { return .failure(.init("the range \(text) ends before it starts")) }
            return .success(.range(first, last))
        }
        guard let address = IPAddress(text) else {
            return .failure(.init("'\(text)' is not an IPv4 or IPv6 address, network (CIDR) or range"))
        }
        return .success(.host(address))
    }

    package var family: IPFamily {
        switch self {
        case .host(let address), .network(let address, _), .range(let address, _): address.family
        }
    }

    /// The lowest and the highest address selected.
    package var bounds: ClosedRange<UInt128> {
        switch self {
        case .host(let address): address.value...address.value
        case .network(let address, let length):
            address
                .value...(address.value | ~IPAddress.mask(family: address.family, length: length)
                & IPAddress.mask(family: address.family, length: address.family.bitWidth))
        case .range(let first, let last): first.value...last.value
        }
    }

    package func contains(_ address: IPAddress) -> Bool {
        address.family == family && bounds.contains(address.value)
    }

    /// Whether every address `other` selects is also selected here.
    package func covers(_ other: AddressSpec) -> Bool {
        other.family == family && bounds.lowerBound <= other.bounds.lowerBound
            && other.bounds.upperBound <= bounds.upperBound
    }

    package func overlaps(_ other: AddressSpec) -> Bool {
        other.family == family && bounds.overlaps(other.bounds)
    }

    /// Canonical text, as nftables and the API write it back.
    package var description: String {
        switch self {
        case .host(let address): "\(address)"
        case .network(let address, let length): "\(address)/\(length)"
        case .range(let first, let last): "\(first)-\(last)"
        }
    }
}

package struct AddressSpecError: Error, Hashable, Sendable, CustomStringConvertible {
    package var message: String
    init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// A port or an inclusive range of ports, `502` or `20000-20010`.
package struct PortRange: Hashable, Sendable, CustomStringConvertible {
    package var lower: UInt16
    package var upper: UInt16

    package init(_ lower: UInt16, _ upper: UInt16? = nil) {
        self.lower = lower
        self.upper = upper ?? lower
    }

    package static func parse(_ text: String) -> Result<PortRange, AddressSpecError> {
        let text = text.trimmingCharacters(in: .whitespaces)
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard (1...2).contains(parts.count) else { return .failure(.init("'\(text)' is not a port or a port range")) }
        var numbers: [UInt16] = []
        for part in parts {
            guard !part.isEmpty, part.allSatisfy(\.isNumber), let number = Int(part), (1...65535).contains(number)
            else { return .failure(.init("'\(part)' is not a port (1…65535)")) }
            numbers.append(UInt16(number))
        }
        let lower = numbers[0]
        let upper = numbers[numbers.count - 1]
        guard lower <= upper else {
            return .failure(.init("the port range \(text) is inverted: it ends before it starts"))
        }
        return .success(PortRange(lower, upper))
    }

    package func contains(_ port: UInt16) -> Bool { lower <= port && port <= upper }
    package func covers(_ other: PortRange) -> Bool { lower <= other.lower && other.upper <= upper }

    package var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}
