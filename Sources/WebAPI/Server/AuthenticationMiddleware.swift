import Accounts
import Foundation
import HTTPTypes
import Hummingbird

/// Authenticates every protected request, enforces CSRF on state-changing requests of browser sessions, holds a
/// user who must change the initial password to that, and records every state change in one place.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ManagementContext

    static let sessionCookie = "rampart_session"
    static let csrfHeader = HTTPField.Name.csrfToken

    let accounts: AccountService
    let recorder: any ChangeRecorder
    /// Routes a user who must change the password may still use (method + path pattern).
    static let allowedBeforePasswordChange: Set<String> = [
        "GET /api/v1/session", "DELETE /api/v1/session", "POST /api/v1/account/password", "GET /api/v1/account",
        "PUT /api/v1/account/language",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        let now = Date()
        if let authorization = request.headers[.authorization] {
            guard authorization.hasPrefix("Bearer "),
                let token = await accounts.token(matching: String(authorization.dropFirst("Bearer ".count)))
            else {
                throw APIError(
                    status: .unauthorized, code: "bad_token", message: "the API token is unknown or was revoked")
            }
            context.principal = .token(token)
        } else if let id = request.cookies[Self.sessionCookie]?.value,
            let session = await accounts.session(id, now: now)
        {
            context.principal = .session(session)
        }
        guard let principal = context.principal else { throw APIError.unauthenticated }

        let changesState = ![.get, .head, .options].contains(request.method)
        if case .session(let session) = principal {
            if changesState {
                guard let presented = request.headers[Self.csrfHeader], session.csrfMatches(presented) else {
                    throw APIError.csrf
                }
            }
            if await accounts.account(session.user)?.mustChangePassword ?? false {
                let route = "\(request.method) \(context.endpointPath ?? request.uri.path)"
                if !Self.allowedBeforePasswordChange.contains(route) { throw APIError.passwordChangeRequired }
            }
        }
        guard changesState else { return try await next(request, context) }
        var change = ChangeRecord(
            actor: principal.actor, source: context.source, action: "\(request.method) \(request.uri.path)",
            status: 0,
            route: context.endpointPath.map { "\(request.method) \(RouteCatalog.openAPIPath($0))" })
        try await recorder.admit(change)
        do {
            let response = try await next(request, context)
            change.status = Int(response.status.code)
            change.fields = context.notes.all
            await recorder.record(change)
            return response
        } catch {
            change.status = Int((error as? APIError)?.status.code ?? 500)
            change.failure = (error as? APIError)?.message ?? "\(error)"
            await recorder.record(change)
            throw error
        }
    }
}
