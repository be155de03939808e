import Foundation

/// One line diagnostic of a configuration file, as the editor shows it beside the line.
package struct LineDiagnostic: Codable, Sendable, Hashable {
    package var severity: String
    package var file: String
    package var line: Int
    package var message: String

    package init(severity: String, file: String, line: Int, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.message = message
    }
}

/// A broker profile as the profiles table lists it.
package struct BrokerProfileInfo: Codable, Sendable, Hashable {
    package var name: String
    package var active: Bool
    package var readOnly: Bool
    package var modified: Date
    package var files: [String]

    package init(name: String, active: Bool, readOnly: Bool, modified: Date, files: [String]) {
        self.name = name
        self.active = active
        self.readOnly = readOnly
        self.modified = modified
        self.files = files
    }
}

/// The broker's state for the dashboard.
package struct BrokerState: Codable, Sendable, Hashable {
    /// `configured`, `misconfigured`, `cannot_bind` or `off`.
    package var status: String
    package var activeProfile: String?
    /// Diagnostics or bind errors behind a state other than `configured`.
    package var problems: [String]
    package var clientsConnected: Int
    package var messagesPerSecond: Double

    package init(
        status: String, activeProfile: String?, problems: [String], clientsConnected: Int, messagesPerSecond: Double
    ) {
        self.status = status
        self.activeProfile = activeProfile
        self.problems = problems
        self.clientsConnected = clientsConnected
        self.messagesPerSecond = messagesPerSecond
    }
}

/// The MQTT broker's profiles as the management plane edits them. Implemented by the application over the broker's
/// profile library and runtime, so that this adapter does not depend on the broker's.
///
/// Methods throw `APIError` with the reason for the operator (unknown profile, read-only profile, bad file name …).
package protocol BrokerProfileService: Sendable {
    func profiles() async throws -> [BrokerProfileInfo]
    func templates() async -> [String]
    func create(_ name: String, template: String?) async throws
    func read(_ file: String, of profile: String) async throws -> Data
    /// Saves the file and returns the profile's diagnostics after the change (the file is saved even when they
    /// contain errors: the editor keeps the operator's work; activation refuses an invalid profile).
    func write(_ contents: Data, as file: String, in profile: String) async throws -> [LineDiagnostic]
    func remove(_ file: String, from profile: String) async throws
    func validate(_ profile: String) async throws -> [LineDiagnostic]
    /// Validates and applies; refuses an invalid profile with its diagnostics.
    func activate(_ profile: String) async throws -> ApplyOutcome
    func delete(_ profile: String) async throws
    func state() async -> BrokerState
}
