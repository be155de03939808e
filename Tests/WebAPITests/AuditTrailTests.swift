import Events
import Foundation
import Store
import Testing

@testable import WebAPI

@Suite("Audit trail")
struct AuditTrailTests {
    private func change(_ route: String, status: Int = 200) -> ChangeRecord {
        let parts = route.split(separator: " ", maxSplits: 1)
        return ChangeRecord(
            actor: "admin", source: "192.0.2.50", action: "\(parts[0]) /api/v1\(parts[1])", status: status,
            route: "\(parts[0]) /api/v1\(parts[1])", failure: status >= 400 ? "bad" : nil)
    }

    @Test("a change is audited with the API's name for it, its user and source, and published")
    func changesAreAuditedAndPublished() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let trail = plane.services.events.trail
        let published = plane.bus.subscribe(name: "test", capacity: 10, streams: [.audit])
        await trail.record(change("PUT /settings/device"))
        await trail.record(change("PUT /settings/network", status: 422))

        let (entries, total) = try trail.log.entries(AuditQuery(order: .oldestFirst))
        #expect(total == 2)
        #expect(entries[0].event.title == "Save the device name")
        #expect(entries[0].event.severity == .informational)
        #expect(entries[0].event.field(EventField.user) == "admin")
        #expect(entries[0].event.field(EventField.sourceAddress) == "192.0.2.50")
        #expect(entries[1].event.type == "ChangeRefused")
        #expect(entries[1].event.severity == .warning)
        #expect(entries[1].event.field(EventField.detail) == "bad")
        plane.bus.finish()
        var sequences: [UInt64] = []
        for await event in published { sequences.append(event.sequence) }
        #expect(sequences == entries.map(\.sequence))
        #expect(try trail.log.verify().intact)
    }

    @Test("a full log under the limited policy refuses changes but not its own export, which empties it")
    func limitedPolicyRefusesUntilExported() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let trail = plane.services.events.trail
        try trail.log.update(AuditLog.Settings(capacity: 3, policy: .limited))
        for _ in 0..<3 { await trail.record(change("PUT /settings/device")) }
        #expect(trail.log.isFull)

        var refusal: APIError?
        do { try await trail.admit(change("PUT /settings/device")) } catch { refusal = error }
        #expect(refusal?.code == "audit_full")
        #expect(refusal?.status.code == 507)
        // A record that cannot be written is counted, not silently lost.
        #expect(
            await trail.audit(SecurityEvent(stream: .audit, severity: .critical, entity: "x", type: "y", title: "z"))
                == false)
        #expect(await trail.lostRecords == 1)
        try await trail.admit(change("POST /audit/export"))

        let export = try await trail.export(actor: "admin", source: "192.0.2.50")
        #expect(export.count == 3)
        #expect(export.csv.hasPrefix(AuditCSV.header + "\r\n"))
        // The export's own record could not go first (the log was full): it is the first entry after it.
        let (left, _) = try trail.log.entries(AuditQuery())
        #expect(left.map(\.event.type) == ["AuditExported"])
        #expect(left[0].event.field("lost") == "1")
        #expect(await trail.lostRecords == 0)
        try await trail.admit(change("PUT /settings/device"))
        #expect(try trail.log.verify().intact)
    }

    @Test("a full log under the circular policy refuses nothing")
    func circularPolicyNeverRefuses() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let trail = plane.services.events.trail
        try trail.log.update(AuditLog.Settings(capacity: 2, policy: .circular))
        for _ in 0..<3 { await trail.record(change("PUT /settings/device")) }
        #expect(trail.log.isFull)
        #expect(!trail.log.refusesAppends)
        try await trail.admit(change("PUT /settings/device"))
    }

    @Test("an export's own record is the last line of the file it describes")
    func exportRecordsItselfFirst() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let trail = plane.services.events.trail
        await trail.record(change("PUT /settings/device"))
        let export = try await trail.export(actor: "admin", source: "192.0.2.50")
        #expect(export.count == 2)
        let lines = export.csv.split(separator: "\r\n")
        #expect(lines.last?.contains("AuditExported") == true)
        #expect(try trail.log.entries(AuditQuery()).total == 0)
        // The generic change record of the export request is not written twice.
        await trail.record(change("POST /audit/export"))
        #expect(try trail.log.entries(AuditQuery()).total == 0)
    }
}
