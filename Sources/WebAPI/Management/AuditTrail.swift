import Events
import Foundation
import HTTPTypes
import Logging
import Store

/// What components use to register security events: network events go to the event bus; audit records are
/// written to the audit log first and then published, so that a full queue can never lose one.
package protocol SecurityEventReporting: Sendable {
    func network(_ event: SecurityEvent)
    /// - Returns: false when the audit log refused the record (it is full under the "limited" policy).
    @discardableResult
    func audit(_ event: SecurityEvent) async -> Bool
}

/// The audit trail (SPEC EVT-2): the persistent, hash-chained audit log, the change recorder every state-changing
/// request passes through, and the event bus the records are published on.
///
/// Under the "limited" policy a full log refuses every further change until it is exported, and the audit component
/// turns Critical; records that could not be written meanwhile (log-ins, component states) are counted as lost.
package actor AuditTrail: ChangeRecorder, SecurityEventReporting {
    package nonisolated let log: AuditLog
    package nonisolated let bus: EventBus
    private let supervisor: ComponentSupervisor
    private let logger: Logger
    /// Records that could not be written because the log was full, since the last export.
    private var lost = 0

    package init(log: AuditLog, bus: EventBus, supervisor: ComponentSupervisor, logger: Logger) {
        self.log = log
        self.bus = bus
        self.supervisor = supervisor
        self.logger = logger
    }

    package nonisolated func network(_ event: SecurityEvent) {
        var event = event
        event.stream = .network
        bus.publish(event)
    }

    @discardableResult
    package func audit(_ event: SecurityEvent) async -> Bool {
        var event = event
        event.stream = .audit
        do {
            let entry = try log.append(event)
            bus.publish(entry.event)
            return true
        } catch let error as AuditLogError {
            if case .full = error {
                lost += 1
                supervisor.report(
                    EventEntity.audit, .failed,
                    detail: "\(error) \(lost) record(s) could not be written; changes are refused until it is exported")
            } else {
                supervisor.report(EventEntity.audit, .failed, detail: "\(error)")
            }
            logger.error("audit record not written", metadata: ["error": "\(error)", "title": "\(event.title)"])
            return false
        } catch {
            supervisor.report(EventEntity.audit, .failed, detail: "the audit log cannot be written: \(error)")
            logger.error("audit record not written", metadata: ["error": "\(error)", "title": "\(event.title)"])
            return false
        }
    }

    /// `PUT /api/v1/settings/device` → `PUT /settings/device`.
    private static func apiRoute(_ route: String) -> String {
        route.replacingOccurrences(of: " " + ManagementAPI.prefix, with: " ")
    }

    /// Routes that stay open when the log is full: what the operator needs to export it.
    private static let openWhenFull: Set<String> = [
        "POST /audit/export", "DELETE /session", "POST /session",
    ]

    package func admit(_ change: ChangeRecord) async throws(APIError) {
        guard log.refusesAppends else { return }
        if let route = change.route, Self.openWhenFull.contains(Self.apiRoute(route)) { return }
        throw APIError(
            status: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), code: "audit_full",
            message:
                "the audit log is full and its policy is 'limited': no change is accepted until the audit log is "
                + "downloaded (Audit → Download all, or POST /api/v1/audit/export), which empties it")
    }

    /// Requests whose own audit record says more than the generic one (`export` writes `AuditExported`).
    private static let auditedByThemselves: Set<String> = ["POST /audit/export"]

    package func record(_ change: ChangeRecord) async {
        if let route = change.route, Self.auditedByThemselves.contains(Self.apiRoute(route)) { return }
        let succeeded = (200..<400).contains(change.status)
        var fields = [
            EventField(EventField.user, change.actor), EventField(EventField.sourceAddress, change.source),
            EventField(EventField.action, change.action), EventField(EventField.status, String(change.status)),
        ]
        if let failure = change.failure { fields.append(EventField(EventField.detail, failure)) }
        fields += change.fields
        await audit(
            SecurityEvent(
                stream: .audit, severity: succeeded ? .informational : .warning, entity: EventEntity.management,
                type: succeeded ? "ConfigurationChange" : "ChangeRefused",
                title: succeeded ? change.title : "Refused: \(change.title)", fields: fields))
    }

    /// Exports every entry as `audit.csv` and deletes exactly those, in one transaction; entries written meanwhile
    /// stay.
    ///
    /// The export is itself audited: its record is written first, so it is the last line of the file it describes
    /// (and is forwarded like any record). When the log is full under the "limited" policy that record cannot be
    /// written first; it is then the first entry after the export.
    package func export(actor: String, source: String) throws(APIError) -> (csv: String, count: Int) {
        let lostBefore = lost
        var fields = [EventField(EventField.user, actor), EventField(EventField.sourceAddress, source)]
        if lostBefore > 0 { fields.append(EventField("lost", String(lostBefore))) }
        let record = SecurityEvent(
            stream: .audit, severity: lostBefore > 0 ? .warning : .informational, entity: EventEntity.audit,
            type: "AuditExported",
            title: lostBefore > 0
                ? "Audit log downloaded; \(lostBefore) record(s) were lost while it was full"
                : "Audit log downloaded",
            fields: fields)
        let recordedFirst =
            (try? log.append(record)).map { entry in
                bus.publish(entry.event)
                return true
            } ?? false
        let result: (output: String, exported: Int)
        do {
            result = try log.export { AuditCSV.render($0) }
        } catch {
            throw APIError(
                status: .internalServerError, code: "store", message: "the audit log export failed: \(error)")
        }
        lost = 0
        supervisor.report(EventEntity.audit, .running, detail: "")
        if !recordedFirst, let entry = try? log.append(record) { bus.publish(entry.event) }
        return (result.output, result.exported)
    }

    /// Records lost since the last export because the log was full.
    package var lostRecords: Int { lost }
}
