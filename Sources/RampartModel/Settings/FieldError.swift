/// A problem with one field of a settings document, reported to the operator next to that field.
package struct FieldError: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Dotted path of the field in the document's JSON (`lan.dhcpServer.rangeStart`).
    package var field: String
    package var message: String

    package init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    package var description: String { "\(field): \(message)" }
}
