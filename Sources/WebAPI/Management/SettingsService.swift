import Foundation
import RampartModel
import Store

extension NetworkSettings: ConfigurationDocument {
    package static let documentName = "network"
    package static var initial: NetworkSettings { .defaults }
}

extension CentralServerSettings: ConfigurationDocument {
    package static let documentName = "central-server"
    package static var initial: CentralServerSettings { .defaults }
}

extension DeviceSettings: ConfigurationDocument {
    package static let documentName = "device"
    package static var initial: DeviceSettings { .defaults }
}

/// The clock setting an operator asked for last (kept so that "saved, not applied" has something saved).
package struct ClockRequest: ConfigurationDocument {
    package static let documentName = "clock"
    package static let initial = ClockRequest(requested: nil, requestedAt: nil)
    package var requested: Date?
    package var requestedAt: Date?
}

extension GatewayStore {
    /// Saves a settings document for an API request: a version saved meanwhile by someone else is a 409 the client
    /// can act on, any other failure a 500 naming it.
    /// - Parameter expectedVersion: the version the client read; nil to overwrite whatever is stored.
    func saveForAPI<Document: ConfigurationDocument>(_ document: Document, expectedVersion: Int?) throws(APIError)
        -> Versioned<Document>
    {
        do {
            let version = try expectedVersion ?? self.document(Document.self).version
            return try save(document, expectedVersion: version)
        } catch let error as StoreError {
            if case .versionConflict = error {
                throw APIError.conflict("\(error) Reload the settings and apply your change again.")
            }
            throw .store(error)
        } catch {
            throw .store(error)
        }
    }
}

/// Reconciles nothing: for documents whose consumers read them when they need them (device name, central server
/// address until the fleet agent exists).
package struct SavedOnly<Document: ConfigurationDocument>: Reconciler {
    let detail: String
    package init(detail: String) { self.detail = detail }
    package func apply(_ document: Document) async -> ApplyOutcome { .applied(detail) }
}

/// One settings document: validate, save (optimistic concurrency), reconcile.
package struct SettingsEndpoint<Document: ConfigurationDocument>: Sendable {
    let store: GatewayStore
    let validate: @Sendable (Document) -> [FieldError]
    let reconciler: any Reconciler<Document>

    package init(
        store: GatewayStore, validate: @escaping @Sendable (Document) -> [FieldError],
        reconciler: any Reconciler<Document>
    ) {
        self.store = store
        self.validate = validate
        self.reconciler = reconciler
    }

    package func read() throws(APIError) -> Versioned<Document> {
        try APIError.storing { try store.document(Document.self) }
    }

    /// - Parameter expectedVersion: the version the client read; nil to overwrite whatever is stored.
    package func write(_ document: Document, expectedVersion: Int?) async throws(APIError) -> ChangeReport {
        let errors = validate(document)
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        let saved = try store.saveForAPI(document, expectedVersion: expectedVersion)
        return ChangeReport(version: saved.version, outcome: await reconciler.apply(document))
    }

    /// Applies what is stored (at start-up).
    package func reconcileStored() async -> ApplyOutcome {
        guard let stored = try? store.document(Document.self), stored.version > 0 else {
            return .applied("embedded defaults")
        }
        return await reconciler.apply(stored.document)
    }
}
