import Foundation
import RampartModel

/// One web-management user.
package struct UserAccount: Codable, Sendable, Equatable {
    /// The log-in name, compared exactly (case matters).
    package var name: String
    package var passwordHash: PasswordHash
    /// Set for the initial administrator (whose password was printed on the console or set by the installer):
    /// the web layer lets such a user do nothing but change the password.
    package var mustChangePassword: Bool
    /// The UI language this user chose.
    package var language: Language
    /// Hashes of the passwords this user had before the current one, newest first, at most
    /// `AccountDirectory.passwordHistoryCount`: the High policy refuses them again.
    package var previousPasswordHashes: [PasswordHash]
    package var created: Date
    /// When the password was last set.
    package var passwordChanged: Date

    package init(
        name: String,
        passwordHash: PasswordHash,
        mustChangePassword: Bool,
        language: Language = .english,
        previousPasswordHashes: [PasswordHash] = [],
        created: Date,
        passwordChanged: Date? = nil
    ) {
        self.name = name
        self.passwordHash = passwordHash
        self.mustChangePassword = mustChangePassword
        self.language = language
        self.previousPasswordHashes = previousPasswordHashes
        self.created = created
        self.passwordChanged = passwordChanged ?? created
    }

    private enum CodingKeys: String, CodingKey {
        case name, passwordHash, mustChangePassword, language, previousPasswordHashes, created, passwordChanged
    }

    /// Decodes, with defaults for the fields a document written by an older version may lack.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let created = try container.decode(Date.self, forKey: .created)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            passwordHash: try container.decode(PasswordHash.self, forKey: .passwordHash),
            mustChangePassword: try container.decode(Bool.self, forKey: .mustChangePassword),
            language: try container.decodeIfPresent(Language.self, forKey: .language) ?? .english,
            previousPasswordHashes: try container.decodeIfPresent([PasswordHash].self, forKey: .previousPasswordHashes)
                ?? [],
            created: created,
            passwordChanged: try container.decodeIfPresent(Date.self, forKey: .passwordChanged))
    }
}

