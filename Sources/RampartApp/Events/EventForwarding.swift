import Events
import Forwarders
import Foundation
import Logging
import NIOCore
import NIOSSL
import RampartModel
import ServiceLifecycle
import Store
import Synchronization
import WebAPI

/// The subscribers that send events out of the gateway: syslog (EVT-3), push notifications (EVT-5) and MQTT
/// notifications (EVT-4). Each has its own subscription to the bus, made before anything is published, so that
/// none misses the start-up records and a slow one loses only its own overflow.
final class EventForwarding: Sendable {
    let syslog: SyslogForwarding
    let push: PushForwarding
    private let notifications: MQTTNotifications
    private let events: EventsPlane
    private let subscriptions: Subscriptions

    private struct Subscriptions: Sendable {
        var syslog: AsyncStream<SecurityEvent>
        var push: AsyncStream<SecurityEvent>
        var notifications: AsyncStream<SecurityEvent>
    }

    init(events: EventsPlane, notifications: MQTTNotifications, group: any EventLoopGroup, logger: Logger) {
        self.events = events
        self.notifications = notifications
        self.syslog = SyslogForwarding(events: events, group: group, logger: logger)
        self.push = PushForwarding(events: events, logger: logger)
        self.subscriptions = Subscriptions(
            syslog: events.bus.subscribe(name: "syslog", capacity: 10_000),
            push: events.bus.subscribe(name: "push", capacity: 10_000),
            notifications: events.bus.subscribe(name: "mqtt notifications", capacity: 10_000))
    }

    func syslogEndpoint(store: GatewayStore) -> ForwardingEndpoint<SyslogSettings> {
        ForwardingEndpoint(
            store: store, secretName: "syslog/client-key", validate: { $0.validate() }, control: syslog)
    }

    func pushEndpoint(store: GatewayStore) -> ForwardingEndpoint<PushSettings> {
        ForwardingEndpoint(store: store, secretName: "push/credentials", validate: { $0.validate() }, control: push)
    }

    /// The consumers for `EventsPlane.run`: each ends when the bus finishes, after flushing what it holds.
    var consumers: [@Sendable () async -> Void] {
        let subscriptions = self.subscriptions
        return [
            { [syslog] in
                for await event in subscriptions.syslog { syslog.forward(event) }
                await syslog.shutdown()
            },
            { [push] in
                for await event in subscriptions.push { await push.forward(event) }
                await push.shutdown()
            },
            { [notifications] in await notifications.consume(subscriptions.notifications) },
        ]
    }

    /// Reports each forwarder's state every second, until cancelled.
    func watch() async {
        while !Task.isCancelled {
            let supervisor = events.supervisor
            let syslogState = await syslog.componentState()
            supervisor.report(EventEntity.syslog, syslogState.0, detail: syslogState.1)
            let pushState = await push.componentState()
            supervisor.report(EventEntity.push, pushState.0, detail: pushState.1)
            let topics = notifications.current
            if topics.audit == nil && topics.event == nil {
                supervisor.report(EventEntity.mqttNotifications, .disabled, detail: "kos_audit and kos_event are off")
            } else {
                let parts = [topics.audit.map { "audit → \($0)" }, topics.event.map { "events → \($0)" }]
                supervisor.report(
                    EventEntity.mqttNotifications, .running, detail: parts.compactMap { $0 }.joined(separator: "; "))
            }
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
        }
    }
}

/// Runs the events plane and its forwarders as one service of the gateway.
struct EventsService: Service {
    let plane: EventsPlane
    let forwarding: EventForwarding

    func run() async throws {
        await plane.run(consumers: forwarding.consumers, watchers: [{ [forwarding] in await forwarding.watch() }])
    }
}

// MARK: - Syslog

/// Syslog forwarding as the management plane drives it: one sender for the settings in force, replaced when they
/// change.
final class SyslogForwarding: ForwarderControl, Sendable {
    private struct Current: Sendable {
        var settings: SyslogSettings = .defaults
        var sender: SyslogSender?
        var formatter: SyslogFormatter
        var cef: CEFFormatter
        var sequence = 0
    }

