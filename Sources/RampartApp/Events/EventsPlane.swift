import Events
import Foundation
import Logging
import ServiceLifecycle
import Store
import WebAPI

/// The gateway's security events (SPEC EVT): the event bus every component publishes on, the network-event ring,
/// the audit trail in the store, the component supervisor, and the subscribers that forward events (syslog, push,
/// MQTT notifications).
final class EventsPlane: Sendable {
    /// The components the dashboard lists, in its order.
    static let components = [
        EventEntity.broker, EventEntity.webServer, EventEntity.store, EventEntity.eventBus, EventEntity.audit,
        EventEntity.syslog, EventEntity.push, EventEntity.mqttNotifications, EventEntity.firewall,
    ]

    let bus: EventBus
    let ring: NetworkEventRing
    let supervisor: ComponentSupervisor
    let trail: AuditTrail
    /// The supervisor's records, audited in the order they happen by one consumer.
    private let stateRecords: AsyncStream<SecurityEvent>
    private let stateContinuation: AsyncStream<SecurityEvent>.Continuation
    private let logger: Logger

    init(store: GatewayStore, ringCapacity: Int, logger: Logger) throws {
        let bus = EventBus()
        self.bus = bus
        self.ring = NetworkEventRing(capacity: ringCapacity)
        self.logger = logger
        let (records, continuation) = AsyncStream<SecurityEvent>.makeStream()
        self.stateRecords = records
        self.stateContinuation = continuation
        let supervisor = ComponentSupervisor(
            onChange: { continuation.yield(Self.record($0)) },
            onAllRunning: { _ in
                continuation.yield(
                    SecurityEvent(
                        stream: .audit, severity: .informational, entity: EventEntity.gateway, type: "Started",
                        title: "All components started and running"))
            })
        self.supervisor = supervisor
        supervisor.register(Self.components)
        let log = store.auditLog
        self.trail = AuditTrail(log: log, bus: bus, supervisor: supervisor, logger: logger)
        supervisor.report(EventEntity.store, .running, detail: "SQLite (WAL)")
        supervisor.report(EventEntity.eventBus, .running)
        if log.refusesAppends {
            supervisor.report(
                EventEntity.audit, .failed,
                detail: "the audit log is full and its policy is 'limited': download it to accept changes again")
        } else {
            supervisor.report(EventEntity.audit, .running)
        }
    }

    /// The audit record of a component state change: a failure or stop is Critical, a degradation a Warning.
    private static func record(_ change: ComponentSupervisor.Change) -> SecurityEvent {
        let component = change.component
        return SecurityEvent(
            stream: .audit, severity: component.state.severity, entity: component.name, type: "ComponentState",
            title: "\(component.name): \(component.state.rawValue)"
                + (component.detail.isEmpty ? "" : " (\(component.detail))"),
            fields: [
                EventField(EventField.component, component.name), EventField("state", component.state.rawValue),
                EventField("previous", change.previous?.rawValue ?? "none"),
            ])
    }

    private func auditStateChanges() async {
        for await record in stateRecords { await trail.audit(record) }
    }

    /// Watches the bus for dropped events: a subscriber that cannot keep up makes the bus Degraded until it does.
    private func watchBus() async {
        var lastDropped = bus.droppedCount
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(2)) } catch { return }
            let dropped = bus.droppedCount
            if dropped > lastDropped {
                let laggards = bus.statistics().filter { $0.dropped > 0 }.map { "\($0.name): \($0.dropped)" }
                supervisor.report(
                    EventEntity.eventBus, .degraded,
                    detail:
                        "\(dropped - lastDropped) events dropped by slow subscribers (\(laggards.joined(separator: ", ")))"
                )
            } else {
                supervisor.report(EventEntity.eventBus, .running)
            }
            lastDropped = dropped
        }
    }

    /// Runs the plane's consumers until the gateway stops; then audits the shutdown and lets every subscriber
    /// drain what it holds (the forwarders flush) before returning.
    /// - Parameters:
    ///   - consumers: subscribers of the bus; each returns when its subscription ends.
    ///   - watchers: loops that run until the shutdown (state polling); they are cancelled then.
    func run(consumers: [@Sendable () async -> Void], watchers: [@Sendable () async -> Void]) async {
        let network = bus.subscribe(name: "network events", capacity: 10_000, streams: [.network])
        let watching = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.watchBus() }
                for watcher in watchers { group.addTask { await watcher() } }
            }
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.auditStateChanges() }
            group.addTask { await self.ring.consume(network) }
            for consumer in consumers { group.addTask { await consumer() } }
            try? await gracefulShutdown()
            watching.cancel()
            await trail.audit(
                SecurityEvent(
                    stream: .audit, severity: .informational, entity: EventEntity.gateway, type: "Shutdown",
                    title: "Gateway shutting down"))
            stateContinuation.finish()
            bus.finish()
        }
        await watching.value
    }
}
