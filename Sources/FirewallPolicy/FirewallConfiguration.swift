import Foundation
import RampartModel

/// What the gateway is, chosen at setup (SPEC FW-1): a router between its zones, or a one-way gateway that admits
/// nothing the external network starts.
package enum DeviceType: String, Sendable, Hashable, Codable, CaseIterable {
    case router
    case unidirectional
}

/// The two networks the gateway stands between.
package enum Zone: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case lan
    case wan

    package static func < (lhs: Zone, rhs: Zone) -> Bool { lhs == .lan && rhs == .wan }
    package var title: String { rawValue.uppercased() }
}

package enum RuleAction: String, Sendable, Hashable, Codable, CaseIterable {
    case allow
    case deny
}

/// The protocol a custom rule selects; ICMP stands for ICMP on IPv4 and ICMPv6 on IPv6.
package enum RuleProtocol: String, Sendable, Hashable, Codable, CaseIterable {
    case any
    case tcp
    case udp
    case icmp
}

/// Who put an address on a list.
package enum ListSource: String, Sendable, Hashable, Codable, CaseIterable {
    case manual
    case ips
    case discovery
}

/// A custom firewall rule (SPEC FW-2). Addresses and ports are kept as the operator typed them, so they are shown
/// back as typed; `FirewallConfiguration.validate()` says what is wrong with each before anything is applied.
package struct CustomRule: Codable, Sendable, Hashable, Identifiable {
    /// Stable for the rule's whole life; it names the rule's counter and its comment in the ruleset.
    package var id: Int
    package var enabled: Bool
    package var action: RuleAction
    /// The zone the traffic comes from.
    package var zone: Zone
    package var source: String
    package var sourcePort: String
    package var destination: String
    package var destinationPort: String
    package var `protocol`: RuleProtocol
    package var comment: String

    package init(
        id: Int = 0, enabled: Bool = true, action: RuleAction, zone: Zone, source: String = "",
        sourcePort: String = "", destination: String = "", destinationPort: String = "",
        protocol: RuleProtocol = .any, comment: String = ""
    ) {
        self.id = id
        self.enabled = enabled
        self.action = action
        self.zone = zone
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.protocol = `protocol`
        self.comment = comment
    }
}

/// An entry of the allowlist or the denylist.
package struct ListEntry: Codable, Sendable, Hashable {
    package var address: String
    /// When the entry stops applying; nil keeps it until it is deleted.
    package var expires: Date?
    package var comment: String
    package var source: ListSource

    package init(address: String, expires: Date? = nil, comment: String = "", source: ListSource = .manual) {
        self.address = address
        self.expires = expires
        self.comment = comment
        self.source = source
    }
}

/// A port forward of a router (SPEC FW-1 "NAT allow rules"): connections to the gateway's WAN port reach a LAN
/// service.
package struct NATRule: Codable, Sendable, Hashable, Identifiable {
    package var id: Int
    package var enabled: Bool
    /// `tcp` or `udp`.
    package var `protocol`: RuleProtocol
    package var wanPort: String
    package var lanAddress: String
    /// Empty: the same port as on the WAN side.
    package var lanPort: String
    package var comment: String

    package init(
        id: Int = 0, enabled: Bool = true, protocol: RuleProtocol, wanPort: String, lanAddress: String,
        lanPort: String = "", comment: String = ""
    ) {
        self.id = id
        self.enabled = enabled
        self.protocol = `protocol`
        self.wanPort = wanPort
        self.lanAddress = lanAddress
        self.lanPort = lanPort
        self.comment = comment
    }
}

/// The firewall's configuration document: everything the operator decides. What the gateway's other settings
/// decide (interfaces, service ports) arrives separately as a `FirewallEnvironment`.
package struct FirewallConfiguration: Codable, Sendable, Hashable {
    package static let maximumRules = 1000

    package var deviceType: DeviceType
    /// Emergency support mode: everything is blocked but the management path.
    package var emergency: Bool
    /// Source NAT of everything leaving through the WAN to the gateway's WAN address.
    package var masquerade: Bool
    /// Identifiers from `ApplicationProtocol.catalogue` whose traffic is denied.
    package var blockedProtocols: [String]
    package var allowlist: [ListEntry]
    package var denylist: [ListEntry]
    package var natRules: [NATRule]
    /// In evaluation order (deny rules as a group before allow rules, each group in this order).
    package var rules: [CustomRule]
    /// The id the next new rule gets; ids are never reused.
    package var nextRuleID: Int

    package init(
        deviceType: DeviceType = .router, emergency: Bool = false, masquerade: Bool = false,
        blockedProtocols: [String] = [], allowlist: [ListEntry] = [], denylist: [ListEntry] = [],
        natRules: [NATRule] = [], rules: [CustomRule] = [], nextRuleID: Int = 1
    ) {
        self.deviceType = deviceType
        self.emergency = emergency
        self.masquerade = masquerade
        self.blockedProtocols = blockedProtocols
        self.allowlist = allowlist
        self.denylist = denylist
        self.natRules = natRules
        self.rules = rules
        self.nextRuleID = nextRuleID
    }

    /// Adds `rule` at `position` (the end when nil) with a new id, and returns the id.
    @discardableResult
    package mutating func insert(_ rule: CustomRule, at position: Int? = nil) -> Int {
        var rule = rule
        rule.id = max(nextRuleID, (rules.map(\.id).max() ?? 0) + 1)
        nextRuleID = rule.id + 1
        rules.insert(rule, at: min(max(position ?? rules.count, 0), rules.count))
        return rule.id
    }

    /// Adds a port forward with a new id, and returns the id.
    @discardableResult
    package mutating func insert(_ rule: NATRule) -> Int {
        var rule = rule
        rule.id = (natRules.map(\.id).max() ?? 0) + 1
        natRules.append(rule)
        return rule.id
    }

    /// Moves the rule `id` to `position` (clamped to the list); false when there is no such rule.
    @discardableResult
    package mutating func move(rule id: Int, to position: Int) -> Bool {
        guard let index = rules.firstIndex(where: { $0.id == id }) else { return false }
        let rule = rules.remove(at: index)
        rules.insert(rule, at: min(max(position, 0), rules.count))
        return true
    }

    /// Entries whose expiry has passed are dropped; true when something was.
    @discardableResult
    package mutating func dropExpiredEntries(now: Date) -> Bool {
        let before = allowlist.count + denylist.count
        allowlist.removeAll { $0.expires.map { $0 <= now } ?? false }
        denylist.removeAll { $0.expires.map { $0 <= now } ?? false }
        return allowlist.count + denylist.count != before
    }
}