    private let state: Mutex<Current>
    private let events: EventsPlane
    private let group: any EventLoopGroup
    private let logger: Logger

    init(events: EventsPlane, group: any EventLoopGroup, logger: Logger) {
        self.events = events
        self.group = group
        self.logger = logger
        let host = ProcessInfo.processInfo.hostName
        self.state = Mutex(
            Current(
                formatter: SyslogFormatter(
                    hostname: host, processID: String(getpid()), softwareVersion: ProductInfo.version,
                    originAddresses: ManagementPlane.localAddresses()),
                cef: CEFFormatter(version: ProductInfo.version, deviceHost: host)))
    }

    func validate(_ settings: SyslogSettings, secret: String?) -> [FieldError] {
        guard settings.enabled || !settings.address.isEmpty else { return [] }
        var errors: [FieldError] = []
        do { _ = try SyslogDestination.parse(address: settings.address) } catch {
            errors.append(FieldError(field: "address", message: "\(error)"))
        }
        if !settings.caCertificate.isEmpty {
            do {
                let certificates = try NIOSSLCertificate.fromPEMBytes(Array(settings.caCertificate.utf8))
                if certificates.isEmpty { throw NIOSSLError.failedToLoadCertificate }
            } catch {
                errors.append(FieldError(field: "caCertificate", message: "not a PEM certificate: \(error)"))
            }
        }
        if !settings.clientCertificate.isEmpty {
            if (try? NIOSSLCertificate.fromPEMBytes(Array(settings.clientCertificate.utf8)))?.isEmpty ?? true {
                errors.append(FieldError(field: "clientCertificate", message: "not a PEM certificate"))
            }
            if let secret {
                if (try? NIOSSLPrivateKey(bytes: Array(secret.utf8), format: .pem)) == nil {
                    errors.append(FieldError(field: "secret", message: "the client key is not a PEM private key"))
                }
            } else {
                errors.append(FieldError(field: "secret", message: "a client certificate needs its private key"))
            }
        }
        return errors
    }

    private func destination(_ settings: SyslogSettings, secret: String?) throws -> SyslogDestination {
        let (host, port) = try SyslogDestination.parse(address: settings.address)
        let transport: SyslogDestination.Transport
        switch settings.mode {
        case .udp: transport = .udp
        case .tcp: transport = .tcp
        case .tls:
            transport = .tls(
                SyslogTLS(
                    caCertificatesPEM: settings.caCertificate,
                    clientCertificatePEM: settings.clientCertificate.isEmpty ? nil : settings.clientCertificate,
                    clientPrivateKeyPEM: settings.clientCertificate.isEmpty ? nil : secret,
                    serverName: settings.serverName.isEmpty ? nil : settings.serverName))
        }
        return SyslogDestination(host: host, port: port, transport: transport)
    }

    func apply(_ settings: SyslogSettings, secret: String?) async -> ApplyOutcome {
        var sender: SyslogSender?
        if settings.enabled {
            do {
                let events = self.events
                sender = SyslogSender(
                    destination: try destination(settings, secret: secret), bufferCapacity: settings.bufferSize,
                    group: group, logger: logger,
                    onDropped: { count in
                        Task {
                            await events.trail.audit(
                                SecurityEvent(
                                    stream: .audit, severity: .warning, entity: EventEntity.syslog,
                                    type: "MessagesLost",
                                    title:
                                        "Syslog forwarding lost \(count) message(s) while the receiver was unreachable",
                                    fields: [EventField("lost", String(count))]))
                        }
                    })
            } catch {
                return .notApplied("\(error)")
            }
            sender?.start()
        }
        let previous = state.withLock { current in
            let previous = current.sender
            current.settings = settings
            current.sender = sender
            return previous
        }
        await previous?.shutdown()
        return settings.enabled
            ? .applied("forwarding to \(settings.address) over \(settings.mode.rawValue.uppercased())")
            : .applied("syslog forwarding is off")
    }

