/// The rules every profile follows, broker profiles (SPEC BRK-4) and web-server profiles (WEB-1) alike: a folder
/// of named files, each at most 131 KB.
package enum ProfileNaming {
    /// Largest file a profile may hold: 131 KB, as the product specification sets it.
    package static let maximumFileSize = 131_072

    package struct Violation: Error, Hashable, Sendable, CustomStringConvertible {
        package var description: String
    }

    /// Profile and file names: 1–64 characters from `A–Z a–z 0–9 . _ -`, not starting with a dot, so that a name
    /// can never climb out of its folder, hide, or need quoting.
    package static func checkName(_ name: String, of kind: String) throws(Violation) {
        guard !name.isEmpty, name.utf8.count <= 64 else {
            throw Violation(description: "\(kind) name must have 1 to 64 characters")
        }
        guard name.utf8.first != UInt8(ascii: ".") else {
            throw Violation(description: "\(kind) name \"\(name)\" must not start with a dot")
        }
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                throw Violation(
                    description: "\(kind) name \"\(name)\" may only contain letters, digits, '.', '_' and '-'"
                )
            }
        }
    }

    /// A file's size against the limit.
    package static func checkSize(_ size: Int, file: String) throws(Violation) {
        guard size <= maximumFileSize else {
            throw Violation(description: "\(file): \(size) bytes, above the limit of \(maximumFileSize) bytes")
        }
    }
}
