import Foundation

/// Random bytes and the encodings and comparisons the account types share.
enum Secrets {
    /// `count` bytes from `generator`. With `SystemRandomNumberGenerator` (the default everywhere in this module)
    /// they come from the operating system's CSPRNG (`getrandom(2)` on Linux); tests pass a seeded generator.
    static func randomBytes(_ count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            var word = generator.next()
            for _ in 0..<8 where bytes.count < count {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return bytes
    }

    /// Base64url (RFC 4648 §5) without padding: safe in cookies, headers and URLs as it is.
    static func base64URL(_ bytes: [UInt8]) -> String {
        let standard = Data(bytes).base64EncodedString()
        let characters = standard.utf8.compactMap { byte -> UInt8? in
            switch byte {
            case UInt8(ascii: "+"): UInt8(ascii: "-")
            case UInt8(ascii: "/"): UInt8(ascii: "_")
            case UInt8(ascii: "="): nil
            default: byte
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }

    /// Lower-case hexadecimal.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var characters: [UInt8] = []
        for byte in bytes {
            characters.append(digits[Int(byte >> 4)])
            characters.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: characters, as: UTF8.self)
    }

    /// Compares without an early exit, so the time taken does not reveal how many leading bytes of a guess were
    /// right. Lengths are not secret here (hashes, tokens and ids have fixed lengths), so a length mismatch returns
    /// at once.
    static func constantTimeEqual(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) {
            difference |= left ^ right
        }
        return difference == 0
    }

    /// `constantTimeEqual` over the UTF-8 bytes of two strings.
    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        constantTimeEqual(Array(lhs.utf8), Array(rhs.utf8))
    }
}

extension Date {
    /// This instant moved by `duration` (Foundation has no `Date + Duration`).
    func adding(_ duration: Duration) -> Date {
        let (seconds, attoseconds) = duration.components
        return addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
    }
}
