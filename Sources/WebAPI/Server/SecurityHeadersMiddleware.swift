import HTTPTypes
import Hummingbird

/// Adds the headers every response of the management plane carries (SPEC WEB-2): a strict Content-Security-Policy
/// without inline script, no framing, HSTS, no MIME sniffing, no referrer and no caching of management data.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var contentSecurityPolicy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response()
        } catch let error as HTTPError {
            response = APIError(
                status: error.status, code: error.status.code == 404 ? "not_found" : "http_error",
                message: error.body ?? error.status.reasonPhrase
            ).response()
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            response = APIError(status: .internalServerError, code: "internal", message: "internal error").response()
        }
        Self.apply(to: &response.headers)
        return response
    }

    static func apply(to headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.frameOptions] = "DENY"
        headers[.strictTransportSecurity] = "max-age=31536000"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicy] = "no-referrer"
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
    }
}

extension HTTPField.Name {
    // Spelled as literals of valid token characters, so the initializer cannot fail; swift-http-types has no
    // constants for these.
    static let frameOptions = HTTPField.Name("X-Frame-Options") ?? .contentSecurityPolicy
    static let referrerPolicy = HTTPField.Name("Referrer-Policy") ?? .contentSecurityPolicy
    static let csrfToken = HTTPField.Name("X-CSRF-Token") ?? .authorization
    static let rampartLanguage = HTTPField.Name("X-Rampart-Language") ?? .acceptLanguage
    /// How many audit entries an export holds (and deleted).
    static let rampartExported = HTTPField.Name("X-Rampart-Exported") ?? .contentLocation
}
