import Hummingbird
import Synchronization

/// A route as the OpenAPI document names it: `GET /api/v1/broker/profiles/{name}`.
package struct DocumentedRoute: Hashable, Sendable, CustomStringConvertible, Comparable {
    package var method: String
    package var path: String

    package var description: String { "\(method) \(path)" }

    package static func < (lhs: Self, rhs: Self) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
}

/// Every route the API registers, so that a test can hold the OpenAPI document to the router (every documented
/// route exists, every route is documented).
package final class RouteCatalog: Sendable {
    private let entries = Mutex<[DocumentedRoute]>([])

    package var routes: [DocumentedRoute] { entries.withLock { $0 }.sorted() }

    func add(_ method: HTTPRequest.Method, _ path: String) {
        entries.withLock {
            $0.append(DocumentedRoute(method: method.rawValue.lowercased(), path: Self.openAPIPath(path)))
        }
    }

    /// Hummingbird's `:name` parameters are OpenAPI's `{name}`.
    static func openAPIPath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
        }.joined(separator: "/")
    }
}

/// A router group that records what it registers.
struct CatalogedRoutes {
    let group: RouterGroup<ManagementContext>
    let prefix: String
    let catalog: RouteCatalog

    func on(
        _ method: HTTPRequest.Method, _ path: String,
        use handler: @Sendable @escaping (Request, ManagementContext) async throws -> some ResponseGenerator
    ) {
        catalog.add(method, prefix + path)
        group.on(RouterPath(path), method: method, use: handler)
    }
}
