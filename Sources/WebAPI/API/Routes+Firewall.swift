import Events
import FirewallPolicy
import Foundation
import Hummingbird
import RampartModel

/// `GET /firewall`: the configuration with everything the Firewall page shows next to it.
struct FirewallView: Encodable, Sendable {
    struct Finding: Encodable, Sendable {
        var rule: Int
        var shadowedBy: Int
        var message: String
    }

    struct CatalogueEntry: Encodable, Sendable {
        var id: String
        var name: String
        var ports: String
    }

    struct PathStages: Encodable, Sendable {
        var path: String
        var stages: [String]
    }

    var version: Int
    var configuration: FirewallConfiguration
    var state: FirewallState
    var pending: PendingConfirmation?
    var shadowed: [Finding]
    var catalogue: [CatalogueEntry]
    var stageOrder: [PathStages]
    var environment: FirewallEnvironment
    var maximumRules: Int
}

/// A custom rule as the API takes it: omitted fields mean "any" (addresses, ports, protocol), enabled, no comment.
struct RuleBody: Decodable {
    var enabled: Bool?
    var action: RuleAction
    var zone: Zone
    var source: String?
    var sourcePort: String?
    var destination: String?
    var destinationPort: String?
    var `protocol`: RuleProtocol?
    var comment: String?
    /// Where to insert a new rule (0 = first); the end when absent.
    var position: Int?
    var force: Bool?

    func rule(id: Int) -> CustomRule {
        CustomRule(
            id: id, enabled: enabled ?? true, action: action, zone: zone, source: source ?? "",
            sourcePort: sourcePort ?? "", destination: destination ?? "", destinationPort: destinationPort ?? "",
            protocol: self.protocol ?? .any, comment: comment ?? "")
    }
}

struct MoveBody: Decodable {
    /// `up`, `down`, or absent with a position.
    var direction: String?
    var position: Int?
    var force: Bool?
}

struct ListEntryBody: Decodable {
    var address: String
    var expires: Date?
    /// Alternative to `expires`: seconds from now.
    var ttlSeconds: Int?
    var comment: String?
    var source: ListSource?
    var force: Bool?
}

struct NATBody: Decodable {
    var enabled: Bool?
    var `protocol`: RuleProtocol
    var wanPort: String
    var lanAddress: String
    var lanPort: String?
    var comment: String?
}

struct ToggleBody: Decodable {
    var enabled: Bool
    var force: Bool?
}

struct DeviceTypeBody: Decodable {
    var deviceType: DeviceType
    var force: Bool?
}

struct ProtocolsBody: Decodable {
    var blocked: [String]
    var force: Bool?
}

struct FirewallDocumentBody: Decodable {
    var version: Int?
    var settings: FirewallConfiguration
    var force: Bool?
}

struct CreatedRule: Encodable, Sendable {
    var id: Int
    var report: FirewallChangeReport
}

/// `POST /firewall/explain`: a packet as the packet tracer's form describes it.
struct PacketBody: Decodable {
    /// `lan`, `wan`, `loopback`, or an interface name.
    var ingress: String
    /// `gateway` (the default), `lan` or `wan`.
    var egress: String?
    var source: String
    var destination: String
    /// `tcp`, `udp`, `icmp` (ICMPv6 for IPv6 addresses), `icmpv6` or `vrrp`.
    var `protocol`: String
    var sourcePort: Int?
    var destinationPort: Int?
    var icmpType: String?
    /// `new` (the default), `established`, `related`, `invalid`.
    var state: ConnectionState?

    func packet(environment: FirewallEnvironment) throws(APIError) -> PacketDescription {
        let ingress: Ingress
        switch self.ingress {
        case "loopback", "lo": ingress = .loopback
        case let name:
            guard let zone = Zone(rawValue: name.lowercased()) ?? environment.zone(ofInterface: name) else {
                throw APIError.badRequest(
                    "ingress '\(name)' is neither lan, wan, loopback nor an interface of a zone", field: "ingress")
            }
            ingress = .zone(zone)
        }
        var egress: Zone?
        if let text = self.egress, text != "gateway" {
            guard let zone = Zone(rawValue: text.lowercased()) ?? environment.zone(ofInterface: text) else {
                throw APIError.badRequest("egress '\(text)' is neither gateway, lan nor wan", field: "egress")
            }
            egress = zone
        }
        guard let source = IPAddress(self.source) else {
            throw APIError.badRequest("'\(self.source)' is not an IP address", field: "source")
        }
        guard let destination = IPAddress(self.destination) else {
            throw APIError.badRequest("'\(self.destination)' is not an IP address", field: "destination")
        }
        guard source.family == destination.family else {
            throw APIError.badRequest("source and destination are of different IP versions", field: "destination")
        }
        guard var transport = Transport(rawValue: self.protocol.lowercased()) else {
            throw APIError.badRequest(
                "protocol must be tcp, udp, icmp, icmpv6 or vrrp, not '\(self.protocol)'", field: "protocol")
        }
        if transport == .icmp && source.family == .ipv6 { transport = .icmpv6 }
        func port(_ value: Int?, _ field: String) throws(APIError) -> UInt16? {
            guard let value else { return nil }
            guard transport.hasPorts else {
                throw APIError.badRequest("ports apply to TCP and UDP only", field: field)
            }
            guard (1...65535).contains(value) else { throw APIError.badRequest("ports are 1…65535", field: field) }
            return UInt16(value)
        }
        return PacketDescription(
            ingress: ingress, egress: egress, source: source, destination: destination, transport: transport,
            sourcePort: try port(sourcePort, "sourcePort"),
            destinationPort: try port(destinationPort, "destinationPort"),
            icmpType: transport.hasPorts ? nil : (icmpType ?? (transport == .vrrp ? nil : "echo-request")),
            state: state ?? .new)
    }
}

