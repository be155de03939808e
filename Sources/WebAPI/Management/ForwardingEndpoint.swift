import Events
import Foundation
import RampartModel
import Store

extension SyslogSettings: ConfigurationDocument {
    package static let documentName = "syslog"
    package static var initial: SyslogSettings { .defaults }
}

extension PushSettings: ConfigurationDocument {
    package static let documentName = "push"
    package static var initial: PushSettings { .defaults }
}

/// The outcome of a forwarder's "test" button: one message sent now, and what became of it.
package struct TestOutcome: Sendable, Codable, Equatable {
    package var delivered: Bool
    package var detail: String

    package init(delivered: Bool, detail: String) {
        self.delivered = delivered
        self.detail = detail
    }
}

/// A forwarder as the management plane drives it: configured from its settings document and its sealed secret
/// (the syslog client key, the push credentials).
package protocol ForwarderControl<Settings>: Sendable {
    associatedtype Settings: ConfigurationDocument
    /// Validation that needs more than the document (addresses, certificates, credentials).
    func validate(_ settings: Settings, secret: String?) -> [FieldError]
    func apply(_ settings: Settings, secret: String?) async -> ApplyOutcome
    func test(_ settings: Settings, secret: String?) async -> TestOutcome
    func status() async -> ForwarderStatus
}

/// A forwarder's settings: document + sealed secret, validated, saved, applied; and its test and status.
package struct ForwardingEndpoint<Settings: ConfigurationDocument>: Sendable {
    let store: GatewayStore
    let secretName: String
    let validateDocument: @Sendable (Settings) -> [FieldError]
    let control: any ForwarderControl<Settings>

    package init(
        store: GatewayStore, secretName: String, validate: @escaping @Sendable (Settings) -> [FieldError],
        control: any ForwarderControl<Settings>
    ) {
        self.store = store
        self.secretName = secretName
        self.validateDocument = validate
        self.control = control
    }

    package func read() throws(APIError) -> (settings: Versioned<Settings>, secretStored: Bool) {
        try APIError.storing { (try store.document(Settings.self), try store.secret(named: secretName) != nil) }
    }

    private func storedSecret() throws(APIError) -> String? {
        try APIError.storing { try store.secret(named: secretName).map { String(decoding: $0, as: UTF8.self) } }
    }

    /// The secret a request means: absent keeps the stored one, empty removes it.
    private func effectiveSecret(_ presented: String?) throws(APIError) -> String? {
        guard let presented else { return try storedSecret() }
        return presented.isEmpty ? nil : presented
    }

    package func validate(_ settings: Settings, secret: String?) -> [FieldError] {
        validateDocument(settings) + control.validate(settings, secret: secret)
    }

    /// - Parameters:
    ///   - secret: nil keeps the stored secret, "" removes it, anything else replaces it (sealed in the store).
    ///   - expectedVersion: the version the client read; nil to overwrite.
    package func write(_ settings: Settings, secret presented: String?, expectedVersion: Int?) async throws(APIError)
        -> ChangeReport
    {
        let secret = try effectiveSecret(presented)
        let errors = validate(settings, secret: secret)
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        let saved = try store.saveForAPI(settings, expectedVersion: expectedVersion)
        if let presented {
            try APIError.storing {
                if presented.isEmpty {
                    _ = try store.removeSecret(named: secretName)
                } else {
                    try store.setSecret(Array(presented.utf8), named: secretName)
                }
            }
        }
        return ChangeReport(version: saved.version, outcome: await control.apply(settings, secret: secret))
    }

    /// Sends one test message with `settings` (the form's, not necessarily saved) or the saved ones.
    package func test(_ given: Settings?, secret presented: String?) async throws(APIError) -> TestOutcome {
        let secret = try effectiveSecret(presented)
        let settings: Settings
        if let given { settings = given } else { settings = try read().settings.document }
        let errors = validate(settings, secret: secret)
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        return await control.test(settings, secret: secret)
    }

    /// Applies what is stored (at start-up).
    package func reconcileStored() async -> ApplyOutcome {
        do {
            let stored = try store.document(Settings.self)
            return await control.apply(stored.document, secret: try storedSecret())
        } catch {
            return .notApplied("the stored settings cannot be read: \(error)")
        }
    }

    package func status() async -> ForwarderStatus { await control.status() }
}
