/// The rules a broker profile follows (SPEC BRK-4): a folder holding one main configuration file, optional
/// included files, certificates and keys. Names and sizes follow `ProfileNaming`, as for every profile.
package enum ProfileRules {
    /// The main configuration file of every profile.
    package static let mainFile = "mosquitto.conf"
    /// Name of the predefined, read-only profile.
    package static let predefinedProfile = "default"
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
