import BrokerConfig
import BrokerCore
import Foundation
import WebAPI

/// The broker's profile library and runtime as the management plane sees them.
actor BrokerProfileAdapter: BrokerProfileService {
    private let runtime: BrokerRuntime
    private let statistics: BrokerStatistics
    private var lastSample: (time: ContinuousClock.Instant, received: Int)?
    private var rate: Double = 0

    init(runtime: BrokerRuntime, statistics: BrokerStatistics) {
        self.runtime = runtime
        self.statistics = statistics
    }

    private var library: BrokerProfileLibrary { runtime.library }

    func profiles() async throws -> [BrokerProfileInfo] {
        try mapped {
            try library.list().map {
                BrokerProfileInfo(
                    name: $0.name, active: $0.isActive, readOnly: $0.isReadOnly, modified: $0.modified, files: $0.files)
            }
        }
    }

    func templates() async -> [String] {
        ((try? library.list()) ?? []).map(\.name)
    }

    func create(_ name: String, template: String?) async throws {
        try mapped { try library.create(name, from: template) }
    }

    func read(_ file: String, of profile: String) async throws -> Data {
        try mapped { try library.read(file, of: profile) }
    }

    func write(_ contents: Data, as file: String, in profile: String) async throws -> [LineDiagnostic] {
        try mapped { try library.write(contents, as: file, in: profile) }
        return try await validate(profile)
    }

    func remove(_ file: String, from profile: String) async throws {
        try mapped { try library.remove(file, from: profile) }
    }

    func validate(_ profile: String) async throws -> [LineDiagnostic] {
        let folder = library.directory(of: profile) + "/"
        return try mapped {
            try library.validate(profile).diagnostics.map {
                LineDiagnostic(
                    severity: $0.severity.rawValue,
                    file: $0.file.hasPrefix(folder) ? String($0.file.dropFirst(folder.count)) : $0.file,
                    line: $0.line, message: $0.message)
            }
        }
    }

    func activate(_ profile: String) async throws -> ApplyOutcome {
        let diagnostics = try await validate(profile)
        let errors = diagnostics.filter { $0.severity == "error" }
        guard errors.isEmpty else {
            throw APIError(
                status: .unprocessableContent, code: "invalid_profile",
                message: "the profile does not validate: "
                    + errors.map { "\($0.file):\($0.line): \($0.message)" }.joined(separator: "; "),
                details: errors.map { .init(field: "\($0.file):\($0.line)", message: $0.message) })
        }
        let status: ProfileStatus
        do { status = try await runtime.activate(profile) } catch {
            throw APIError(status: .unprocessableContent, code: "invalid_profile", message: "\(error)")
        }
        switch status {
        case .configured: return .applied("the broker runs profile '\(profile)'")
        case .misconfigured(let problems), .cannotReachNetwork(let problems):
            return ApplyOutcome(
                applied: false, detail: "active, but " + problems.joined(separator: "; "))
        }
    }

    func delete(_ profile: String) async throws {
        let wasActive = library.active() == profile
        try mapped { try library.delete(profile) }
        if wasActive { await runtime.deactivate() }
    }

    func state() async -> BrokerState {
        let now = ContinuousClock.now
        let received = statistics.messagesReceived.load(ordering: .relaxed)
        if let lastSample, now - lastSample.time >= .seconds(1) {
            let elapsed = now - lastSample.time
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            rate = Double(received - lastSample.received) / seconds
            self.lastSample = (now, received)
        } else if lastSample == nil {
            lastSample = (now, received)
        }
        let active = library.active()
        let (status, problems) = await status(of: active)
        return BrokerState(
            status: status, activeProfile: active, problems: problems,
            clientsConnected: statistics.clientsConnected.load(ordering: .relaxed), messagesPerSecond: rate)
    }

    /// The dashboard's state of the active profile and the problems behind it.
    private func status(of active: String?) async -> (String, [String]) {
        guard let active else { return ("off", []) }
        // The running broker keeps its last good configuration; a profile edited into an invalid state is reported
        // as misconfigured at once, so the operator sees it before a restart or reload would fail.
        let errors = ((try? await validate(active)) ?? []).filter { $0.severity == "error" }
        if !errors.isEmpty { return ("misconfigured", errors.map { "\($0.file):\($0.line): \($0.message)" }) }
        switch await runtime.status {
        case .configured: return ("configured", [])
        case .misconfigured(let problems): return ("misconfigured", problems)
        case .cannotReachNetwork(let problems): return ("cannot_bind", problems)
        }
    }

    /// The library's failures become 400s with their text ("profile \"x\" does not exist" → 404).
    private func mapped<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let failure as BrokerProfileLibrary.Failure {
            let text = failure.description
            if text.contains("does not exist") || text.contains("has no file") {
                throw APIError(status: .notFound, code: "not_found", message: text)
            }
            if text.contains("read-only") { throw APIError(status: .forbidden, code: "read_only", message: text) }
            if text.contains("already exists") { throw APIError.conflict(text) }
            throw APIError(status: .badRequest, code: "bad_request", message: text)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(status: .badRequest, code: "bad_request", message: "\(error)")
        }
    }
}
