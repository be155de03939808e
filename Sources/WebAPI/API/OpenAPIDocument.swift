import Foundation

/// The OpenAPI 3.1 document of the API, kept in `Resources/openapi.json` and held to the router by a test.
enum OpenAPIDocument {
    static let json: [UInt8] = WebResources.data("openapi.json").map { Array($0) } ?? Array("{}".utf8)
}
