import Foundation
import Hummingbird
import Testing

@testable import WebAPI

@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    /// The routes the document describes, as `method /api/v1/path`.
    static func documentedRoutes() throws -> Set<String> {
        let object = try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json)) as? [String: Any]
        let paths = try #require(object?["paths"] as? [String: [String: Any]])
        var routes: Set<String> = []
        for (path, operations) in paths {
            for method in operations.keys where ["get", "put", "post", "delete", "patch"].contains(method) {
                routes.insert("\(method) \(ManagementAPI.prefix)\(path)")
            }
        }
        return routes
    }

    @Test("every documented route exists and every route is documented")
    func documentMatchesRouter() throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let router = Router(context: ManagementContext.self)
        let catalog = RouteCatalog()
        ManagementAPI(services: plane.services).register(on: router, catalog: catalog)
        let registered = Set(catalog.routes.map(\.description))
        let documented = try Self.documentedRoutes()
        #expect(registered.count > 30)
        #expect(registered.subtracting(documented).sorted() == [], "registered but not documented")
        #expect(documented.subtracting(registered).sorted() == [], "documented but not registered")
    }

    @Test("the document is OpenAPI 3.1 and every operation has an error response")
    func documentShape() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json)) as? [String: Any])
        #expect(object["openapi"] as? String == "3.1.0")
        let paths = try #require(object["paths"] as? [String: [String: [String: Any]]])
        for (path, operations) in paths {
            for (method, operation) in operations {
                let responses = operation["responses"] as? [String: Any]
                #expect(responses?["default"] != nil, "\(method) \(path) has no error response")
            }
        }
    }
}
