import Foundation

/// Linux capabilities the gateway's system changes need (capabilities(7)).
package enum Capability: Int, Sendable, CustomStringConvertible {
    case netAdmin = 12
    case sysTime = 25

    package var description: String {
        switch self {
        case .netAdmin: "CAP_NET_ADMIN"
        case .sysTime: "CAP_SYS_TIME"
        }
    }

    /// Whether the process holds the capability now (the `CapEff` mask of /proc/self/status).
    package var isEffective: Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << UInt64(rawValue)) != 0
    }
}
