import Accounts
import Foundation
import Hummingbird
import RampartModel

/// What a log-in and `GET /session` answer.
struct SessionInfo: Encodable, Sendable {
    var user: String
    var mustChangePassword: Bool
    var csrfToken: String?
    var language: String
}

struct LogInRequest: Decodable {
    var user: String
    var password: String
}

struct PasswordChange: Decodable {
    var current: String
    var new: String
}

struct LanguageChange: Decodable {
    var language: Language
}

struct TokenRequest: Decodable {
    var name: String
}

struct CreatedToken: Encodable, Sendable {
    /// Shown once: only its hash is stored.
    var secret: String
    var token: TokenInfo
}

struct TokenInfo: Encodable, Sendable {
    var id: String
    var name: String
    var created: Date

    init(_ record: APITokenRecord) {
        self.id = record.id
        self.name = record.name
        self.created = record.created
    }
}

struct UserInfo: Encodable, Sendable {
    var name: String
    var mustChangePassword: Bool
    var language: String
    var created: Date
}

struct PolicyInfo: Codable, Sendable {
    struct Rule: Codable, Sendable {
        var text: String
    }
    var level: PasswordPolicy.Level
    var rules: [Rule]?
}

extension ManagementAPI {
    static func sessionCookie(_ value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(
            name: AuthenticationMiddleware.sessionCookie, value: value, maxAge: maxAge, path: "/", secure: true,
            httpOnly: true, sameSite: .strict)
    }

    func registerSession(open: CatalogedRoutes, protected: CatalogedRoutes) {
        let accounts = services.accounts
        open.on(.post, "/session") { request, context in
            let body = try await request.decodeJSON(LogInRequest.self, context: context)
            let presented = request.cookies[AuthenticationMiddleware.sessionCookie]?.value
            let login = try await accounts.logIn(
                user: body.user, password: body.password, source: context.source, presentedSession: presented,
                language: WebUI.requestedLanguage(request))
            var response = try JSONResponse(
                SessionInfo(
                    user: login.account.name, mustChangePassword: login.account.mustChangePassword,
                    csrfToken: login.session.csrfToken, language: login.account.language.rawValue)
            ).response(from: request, context: context)
            response.setCookie(Self.sessionCookie(login.session.id))
            return response
        }
        protected.on(.get, "/session") { _, context in
            let principal = try context.requirePrincipal()
            let user = try context.requireUser()
            let account = await accounts.account(user)
            var csrf: String?
            if case .session(let session) = principal { csrf = session.csrfToken }
            return JSONResponse(
                SessionInfo(
                    user: user, mustChangePassword: account?.mustChangePassword ?? false, csrfToken: csrf,
                    language: account?.language.rawValue ?? Language.english.rawValue))
        }
        protected.on(.delete, "/session") { request, context in
            if case .session(let session) = try context.requirePrincipal() { await accounts.logOut(session.id) }
            var response = try JSONResponse(Empty()).response(from: request, context: context)
            response.setCookie(Self.sessionCookie("", maxAge: 0))
            return response
        }
        protected.on(.delete, "/sessions") { _, _ in
            let count = await accounts.revokeSessions()
            return JSONResponse(["revoked": count])
        }
    }

    func registerAccount(_ routes: CatalogedRoutes) {
        let accounts = services.accounts
        routes.on(.get, "/account") { _, context in
            let user = try context.requireUser()
            guard let account = await accounts.account(user) else { throw APIError.notFound("user '\(user)'") }
            return JSONResponse(Self.userInfo(account))
        }
        routes.on(.post, "/account/password") { request, context in
            let body = try await request.decodeJSON(PasswordChange.self, context: context)
            try await accounts.changePassword(
                user: try context.requireUser(), current: body.current, new: body.new, now: Date())
            return JSONResponse(Empty())
        }
        routes.on(.put, "/account/language") { request, context in
            let body = try await request.decodeJSON(LanguageChange.self, context: context)
            try await accounts.setLanguage(user: try context.requireUser(), body.language)
            return JSONResponse(["language": body.language.rawValue])
        }
        routes.on(.get, "/users") { request, _ in
            JSONResponse(try Page.of(await accounts.users.map(Self.userInfo), request: request, name: \.name))
        }
        routes.on(.get, "/settings/password-policy") { _, context in
            let level = await accounts.policy
            let language = await Self.language(of: context, accounts: accounts)
            return JSONResponse(Self.policyInfo(level, language: language))
        }
        routes.on(.put, "/settings/password-policy") { request, context in
            let body = try await request.decodeJSON(PolicyInfo.self, context: context)
            try await accounts.setPolicy(body.level)
            return JSONResponse(Self.policyInfo(body.level, language: .english))
        }
        routes.on(.get, "/tokens") { request, _ in
            JSONResponse(try Page.of(await accounts.tokens.map(TokenInfo.init), request: request, name: \.name))
        }
        routes.on(.post, "/tokens") { request, context in
            let body = try await request.decodeJSON(TokenRequest.self, context: context)
            let token = try await accounts.createToken(name: body.name, now: Date())
            return JSONResponse(CreatedToken(secret: token.secret, token: TokenInfo(token.record)), status: .created)
        }
        routes.on(.delete, "/tokens/:id") { request, context in
            try await accounts.deleteToken(id: try request.parameter("id", context: context))
            return JSONResponse(Empty())
        }
    }

    static func userInfo(_ account: UserAccount) -> UserInfo {
        UserInfo(
            name: account.name, mustChangePassword: account.mustChangePassword, language: account.language.rawValue,
            created: account.created)
    }

    static func policyInfo(_ level: PasswordPolicy.Level, language: Language) -> PolicyInfo {
        PolicyInfo(level: level, rules: level.rules.map { .init(text: $0.text(in: language)) })
    }

    static func language(of context: ManagementContext, accounts: AccountService) async -> Language {
        guard let user = try? context.requireUser() else { return .english }
        return await accounts.account(user)?.language ?? .english
    }
}
