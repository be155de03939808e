/// The product's name and version as every component reports them ($SYS topics, logs, `--version`).
package enum ProductInfo {
    package static let name = "Rampart"
    package static let version = "0.1.0"

    /// `Rampart 0.1.0`, as a server announces itself.
    package static var nameAndVersion: String { "\(name) \(version)" }
}
