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

/// Who changed what: the single place every state-changing request passes through (the audit log of the next
/// milestone subscribes here).
package protocol ChangeRecorder: Sendable {
    func record(_ change: ChangeRecord) async
}

package struct ChangeRecord: Sendable {
    /// The user name, or `token:<name>` for an API token.
    package var actor: String
    package var source: String
    package var action: String
    package var status: Int
}
