import BrokerConfig
import BrokerCore
import BrokerServer
import Logging

/// The gateway's broker driven by profiles: activating a profile validates it, then applies it to the running
/// broker — unchanged listeners keep their connections, changed ones restart, security rules apply to connected
/// clients at their next operation. An invalid profile never becomes active.
package actor BrokerRuntime {
    package let library: BrokerProfileLibrary
    private let broker: Broker
    private let server: MQTTServer
    private let logger: Logger
    package private(set) var status: ProfileStatus = .configured

    package init(library: BrokerProfileLibrary, broker: Broker, server: MQTTServer, logger: Logger) {
        self.library = library
        self.broker = broker
        self.server = server
        self.logger = logger
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
            throw error
        }
        broker.update(configuration: assembly.broker)
        broker.update(
            inspection: assembly.messageInspection(for: broker, observer: LoggingInspectionObserver(logger: logger)))
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
        logger.notice("no broker profile active: the MQTT broker is off")
    }

    /// Records the outcome of the start-up activation, done before the server ran.
    package func started(with states: [MQTTServer.ListenerState]) {
        status = Self.status(of: states)
    }

    private static func status(of states: [MQTTServer.ListenerState]) -> ProfileStatus {
        let failures = states.compactMap { state -> String? in
            if case .failed(let reason) = state { return reason }
            return nil
        }
        return failures.isEmpty ? .configured : .cannotReachNetwork(failures)
    }
}
