import Events
import Foundation
import HTTPTypes
import Hummingbird
import RampartModel
import Store

/// The event and audit services the API serves (SPEC EVT-1, EVT-2, EVT-3, EVT-5, EVT-6).
package struct EventServices: Sendable {
    package var ring: NetworkEventRing
    package var trail: AuditTrail
    package var supervisor: ComponentSupervisor
    package var syslog: ForwardingEndpoint<SyslogSettings>
    package var push: ForwardingEndpoint<PushSettings>

    package init(
        ring: NetworkEventRing, trail: AuditTrail, supervisor: ComponentSupervisor,
        syslog: ForwardingEndpoint<SyslogSettings>, push: ForwardingEndpoint<PushSettings>
    ) {
        self.ring = ring
        self.trail = trail
        self.supervisor = supervisor
        self.syslog = syslog
        self.push = push
    }
}

/// A page of network events with the ring's figures.
struct EventPage: Encodable, Sendable {
    var items: [SecurityEvent]
    var total: Int
    var offset: Int
    var limit: Int
    var capacity: Int
    var registered: Int
    var byEntity: [String: Int]
}

/// A page of audit entries with the log's totals.
struct AuditPage: Encodable, Sendable {
    var items: [AuditEntry]
    var total: Int
    var offset: Int
    var limit: Int
    var summary: AuditSummary
}

struct AuditSummary: Encodable, Sendable {
    var count: Int
    var capacity: Int
    var policy: String
    var bySeverity: [String: Int]
    var full: Bool
    var written: Int
    var overwritten: Int
    var refused: Int
    var lost: Int
    /// Warning or Critical entries are present (the dashboard's "Issues").
    var issues: Bool
}

struct AuditSettingsBody: Codable, Sendable {
    var capacity: Int
    var policy: AuditLog.Policy
}

/// `GET/PUT /settings/syslog` and `/settings/push`: the document, whether the secret is stored, the status.
struct ForwardingSettingsInfo<Settings: Codable & Sendable>: Encodable, Sendable {
    var version: Int
    var settings: Settings
    var secretStored: Bool
    var status: ForwarderStatus
}

struct ForwardingSettingsChange<Settings: Codable & Sendable>: Decodable, Sendable {
    var version: Int?
    var settings: Settings
    /// Absent keeps the stored secret; "" removes it.
    var secret: String?
}

struct ForwardingTest<Settings: Codable & Sendable>: Decodable, Sendable {
    var settings: Settings?
    var secret: String?
}

extension ManagementAPI {
    func registerEvents(_ routes: CatalogedRoutes) {
        let events = services.events
        routes.on(.get, "/events") { request, _ in
            let query = try Self.eventQuery(request)
            let all = events.ring.events(matching: query)
            let parameters = FormQuery(request)
            let offset = try Page<SecurityEvent>.integer(
                parameters["offset"], named: "offset", default: 0, range: 0...Int.max)
            let limit = try Page<SecurityEvent>.integer(
                parameters["limit"], named: "limit", default: 100, range: 1...10_000)
            return JSONResponse(
                EventPage(
                    items: Array(all.dropFirst(offset).prefix(limit)), total: all.count, offset: offset, limit: limit,
                    capacity: events.ring.capacity, registered: events.ring.totalCount,
                    byEntity: events.ring.countsByEntity()))
        }
        routes.on(.get, "/events/stream") { request, _ in
            let query = try Self.eventQuery(request)
            return Self.eventStream(bus: events.trail.bus, query: query)
        }
        routes.on(.get, "/components") { _, _ in
            JSONResponse(events.supervisor.components())
        }
        registerAudit(routes, events)
        registerForwarding(routes, "/settings/syslog", events.syslog)
        registerForwarding(routes, "/settings/push", events.push)
    }