/// The web management's accounts, policy and API tokens: one JSON document that the web layer loads, changes
/// through the methods below, and saves back (with the store's optimistic concurrency).
///
/// A value type without I/O or clock: the caller passes the time, and the list of common passwords it read.
/// Password hashing is slow on purpose (`PasswordHash`): `authenticate` costs one PBKDF2 computation,
/// `changePassword` two to seven; run them off the event loop.
package struct AccountDirectory: Codable, Sendable, Equatable {
    /// The user the gateway starts with.
    package static let administratorName = "admin"
    /// How many earlier passwords each user's history keeps.
    package static let passwordHistoryCount = 5
    /// Length of `randomInitialPassword()`.
    package static let initialPasswordLength = 20

    package var users: [UserAccount]
    package var policy: PasswordPolicy.Level
    package var tokens: [APITokenRecord]

    package init(users: [UserAccount], policy: PasswordPolicy.Level = .medium, tokens: [APITokenRecord] = []) {
        self.users = users
        self.policy = policy
        self.tokens = tokens
    }

    /// The directory of a new gateway: the user "admin" with `adminPassword`, who must change it at the first
    /// log-in; policy Medium; no tokens.
    /// - Throws: `AccountError.policyViolated` when the password is shorter than the Low policy's minimum.
    package static func initial(adminPassword: String, now: Date) throws(AccountError) -> AccountDirectory {
        try initial(adminPassword: adminPassword, now: now, iterations: PasswordHash.defaultIterations)
    }

    /// `initial` with a chosen PBKDF2 cost (tests use a low one).
    static func initial(adminPassword: String, now: Date, iterations: Int) throws(AccountError) -> AccountDirectory {
        let violations = PasswordPolicy.Level.low.violations(
            password: adminPassword, userName: administratorName, previousHashes: [], commonPasswords: .none)
        guard violations.isEmpty else { throw .policyViolated(violations) }
        let hash = try makeHash(adminPassword, iterations: iterations)
        let admin = UserAccount(name: administratorName, passwordHash: hash, mustChangePassword: true, created: now)
        return AccountDirectory(users: [admin])
    }

    /// The account named `name`, if any.
    package func user(named name: String) -> UserAccount? {
        users.first { $0.name == name }
    }

    /// The account when `password` is right for `user`; nil when it is wrong or the user does not exist. An
    /// unknown user costs the same PBKDF2 computation, so the response time does not tell which users exist.
    /// The caller checks `mustChangePassword`, and asks `LoginThrottle` first.
    package func authenticate(user name: String, password: String) -> UserAccount? {
        guard let account = user(named: name) else {
            _ = Self.unknownUserHash.verify(password)
            return nil
        }
        return account.passwordHash.verify(password) ? account : nil
    }

    /// Changes `user`'s password from `current` to `new`.
    ///
    /// Checks, in this order: the user exists, `current` is right, `new` differs from it, and `new` follows the
    /// directory's policy (every broken rule is reported). Then the old hash goes to the front of the history
    /// (which keeps `passwordHistoryCount`), and `mustChangePassword` is cleared.
    package mutating func changePassword(
        user name: String,
        current: String,
        new: String,
        commonPasswords: CommonPasswords,
        now: Date
    ) throws(AccountError) {
        try changePassword(
            user: name, current: current, new: new, commonPasswords: commonPasswords, now: now,
            iterations: PasswordHash.defaultIterations)
    }

    /// `changePassword` with a chosen PBKDF2 cost for the new hash (tests use a low one).
    mutating func changePassword(
        user name: String,
        current: String,
        new: String,
        commonPasswords: CommonPasswords,
        now: Date,
        iterations: Int
    ) throws(AccountError) {
        let index = try index(of: name)
        var account = users[index]
        guard account.passwordHash.verify(current) else { throw .wrongCurrentPassword }
        guard new != current else { throw .sameAsCurrent }
        let violations = policy.violations(
            password: new, userName: account.name, previousHashes: account.previousPasswordHashes,
            commonPasswords: commonPasswords)
        guard violations.isEmpty else { throw .policyViolated(violations) }
        let hash = try Self.makeHash(new, iterations: iterations)
        account.previousPasswordHashes = Array(
            ([account.passwordHash] + account.previousPasswordHashes).prefix(Self.passwordHistoryCount))
        account.passwordHash = hash
        account.mustChangePassword = false
        account.passwordChanged = now
        users[index] = account
    }

    /// Sets the UI language of `user`.
    package mutating func setLanguage(_ language: Language, for name: String) throws(AccountError) {
        users[try index(of: name)].language = language
    }

    /// Sets the password policy. It applies to the next password change; existing passwords stay valid.
    package mutating func setPolicy(_ level: PasswordPolicy.Level) {
        policy = level
    }

    /// Adds a token made by `APIToken.generate`.
    /// - Throws: when its name is empty or already used, or its id is already used.
    package mutating func addToken(_ record: APITokenRecord) throws(AccountError) {
        let name = record.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw .emptyTokenName }
        guard !tokens.contains(where: { $0.name == record.name }) else { throw .duplicateTokenName(record.name) }
        guard !tokens.contains(where: { $0.id == record.id }) else { throw .duplicateTokenID(record.id) }
        tokens.append(record)
    }

    /// Removes (revokes) the token with this id.
    package mutating func removeToken(id: String) throws(AccountError) {
        guard let index = tokens.firstIndex(where: { $0.id == id }) else { throw .unknownToken(id: id) }
        tokens.remove(at: index)
    }

    /// The token whose secret this is, if any. Every token is compared (no early exit), so timing does not tell
    /// which one matched.
    package func token(matching secret: String) -> APITokenRecord? {
        var found: APITokenRecord?
        for token in tokens where token.matches(secret) && found == nil {
            found = token
        }
        return found
    }

    // MARK: Initial password

    /// Alphabets of `randomInitialPassword`, without look-alikes (no i, l, o, I, O, 0, 1) so it can be read off a
    /// console and typed.
    static let initialPasswordAlphabets: [[Character]] = [
        Array("abcdefghjkmnpqrstuvwxyz"), Array("ABCDEFGHJKLMNPQRSTUVWXYZ"), Array("23456789"), Array("#%+=?@"),
    ]

    /// A password for the initial administrator: 20 characters from an unambiguous alphabet, with at least one
    /// lowercase letter, uppercase letter, digit and other character, so that it satisfies even the High policy
    /// (its alphabet has no "i" or "o": it cannot contain "admin"). About 110 bits of entropy.
    package static func randomInitialPassword() -> String {
        var generator = SystemRandomNumberGenerator()
        return randomInitialPassword(using: &generator)
    }

    /// `randomInitialPassword` with the randomness drawn from `generator` (cryptographically secure outside tests).
    package static func randomInitialPassword(using generator: inout some RandomNumberGenerator) -> String {
        let alphabets = initialPasswordAlphabets
        let all = alphabets.flatMap { $0 }
        var characters: [Character] = []
        for alphabet in alphabets {
            characters.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        while characters.count < initialPasswordLength {
            characters.append(all[Int.random(in: 0..<all.count, using: &generator)])
        }
        characters.shuffle(using: &generator)
        return String(characters)
    }

    // MARK: Codable

    private enum CodingKeys: String, CodingKey {
        case users, policy, tokens
    }

    /// Decodes, with defaults for the fields a document written by an older version may lack.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            users: try container.decode([UserAccount].self, forKey: .users),
            policy: try container.decodeIfPresent(PasswordPolicy.Level.self, forKey: .policy) ?? .medium,
            tokens: try container.decodeIfPresent([APITokenRecord].self, forKey: .tokens) ?? [])
    }

    // MARK: Private

    /// Checked by `authenticate` for unknown users: same cost as a real hash, matches no password (a PBKDF2
    /// output of all zero bytes is not feasible to hit).
    private static let unknownUserHash = PasswordHash(
        unchecked: PasswordHash.defaultIterations, salt: [UInt8](repeating: 0, count: PasswordHash.saltByteCount),
        hash: [UInt8](repeating: 0, count: PasswordHash.hashByteCount))

    private func index(of name: String) throws(AccountError) -> Int {
        guard let index = users.firstIndex(where: { $0.name == name }) else { throw .unknownUser(name) }
        return index
    }

    private static func makeHash(_ password: String, iterations: Int) throws(AccountError) -> PasswordHash {
        var generator = SystemRandomNumberGenerator()
        do {
            return try PasswordHash.make(password: password, iterations: iterations, using: &generator)
        } catch {
            throw .hashingFailed(error.message)
        }
    }
}

