import Foundation
import RampartModel

/// Every problem of a firewall configuration, each naming its field (`rules[3].source`).
package struct FirewallValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    package var errors: [FieldError]

    package init(_ errors: [FieldError]) { self.errors = errors }

    package var description: String { errors.map(\.description).joined(separator: "; ") }
}

extension FirewallConfiguration {
    /// The longest comment kept; nftables stores at most 128 bytes per comment.
    package static let maximumCommentLength = 100

    /// Every problem at once. `allowOverlaps` lets overlapping list entries through — the kernel, not this check,
    /// then has the last word (an operator's forced change).
    package func validate(allowOverlaps: Bool = false) -> [FieldError] {
        var errors: [FieldError] = []
        if rules.count > Self.maximumRules {
            errors.append(
                FieldError(
                    field: "rules",
                    message: "at most \(Self.maximumRules) custom rules are allowed; this change makes \(rules.count)"
                ))
        }
        var ids = Set<Int>()
        for (index, rule) in rules.enumerated() {
            let field = "rules[\(index)]"
            if !ids.insert(rule.id).inserted {
                errors.append(FieldError(field: "\(field).id", message: "rule id \(rule.id) is not unique"))
            }
            // Ids are handed out from 1 up to `nextRuleID - 1`.
            if rule.id >= nextRuleID || rule.id < 1 {
                errors.append(
                    FieldError(field: "\(field).id", message: "rule id \(rule.id) was never handed out"))
            }
            errors += rule.problems(field: field, deviceType: deviceType)
        }
        for (name, list) in [("allowlist", allowlist), ("denylist", denylist)] {
            errors += Self.listProblems(list, field: name, allowOverlaps: allowOverlaps)
        }
        for (index, id) in blockedProtocols.enumerated() where ApplicationProtocol.named(id) == nil {
            errors.append(
                FieldError(
                    field: "blockedProtocols[\(index)]",
                    message: "'\(id)' is not in the catalogue ("
                        + ApplicationProtocol.catalogue.map(\.id).joined(separator: ", ") + ")"))
        }
        if Set(blockedProtocols).count != blockedProtocols.count {
            errors.append(FieldError(field: "blockedProtocols", message: "a protocol is listed twice"))
        }
        errors += natProblems()
        return errors
    }

    private static func listProblems(_ list: [ListEntry], field: String, allowOverlaps: Bool) -> [FieldError] {
        var errors: [FieldError] = []
        var parsed: [(index: Int, spec: AddressSpec)] = []
        parsed.reserveCapacity(list.count)
        for (index, entry) in list.enumerated() {
            let entryField = "\(field)[\(index)]"
            switch AddressSpec.parse(entry.address) {
            case .failure(let error):
                errors.append(FieldError(field: "\(entryField).address", message: error.message))
            case .success(let spec): parsed.append((index, spec))
            }
            if !entry.comment.isEmpty {
                errors += commentProblems(entry.comment, field: "\(entryField).comment")
            }
        }
        guard !allowOverlaps else { return errors }
        // Sorted by family and first address, an entry can only overlap the one that reaches furthest before it:
        // one pass instead of comparing every pair (lists fed by the IPS hold 100,000 entries).
        parsed.sort {
            ($0.spec.family == .ipv4 ? 0 : 1, $0.spec.bounds.lowerBound, $0.index) < (
                $1.spec.family == .ipv4 ? 0 : 1, $1.spec.bounds.lowerBound, $1.index
            )
        }
        var reach: (index: Int, spec: AddressSpec)?
        var overlaps: [(Int, AddressSpec, Int, AddressSpec)] = []
        for item in parsed {
            if let previous = reach, previous.spec.family == item.spec.family,
                item.spec.bounds.lowerBound <= previous.spec.bounds.upperBound
            {
                let (first, second) = previous.index < item.index ? (previous, item) : (item, previous)
                overlaps.append((second.index, second.spec, first.index, first.spec))
                if item.spec.bounds.upperBound > previous.spec.bounds.upperBound { reach = item }
            } else {
                reach = item
            }
        }
        for (index, spec, other, otherSpec) in overlaps.sorted(by: { $0.0 < $1.0 }) {
            errors.append(
                FieldError(
                    field: "\(field)[\(index)].address",
                    message: otherSpec == spec
                        ? "\(spec) is already entry \(other + 1) of the list"
                        : "\(spec) overlaps entry \(other + 1) (\(otherSpec)); a list holds each address once"))
        }
        return errors
    }

