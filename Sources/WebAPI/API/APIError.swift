import Foundation
import Hummingbird
import RampartModel

/// The one error shape of the REST API: `{ "code", "message", "field" }` with an HTTP status.
///
/// `code` is stable for scripts; `message` is for the operator and says what was wrong and what to do; `field`
/// names the JSON field (dotted path) when one field is at fault.
package struct APIError: Error, Sendable, CustomStringConvertible {
    package var status: HTTPResponse.Status
    package var code: String
    package var message: String
    package var field: String?
    /// Extra details, e.g. every field error of a settings document or every line diagnostic of a file.
    package var details: [FieldError]
    package var headers: HTTPFields

    package init(
        status: HTTPResponse.Status, code: String, message: String, field: String? = nil,
        details: [FieldError] = [], headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.headers = headers
    }

    package var description: String { "\(status.code) \(code): \(message)" }

    struct Body: Encodable {
        var code: String
        var message: String
        var field: String?
        var details: [FieldError]?
    }

    package func response() -> Response {
        let body = Body(code: code, message: message, field: field, details: details.isEmpty ? nil : details)
        let data =
            (try? APIJSON.encoder().encode(body)) ?? Data(#"{"code":"internal","message":"internal error"}"#.utf8)
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: The common ones

    package static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(status: .badRequest, code: "bad_request", message: message, field: field)
    }

    package static func invalid(_ errors: [FieldError]) -> APIError {
        APIError(
            status: .unprocessableContent, code: "invalid",
            message: errors.map(\.description).joined(separator: "; "), field: errors.first?.field, details: errors)
    }

    package static func notFound(_ what: String) -> APIError {
        APIError(status: .notFound, code: "not_found", message: "\(what) does not exist")
    }

    package static let unauthenticated = APIError(
        status: .unauthorized, code: "unauthenticated",
        message: "log in first, or send an API token as 'Authorization: Bearer <token>'")

    package static let csrf = APIError(
        status: .forbidden, code: "csrf",
        message: "missing or wrong CSRF token: send the session's token in the X-CSRF-Token header")

    package static let passwordChangeRequired = APIError(
        status: .forbidden, code: "password_change_required",
        message: "the password must be changed before anything else (POST /api/v1/account/password)")

    package static func conflict(_ message: String) -> APIError {
        APIError(status: .conflict, code: "conflict", message: message)
    }

    /// The store could not be read or written.
    package static func store(_ error: any Error) -> APIError {
        APIError(status: .internalServerError, code: "store", message: "\(error)")
    }

    /// Runs `body` against the store: a failure is `APIError.store`, an `APIError` it throws stays as it is.
    static func storing<Value>(_ body: () throws -> Value) throws(APIError) -> Value {
        do { return try body() } catch let error as APIError { throw error } catch { throw .store(error) }
    }
}