/// Why an account operation was refused, in words for the operator.
package enum AccountError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownUser(String)
    /// The current password given with a password change is wrong.
    case wrongCurrentPassword
    /// The new password is the current one.
    case sameAsCurrent
    /// The new password breaks these rules of the policy.
    case policyViolated([PasswordPolicy.Rule])
    case emptyTokenName
    case duplicateTokenName(String)
    case duplicateTokenID(String)
    case unknownToken(id: String)
    /// PBKDF2 failed (should not happen; the message says what the crypto library reported).
    case hashingFailed(String)

    package var description: String { message(in: .english) }

    /// The message in the user's language, for the web UI.
    package func message(in language: Language) -> String {
        switch (self, language) {
        case (.unknownUser(let name), .english): "there is no user \(name)"
        case (.unknownUser(let name), .russian): "пользователь \(name) не найден"
        case (.wrongCurrentPassword, .english): "the current password is wrong"
        case (.wrongCurrentPassword, .russian): "текущий пароль указан неверно"
        case (.sameAsCurrent, .english): "the new password is the same as the current one"
        case (.sameAsCurrent, .russian): "новый пароль совпадает с текущим"
        case (.policyViolated(let rules), .english):
            "the new password does not follow the password policy: "
                + rules.map { $0.text(in: .english) }.joined(separator: "; ")
        case (.policyViolated(let rules), .russian):
            "новый пароль не соответствует парольной политике: "
                + rules.map { $0.text(in: .russian) }.joined(separator: "; ")
        case (.emptyTokenName, .english): "an API token needs a name"
        case (.emptyTokenName, .russian): "у API-токена должно быть имя"
        case (.duplicateTokenName(let name), .english): "an API token named \(name) already exists"
        case (.duplicateTokenName(let name), .russian): "API-токен с именем \(name) уже существует"
        case (.duplicateTokenID(let id), .english): "an API token with id \(id) already exists"
        case (.duplicateTokenID(let id), .russian): "API-токен с идентификатором \(id) уже существует"
        case (.unknownToken(let id), .english): "there is no API token with id \(id)"
        case (.unknownToken(let id), .russian): "API-токен с идентификатором \(id) не найден"
        case (.hashingFailed(let reason), .english): "the password could not be hashed: \(reason)"
        case (.hashingFailed(let reason), .russian): "не удалось вычислить хеш пароля: \(reason)"
        }
    }
}