    static func commentProblems(_ comment: String, field: String) -> [FieldError] {
        var errors: [FieldError] = []
        if comment.count > maximumCommentLength {
            errors.append(
                FieldError(field: field, message: "a comment holds at most \(maximumCommentLength) characters"))
        }
        if comment.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(field: field, message: "a comment cannot hold control characters"))
        }
        return errors
    }

    private func natProblems() -> [FieldError] {
        var errors: [FieldError] = []
        var claimed: [(Transport, PortRange, Int)] = []
        for (index, rule) in natRules.enumerated() {
            let field = "natRules[\(index)]"
            if deviceType == .unidirectional && rule.enabled {
                errors.append(
                    FieldError(
                        field: field,
                        message: "a unidirectional gateway admits nothing started from the WAN: port forwards need "
                            + "the router device type"))
            }
            // Without a transport the rest is still checked, so every problem is reported at once.
            let transport = rule.protocol.singleTransport
            if transport == nil {
                errors.append(FieldError(field: "\(field).protocol", message: "a port forward is TCP or UDP"))
            }
            let wan = PortRange.parse(rule.wanPort)
            if case .failure(let error) = wan {
                errors.append(FieldError(field: "\(field).wanPort", message: error.message))
            }
            if let target = IPAddress(rule.lanAddress) {
                if target.family != .ipv4 {
                    errors.append(
                        FieldError(field: "\(field).lanAddress", message: "port forwards are IPv4 only"))
                }
            } else {
                errors.append(
                    FieldError(field: "\(field).lanAddress", message: "'\(rule.lanAddress)' is not an IPv4 address"))
            }
            if !rule.lanPort.isEmpty, case .failure(let error) = PortRange.parse(rule.lanPort) {
                errors.append(FieldError(field: "\(field).lanPort", message: error.message))
            } else if case .success(let lanPorts) = PortRange.parse(rule.lanPort) {
                if lanPorts.lower != lanPorts.upper {
                    errors.append(
                        FieldError(
                            field: "\(field).lanPort",
                            message: "give one LAN port, or leave it empty to keep the WAN ports"))
                } else if case .success(let wanPorts) = wan, wanPorts.lower != wanPorts.upper {
                    errors.append(
                        FieldError(
                            field: "\(field).lanPort",
                            message: "a WAN port range (\(wanPorts)) keeps its ports: leave the LAN port empty"))
                }
            }
            if case .success(let ports) = wan, rule.enabled, let transport {
                if let clash = claimed.first(where: { $0.0 == transport && $0.1.overlaps(ports) }) {
                    errors.append(
                        FieldError(
                            field: "\(field).wanPort",
                            message: "\(transport.rawValue.uppercased()) \(ports) is already forwarded by port "
                                + "forward \(clash.2 + 1)"))
                }
                claimed.append((transport, ports, index))
            }
            errors += Self.commentProblems(rule.comment, field: "\(field).comment")
        }
        return errors
    }
}

extension PortRange {
    func overlaps(_ other: PortRange) -> Bool { lower <= other.upper && other.lower <= upper }
}

extension RuleProtocol {
    /// The transport of a TCP or UDP selection.
    var singleTransport: Transport? {
        switch self {
        case .tcp: .tcp
        case .udp: .udp
        case .any, .icmp: nil
        }
    }
}

extension CustomRule {
    /// The parsed selectors of a valid rule.
    struct Parsed {
        var source: AddressSpec?
        var destination: AddressSpec?
        var sourcePorts: PortRange?
        var destinationPorts: PortRange?
    }

    func problems(field: String, deviceType: DeviceType) -> [FieldError] {
        var errors: [FieldError] = []
        _ = parse(field: field, errors: &errors)
        if deviceType == .unidirectional && zone == .wan && enabled {
            errors.append(
                FieldError(
                    field: "\(field).zone",
                    message: "a unidirectional gateway admits nothing started from the WAN: rules for the WAN zone "
                        + "need the router device type"))
        }
        errors += FirewallConfiguration.commentProblems(comment, field: "\(field).comment")
        return errors
    }

    /// The rule's selectors, with the problems of those that do not parse appended to `errors`.
    func parse(field: String, errors: inout [FieldError]) -> Parsed {
        var parsed = Parsed()
        func address(_ text: String, _ name: String) -> AddressSpec? {
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            switch AddressSpec.parse(text) {
            case .success(let spec): return spec
            case .failure(let error):
                errors.append(FieldError(field: "\(field).\(name)", message: error.message))
                return nil
            }
        }
        func ports(_ text: String, _ name: String) -> PortRange? {
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            guard self.protocol == .tcp || self.protocol == .udp else {
                errors.append(
                    FieldError(
                        field: "\(field).\(name)",
                        message: "ports apply to TCP and UDP only; this rule's protocol is \(self.protocol.title)"))
                return nil
            }
            switch PortRange.parse(text) {
            case .success(let range): return range
            case .failure(let error):
                errors.append(FieldError(field: "\(field).\(name)", message: error.message))
                return nil
            }
        }
        parsed.source = address(source, "source")
        parsed.destination = address(destination, "destination")
        parsed.sourcePorts = ports(sourcePort, "sourcePort")
        parsed.destinationPorts = ports(destinationPort, "destinationPort")
        if let source = parsed.source, let destination = parsed.destination, source.family != destination.family {
            errors.append(
                FieldError(
                    field: "\(field).destination",
                    message: "the source \(source) and the destination \(destination) are of different IP versions"))
        }
        return parsed
    }
}

extension RuleProtocol {
    package var title: String { self == .any ? "any" : rawValue.uppercased() }
}
