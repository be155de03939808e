import Foundation

/// The OpenAPI 3.1 document of the API, kept in `Resources/openapi.json` and held to the router by a test.
enum OpenAPIDocument {
    static let json: [UInt8] = WebResources.data("openapi.json").map { Array($0) } ?? Array("{}".utf8)

    /// Each operation's summary by `METHOD /path` (`PUT /settings/device` → "Save the device name"): the audit log
    /// names a change by what the API calls it.
    static let summaries: [String: String] = {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
            let paths = object["paths"] as? [String: [String: Any]]
        else { return [:] }
        var summaries: [String: String] = [:]
        for (path, operations) in paths {
            for (method, operation) in operations {
                if let summary = (operation as? [String: Any])?["summary"] as? String {
                    summaries["\(method.uppercased()) \(path)"] = summary
                }
            }
        }
        return summaries
    }()

    /// The summary of the operation at `path` (OpenAPI form, without the `/api/v1` prefix).
    static func summary(method: String, path: String) -> String? { summaries["\(method.uppercased()) \(path)"] }
}
