import Crypto
import _CryptoExtras

/// One password hash in the crypt(3)-like form Mosquitto stores after the `:` of a password file line.
///
/// - `$7$<iterations>$<base64 salt>$<base64 hash>`: PBKDF2-HMAC-SHA512 with a 64-byte output, what
///   `mosquitto_passwd` writes since Mosquitto 2.0 (101 iterations and a 12-byte salt by default).
/// - `$6$<base64 salt>$<base64 hash>`: one SHA-512 over password ‖ salt, what Mosquitto 1.6 and earlier wrote and
///   `mosquitto_passwd -H sha512` still writes. It is fast to brute-force; Rampart reads it so existing files keep
///   working, and new hashes should use `$7$`.
package enum PasswordHash: Sendable, Hashable {
    case sha512(salt: [UInt8], hash: [UInt8])
    case pbkdf2SHA512(iterations: Int, salt: [UInt8], hash: [UInt8])

    /// Mosquitto's default PBKDF2 iteration count (`mosquitto_passwd` 2.0 has no option to change it).
    package static let mosquittoDefaultIterations = 101
    /// Highest iteration count accepted. Verification runs on the broker's event loop at CONNECT; a file
    /// carrying an absurd count (by mistake or by a hostile edit) would turn every login into a denial of service.
    /// Ten million PBKDF2-SHA512 rounds already take several seconds.
    package static let maximumIterations = 10_000_000
    /// SHA-512 output size; both formats store exactly this many hash bytes.
    package static let hashByteCount = 64

    /// Why a hash string or hashing request was refused; the file reader wraps it with file and line.
    package struct FormatError: Error, Hashable, Sendable, CustomStringConvertible {
        package var message: String
        package var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// Parses the text after the username's `:`.
    package init(parsing text: some StringProtocol) throws(FormatError) {
        let fields = String(text).split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].isEmpty else {
            throw FormatError(
                "password is not a $6$ or $7$ hash (plain-text passwords are not accepted; "
                    + "hash the file with mosquitto_passwd -U)")
        }
        switch fields[1] {
        case "7":
            guard fields.count == 5 else {
                throw FormatError("malformed $7$ hash: expected $7$<iterations>$<base64 salt>$<base64 hash>")
            }
            let iterations = try Self.parseIterations(fields[2])
            let salt = try Self.decodeSalt(fields[3])
            let hash = try Self.decodeHash(fields[4])
            self = .pbkdf2SHA512(iterations: iterations, salt: salt, hash: hash)
        case "6":
            guard fields.count == 4 else {
                throw FormatError("malformed $6$ hash: expected $6$<base64 salt>$<base64 hash>")
            }
            let salt = try Self.decodeSalt(fields[2])
            let hash = try Self.decodeHash(fields[3])
            self = .sha512(salt: salt, hash: hash)
        default:
            throw FormatError("unsupported hash type '$\(fields[1])$' (Mosquitto supports $6$ and $7$)")
        }
    }

    /// Hashes `password` as `$7$` (PBKDF2-HMAC-SHA512, 64-byte output).
    ///
    /// The salt is a parameter, not generated here, so this module stays deterministic: callers draw it from a
    /// cryptographically secure generator (12 bytes matches `mosquitto_passwd`; Mosquitto 2.0 itself refuses other
    /// salt lengths, Rampart accepts any non-empty salt).
    package static func pbkdf2SHA512(
        password: some Collection<UInt8>, salt: [UInt8], iterations: Int
    ) throws(FormatError) -> PasswordHash {
        guard !salt.isEmpty else { throw FormatError("salt is empty") }
        guard (1...maximumIterations).contains(iterations) else {
            throw FormatError("iteration count \(iterations) is outside 1...\(maximumIterations)")
        }
        guard let hash = derivePBKDF2(password: Array(password), salt: salt, iterations: iterations) else {
            throw FormatError("PBKDF2 derivation failed")
        }
        return .pbkdf2SHA512(iterations: iterations, salt: salt, hash: hash)
    }

    /// Hashes `password` as `$6$` (SHA-512 of password ‖ salt). Only for tests and for writing files that
    /// Mosquitto ≤ 1.6 must read; prefer `pbkdf2SHA512`.
    package static func sha512(password: some Collection<UInt8>, salt: [UInt8]) -> PasswordHash {
        .sha512(salt: salt, hash: digestSHA512(password: Array(password), salt: salt))
    }

    /// The `$6$…` / `$7$…` text, as `mosquitto_passwd` would write it.
    package var encoded: String {
        switch self {
        case .sha512(let salt, let hash):
            "$6$\(Base64.encode(salt))$\(Base64.encode(hash))"
        case .pbkdf2SHA512(let iterations, let salt, let hash):
            "$7$\(iterations)$\(Base64.encode(salt))$\(Base64.encode(hash))"
        }
    }

    /// Whether `password` hashes to this value. The final comparison takes the same time wherever the first
    /// differing byte is, so response timing does not reveal how close a guess was.
    package func matches(password: some Collection<UInt8>) -> Bool {
        let candidate: [UInt8]?
        let expected: [UInt8]
        switch self {
        case .sha512(let salt, let hash):
            candidate = Self.digestSHA512(password: Array(password), salt: salt)
            expected = hash
        case .pbkdf2SHA512(let iterations, let salt, let hash):
            candidate = Self.derivePBKDF2(password: Array(password), salt: salt, iterations: iterations)
            expected = hash
        }
        guard let candidate else { return false }
        return Self.constantTimeEqual(candidate, expected)
    }

    // MARK: - Private

    private static func parseIterations(_ text: Substring) throws(FormatError) -> Int {
        // Digits only: Mosquitto's atoi() would read "101abc" as 101 and "" as 0; a stray character is a typo.
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw FormatError("iteration count '\(text)' is not a positive decimal integer")
        }
        guard let value = Int(text), value <= maximumIterations else {
            throw FormatError("iteration count \(text) exceeds the maximum of \(maximumIterations)")
        }
        guard value >= 1 else {
            throw FormatError("iteration count must be at least 1")
        }
        return value
    }

    private static func decodeSalt(_ text: Substring) throws(FormatError) -> [UInt8] {
        guard !text.isEmpty else { throw FormatError("salt is empty") }
        guard let salt = Base64.decode(text) else { throw FormatError("salt is not valid base64") }
        return salt
    }

    private static func decodeHash(_ text: Substring) throws(FormatError) -> [UInt8] {
        guard let hash = Base64.decode(text) else { throw FormatError("hash is not valid base64") }
        guard hash.count == hashByteCount else {
            throw FormatError("hash is \(hash.count) bytes, expected \(hashByteCount) (SHA-512)")
        }
        return hash
    }

    private static func digestSHA512(password: [UInt8], salt: [UInt8]) -> [UInt8] {
        var hasher = SHA512()
        hasher.update(data: password)
        hasher.update(data: salt)
        return Array(hasher.finalize())
    }

    private static func derivePBKDF2(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8]? {
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: password, salt: salt, using: .sha512, outputByteCount: hashByteCount,
                unsafeUncheckedRounds: iterations)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            return nil
        }
    }

    /// Compares without an early exit. Lengths are public (always 64 here), so a length mismatch may return early.
    private static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}
