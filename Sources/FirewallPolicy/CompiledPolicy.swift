/// Layer-4 protocols the rules select.
package enum Transport: String, Sendable, Hashable, Codable, CaseIterable {
    case tcp
    case udp
    case icmp
    case icmpv6
    /// IP protocol 112, which CARP and VRRP share.
    case vrrp

    package var hasPorts: Bool { self == .tcp || self == .udp }
}

/// Connection tracking states (the kernel's `ct state`).
package enum ConnectionState: String, Sendable, Hashable, Codable, CaseIterable {
    case new
    case established
    case related
    case invalid
}

/// The netfilter hooks the firewall filters: traffic to the gateway itself and traffic it forwards.
package enum Hook: String, Sendable, Hashable, Codable, CaseIterable {
    case input
    case forward
}

/// The stage orders of the seed: one for a router, and for a unidirectional gateway one for traffic from the
/// internal network and one for traffic from the external network.
package enum StagePath: String, Sendable, Hashable, Codable, CaseIterable {
    case router
    case `internal`
    case external
}

/// A processing stage (SPEC FW-1). Each path runs a fixed subset in a fixed order, `StagePath.stages`.
package enum Stage: String, Sendable, Hashable, Codable, CaseIterable {
    case diagnosticAllow = "diagnostic-allow"
    case outgoingAllow = "outgoing-allow"
    case presetAllow = "preset-allow"
    case vpnAllow = "vpn-allow"
    case applicationDeny = "application-deny"
    case emergencyDeny = "emergency-deny"
    case allowlist
    case denylist
    case natAllow = "nat-allow"
    case customDeny = "custom-deny"
    case customAllow = "custom-allow"
    case presetServicesAllow = "preset-services-allow"
    case established
    case finalBlock = "final-block"

    package var title: String {
        switch self {
        case .diagnosticAllow: "Diagnostic allow"
        case .outgoingAllow: "Outgoing traffic allow"
        case .presetAllow: "Preset allow"
        case .vpnAllow: "VPN allow"
        case .applicationDeny: "Application protocol deny"
        case .emergencyDeny: "Emergency mode deny"
        case .allowlist: "IP allowlist"
        case .denylist: "IP denylist"
        case .natAllow: "NAT allow"
        case .customDeny: "Custom deny"
        case .customAllow: "Custom allow"
        case .presetServicesAllow: "Preset service allow"
        case .established: "Established connections allow"
        case .finalBlock: "Final block"
        }
    }
}

extension StagePath {
    /// The normative stage order of each path.
    package var stages: [Stage] {
        switch self {
        case .router:
            [
                .diagnosticAllow, .presetAllow, .applicationDeny, .emergencyDeny, .allowlist, .denylist, .natAllow,
                .customDeny, .customAllow, .presetServicesAllow, .established, .finalBlock,
            ]
        case .external:
            [.diagnosticAllow, .outgoingAllow, .presetAllow, .vpnAllow, .finalBlock]
        case .internal:
            [
                .diagnosticAllow, .outgoingAllow, .presetAllow, .applicationDeny, .emergencyDeny, .allowlist,
                .denylist, .customDeny, .customAllow, .presetServicesAllow, .established, .finalBlock,
            ]
        }
    }

    /// The paths a device type has.
    package static func paths(for deviceType: DeviceType) -> [StagePath] {
        deviceType == .router ? [.router] : [.internal, .external]
    }
}

/// Where a packet enters the gateway.
package enum Ingress: Hashable, Sendable {
    case loopback
    case zone(Zone)
}

/// Which addresses a match selects: one address selector, or a named set of the ruleset.
package enum AddressSelector: Hashable, Sendable {
    case spec(AddressSpec)
    case set(name: String, family: IPFamily)

    package var family: IPFamily {
        switch self {
        case .spec(let spec): spec.family
        case .set(_, let family): family
        }
    }
}

/// The conditions of one compiled rule; every condition that is set must hold (nil or empty: any).
package struct Match: Hashable, Sendable {
    package var ingress: [Ingress] = []
    package var egress: Zone?
    package var family: IPFamily?
    package var transport: Transport?
    package var source: AddressSelector?
    package var destination: AddressSelector?
    package var sourcePorts: [PortRange] = []
    package var destinationPorts: [PortRange] = []
    /// ICMP or ICMPv6 type names as nftables spells them (`echo-request`).
    package var icmpTypes: [String] = []
    package var states: [ConnectionState] = []
    /// Only connections whose destination a NAT rule rewrote.
    package var translated = false

    package init() {}

    /// The family the match is limited to, explicitly or through its addresses or transport.
    package var effectiveFamily: IPFamily? {
        family ?? source?.family ?? destination?.family
            ?? (transport == .icmp ? .ipv4 : transport == .icmpv6 ? .ipv6 : nil)
    }
}

package enum Verdict: String, Sendable, Hashable, Codable {
    case accept
    case drop
}

/// One rule of a stage, with the stable id the explain answer, the ruleset comment and the UI use.
package struct CompiledRule: Hashable, Sendable {
    /// `preset:web`, `app:modbus`, `allowlist`, `rule:17`, `nat:2`, `final` …
    package var id: String
    package var match: Match
    package var verdict: Verdict
    /// Named counter the rule counts into (custom rules).
    package var counter: String?
    /// What the rule is for, in words.
    package var summary: String

    package init(id: String, match: Match, verdict: Verdict, counter: String? = nil, summary: String) {
        self.id = id
        self.match = match
        self.verdict = verdict
        self.counter = counter
        self.summary = summary
    }
}

