import Crypto
import Foundation

/// REST API tokens: long random secrets that scripts and the central server send instead of a password.
package enum APIToken {
    /// Every secret starts with this, so a leaked one is recognisable (secret scanners, logs) as a Rampart token.
    package static let prefix = "rpt_"
    /// Random bytes in a secret (256 bits).
    package static let secretByteCount = 32
    /// Random bytes in a token's id (48 bits, 12 hex digits: enough to tell a handful of tokens apart).
    package static let idByteCount = 6

    /// A new token named `name`: the secret to show the operator once, and the record to store (which holds only
    /// the secret's hash, so the stored document does not reveal it).
    package static func generate(name: String, now: Date) -> (secret: String, record: APITokenRecord) {
        var generator = SystemRandomNumberGenerator()
        return generate(name: name, now: now, using: &generator)
    }

    /// `generate` with the randomness drawn from `generator` (cryptographically secure outside tests).
    package static func generate(
        name: String,
        now: Date,
        using generator: inout some RandomNumberGenerator
    ) -> (secret: String, record: APITokenRecord) {
        let secret = prefix + Secrets.base64URL(Secrets.randomBytes(secretByteCount, using: &generator))
        let record = APITokenRecord(
            id: Secrets.hex(Secrets.randomBytes(idByteCount, using: &generator)), name: name,
            secretSHA256: APITokenRecord.digest(secret), created: now)
        return (secret, record)
    }
}

/// A stored API token: everything but the secret.
///
/// The secret is kept as its SHA-256, not as a slow password hash (PBKDF2): a slow hash protects low-entropy
/// secrets that people choose, whereas these secrets are 256 random bits, which no one can brute-force through
/// any hash. A fast hash also keeps each API request cheap.
package struct APITokenRecord: Codable, Sendable, Equatable, Identifiable {
    /// Short random hex id, for listing and revoking (not secret).
    package var id: String
    /// What the operator called it ("central server", "backup script").
    package var name: String
    /// Lower-case hex SHA-256 of the secret's UTF-8 bytes.
    package var secretSHA256: String
    package var created: Date

    package init(id: String, name: String, secretSHA256: String, created: Date) {
        self.id = id
        self.name = name
        self.secretSHA256 = secretSHA256
        self.created = created
    }

    /// Whether `secret` is this token's secret; the digests are compared without a timing leak.
    package func matches(_ secret: String) -> Bool {
        Secrets.constantTimeEqual(Self.digest(secret), secretSHA256.lowercased())
    }

    static func digest(_ secret: String) -> String {
        Secrets.hex(SHA256.hash(data: Array(secret.utf8)))
    }
}
