import Foundation
import Hummingbird
import NIOCore

/// The API's JSON: sorted keys (stable output for scripts and diffs) and ISO 8601 dates, both ways.
enum APIJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// A JSON response body.
struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator {
    var value: Value
    var status: HTTPResponse.Status = .ok
    var headers: HTTPFields = [:]

    init(_ value: Value, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) {
        self.value = value
        self.status = status
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(
            status: status, headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: try APIJSON.encoder().encode(value))))
    }
}

/// `{}` with a status: for routes whose answer is only that they succeeded.
struct Empty: Encodable, Sendable {}

/// A page of a list: every list route takes `offset` (default 0), `limit` (default 100, at most 1,000) and `q` (a
/// case-insensitive substring the items' names must contain), and answers with this shape (docs/api.md).
struct Page<Item: Encodable & Sendable>: Encodable, Sendable {
    var items: [Item]
    var total: Int
    var offset: Int
    var limit: Int

    static func of(_ all: [Item], request: Request, name: (Item) -> String) throws(APIError) -> Page {
        let query = request.uri.queryParameters
        let offset = try Self.integer(query["offset"], named: "offset", default: 0, range: 0...Int.max)
        let limit = try Self.integer(query["limit"], named: "limit", default: 100, range: 1...1000)
        var filtered = all
        if let q = query["q"].map(String.init), !q.isEmpty {
            filtered = all.filter { name($0).localizedCaseInsensitiveContains(q) }
        }
        let slice = filtered.dropFirst(offset).prefix(limit)
        return Page(items: Array(slice), total: filtered.count, offset: offset, limit: limit)
    }

    static func integer(_ text: (some StringProtocol)?, named name: String, default value: Int, range: ClosedRange<Int>)
        throws(APIError) -> Int
    {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.badRequest(
                "query parameter \(name) must be an integer in \(range.lowerBound)…\(range.upperBound)", field: name)
        }
        return number
    }
}

/// A query string read as HTML forms and most HTTP clients write it (application/x-www-form-urlencoded): `+` is a
/// space, and the rest is percent-decoded. Hummingbird's `queryParameters` keeps `+` as is, which would turn
/// `?entity=Auth+server` into an entity nobody has.
struct FormQuery {
    private let pairs: [(name: String, value: String)]

    init(_ request: Request) {
        pairs = (request.uri.query ?? "").split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring?) -> String {
                let spaced = (text ?? "").replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts.first), decode(parts.count > 1 ? parts[1] : nil))
        }
    }

    /// Every value given for `name`, in order.
    subscript(values name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// The first value given for `name`.
    subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }
}

extension Request {
    /// Decodes a JSON body, answering 400 with the field at fault when it does not fit, and 413 when it is larger
    /// than `limit` bytes (the context's upload limit by default).
    func decodeJSON<Value: Decodable>(
        _ type: Value.Type, context: ManagementContext, limit: Int? = nil
    ) async throws -> Value {
        var request = self
        let limit = limit ?? context.maxUploadSize
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(
                status: .contentTooLarge, code: "too_large", message: "the request body is larger than \(limit) bytes")
        }
        do {
            return try APIJSON.decoder().decode(Value.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw APIError.badRequest(error.operatorMessage, field: error.fieldPath)
        }
    }

    /// The raw body (file uploads), at most `limit` bytes.
    func bodyBytes(context: ManagementContext, limit: Int) async throws -> Data {
        do {
            var request = self
            let buffer = try await request.collectBody(upTo: limit)
            guard buffer.readableBytes <= limit else { throw HTTPError(.contentTooLarge) }
            return Data(buffer: buffer)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(
                status: .contentTooLarge, code: "too_large",
                message: "the upload is larger than \(limit) bytes, the limit for a profile file")
        }
    }

    func parameter(_ name: String, context: ManagementContext) throws(APIError) -> String {
        guard let value = context.parameters.get(name) else { throw APIError.badRequest("missing \(name)") }
        return value
    }
}

extension DecodingError {
    var fieldPath: String? {
        let path: [any CodingKey]
        switch self {
        case .keyNotFound(let key, let context): path = context.codingPath + [key]
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            path = context.codingPath
        @unknown default: return nil
        }
        guard !path.isEmpty else { return nil }
        return path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            .replacingOccurrences(of: ".[", with: "[")
    }

    var operatorMessage: String {
        switch self {
        case .keyNotFound(let key, _): "the field \(fieldPath ?? key.stringValue) is missing"
        case .typeMismatch(let type, _): "the field \(fieldPath ?? "") must be \(Self.describe(type))"
        case .valueNotFound(let type, _): "the field \(fieldPath ?? "") must be \(Self.describe(type)), not null"
        case .dataCorrupted(let context):
            fieldPath.map { "the field \($0) is invalid: \(context.debugDescription)" }
                ?? "the body is not valid JSON: \(context.debugDescription)"
        @unknown default: "the body does not fit the expected JSON"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }
}