package struct CompiledStage: Hashable, Sendable {
    package var stage: Stage
    package var rules: [CompiledRule]
}

/// The stages of one hook on one path, in order.
package struct CompiledChain: Hashable, Sendable {
    package var hook: Hook
    package var path: StagePath
    package var stages: [CompiledStage]

    /// The chain's name in the ruleset: `input`, `forward_external` …
    package var name: String { path == .router ? hook.rawValue : "\(hook.rawValue)_\(path.rawValue)" }
}

/// An element of an address set, with what is left of its lifetime when the ruleset was built.
package struct CompiledSetElement: Hashable, Sendable {
    package var address: AddressSpec
    /// Whole seconds; nil: no expiry.
    package var timeoutSeconds: Int?
    package var comment: String

    package init(address: AddressSpec, timeoutSeconds: Int? = nil, comment: String = "") {
        self.address = address
        self.timeoutSeconds = timeoutSeconds
        self.comment = comment
    }
}

package struct CompiledSet: Hashable, Sendable {
    package var name: String
    package var family: IPFamily
    /// true: networks and ranges (an interval set); false: single addresses (a hash set).
    package var interval: Bool
    package var elements: [CompiledSetElement]
}

/// A port forward as the NAT hook performs it.
package struct CompiledPortForward: Hashable, Sendable {
    package var id: String
    package var ingress: Zone
    package var transport: Transport
    package var ports: PortRange
    package var target: IPAddress
    /// The target port of a single-port forward; nil keeps the port.
    package var targetPort: UInt16?
}

/// The policy lowered to what both the kernel ruleset and the explain function read: the same rules, in the same
/// order, so the explain answer is what the kernel does.
package struct CompiledPolicy: Hashable, Sendable {
    package var deviceType: DeviceType
    package var environment: FirewallEnvironment
    package var chains: [CompiledChain]
    package var sets: [CompiledSet] { didSet { setIndex = Self.index(sets) } }
    /// Each set's elements as sorted, merged ranges: explain looks an address up in O(log n), as the kernel does,
    /// whatever the size of the lists.
    private(set) var setIndex: [String: AddressRanges]
    package var portForwards: [CompiledPortForward]
    /// Zones whose outgoing traffic is masqueraded.
    package var masquerade: [Zone]

    package init(
        deviceType: DeviceType, environment: FirewallEnvironment, chains: [CompiledChain], sets: [CompiledSet],
        portForwards: [CompiledPortForward], masquerade: [Zone]
    ) {
        self.deviceType = deviceType
        self.environment = environment
        self.chains = chains
        self.sets = sets
        self.setIndex = Self.index(sets)
        self.portForwards = portForwards
        self.masquerade = masquerade
    }

    private static func index(_ sets: [CompiledSet]) -> [String: AddressRanges] {
        Dictionary(
            sets.map { ($0.name, AddressRanges(family: $0.family, $0.elements.map(\.address.bounds))) },
            uniquingKeysWith: { first, _ in first })
    }

    /// Whether the set `name` holds `address`.
    package func set(_ name: String, contains address: IPAddress) -> Bool {
        setIndex[name]?.contains(address) ?? false
    }

    /// Names of the named counters (one per enabled custom rule).
    package var counters: [String] {
        var seen = Set<String>()
        return chains.flatMap { $0.stages.flatMap(\.rules) }.compactMap(\.counter).filter { seen.insert($0).inserted }
    }

    /// The elements of one list and family: its single addresses, then its networks and ranges.
    package func elements(of list: PolicyCompiler.List, family: IPFamily) -> [CompiledSetElement] {
        [false, true].flatMap { interval in
            let name = PolicyCompiler.setName(list, family: family, interval: interval)
            return sets.first { $0.name == name }?.elements ?? []
        }
    }

    package func chain(_ hook: Hook, _ path: StagePath) -> CompiledChain? {
        chains.first { $0.hook == hook && $0.path == path }
    }
}

/// Address ranges of one family, sorted and merged, for binary-search lookups.
struct AddressRanges: Hashable, Sendable {
    let family: IPFamily
    private let lower: [UInt128]
    private let upper: [UInt128]

    init(family: IPFamily, _ ranges: [ClosedRange<UInt128>]) {
        self.family = family
        var lower: [UInt128] = []
        var upper: [UInt128] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = upper.last, last == .max || range.lowerBound <= last + 1 {
                upper[upper.count - 1] = max(last, range.upperBound)
            } else {
                lower.append(range.lowerBound)
                upper.append(range.upperBound)
            }
        }
        self.lower = lower
        self.upper = upper
    }

    func contains(_ address: IPAddress) -> Bool {
        guard address.family == family else { return false }
        // The last range starting at or before the address.
        var low = 0
        var high = lower.count
        while low < high {
            let middle = (low + high) / 2
            if lower[middle] <= address.value { low = middle + 1 } else { high = middle }
        }
        return low > 0 && address.value <= upper[low - 1]
    }
}
