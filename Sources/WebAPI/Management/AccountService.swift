import Accounts
import Events
import Foundation
import HTTPTypes
import Logging
import RampartModel
import Store

/// The accounts document as stored: nil until the first start created the administrator.
struct AccountsDocument: ConfigurationDocument {
    static let documentName = "accounts"
    static let initial = AccountsDocument(directory: nil)
    var directory: AccountDirectory?
}

/// Accounts, web sessions, log-in throttling and API tokens, kept together because a log-in touches all of them.
///
/// The directory lives in the store; sessions and throttling state live in memory (a restart logs everybody out and
/// forgets failed attempts, which errs on the side of the operator who restarted the gateway).
package actor AccountService {
    package struct Configuration: Sendable {
        package var idleTimeout: Duration = .seconds(600)
        package var throttle = LoginThrottle.Configuration()
        package init() {}
    }

    /// A successful log-in.
    package struct LogIn: Sendable {
        package var session: WebSession
        package var account: UserAccount
    }

    private let store: GatewayStore
    private var stored: Versioned<AccountsDocument>
    private var sessions: WebSessionTable
    private var throttle: LoginThrottle
    private let commonPasswords: CommonPasswords
    private let logger: Logger
    /// Where log-ins, failures and lock-outs are reported (the Auth server's events and the audit log).
    private var events: (any SecurityEventReporting)?

    /// Opens the accounts; on the first start creates `admin` with a random password, prints it once and writes it
    /// to `initialPasswordFile` (mode 0600). The password must be changed at the first log-in.
    package init(
        store: GatewayStore, initialPasswordFile: String, commonPasswords: CommonPasswords,
        configuration: Configuration, logger: Logger
    ) throws {
        self.store = store
        self.commonPasswords = commonPasswords
        self.logger = logger
        self.sessions = WebSessionTable(idleTimeout: configuration.idleTimeout)
        self.throttle = LoginThrottle(configuration: configuration.throttle)
        var stored = try store.document(AccountsDocument.self)
        if stored.document.directory == nil {
            let password = AccountDirectory.randomInitialPassword()
            let directory = try AccountDirectory.initial(adminPassword: password, now: Date())
            stored = try store.save(AccountsDocument(directory: directory), expectedVersion: stored.version)
            try Self.writeSecretFile(initialPasswordFile, contents: password + "\n")
            // Printed once, on purpose, to the console of whoever started the gateway the first time.
            FileHandle.standardOutput.write(
                Data(
                    """
                    Initial password of the web administrator 'admin': \(password)
                    (also in \(initialPasswordFile), mode 0600; it must be changed at the first log-in)

                    """.utf8))
            logger.notice("created the administrator account", metadata: ["password_file": "\(initialPasswordFile)"])
        }
        self.stored = stored
    }

    private var directory: AccountDirectory {
        // The initializer guarantees a directory; an empty one is never saved.
        stored.document.directory ?? AccountDirectory(users: [])
    }

    private func save(_ directory: AccountDirectory) throws {
        stored = try store.save(AccountsDocument(directory: directory), expectedVersion: stored.version)
    }

    package func report(to events: any SecurityEventReporting) {
        self.events = events
    }

    /// Registers a log-in event: a network security event of the Auth server and an audit record.
    private func report(_ type: String, _ severity: Severity, _ title: String, user: String, source: String) async {
        let fields = [EventField(EventField.user, user), EventField(EventField.sourceAddress, source)]
        events?.network(
            SecurityEvent(
                stream: .network, severity: severity, entity: EventEntity.authServer, type: type, title: title,
                fields: fields))
        await events?.audit(
            SecurityEvent(
                stream: .audit, severity: severity, entity: EventEntity.authServer, type: type, title: title,
                fields: fields))
    }

    // MARK: Log-in and sessions

    /// Checks a log-in attempt: throttling first (a refused attempt does not even test the password), then the
    /// password, then the one-session rule.
    ///
    /// The password is checked off the actor (PBKDF2 takes a noticeable fraction of a second), so sessions keep
    /// being served meanwhile; a second attempt for the same user while one is being checked is refused, so
    /// parallel guesses cannot slip past the throttle.
    package func logIn(
        user: String, password: String, source: String, presentedSession: String?, language: Language = .english
    ) async throws(APIError) -> LogIn {
        let russian = language == .russian
        switch throttle.admit(source: source, user: user, now: Date()) {
        case .allowed:
            break
        case .delayed(let until):
            let seconds = max(1, Int(until.timeIntervalSinceNow.rounded(.up)))
            throw APIError(
                status: .tooManyRequests, code: "login_delayed",
                message: russian
                    ? "слишком много неудачных попыток входа: повторите через \(seconds) с"
                    : "too many failed log-ins: try again in \(seconds) s",
                headers: [.retryAfter: "\(seconds)"])
        case .locked(let until):
            await report(
                "LoginError", .warning, "Log-in refused: the account is locked", user: user, source: source)
            throw APIError(
                status: HTTPResponse.Status(code: 423, reasonPhrase: "Locked"), code: "account_locked",
                message: russian
                    ? "учётная запись «\(user)» заблокирована после неудачных попыток входа до \(Self.format(until))"
                    : "the account '\(user)' is locked after repeated failed log-ins until \(Self.format(until))")
        }
        guard checking.insert(user.lowercased()).inserted else {
            throw APIError(
                status: .tooManyRequests, code: "login_delayed",
                message: russian
                    ? "вход этого пользователя уже проверяется: повторите через 1 с"
                    : "a log-in for this user is being checked: try again in 1 s",
                headers: [.retryAfter: "1"])
        }
        let directory = self.directory
        let account = await Task.detached { directory.authenticate(user: user, password: password) }.value
        checking.remove(user.lowercased())
        guard let account else {
            // The delay runs from the failure, after the password was checked.
            throttle.recordFailure(source: source, user: user, now: Date())
            logger.notice("failed log-in", metadata: ["user": "\(user)", "source": "\(source)"])
            await report("LoginError", .warning, "Bad log-in or password", user: user, source: source)
            if case .locked(let until) = throttle.admit(source: source, user: user, now: Date()) {
                await report(
                    "AccountLocked", .critical,
                    "Account locked after repeated failed log-ins until \(Self.format(until))", user: user,
                    source: source)
            }
            throw APIError(
                status: .unauthorized, code: "bad_credentials",
                message: russian ? "неверное имя пользователя или пароль" : "wrong user name or password")
        }
        throttle.recordSuccess(source: source, user: user)
        switch sessions.logIn(user: account.name, presentedSessionID: presentedSession, now: Date()) {
        case .success(let session):
            await report("LoginSuccess", .informational, "User logged in", user: account.name, source: source)
            return LogIn(session: session, account: account)
        case .failure(.activeElsewhere(let other, let until)):
            throw APIError(
                status: .conflict, code: "session_active",
                message: russian
                    ? "активна другая сессия пользователя «\(other)»; она завершится в \(Self.format(until)), "
                        + "если ею не будут пользоваться, или при выходе из неё"
                    : "another session of '\(other)' is active; it ends at \(Self.format(until)) "
                        + "unless it is used again, or when it logs out")
        }
    }

    /// Users whose log-in is being checked now.
    private var checking: Set<String> = []

    /// The session a cookie names, kept alive by this request; nil when it expired or never existed.
    package func session(_ id: String, now: Date) -> WebSession? {
        sessions.touch(id: id, now: now)
    }

    package func logOut(_ id: String) {
        _ = sessions.logOut(id: id)
    }

    /// Ends every web session (`rampart ctl sessions revoke`). Returns how many there were.
    package func revokeSessions() -> Int {
        sessions.revokeAll()
    }

    package func activeSession(now: Date) -> WebSession? { sessions.active(now: now) }

    // MARK: Accounts

    package func account(_ name: String) -> UserAccount? {
        directory.users.first { $0.name == name }
    }

    package var users: [UserAccount] { directory.users }
    package var policy: PasswordPolicy.Level { directory.policy }

    /// Changes a password; the hashing (the current password, the history, the new hash) runs off the actor.
    package func changePassword(user: String, current: String, new: String, now: Date) async throws(APIError) {
        let version = stored.version
        let before = self.directory
        let commonPasswords = self.commonPasswords
        let language = before.user(named: user)?.language ?? .english
        let result = await Task.detached { () -> Result<AccountDirectory, AccountError> in
            var directory = before
            do {
                try directory.changePassword(
                    user: user, current: current, new: new, commonPasswords: commonPasswords, now: now)
                return .success(directory)
            } catch let error as AccountError {
                return .failure(error)
            } catch {
                return .failure(.hashingFailed("\(error)"))
            }
        }.value
        switch result {
        case .failure(let error):
            throw APIError(
                status: .unprocessableContent, code: "password_rejected", message: error.message(in: language),
                field: "new")
        case .success(let directory):
            guard stored.version == version else {
                throw APIError.conflict("the accounts changed meanwhile; try again")
            }
            try persist(directory)
        }
    }

    package func setLanguage(user: String, _ language: Language) throws(APIError) {
        var directory = self.directory
        do { try directory.setLanguage(language, for: user) } catch {
            throw APIError.badRequest("\(error)")
        }
        try persist(directory)
    }

    package func setPolicy(_ level: PasswordPolicy.Level) throws(APIError) {
        var directory = self.directory
        directory.setPolicy(level)
        try persist(directory)
    }

    // MARK: API tokens

    package var tokens: [APITokenRecord] { directory.tokens }

    package func createToken(name: String, now: Date) throws(APIError) -> (secret: String, record: APITokenRecord) {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 64 else {
            throw APIError.badRequest("a token needs a name of 1–64 characters", field: "name")
        }
        guard !directory.tokens.contains(where: { $0.name == trimmed }) else {
            throw APIError.conflict("a token named '\(trimmed)' exists already")
        }
        let token = APIToken.generate(name: trimmed, now: now)
        var directory = self.directory
        do { try directory.addToken(token.record) } catch { throw APIError.conflict("\(error)") }
        try persist(directory)
        return token
    }

    /// Replaces the console's token and writes it to `file` (mode 0600), so that `rampart ctl`, run by root on the
    /// gateway, reaches the API without a password (e.g. to end a web session from the console).
    package func issueConsoleToken(file: String, now: Date) throws {
        var directory = self.directory
        for token in directory.tokens where token.name == Self.consoleTokenName {
            try directory.removeToken(id: token.id)
        }
        let token = APIToken.generate(name: Self.consoleTokenName, now: now)
        try directory.addToken(token.record)
        try save(directory)
        try Self.writeSecretFile(file, contents: token.secret + "\n")
    }

    package static let consoleTokenName = "console"

    package func deleteToken(id: String) throws(APIError) {
        var directory = self.directory
        do { try directory.removeToken(id: id) } catch { throw APIError.notFound("token \(id)") }
        try persist(directory)
    }

    package func token(matching secret: String) -> APITokenRecord? {
        directory.token(matching: secret)
    }

    // MARK: Helpers

    private func persist(_ directory: AccountDirectory) throws(APIError) {
        do { try save(directory) } catch {
            throw APIError(
                status: .internalServerError, code: "store", message: "could not save the accounts: \(error)")
        }
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false)) + " UTC"
    }

    private static func writeSecretFile(_ path: String, contents: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array(contents.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