    private func registerAudit(_ routes: CatalogedRoutes, _ events: EventServices) {
        let trail = events.trail
        routes.on(.get, "/audit") { request, _ in
            let parameters = FormQuery(request)
            var query = AuditQuery()
            query.severities = try Set(
                parameters[values: "severity"].map { text throws(APIError) in
                    guard let severity = Severity(rawValue: text) else {
                        throw APIError.badRequest(
                            "severity must be informational, warning or critical, not '\(text)'", field: "severity")
                    }
                    return severity
                })
            query.entities = Set(parameters[values: "entity"])
            query.since = try Self.periodStart(parameters["period"])
            if let since = try Self.date(parameters["since"], named: "since") { query.since = since }
            query.until = try Self.date(parameters["until"], named: "until")
            if let sort = parameters["sort"] {
                guard let order = AuditQuery.Order(rawValue: sort) else {
                    throw APIError.badRequest(
                        "sort must be one of \(AuditQuery.Order.allCases.map(\.rawValue).joined(separator: ", "))",
                        field: "sort")
                }
                query.order = order
            }
            query.offset = try Page<AuditEntry>.integer(
                parameters["offset"], named: "offset", default: 0, range: 0...Int.max)
            let limit = try Page<AuditEntry>.integer(
                parameters["limit"], named: "limit", default: 100, range: 1...10_000)
            query.limit = limit
            let found = try APIError.storing { try trail.log.entries(query) }
            return JSONResponse(
                AuditPage(
                    items: found.entries, total: found.total, offset: query.offset, limit: limit,
                    summary: try await Self.auditSummary(trail)))
        }
        routes.on(.get, "/audit/summary") { _, _ in
            JSONResponse(try await Self.auditSummary(trail))
        }
        routes.on(.get, "/audit/verify") { _, _ in
            JSONResponse(try APIError.storing { try trail.log.verify() })
        }
        routes.on(.post, "/audit/export") { _, context in
            let export = try await trail.export(actor: try context.requirePrincipal().actor, source: context.source)
            var headers = HTTPFields()
            headers[.contentType] = "text/csv; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"audit.csv\""
            headers[.rampartExported] = String(export.count)
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: export.csv)))
        }
        routes.on(.get, "/settings/audit") { _, _ in
            let settings = try APIError.storing { try trail.log.settings() }
            return JSONResponse(AuditSettingsBody(capacity: settings.capacity, policy: settings.policy))
        }
        routes.on(.put, "/settings/audit") { request, context in
            let body = try await request.decodeJSON(AuditSettingsBody.self, context: context)
            guard AuditLog.Settings.capacityRange.contains(body.capacity) else {
                throw APIError.invalid([
                    FieldError(
                        field: "capacity",
                        message: "the audit log holds \(AuditLog.Settings.capacityRange.lowerBound) to "
                            + "\(AuditLog.Settings.capacityRange.upperBound) entries, not \(body.capacity)")
                ])
            }
            try APIError.storing {
                try trail.log.update(AuditLog.Settings(capacity: body.capacity, policy: body.policy))
            }
            return JSONResponse(
                ChangeReport(version: 0, outcome: .applied("capacity \(body.capacity), policy \(body.policy.rawValue)"))
            )
        }
    }

    private func registerForwarding<Settings: ConfigurationDocument>(
        _ routes: CatalogedRoutes, _ path: String, _ endpoint: ForwardingEndpoint<Settings>
    ) {
        routes.on(.get, path) { _, _ in
            let stored = try endpoint.read()
            return JSONResponse(
                ForwardingSettingsInfo(
                    version: stored.settings.version, settings: stored.settings.document,
                    secretStored: stored.secretStored, status: await endpoint.status()))
        }
        routes.on(.put, path) { request, context in
            let body = try await request.decodeJSON(ForwardingSettingsChange<Settings>.self, context: context)
            return JSONResponse(
                try await endpoint.write(body.settings, secret: body.secret, expectedVersion: body.version))
        }
        routes.on(.post, path + "/test") { request, context in
            let body = try await request.decodeJSON(ForwardingTest<Settings>.self, context: context)
            return JSONResponse(try await endpoint.test(body.settings, secret: body.secret))
        }
    }

    static func auditSummary(_ trail: AuditTrail) async throws(APIError) -> AuditSummary {
        let totals = try APIError.storing { try trail.log.totals() }
        let bySeverity = Dictionary(uniqueKeysWithValues: totals.perSeverity.map { ($0.key.rawValue, $0.value) })
        return AuditSummary(
            count: totals.count, capacity: totals.capacity, policy: totals.policy.rawValue, bySeverity: bySeverity,
            full: totals.isFull, written: totals.written, overwritten: totals.overwritten,
            refused: totals.refused, lost: await trail.lostRecords,
            issues: (totals.perSeverity[.warning] ?? 0) + (totals.perSeverity[.critical] ?? 0) > 0)
    }

    private static func eventQuery(_ request: Request) throws(APIError) -> NetworkEventRing.Query {
        let parameters = FormQuery(request)
        var query = NetworkEventRing.Query()
        query.entities = Set(parameters[values: "entity"])
        query.types = Set(parameters[values: "type"])
        query.since = try date(parameters["since"], named: "since")
        query.until = try date(parameters["until"], named: "until")
        if let after = parameters["after"] {
            guard let value = UInt64(after) else {
                throw APIError.badRequest("after must be an event sequence number", field: "after")
            }
            query.after = value
        }
        if let sort = parameters["sort"] {
            guard let order = NetworkEventRing.Query.Order(rawValue: sort) else {
                let allowed = NetworkEventRing.Query.Order.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError.badRequest("sort must be one of \(allowed)", field: "sort")
            }
            query.order = order
        }
        return query
    }

    private static func date(_ text: String?, named name: String) throws(APIError) -> Date? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        throw APIError.badRequest("\(name) must be an RFC 3339 time such as 2026-11-21T09:30:00Z", field: name)
    }

    /// The audit page's period filter: all, day, week or month back from now.
    private static func periodStart(_ text: String?) throws(APIError) -> Date? {
        let day: TimeInterval = 86_400
        switch text {
        case nil, "all": return nil
        case "day": return Date(timeIntervalSinceNow: -day)
        case "week": return Date(timeIntervalSinceNow: -7 * day)
        case "month": return Date(timeIntervalSinceNow: -30 * day)
        case let other?:
            throw APIError.badRequest("period must be all, day, week or month, not '\(other)'", field: "period")
        }
    }

    /// Server-Sent Events: each new network event (or audit record, with `stream=audit`) as it is registered, with
    /// its sequence as the event id; a comment every 15 s keeps proxies from closing an idle stream.
    private static func eventStream(bus: EventBus, query: NetworkEventRing.Query) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let body = ResponseBody { writer in
            let events = bus.subscribe(name: "live view", capacity: 1000, streams: [.network])
            let (lines, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1000))
            let feeder = Task {
                for await event in events where query.matches(event) {
                    let json = String(decoding: EventJSON.encode(event), as: UTF8.self)
                    continuation.yield("id: \(event.sequence)\nevent: security-event\ndata: \(json)\n\n")
                }
                continuation.finish()
            }
            let heartbeat = Task {
                continuation.yield(": connected\n\n")
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    continuation.yield(": keep-alive\n\n")
                }
            }
            defer {
                feeder.cancel()
                heartbeat.cancel()
            }
            for await line in lines {
                try await writer.write(ByteBuffer(string: line))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
