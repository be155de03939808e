import Foundation

/// The files shipped with the web adapter: templates, static assets, the OpenAPI document and the common-password
/// list.
package enum WebResources {
    /// The resource folder (SwiftPM copies `Resources` beside the executable).
    static let directory: URL = {
        // Foundation on Linux already points `resourceURL` into a bundle's `Resources` folder; elsewhere the copied
        // folder is one level down.
        let base = Bundle.module.resourceURL ?? Bundle.module.bundleURL
        let nested = base.appendingPathComponent("Resources")
        let hasNested = FileManager.default.fileExists(atPath: nested.appendingPathComponent("openapi.json").path)
        return hasNested ? nested : base
    }()

    static func data(_ path: String) -> Data? {
        try? Data(contentsOf: directory.appendingPathComponent(path))
    }

    /// SecLists' 10,000 most common passwords (MIT licence, see Resources/common-passwords/LICENSE).
    package static var commonPasswordList: String {
        data("common-passwords/10k-most-common.txt").map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