    /// Formats `event` and hands it to the sender, when its stream is forwarded.
    func forward(_ event: SecurityEvent) {
        state.withLock { current in
            guard let sender = current.sender else { return }
            let wanted = event.stream == .audit ? current.settings.audit : current.settings.networkEvents
            guard wanted else { return }
            current.sequence = current.sequence % 2_147_483_647 + 1
            let payload: SyslogFormatter.Payload = current.settings.format == .cef ? .cef(current.cef) : .text
            sender.send(current.formatter.format(event, sequenceID: current.sequence, payload: payload))
        }
    }

    func test(_ settings: SyslogSettings, secret: String?) async -> TestOutcome {
        let current = state.withLock { $0 }
        let event = SecurityEvent(
            stream: .network, severity: .informational, entity: EventEntity.syslog, type: "Test",
            title: "Test message from the gateway's syslog forwarding")
        let message = current.formatter.format(
            event, sequenceID: 1, payload: settings.format == .cef ? .cef(current.cef) : .text)
        do {
            let sender = SyslogSender(
                destination: try destination(settings, secret: secret), bufferCapacity: 1, group: group,
                logger: logger, onDropped: { _ in })
            try await sender.sendTest(message, timeout: .seconds(5))
            return TestOutcome(
                delivered: true,
                detail: settings.mode == .udp
                    ? "sent one datagram to \(settings.address) (UDP gives no confirmation)"
                    : "delivered one message to \(settings.address) over \(settings.mode.rawValue.uppercased())")
        } catch {
            return TestOutcome(delivered: false, detail: "\(error)")
        }
    }

    func status() async -> ForwarderStatus {
        state.withLock { $0.sender?.status } ?? ForwarderStatus(enabled: false)
    }

    func componentState() async -> (ComponentSupervisor.State, String) {
        let (settings, status) = state.withLock { ($0.settings, $0.sender?.status) }
        guard settings.enabled, let status else { return (.disabled, "off") }
        if status.connected || settings.mode == .udp {
            return (.running, "\(settings.mode.rawValue.uppercased()) to \(settings.address)")
        }
        return (
            .degraded,
            "receiver \(settings.address) unreachable\(status.lastError.map { ": \($0)" } ?? ""); "
                + "\(status.buffered) message(s) buffered"
        )
    }

    func shutdown() async {
        let sender = state.withLock { current in
            defer { current.sender = nil }
            return current.sender
        }
        await sender?.shutdown()
    }
}

// MARK: - Push

/// Push notifications as the management plane drives them: one forwarder for the settings in force.
final class PushForwarding: ForwarderControl, Sendable {
    private struct Current: Sendable {
        var settings: PushSettings = .defaults
        var forwarder: PushForwarder?
        var runner: Task<Void, Never>?
    }

    /// The topics the gateway offers: audit records as `Audit`/`NewRecord`, network events by entity and type.
    static let offered: [String: [String]] = [
        EventEntity.audit: ["NewRecord"],
        EventEntity.authServer: ["LoginSuccess", "LoginError", "AccountLocked"],
        EventEntity.broker: ["InspectionDrop", "AuthenticationFailure", "ProfileActivationFailed"],
    ]

    private let state = Mutex(Current())
    private let events: EventsPlane
    private let logger: Logger

    init(events: EventsPlane, logger: Logger) {
        self.events = events
        self.logger = logger
    }

    func validate(_ settings: PushSettings, secret: String?) -> [FieldError] {
        guard settings.enabled else { return [] }
        switch settings.delivery {
        case .fcmV1:
            guard let secret else {
                return [FieldError(field: "secret", message: "upload the service-account key (JSON)")]
            }
            do { _ = try ServiceAccountKey(json: Data(secret.utf8)) } catch {
                return [FieldError(field: "secret", message: "\(error)")]
            }
        case .legacy:
            if (secret ?? "").isEmpty {
                return [FieldError(field: "secret", message: "give the server key of the legacy protocol")]
            }
        }
        return []
    }

    private func configuration(_ settings: PushSettings, secret: String?) throws -> PushConfiguration {
        let delivery: PushConfiguration.Delivery
        switch settings.delivery {
        case .fcmV1:
            delivery = .fcmV1(
                serviceAccount: try ServiceAccountKey(json: Data((secret ?? "").utf8)),
                projectID: settings.projectID.isEmpty ? nil : settings.projectID,
                tokenEndpoint: settings.tokenEndpoint.isEmpty ? nil : settings.tokenEndpoint)
        case .legacy:
            delivery = .legacy(serverKey: secret ?? "")
        }
        return PushConfiguration(
            deviceName: settings.deviceName, delivery: delivery, endpoint: settings.endpoint, offered: Self.offered,
            additionalTrustRootsPEM: settings.trustedCertificate.isEmpty ? nil : settings.trustedCertificate)
    }

