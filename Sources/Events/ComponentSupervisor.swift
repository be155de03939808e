import Foundation
import Synchronization

/// The security state of every component (SPEC EVT-6): each service reports its health here; the dashboard lists
/// them; a change of state is handed to `onChange` (the gateway audits it: a failure or stop is Critical).
package final class ComponentSupervisor: Sendable {
    package enum State: String, Sendable, Codable, CaseIterable {
        case starting
        case running
        /// Working with a problem the operator should know (a syslog receiver unreachable, events dropped…).
        case degraded
        /// Not doing its job.
        case failed
        /// Switched off by configuration; not a fault.
        case disabled
        case stopped

        /// How the change to this state is audited.
        package var severity: Severity {
            switch self {
            case .starting, .running, .disabled: .informational
            case .degraded: .warning
            case .failed, .stopped: .critical
            }
        }

        /// Counts as healthy for "all components started and running".
        package var isHealthy: Bool { self == .running || self == .disabled }
    }

    package struct Component: Sendable, Codable, Hashable {
        package var name: String
        package var state: State
        package var detail: String
        package var since: Date

        package init(name: String, state: State, detail: String, since: Date) {
            self.name = name
            self.state = state
            self.detail = detail
            self.since = since
        }
    }

    /// A state change, as handed to `onChange`.
    package struct Change: Sendable {
        package var component: Component
        package var previous: State?

        package init(component: Component, previous: State?) {
            self.component = component
            self.previous = previous
        }
    }

    private struct Storage {
        var components: [String: Component] = [:]
        var order: [String] = []
        var announcedStart = false
    }

    private let storage = Mutex(Storage())
    private let onChange: @Sendable (Change) -> Void
    private let onAllRunning: @Sendable ([Component]) -> Void

    /// - Parameters:
    ///   - onChange: called for every change of state (not for a repeated report of the same state and detail).
    ///   - onAllRunning: called once, the first time every registered component is healthy.
    package init(
        onChange: @escaping @Sendable (Change) -> Void = { _ in },
        onAllRunning: @escaping @Sendable ([Component]) -> Void = { _ in }
    ) {
        self.onChange = onChange
        self.onAllRunning = onAllRunning
    }

    /// Adds components in the order the dashboard lists them, each `starting`.
    package func register(_ names: [String], now: Date = Date()) {
        storage.withLock { storage in
            for name in names where storage.components[name] == nil {
                storage.components[name] = Component(name: name, state: .starting, detail: "", since: now)
                storage.order.append(name)
            }
        }
    }

    /// Records what `name` reports. Unknown names are registered on the way.
    package func report(_ name: String, _ state: State, detail: String = "", now: Date = Date()) {
        let (change, allRunning) = storage.withLock { storage -> (Change?, [Component]?) in
            let previous = storage.components[name]
            if previous == nil { storage.order.append(name) }
            if let previous, previous.state == state, previous.detail == detail { return (nil, nil) }
            let component = Component(
                name: name, state: state, detail: detail,
                since: previous?.state == state ? previous?.since ?? now : now)
            storage.components[name] = component
            var allRunning: [Component]?
            let all = storage.order.compactMap { storage.components[$0] }
            if !storage.announcedStart, all.allSatisfy({ $0.state.isHealthy }) {
                storage.announcedStart = true
                allRunning = all
            }
            // A new detail in the same state is kept but not announced: only states are audited.
            let change = previous?.state == state ? nil : Change(component: component, previous: previous?.state)
            return (change, allRunning)
        }
        if let change { onChange(change) }
        if let allRunning { onAllRunning(allRunning) }
    }

    /// Every component, in registration order.
    package func components() -> [Component] {
        storage.withLock { storage in storage.order.compactMap { storage.components[$0] } }
    }

    /// The worst state among components (for the dashboard's summary).
    package var isSafe: Bool { components().allSatisfy { $0.state.isHealthy } }
}
