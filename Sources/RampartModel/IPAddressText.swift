/// IPv4 and IPv6 addresses between their text and their bytes (as a SAN `iPAddress` holds them), in pure Swift:
/// `inet_pton` would tie the target to a libc and accept forms (`010.1.1.1`) that people misread.
package enum IPAddressText {
    /// The 4 or 16 bytes of `text`, nil when it is neither dotted-quad IPv4 nor IPv6 text (RFC 4291 section 2.2).
    /// Zone identifiers (`fe80::1%eth0`) are refused: they mean nothing outside the host that wrote them.
    package static func bytes(of text: String) -> [UInt8]? {
        if text.contains(":") { return ipv6(Substring(text)) }
        return ipv4(Substring(text))
    }

    /// Dotted quad; a part with a leading zero is refused, since some tools read it as octal.
    private static func ipv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                part.count == 1 || part.first != "0", let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    private static func ipv6(_ text: Substring) -> [UInt8]? {
        let characters = Array(text)
        // The first "::" stands for one or more zero groups; the text before it and after it are plain groups.
        let doubleColon = characters.indices.dropLast().first { characters[$0] == ":" && characters[$0 + 1] == ":" }
        let words: [UInt16]
        if let doubleColon {
            guard let head = groups(characters[..<doubleColon], allowIPv4Tail: false),
                let tail = groups(characters[(doubleColon + 2)...], allowIPv4Tail: true),
                head.count + tail.count <= 7
            else { return nil }
            words = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = groups(characters[...], allowIPv4Tail: true), all.count == 8 else { return nil }
            words = all
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// The 16-bit groups of colon-separated hex text (an empty field, so a second "::", is refused); the last field
    /// may be a dotted quad, which stands for two groups.
    private static func groups(_ characters: ArraySlice<Character>, allowIPv4Tail: Bool) -> [UInt16]? {
        guard !characters.isEmpty else { return [] }
        let fields = characters.split(separator: ":", omittingEmptySubsequences: false).map { String($0) }
        var words: [UInt16] = []
        for (index, field) in fields.enumerated() {
            if allowIPv4Tail, index == fields.count - 1, field.contains(".") {
                guard let v4 = ipv4(Substring(field)) else { return nil }
                words += [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
            } else {
                guard (1...4).contains(field.count), field.utf8.allSatisfy(isHexDigit),
                    let value = UInt16(field, radix: 16)
                else { return nil }
                words.append(value)
            }
        }
        return words
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x46, 0x61...0x66: true
        default: false
        }
    }

    /// The text of a SAN `iPAddress`: dotted quad for 4 bytes, RFC 5952 form for 16 (lowercase, the longest run of
    /// zero groups as `::`, IPv4-mapped addresses as `::ffff:a.b.c.d`), hex for any other length.
    package static func text(of bytes: some Collection<UInt8>) -> String {
        let bytes = Array(bytes)
        switch bytes.count {
        case 4:
            return bytes.map { String($0) }.joined(separator: ".")
        case 16:
            let words = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            if words[0..<5].allSatisfy({ $0 == 0 }), words[5] == 0xFFFF {
                return "::ffff:" + bytes[12...].map { String($0) }.joined(separator: ".")
            }
            var best: Range<Int>?
            var start: Int?
            for index in 0...8 {
                if index < 8, words[index] == 0 {
                    if start == nil { start = index }
                } else if let runStart = start {
                    if index - runStart >= 2, index - runStart > (best?.count ?? 0) { best = runStart..<index }
                    start = nil
                }
            }
            let hex = words.map { String($0, radix: 16) }
            guard let best else { return hex.joined(separator: ":") }
            return hex[..<best.lowerBound].joined(separator: ":") + "::"
                + hex[best.upperBound...].joined(separator: ":")
        default:
            return bytes.map { hexByte($0) }.joined()
        }
    }

    package static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