    private func makeForwarder(_ settings: PushSettings, secret: String?) throws -> PushForwarder {
        let events = self.events
        return try PushForwarder(
            configuration: configuration(settings, secret: secret), logger: logger,
            onOutage: { outage in
                let event: SecurityEvent
                switch outage {
                case .began(let reason):
                    event = SecurityEvent(
                        stream: .audit, severity: .warning, entity: EventEntity.push, type: "DeliveryFailing",
                        title: "Push notifications cannot be delivered: \(reason)")
                case .ended(let lost):
                    event = SecurityEvent(
                        stream: .audit, severity: lost > 0 ? .warning : .informational, entity: EventEntity.push,
                        type: "DeliveryRestored",
                        title: "Push notifications are delivered again; \(lost) notification(s) were lost",
                        fields: [EventField("lost", String(lost))])
                }
                Task { await events.trail.audit(event) }
            })
    }

    func apply(_ settings: PushSettings, secret: String?) async -> ApplyOutcome {
        var forwarder: PushForwarder?
        var runner: Task<Void, Never>?
        if settings.enabled {
            do {
                let made = try makeForwarder(settings, secret: secret)
                forwarder = made
                runner = Task { await made.run() }
            } catch {
                return .notApplied("\(error)")
            }
        }
        let previous = state.withLock { current in
            let previous = (current.forwarder, current.runner)
            current.settings = settings
            current.forwarder = forwarder
            current.runner = runner
            return previous
        }
        previous.1?.cancel()
        await previous.0?.shutdown()
        return settings.enabled
            ? .applied("notifying as '\(settings.deviceName)'") : .applied("push notifications are off")
    }

    func forward(_ event: SecurityEvent) async {
        let (settings, forwarder) = state.withLock { ($0.settings, $0.forwarder) }
        guard let forwarder else { return }
        switch event.stream {
        case .audit:
            guard settings.audit else { return }
            // Audit records are offered as one topic, Audit/NewRecord; the component stays in the fields.
            var record = event
            record.fields.insert(EventField(EventField.component, event.entity), at: 0)
            record.entity = EventEntity.audit
            record.type = "NewRecord"
            await forwarder.enqueue(record)
        case .network:
            guard settings.networkEvents else { return }
            await forwarder.enqueue(event)
        }
    }

    func test(_ settings: PushSettings, secret: String?) async -> TestOutcome {
        do {
            let forwarder = try makeForwarder(settings, secret: secret)
            let result = await forwarder.sendTest()
            await forwarder.shutdown()
            switch result {
            case .success(let detail): return TestOutcome(delivered: true, detail: detail)
            case .failure(let error): return TestOutcome(delivered: false, detail: "\(error)")
            }
        } catch {
            return TestOutcome(delivered: false, detail: "\(error)")
        }
    }

    func status() async -> ForwarderStatus {
        guard let forwarder = state.withLock({ $0.forwarder }) else { return ForwarderStatus(enabled: false) }
        return await forwarder.status()
    }

    func componentState() async -> (ComponentSupervisor.State, String) {
        let (settings, forwarder) = state.withLock { ($0.settings, $0.forwarder) }
        guard settings.enabled, let forwarder else { return (.disabled, "off") }
        let status = await forwarder.status()
        if let error = status.lastError, !status.connected {
            return (.degraded, "delivery failing: \(error); \(status.buffered) queued")
        }
        return (.running, "\(settings.delivery.rawValue) as '\(settings.deviceName)'")
    }

    func shutdown() async {
        let (forwarder, runner) = state.withLock { current in
            defer {
                current.forwarder = nil
                current.runner = nil
            }
            return (current.forwarder, current.runner)
        }
        runner?.cancel()
        await forwarder?.shutdown()
    }
}