/// The explain answer as the API gives it.
struct ExplanationBody: Encodable, Sendable {
    struct Translation: Encodable, Sendable {
        var rule: String
        var destination: String
        var destinationPort: UInt16?
    }

    var verdict: String
    var hook: String
    var path: String
    var chain: String
    var stage: String
    var stageTitle: String
    var rule: String
    var summary: String
    var counter: String?
    /// The stages checked before, in order, none of which matched.
    var passed: [String]
    var translation: Translation?

    init(_ explanation: Explanation) {
        verdict = explanation.verdict.rawValue
        hook = explanation.hook.rawValue
        path = explanation.path.rawValue
        chain = explanation.chain
        stage = explanation.stage.rawValue
        stageTitle = explanation.stage.title
        rule = explanation.ruleID
        summary = explanation.summary
        counter = explanation.counter
        passed = explanation.passed.map(\.rawValue)
        translation = explanation.translation.map {
            Translation(
                rule: $0.ruleID, destination: $0.destination.description, destinationPort: $0.destinationPort)
        }
    }
}

struct RulesetView: Encodable, Sendable {
    var state: FirewallState
    /// What the stored configuration compiles to.
    var compiled: String
    /// What the kernel lists; absent when no ruleset is applied.
    var applied: String?
}

struct CounterView: Encodable, Sendable {
    var rule: Int
    var packets: UInt64
    var bytes: UInt64
}

enum FirewallList: String {
    case allowlist
    case denylist
}

extension ManagementAPI {
    /// A whole policy: 1,000 rules and lists of 100,000 entries and more are about 7 MB of JSON.
    static let firewallDocumentLimit = 64 * 1024 * 1024

    func registerFirewall(_ routes: CatalogedRoutes) {
        let firewall = services.firewall
        routes.on(.get, "/firewall") { _, _ in
            JSONResponse(try await Self.view(firewall))
        }
        routes.on(.put, "/firewall") { request, context in
            let body = try await request.decodeJSON(
                FirewallDocumentBody.self, context: context, limit: Self.firewallDocumentLimit)
            let report = try await Self.change(firewall, context, force: body.force, version: body.version) {
                (configuration) throws(APIError) in
                guard body.settings.deviceType == configuration.deviceType else {
                    throw APIError.invalid([
                        FieldError(
                            field: "deviceType",
                            message: "the device type changes only on its own (PUT /api/v1/firewall/device-type)")
                    ])
                }
                configuration = body.settings
            }
            return JSONResponse(report)
        }
        routes.on(.put, "/firewall/device-type") { request, context in
            let body = try await request.decodeJSON(DeviceTypeBody.self, context: context)
            return JSONResponse(
                try await Self.change(firewall, context, force: body.force) { $0.deviceType = body.deviceType })
        }
        routes.on(.put, "/firewall/emergency") { request, context in
            let body = try await request.decodeJSON(ToggleBody.self, context: context)
            return JSONResponse(
                try await Self.change(firewall, context, force: body.force) { $0.emergency = body.enabled })
        }
        routes.on(.put, "/firewall/masquerade") { request, context in
            let body = try await request.decodeJSON(ToggleBody.self, context: context)
            return JSONResponse(
                try await Self.change(firewall, context, force: body.force) { $0.masquerade = body.enabled })
        }
        routes.on(.put, "/firewall/protocols") { request, context in
            let body = try await request.decodeJSON(ProtocolsBody.self, context: context)
            return JSONResponse(
                try await Self.change(firewall, context, force: body.force) { $0.blockedProtocols = body.blocked })
        }
        registerFirewallRules(routes, firewall)
        registerFirewallLists(routes, firewall)
        routes.on(.post, "/firewall/confirm") { _, context in
            let changes = try await firewall.confirm()
            for change in changes { context.notes.add(EventField("change", change)) }
            return JSONResponse(Empty())
        }
        routes.on(.post, "/firewall/explain") { request, context in
            let body = try await request.decodeJSON(PacketBody.self, context: context)
            let policy = try await firewall.compiled()
            return JSONResponse(ExplanationBody(policy.explain(try body.packet(environment: policy.environment))))
        }
        routes.on(.get, "/firewall/ruleset") { _, _ in
            let rulesets = try await firewall.rulesets()
            return JSONResponse(
                RulesetView(state: await firewall.state, compiled: rulesets.compiled, applied: rulesets.applied))
        }
        routes.on(.get, "/firewall/counters") { _, _ in
            let counters = await firewall.counters()
            let rules = try await firewall.read().document.rules
            return JSONResponse(
                rules.map { rule in
                    let hits = counters[PolicyCompiler.counterName(rule: rule.id)]
                    return CounterView(rule: rule.id, packets: hits?.packets ?? 0, bytes: hits?.bytes ?? 0)
                })
        }
    }

