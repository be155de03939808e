/// What can go wrong with the gateway's store, each naming what and where.
package enum StoreError: Error, Equatable, CustomStringConvertible {
    /// A document was saved against a version that is no longer current: someone else changed it meanwhile.
    case versionConflict(document: String, expected: Int, current: Int)
    /// The database holds secrets but the master key file is missing: they cannot be read.
    case masterKeyMissing(path: String)
    /// The master key file exists but is not a key of the right size.
    case masterKeyInvalid(path: String, reason: String)
    /// A stored secret does not open with the master key (wrong key, or the row was altered).
    case secretUnreadable(name: String)
    /// A stored document does not decode as its type.
    case documentUnreadable(document: String, reason: String)

    package var description: String {
        switch self {
        case .versionConflict(let document, let expected, let current):
            "document \(document) was changed meanwhile: saving against version \(expected), current is \(current)"
        case .masterKeyMissing(let path):
            "the master key \(path) is missing, and the database holds secrets that only it can open"
        case .masterKeyInvalid(let path, let reason):
            "the master key \(path) is not usable: \(reason)"
        case .secretUnreadable(let name):
            "secret \(name) does not open with the master key (another key, or an altered row)"
        case .documentUnreadable(let document, let reason):
            "document \(document) in the store does not decode: \(reason)"
        }
    }
}
