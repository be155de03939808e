import Crypto
import Foundation
import _CryptoExtras

/// A web-management password as stored: PBKDF2-HMAC-SHA256 over the password's UTF-8 bytes, in the text form
/// `$pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash>` (standard Base64 with padding). Encodes to and decodes
/// from that string, so an account document stores one readable field per hash.
///
/// 600,000 iterations is OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256: slow enough that a stolen account
/// document is expensive to brute-force, fast enough (well under a second on a gateway's CPU) for a log-in.
/// The count is stored with each hash, so raising it later leaves existing hashes verifiable (`needsRehash`).
package struct PasswordHash: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Iterations for new hashes.
    package static let defaultIterations = 600_000
    /// Highest count accepted when parsing or hashing: a tampered document with an absurd count would make every
    /// log-in a denial of service.
    package static let maximumIterations = 10_000_000
    /// Salt length of new hashes (128 bits: no two passwords anywhere share a salt).
    package static let saltByteCount = 16
    /// Output length: one SHA-256 block, the most PBKDF2-HMAC-SHA256 yields without extra work for a defender.
    package static let hashByteCount = 32
    /// The algorithm's name in the encoded form.
    package static let scheme = "pbkdf2-sha256"

    package let iterations: Int
    package let salt: [UInt8]
    package let hash: [UInt8]

    /// Hashes `password` with a fresh random salt from the system's CSPRNG and `defaultIterations`.
    package static func make(password: String) throws(PasswordHashError) -> PasswordHash {
        var generator = SystemRandomNumberGenerator()
        return try make(password: password, iterations: defaultIterations, using: &generator)
    }

    /// Hashes `password` with a salt drawn from `generator`. Use `defaultIterations` outside tests; the salt
    /// generator must be cryptographically secure outside tests.
    package static func make(
        password: String,
        iterations: Int = defaultIterations,
        using generator: inout some RandomNumberGenerator
    ) throws(PasswordHashError) -> PasswordHash {
        try PasswordHash(
            password: password, salt: Secrets.randomBytes(saltByteCount, using: &generator), iterations: iterations)
    }

    /// Hashes `password` with the given salt (deterministic; for tests and known-answer checks).
    package init(password: String, salt: [UInt8], iterations: Int) throws(PasswordHashError) {
        try Self.check(iterations: iterations)
        guard !salt.isEmpty else { throw PasswordHashError("salt is empty") }
        guard let hash = Self.derive(password: password, salt: salt, iterations: iterations) else {
            throw PasswordHashError("PBKDF2 derivation failed")
        }
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }

    /// A hash from its parts, unchecked (for constants).
    init(unchecked iterations: Int, salt: [UInt8], hash: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }

    /// Parses the encoded form. Every part is checked, so a damaged document is reported instead of leaving a user
    /// who can never log in.
    package init(encoded text: String) throws(PasswordHashError) {
        let fields = text.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1] == Self.scheme else {
            throw PasswordHashError(
                "password hash is not of the form $\(Self.scheme)$<iterations>$<base64 salt>$<base64 hash>")
        }
        guard !fields[2].isEmpty, fields[2].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let iterations = Int(fields[2])
        else {
            throw PasswordHashError("password hash iteration count '\(fields[2])' is not a positive decimal integer")
        }
        try Self.check(iterations: iterations)
        guard let salt = Data(base64Encoded: String(fields[3])), !salt.isEmpty else {
            throw PasswordHashError("password hash salt is not valid non-empty base64")
        }
        guard let hash = Data(base64Encoded: String(fields[4])) else {
            throw PasswordHashError("password hash value is not valid base64")
        }
        guard hash.count == Self.hashByteCount else {
            throw PasswordHashError("password hash value is \(hash.count) bytes, expected \(Self.hashByteCount)")
        }
        self.iterations = iterations
        self.salt = Array(salt)
        self.hash = Array(hash)
    }

    /// `$pbkdf2-sha256$600000$<base64 salt>$<base64 hash>`.
    package var encoded: String {
        "$\(Self.scheme)$\(iterations)$\(Data(salt).base64EncodedString())$\(Data(hash).base64EncodedString())"
    }

    package var description: String { encoded }

    /// Whether this hash was made with fewer iterations than new hashes get: the web layer may re-hash the
    /// password after a successful log-in, the only moment it has the plain text.
    package var needsRehash: Bool { iterations < Self.defaultIterations }

    /// Whether `password` hashes to this value. The comparison takes the same time wherever the first differing
    /// byte is, so response times do not tell how close a guess was.
    package func verify(_ password: String) -> Bool {
        guard let candidate = Self.derive(password: password, salt: salt, iterations: iterations) else { return false }
        return Secrets.constantTimeEqual(candidate, hash)
    }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(encoded: text)
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(encoded)
    }

    // MARK: - Private

    private static func check(iterations: Int) throws(PasswordHashError) {
        guard (1...maximumIterations).contains(iterations) else {
            throw PasswordHashError("password hash iteration count \(iterations) is outside 1...\(maximumIterations)")
        }
    }

    /// PBKDF2 over the UTF-8 of the password's NFC form, so that "é" typed as one code point or as "e" plus a
    /// combining accent (keyboards and operating systems differ) is the same password, as Swift's `==` says too.
    private static func derive(password: String, salt: [UInt8], iterations: Int) -> [UInt8]? {
        let bytes = Array(password.precomposedStringWithCanonicalMapping.utf8)
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: bytes, salt: salt, using: .sha256, outputByteCount: hashByteCount,
                unsafeUncheckedRounds: iterations)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            return nil
        }
    }
}

/// Why a password hash could not be parsed or made; the message names the part at fault.
package struct PasswordHashError: Error, Hashable, Sendable, CustomStringConvertible {
    package var message: String
    package var description: String { message }

    init(_ message: String) { self.message = message }
}
