import Events
import Store

/// What became of a change after it was saved: applied to the running system, or saved only (and why).
package struct ApplyOutcome: Sendable, Codable, Equatable {
    package var applied: Bool
    /// For the operator: what was done, or why it was not ("needs CAP_NET_ADMIN").
    package var detail: String

    package init(applied: Bool, detail: String) {
        self.applied = applied
        self.detail = detail
    }

    package static func applied(_ detail: String = "applied") -> ApplyOutcome {
        ApplyOutcome(applied: true, detail: detail)
    }

    package static func notApplied(_ reason: String) -> ApplyOutcome {
        ApplyOutcome(applied: false, detail: "saved, not applied: " + reason)
    }
}

/// Makes the running system match a configuration document (ARCHITECTURE: "The configuration in the store is the
/// single source of truth"). A change is validated, committed to the store, then handed to its reconciler; the API
/// answers with the outcome.
package protocol Reconciler<Document>: Sendable {
    associatedtype Document: ConfigurationDocument
    func apply(_ document: Document) async -> ApplyOutcome
}

/// The answer of every state-changing settings route: the saved version and what the reconciler did.
package struct ChangeReport: Sendable, Codable, Equatable {
    package var saved: Bool
    package var version: Int
    package var applied: Bool
    package var detail: String

    package init(version: Int, outcome: ApplyOutcome) {
        self.saved = true
        self.version = version
        self.applied = outcome.applied
        self.detail = outcome.detail
    }
}

/// Who changed what: the single place every state-changing request passes through. The audit trail implements it:
/// it may refuse a change before it is made (a full audit log under the "limited" policy) and records every change
/// afterwards, with its outcome.
package protocol ChangeRecorder: Sendable {
    /// Throws when the change must not be made at all.
    func admit(_ change: ChangeRecord) async throws(APIError)
    func record(_ change: ChangeRecord) async
}

extension ChangeRecorder {
    package func admit(_ change: ChangeRecord) async throws(APIError) {}
}

package struct ChangeRecord: Sendable {
    /// The user name, or `token:<name>` for an API token.
    package var actor: String
    package var source: String
    /// `METHOD /api/v1/…` as requested.
    package var action: String
    /// The HTTP status of the answer (0 before it is known).
    package var status: Int
    /// The route as the OpenAPI document names it (`PUT /settings/device`), when known.
    package var route: String?
    /// Why it failed, when it did.
    package var failure: String?
    /// What the route added (a firewall change's diff, one field per line).
    package var fields: [EventField] = []

    package init(
        actor: String, source: String, action: String, status: Int, route: String? = nil, failure: String? = nil
    ) {
        self.actor = actor
        self.source = source
        self.action = action
        self.status = status
        self.route = route
        self.failure = failure
    }

    /// What the API calls the operation ("Save the device name"), or the request line.
    package var title: String {
        guard let route else { return action }
        let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return action }
        let path =
            parts[1].hasPrefix(ManagementAPI.prefix) ? String(parts[1].dropFirst(ManagementAPI.prefix.count)) : parts[1]
        return OpenAPIDocument.summary(method: parts[0], path: path) ?? action
    }
}
