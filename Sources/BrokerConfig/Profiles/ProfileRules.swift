/// The rules a broker profile follows (SPEC BRK-4): a folder holding one main configuration file, optional
/// included files, certificates and keys.
package enum ProfileRules {
    /// The main configuration file of every profile.
    package static let mainFile = "mosquitto.conf"
    /// Largest file a profile may hold: 131 KB, as the product specification sets it.
    package static let maximumFileSize = 131_072
    /// Name of the predefined, read-only profile.
    package static let predefinedProfile = "default"

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

/// What the dashboard shows for a broker profile.
package enum ProfileStatus: Sendable, Hashable, CustomStringConvertible {
    /// Valid, and (when active) every listener is listening.
    case configured
    /// The configuration does not validate; the diagnostics say where.
    case misconfigured([String])
    /// Valid, but a listener cannot bind (address in use, unusable certificate …).
    case cannotReachNetwork([String])

    package var description: String {
        switch self {
        case .configured: return "configured"
        case .misconfigured(let problems): return "misconfigured: " + problems.joined(separator: "; ")
        case .cannotReachNetwork(let problems): return "cannot reach the network: " + problems.joined(separator: "; ")
        }
    }
}