    private func registerFirewallRules(_ routes: CatalogedRoutes, _ firewall: FirewallService) {
        routes.on(.post, "/firewall/rules") { request, context in
            let body = try await request.decodeJSON(RuleBody.self, context: context)
            let (report, id) = try await Self.change(firewall, context, force: body.force) { configuration in
                configuration.insert(body.rule(id: 0), at: body.position)
            }
            return JSONResponse(CreatedRule(id: id, report: report), status: .created)
        }
        routes.on(.put, "/firewall/rules/:id") { request, context in
            let id = try Self.ruleID(request, context)
            let body = try await request.decodeJSON(RuleBody.self, context: context)
            return JSONResponse(
                try await Self.change(firewall, context, force: body.force) { (configuration) throws(APIError) in
                    let index = try configuration.ruleIndex(id)
                    configuration.rules[index] = body.rule(id: id)
                    if let position = body.position { configuration.move(rule: id, to: position) }
                })
        }
        routes.on(.delete, "/firewall/rules/:id") { request, context in
            let id = try Self.ruleID(request, context)
            let force = FormQuery(request)["force"] == "true"
            return JSONResponse(
                try await Self.change(firewall, context, force: force) { (configuration) throws(APIError) in
                    configuration.rules.remove(at: try configuration.ruleIndex(id))
                })
        }
        routes.on(.post, "/firewall/rules/:id/move") { request, context in
            let id = try Self.ruleID(request, context)
            let body = try await request.decodeJSON(MoveBody.self, context: context)
            return JSONResponse(
                try await Self.change(firewall, context, force: body.force) { (configuration) throws(APIError) in
                    let index = try configuration.ruleIndex(id)
                    let target: Int
                    switch (body.direction, body.position) {
                    case ("up", _): target = index - 1
                    case ("down", _): target = index + 1
                    case (nil, let position?): target = position
                    default:
                        throw APIError.badRequest("give direction 'up' or 'down', or a position", field: "direction")
                    }
                    configuration.move(rule: id, to: target)
                })
        }
        routes.on(.post, "/firewall/nat") { request, context in
            let body = try await request.decodeJSON(NATBody.self, context: context)
            let (report, id) = try await Self.change(firewall, context, force: false) { configuration in
                configuration.insert(
                    NATRule(
                        enabled: body.enabled ?? true, protocol: body.protocol, wanPort: body.wanPort,
                        lanAddress: body.lanAddress, lanPort: body.lanPort ?? "", comment: body.comment ?? ""))
            }
            return JSONResponse(CreatedRule(id: id, report: report), status: .created)
        }
        routes.on(.delete, "/firewall/nat/:id") { request, context in
            let id = try Self.ruleID(request, context)
            return JSONResponse(
                try await Self.change(firewall, context, force: false) { (configuration) throws(APIError) in
                    guard configuration.natRules.contains(where: { $0.id == id }) else {
                        throw APIError.notFound("port forward \(id)")
                    }
                    configuration.natRules.removeAll { $0.id == id }
                })
        }
    }

