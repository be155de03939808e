import FirewallPolicy

/// The lexical pieces of the nftables language the renderer writes: quoted strings, addresses and durations.
/// Addresses and durations are appended to the caller's string piece by piece, because a ruleset can hold a hundred
/// thousand set elements and building a temporary string for each would dominate the rendering time.
enum NFTText {
    /// nft refuses a comment longer than this many bytes (`NFTNL_UDATA_COMMENT_MAXLEN`), for rules and set elements.
    static let maximumCommentBytes = 128

    /// The longest element timeout written (about 547 years). The kernel keeps timeouts in nanoseconds and refuses
    /// one beyond 2^64 ns (about 584 years); a longer lifetime is written as none, a difference no one will see.
    static let maximumTimeoutSeconds = 200_000 * 86_400

    /// `text` as the content of an nft quoted string: nft has no escapes, so a `"` cannot be written at all, and
    /// control characters would break the one-statement-per-line text. Both are removed; the rest is cut to
    /// `maximumCommentBytes` bytes of UTF-8 at a character boundary, so the kernel never sees half a character.
    static func comment(_ text: String) -> String {
        let utf8 = text.utf8
        if utf8.count <= maximumCommentBytes, utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 }) {
            return text
        }
        var result = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            if scalar == "\"" || scalar.properties.generalCategory == .control { continue }
            let width = UTF8.width(scalar)
            guard bytes + width <= maximumCommentBytes else { break }
            bytes += width
            result.append(scalar)
        }
        return String(result)
    }

    /// Appends ` comment "…"`, or nothing when the sanitised comment is empty (nft refuses an empty string).
    static func appendComment(_ text: String, to output: inout String) {
        let comment = comment(text)
        guard !comment.isEmpty else { return }
        output.append(" comment \"")
        output.append(comment)
        output.append("\"")
    }

    /// A quoted interface name, written as it is: nft has no escapes, so a name holding `"` makes the whole file
    /// fail to load (the old ruleset stays), and a trailing `*` is nft's wildcard. Interface names come from the
    /// network settings, which must hold plain Linux interface names.
    static func quoted(_ name: String) -> String { "\"" + name + "\"" }

    /// `{ "a", "b" }`: an anonymous set, written as a set even with one element so a zone reads the same however
    /// many interfaces it has.
    static func interfaceSet(_ names: [String]) -> String {
        "{ " + names.map(quoted).joined(separator: ", ") + " }"
    }

    /// One value, or an anonymous set of several: `502`, `{ 137-138, 161 }`.
    static func valueOrSet(_ values: [String]) -> String {
        values.count == 1 ? values[0] : "{ " + values.joined(separator: ", ") + " }"
    }

    /// A duration as nft writes it, `1d2h3m4s` with the zero parts left out; nft refuses a number of nine digits
    /// or more (`100000000s`: "value too large"), so long lifetimes need the larger units.
    static func appendDuration(seconds: Int, to output: inout String) {
        let seconds = max(1, seconds)
        let days = seconds / 86_400
        let hours = seconds / 3_600 % 24
        let minutes = seconds / 60 % 60
        if days > 0 { output.append(String(days) + "d") }
        if hours > 0 { output.append(String(hours) + "h") }
        if minutes > 0 { output.append(String(minutes) + "m") }
        if seconds % 60 > 0 { output.append(String(seconds % 60) + "s") }
    }

    /// Appends the canonical text of `spec` (`192.0.2.0/24`, `192.0.2.5-192.0.2.9`, `2001:db8::1`), the same text
    /// as `AddressSpec.description`.
    static func appendAddress(_ spec: AddressSpec, to output: inout String) {
        switch spec {
        case .host(let address):
            appendAddress(address, to: &output)
        case .network(let address, let length):
            appendAddress(address, to: &output)
            output.append("/")
            output.append(String(length))
        case .range(let first, let last):
            appendAddress(first, to: &output)
            output.append("-")
            appendAddress(last, to: &output)
        }
    }

    /// Dotted quad, or the RFC 5952 form of an IPv6 address (lowercase, the first longest run of two or more zero
    /// groups as `::`, IPv4-mapped addresses as `::ffff:a.b.c.d`), as `IPAddress.description` writes them.
    static func appendAddress(_ address: IPAddress, to output: inout String) {
        if address.family == .ipv4 {
            appendDottedQuad(UInt32(truncatingIfNeeded: address.value), to: &output)
            return
        }
        let words = (0..<8).map { UInt16(truncatingIfNeeded: address.value >> UInt128(16 * (7 - $0))) }
        if words[0..<5].allSatisfy({ $0 == 0 }), words[5] == 0xFFFF {
            output.append("::ffff:")
            appendDottedQuad(UInt32(truncatingIfNeeded: address.value), to: &output)
            return
        }
        var best = 0..<0
        var start: Int?
        for index in 0...8 {
            if index < 8, words[index] == 0 {
                if start == nil { start = index }
            } else if let runStart = start {
                if index - runStart >= 2, index - runStart > best.count { best = runStart..<index }
                start = nil
            }
        }
        for index in 0..<8 {
            if best.contains(index) {
                if index == best.lowerBound { output.append("::") }
                continue
            }
            if index > 0, index != best.upperBound { output.append(":") }
            output.append(String(words[index], radix: 16))
        }
    }

    /// The decimal text of every byte, so writing an IPv4 address formats no numbers.
    private static let decimalBytes = (0...255).map { String($0) }

    private static func appendDottedQuad(_ value: UInt32, to output: inout String) {
        output.append(decimalBytes[Int(value >> 24)])
        output.append(".")
        output.append(decimalBytes[Int(value >> 16 & 0xFF)])
        output.append(".")
        output.append(decimalBytes[Int(value >> 8 & 0xFF)])
        output.append(".")
        output.append(decimalBytes[Int(value & 0xFF)])
    }
}
