import Foundation

/// What a change does to the firewall configuration, line by line, for the audit record (SPEC FW-5).
extension FirewallConfiguration {
    package func differences(to new: FirewallConfiguration) -> [String] {
        var lines: [String] = []
        func setting(_ name: String, _ old: String, _ new: String) {
            if old != new { lines.append("\(name): \(old) → \(new)") }
        }
        setting("device type", deviceType.rawValue, new.deviceType.rawValue)
        setting("emergency mode", emergency ? "on" : "off", new.emergency ? "on" : "off")
        setting("masquerading", masquerade ? "on" : "off", new.masquerade ? "on" : "off")
        for added in new.blockedProtocols where !blockedProtocols.contains(added) {
            lines.append("application protocol denied: \(added)")
        }
        for removed in blockedProtocols where !new.blockedProtocols.contains(removed) {
            lines.append("application protocol no longer denied: \(removed)")
        }
        lines += Self.listDifferences("allowlist", allowlist, new.allowlist)
        lines += Self.listDifferences("denylist", denylist, new.denylist)

        let oldRules = Dictionary(rules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let newRules = Dictionary(new.rules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for rule in new.rules {
            guard let old = oldRules[rule.id] else {
                lines.append("rule \(rule.id) added: \(rule.summary)")
                continue
            }
            if old != rule { lines.append("rule \(rule.id) changed: \(old.summary) → \(rule.summary)") }
        }
        for rule in rules where newRules[rule.id] == nil { lines.append("rule \(rule.id) deleted: \(rule.summary)") }
        let keptOld = rules.map(\.id).filter { newRules[$0] != nil }
        let keptNew = new.rules.map(\.id).filter { oldRules[$0] != nil }
        if keptOld != keptNew {
            lines.append(
                "rule order: \(keptOld.map(String.init).joined(separator: ", ")) → "
                    + "\(keptNew.map(String.init).joined(separator: ", "))")
        }

        let oldForwards = Dictionary(natRules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let newForwards = Dictionary(new.natRules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for forward in new.natRules {
            if let old = oldForwards[forward.id] {
                if old != forward {
                    lines.append("port forward \(forward.id) changed: \(old.summary) → \(forward.summary)")
                }
            } else {
                lines.append("port forward \(forward.id) added: \(forward.summary)")
            }
        }
        for forward in natRules where newForwards[forward.id] == nil {
            lines.append("port forward \(forward.id) deleted: \(forward.summary)")
        }
        return lines
    }

    /// Lines per list beyond which the rest is counted, not listed (an IPS import can add 100,000 entries).
    static let listedEntryChanges = 20

    private static func listDifferences(_ name: String, _ old: [ListEntry], _ new: [ListEntry]) -> [String] {
        let oldByAddress = Dictionary(old.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        let newAddresses = Set(new.map(\.address))
        var lines: [String] = []
        var unlisted = 0
        func note(_ line: String) {
            if lines.count < listedEntryChanges { lines.append(line) } else { unlisted += 1 }
        }
        for entry in new {
            switch oldByAddress[entry.address] {
            case nil: note("\(name) + \(entry.summary)")
            case let previous? where previous != entry: note("\(name) entry changed: \(entry.summary)")
            default: break
            }
        }
        for entry in old where !newAddresses.contains(entry.address) { note("\(name) − \(entry.address)") }
        if unlisted > 0 { lines.append("\(name): \(unlisted) more change(s)") }
        return lines
    }
}

extension CustomRule {
    /// One line: `deny WAN TCP 198.51.100.0/24 → any:502 (disabled) "comment"`.
    package var summary: String {
        func endpoint(_ address: String, _ port: String) -> String {
            (address.isEmpty ? "any" : address) + (port.isEmpty ? "" : ":\(port)")
        }
        var text =
            "\(action.rawValue) \(zone.title) \(self.protocol.title) \(endpoint(source, sourcePort)) → "
            + endpoint(destination, destinationPort)
        if !enabled { text += " (disabled)" }
        if !comment.isEmpty { text += " \"\(comment)\"" }
        return text
    }
}

extension NATRule {
    package var summary: String {
        "\(self.protocol.title) WAN :\(wanPort) → \(lanAddress):\(lanPort.isEmpty ? wanPort : lanPort)"
            + (enabled ? "" : " (disabled)")
    }
}

extension ListEntry {
    package var summary: String {
        var text = "\(address) (\(source.rawValue))"
        if let expires { text += " until \(expires.formatted(.iso8601))" }
        if !comment.isEmpty { text += " \"\(comment)\"" }
        return text
    }
}