    private func registerFirewallLists(_ routes: CatalogedRoutes, _ firewall: FirewallService) {
        routes.on(.post, "/firewall/lists/:list") { request, context in
            let list = try Self.list(request, context)
            let body = try await request.decodeJSON(ListEntryBody.self, context: context)
            if let ttl = body.ttlSeconds, ttl < 1 {
                throw APIError.badRequest("ttlSeconds must be at least 1", field: "ttlSeconds")
            }
            let expires = body.expires ?? body.ttlSeconds.map { Date().addingTimeInterval(Double($0)) }
            let entry = ListEntry(
                address: body.address, expires: expires, comment: body.comment ?? "", source: body.source ?? .manual)
            return JSONResponse(
                try await Self.change(firewall, context, force: body.force) { configuration in
                    // The same address again replaces its entry (a new expiry or comment).
                    switch list {
                    case .allowlist:
                        configuration.allowlist.removeAll { $0.address == entry.address }
                        configuration.allowlist.append(entry)
                    case .denylist:
                        configuration.denylist.removeAll { $0.address == entry.address }
                        configuration.denylist.append(entry)
                    }
                }, status: .created)
        }
        routes.on(.delete, "/firewall/lists/:list") { request, context in
            let list = try Self.list(request, context)
            let query = FormQuery(request)
            guard let address = query["address"] else {
                throw APIError.badRequest("give the entry's address as ?address=", field: "address")
            }
            return JSONResponse(
                try await Self.change(firewall, context, force: query["force"] == "true") {
                    (configuration) throws(APIError) in
                    let count = configuration.allowlist.count + configuration.denylist.count
                    switch list {
                    case .allowlist: configuration.allowlist.removeAll { $0.address == address }
                    case .denylist: configuration.denylist.removeAll { $0.address == address }
                    }
                    guard configuration.allowlist.count + configuration.denylist.count < count else {
                        throw APIError.notFound("\(list.rawValue) entry '\(address)'")
                    }
                })
        }
    }

    /// One change through the firewall service, with its diff added to the request's audit record.
    private static func change(
        _ firewall: FirewallService, _ context: ManagementContext, force: Bool?, version: Int? = nil,
        _ edit: @escaping @Sendable (inout FirewallConfiguration) throws(APIError) -> Void
    ) async throws(APIError) -> FirewallChangeReport {
        try await change(firewall, context, force: force, version: version) { (configuration) throws(APIError) in
            try edit(&configuration)
        }.report
    }

    /// One change through the firewall service, with its diff added to the request's audit record.
    private static func change<Value: Sendable>(
        _ firewall: FirewallService, _ context: ManagementContext, force: Bool?, version: Int? = nil,
        returning edit: @escaping @Sendable (inout FirewallConfiguration) throws(APIError) -> Value
    ) async throws(APIError) -> (report: FirewallChangeReport, value: Value) {
        let requester = FirewallOperator(
            user: context.principal?.actor ?? "unknown", source: context.source, local: context.local)
        let (report, value) = try await firewall.changeReturning(
            by: requester, force: force ?? false, expectedVersion: version, edit)
        for change in report.changes { context.notes.add(EventField("change", change)) }
        if force == true { context.notes.add(EventField("forced", "true")) }
        if let confirmBy = report.confirmBy {
            context.notes.add(EventField("confirm_by", confirmBy.formatted(.iso8601)))
        }
        return (report, value)
    }

    private static func ruleID(_ request: Request, _ context: ManagementContext) throws(APIError) -> Int {
        let text = try request.parameter("id", context: context)
        guard let id = Int(text) else { throw APIError.badRequest("'\(text)' is not a rule id", field: "id") }
        return id
    }

    private static func list(_ request: Request, _ context: ManagementContext) throws(APIError) -> FirewallList {
        let text = try request.parameter("list", context: context)
        guard let list = FirewallList(rawValue: text) else {
            throw APIError.notFound("list '\(text)' (allowlist or denylist)")
        }
        return list
    }

    static func view(_ firewall: FirewallService) async throws(APIError) -> FirewallView {
        let (stored, policy) = try await firewall.current()
        return FirewallView(
            version: stored.version, configuration: stored.document, state: await firewall.state,
            pending: await firewall.pending,
            shadowed: stored.document.shadowedRules().map {
                FirewallView.Finding(rule: $0.ruleID, shadowedBy: $0.shadowedBy, message: $0.message)
            },
            catalogue: ApplicationProtocol.catalogue.map { application in
                FirewallView.CatalogueEntry(
                    id: application.id, name: application.name,
                    ports: application.services.map { service in
                        "\(service.transport.rawValue.uppercased()) "
                            + service.ports.map(\.description).joined(separator: ", ")
                    }.joined(separator: "; "))
            },
            stageOrder: StagePath.paths(for: stored.document.deviceType).map { path in
                FirewallView.PathStages(path: path.rawValue, stages: path.stages.map(\.title))
            },
            environment: policy.environment, maximumRules: FirewallConfiguration.maximumRules)
    }
}

extension FirewallConfiguration {
    /// Where the custom rule `id` stands, or 404.
    fileprivate func ruleIndex(_ id: Int) throws(APIError) -> Int {
        guard let index = rules.firstIndex(where: { $0.id == id }) else {
            throw APIError.notFound("firewall rule \(id)")
        }
        return index
    }
}
