import BrokerConfig
import BrokerCore
import BrokerServer
import Events
import Logging
import WebAPI

/// The gateway's broker driven by profiles: activating a profile validates it, then applies it to the running
/// broker — unchanged listeners keep their connections, changed ones restart, security rules apply to connected
/// clients at their next operation. An invalid profile never becomes active.
package actor BrokerRuntime {
    package let library: BrokerProfileLibrary
    private let broker: Broker
    private let server: MQTTServer
    private let logger: Logger
    private let events: EventsPlane
    private let securityEvents: BrokerSecurityEvents
    let notifications: MQTTNotifications
    package private(set) var status: ProfileStatus = .configured {
        didSet { reportState() }
    }

    init(library: BrokerProfileLibrary, broker: Broker, server: MQTTServer, events: EventsPlane, logger: Logger) {
        self.library = library
        self.broker = broker
        self.server = server
        self.logger = logger
        self.events = events
        self.securityEvents = BrokerSecurityEvents(bus: events.bus, logger: logger)
        self.notifications = MQTTNotifications(broker: broker)
        broker.authenticationObserver.replace(with: securityEvents)
    }

    /// The inspection observer profiles are activated with: refusals become security events.
    nonisolated var inspectionObserver: any InspectionObserver { securityEvents }

    /// The broker's component state follows its profile status.
    private func reportState() {
        switch status {
        case .configured:
            events.supervisor.report(
                EventEntity.broker, .running, detail: library.active().map { "profile \($0)" } ?? "")
        case .misconfigured(let problems):
            events.supervisor.report(EventEntity.broker, .failed, detail: problems.joined(separator: "; "))
        case .cannotReachNetwork(let problems):
            events.supervisor.report(EventEntity.broker, .degraded, detail: problems.joined(separator: "; "))
        }
    }

    /// Applies the `kos_*` settings of the profile now active.
    func useNotifications(of assembly: BrokerAssembly?) {
        notifications.update(assembly?.notifications ?? NotificationTopics.defaults)
    }

    /// The broker settings and listeners of a profile, validated; throws with the diagnostics when it does not
    /// validate.
    static func prepare(_ profile: String, in library: BrokerProfileLibrary) throws -> BrokerAssembly {
        let result = try library.validate(profile)
        guard let configuration = result.configuration else {
            throw BrokerProfileLibrary.Failure(
                description: result.errors.map(\.description).joined(separator: "\n")
            )
        }
        do {
            return try BrokerAssembly.make(
                from: configuration,
                extraPort: nil,
                workingDirectory: library.directory(of: profile),
                inspectionDirectory: library.directory(of: profile)
            )
        } catch {
            throw BrokerProfileLibrary.Failure(description: "\(error)")
        }
    }

    /// Validates `profile`, applies it, and records it as active.
    /// - Returns: the resulting status (`cannotReachNetwork` when a listener does not bind).
    /// - Throws: when the profile does not validate; then nothing changes.
    @discardableResult
    package func activate(_ profile: String) async throws -> ProfileStatus {
        let assembly: BrokerAssembly
        do {
            assembly = try Self.prepare(profile, in: library)
        } catch {
            logger.error("profile not activated", metadata: ["profile": "\(profile)", "error": "\(error)"])
            let title = "Broker profile '\(profile)' was not activated"
            let fields = [
                EventField(EventField.profile, profile),
                EventField(EventField.detail, "\(error)".split(separator: "\n").prefix(5).joined(separator: "; ")),
            ]
            events.trail.network(
                SecurityEvent(
                    stream: .network, severity: .warning, entity: EventEntity.broker, type: "ProfileActivationFailed",
                    title: title, fields: fields))
            await events.trail.audit(
                SecurityEvent(
                    stream: .audit, severity: .warning, entity: EventEntity.broker, type: "ProfileActivationFailed",
                    title: title, fields: fields))
            throw error
        }
        broker.update(configuration: assembly.broker)
        broker.update(inspection: assembly.messageInspection(for: broker, observer: securityEvents))
        useNotifications(of: assembly)
        let states = try await server.reconfigure(assembly.listeners)
        try library.setActive(profile)
        status = Self.status(of: states)
        logger.notice("profile active", metadata: ["profile": "\(profile)", "status": "\(status)"])
        return status
    }

    /// SIGHUP: applies the active profile again (or turns the broker off when no profile is active).
    package func reloadActive() async {
        guard let profile = library.active() else {
            await deactivate()
            return
        }
        do {
            try await activate(profile)
        } catch {
            status = .misconfigured("\(error)".split(separator: "\n").map(String.init))
        }
    }

    /// No profile left: the broker stops listening; the rest of the gateway runs on.
    package func deactivate() async {
        _ = try? await server.reconfigure([])
        try? library.setActive(nil)
        events.supervisor.report(EventEntity.broker, .disabled, detail: "no broker profile active")
        logger.notice("no broker profile active: the MQTT broker is off")
    }

    /// Records the outcome of the start-up activation, done before the server ran.
    package func started(with states: [MQTTServer.ListenerState]) {
        status = Self.status(of: states)
    }

    /// Records that the profile active at start did not validate: the broker is off.
    func startedMisconfigured(_ problems: [String]) {
        status = .misconfigured(problems)
    }

    /// Records that no profile was active at start.
    func startedWithoutProfile() {
        events.supervisor.report(EventEntity.broker, .disabled, detail: "no broker profile active")
    }

    private static func status(of states: [MQTTServer.ListenerState]) -> ProfileStatus {
        let failures = states.compactMap { state -> String? in
            if case .failed(let reason) = state { return reason }
            return nil
        }
        return failures.isEmpty ? .configured : .cannotReachNetwork(failures)
    }
}
