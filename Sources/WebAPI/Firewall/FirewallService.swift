import Events
import FirewallPolicy
import Foundation
import RampartModel
import Store

extension FirewallConfiguration: ConfigurationDocument {
    package static let documentName = "firewall"
    package static var initial: FirewallConfiguration { FirewallConfiguration() }
}

/// Who asks for a firewall change, and from where: the lock-out check evaluates the operator's own path.
package struct FirewallOperator: Sendable {
    package var user: String
    /// The client's address; nil when unknown.
    package var source: IPAddress?
    /// The gateway's address the request arrived at; nil when unknown.
    package var local: IPAddress?

    package init(user: String, source: String?, local: String?) {
        self.user = user
        self.source = source.flatMap(Self.address)
        self.local = local.flatMap(Self.address)
    }

    /// Socket addresses of IPv4 clients on a dual-stack socket arrive as `::ffff:a.b.c.d`.
    static func address(_ text: String) -> IPAddress? {
        guard let address = IPAddress(text) else { return nil }
        if address.family == .ipv6, address.value >> 32 == 0xFFFF {
            return IPAddress(family: .ipv4, value: address.value & 0xFFFF_FFFF)
        }
        return address
    }
}

/// The outcome of a firewall change.
package struct FirewallChangeReport: Sendable, Codable, Equatable {
    package var version: Int
    package var applied: Bool
    package var detail: String
    /// The change, line by line, as the audit log records it.
    package var changes: [String]
    /// Set when the change reverts by itself unless confirmed by then.
    package var confirmBy: Date?
}

/// Whether the ruleset of the stored configuration is in the kernel, and when.
package struct FirewallState: Sendable, Codable, Equatable {
    package var applied: Bool
    package var detail: String
    package var at: Date?
}

/// A change that reverts by itself unless the operator confirms it in time (commit-confirm).
package struct PendingConfirmation: Sendable, Codable, Equatable {
    package var deadline: Date
    package var changes: [String]
    package var user: String
}

/// The firewall's control state (SPEC FW-1…FW-5): every change is validated, checked against the operator's own
/// access, applied to the kernel as one transaction and only then saved; a change that alters what reaches the
/// management ports reverts by itself unless confirmed in time.
package actor FirewallService {
    package struct Options: Sendable {
        /// How long a change to the management path waits for its confirmation.
        package var confirmationTimeout: Duration
        /// How often expired list entries are swept out of the stored document (the kernel drops them itself).
        package var sweepInterval: Duration

        package init(confirmationTimeout: Duration = .seconds(60), sweepInterval: Duration = .seconds(1)) {
            self.confirmationTimeout = confirmationTimeout
            self.sweepInterval = sweepInterval
        }
    }

    let store: GatewayStore
    let backend: any FirewallBackend
    let environment: @Sendable () async -> FirewallEnvironment
    /// The zone an address reaches the gateway from (its LAN subnet or not).
    let zoneOf: @Sendable (IPAddress) async -> Zone
    let reporter: (any SecurityEventReporting)?
    let options: Options
    package private(set) var state = FirewallState(applied: false, detail: "not applied yet", at: nil)
    package private(set) var pending: PendingConfirmation?
    private var revertTask: Task<Void, Never>?
    private var reverting = false
    private var sweeper: Task<Void, Never>?
    /// When the sweeper must look next; nil: no entry expires. The distant past makes it look once at start.
    private var nextExpiry: Date? = .distantPast

    package init(
        store: GatewayStore, backend: any FirewallBackend,
        environment: @escaping @Sendable () async -> FirewallEnvironment,
        zoneOf: @escaping @Sendable (IPAddress) async -> Zone, reporter: (any SecurityEventReporting)?,
        options: Options = Options()
    ) {
        self.store = store
        self.backend = backend
        self.environment = environment
        self.zoneOf = zoneOf
        self.reporter = reporter
        self.options = options
    }

    // MARK: Reading

    package func read() throws(APIError) -> Versioned<FirewallConfiguration> {
        try APIError.storing { try store.document(FirewallConfiguration.self) }
    }

    /// The stored configuration lowered at this moment (expired entries left out).
    package func compiled() async throws(APIError) -> CompiledPolicy {
        try await current().policy
    }

    /// The stored configuration and what it lowers to now, from one read of the store.
    package func current() async throws(APIError) -> (stored: Versioned<FirewallConfiguration>, policy: CompiledPolicy)
    {
        let stored = try read()
        do {
            return (
                stored,
                try PolicyCompiler.compile(
                    stored.document, environment: await environment(), now: Date(), allowOverlaps: true)
            )
        } catch {
            throw APIError.invalid(error.errors)
        }
    }

    /// The ruleset of the stored configuration, and the one the kernel holds.
    package func rulesets() async throws(APIError) -> (compiled: String, applied: String?) {
        let policy = try await compiled()
        return (backend.ruleset(for: policy), await backend.appliedRuleset())
    }

    package func counters() async -> [String: RuleHits] { await backend.counters() }

    // MARK: Start-up

    /// Saves the device type chosen at setup when the firewall was never configured, then applies what is stored
    /// and starts the sweeper of expired list entries.
    package func start(deviceType: DeviceType?) async {
        if let deviceType, let stored = try? read(), stored.version == 0, stored.document.deviceType != deviceType {
            var document = stored.document
            document.deviceType = deviceType
            _ = try? store.save(document, expectedVersion: 0)
        }
        if let reason = await backend.unavailableReason() {
            state = FirewallState(applied: false, detail: "not applied: \(reason)", at: nil)
        } else {
            do {
                try await backend.apply(try await compiled())
                state = FirewallState(applied: true, detail: "applied", at: Date())
            } catch {
                state = FirewallState(applied: false, detail: "not applied: \(error)", at: nil)
                await reporter?.audit(
                    Self.event(
                        severity: .critical, type: "FirewallNotApplied",
                        title: "The stored firewall policy could not be applied",
                        fields: [
                            EventField(EventField.detail, "\(error)")
                        ]))
            }
        }
        let interval = options.sweepInterval
        sweeper = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.sweepExpired()
            }
        }
    }

    package func stop() {
        sweeper?.cancel()
        revertTask?.cancel()
    }

    /// Drops expired entries from the stored document. The kernel has already dropped them from its sets (their
    /// timeouts), so the ruleset is not touched.
    private func sweepExpired() {
        guard let due = nextExpiry, due <= Date(), let stored = try? read() else { return }
        var document = stored.document
        if document.dropExpiredEntries(now: Date()) {
            _ = try? store.save(document, expectedVersion: stored.version)
        }
        noteExpiries(of: document)
    }

    /// Remembers when the next list entry of `document` expires, so the sweeper reads the store only then (a
    /// document with 100,000 entries is megabytes of JSON).
    private func noteExpiries(of document: FirewallConfiguration) {
        nextExpiry = (document.allowlist + document.denylist).compactMap(\.expires).min()
    }

    // MARK: Changing

    /// Applies `edit` to the stored configuration (see the type's description for the steps).
    /// - Parameters:
    ///   - force: lets a change through that would lock the operator out, and list entries that overlap (the
    ///     kernel then has the last word).
    ///   - expectedVersion: the version the client read; nil to change whatever is stored.
    package func change(
        by requester: FirewallOperator, force: Bool = false, expectedVersion: Int? = nil,
        _ edit: @Sendable (inout FirewallConfiguration) throws(APIError) -> Void
    ) async throws(APIError) -> FirewallChangeReport {
        try await changeReturning(by: requester, force: force, expectedVersion: expectedVersion) {
            (configuration) throws(APIError) in try edit(&configuration)
        }.report
    }

    /// `change`, also returning what `edit` returns (the id of a rule it added).
    package func changeReturning<Value: Sendable>(
        by requester: FirewallOperator, force: Bool = false, expectedVersion: Int? = nil,
        _ edit: @Sendable (inout FirewallConfiguration) throws(APIError) -> Value
    ) async throws(APIError) -> (report: FirewallChangeReport, value: Value) {
        if let pending {
            throw APIError(
                status: .conflict, code: "confirmation_pending",
                message: "a firewall change by \(pending.user) waits for confirmation until "
                    + "\(pending.deadline.formatted(.iso8601)): confirm it (POST /api/v1/firewall/confirm) or let it "
                    + "revert, then make this change")
        }
        let stored = try read()
        if let expectedVersion, expectedVersion != stored.version {
            throw APIError.conflict(
                "the firewall was changed meanwhile (version \(stored.version), yours \(expectedVersion)). Reload "
                    + "it and make your change again.")
        }
        var updated = stored.document
        let value = try edit(&updated)
        let changes = stored.document.differences(to: updated)
        guard !changes.isEmpty else {
            return (
                FirewallChangeReport(
                    version: stored.version, applied: state.applied, detail: "nothing changed", changes: [],
                    confirmBy: nil), value
            )
        }
        let environment = await environment()
        let now = Date()
        let policy: CompiledPolicy
        do {
            policy = try PolicyCompiler.compile(updated, environment: environment, now: now, allowOverlaps: force)
        } catch {
            throw APIError.invalid(error.errors)
        }
        let previous = try? PolicyCompiler.compile(
            stored.document, environment: environment, now: now, allowOverlaps: true)
        if !force, let previous, let source = requester.source,
            let cut = ManagementPath.lockout(
                of: source, from: ManagementPath.isLoopback(source) ? .loopback : .zone(await zoneOf(source)),
                at: requester.local, before: previous, after: policy)
        {
            throw APIError(
                status: .conflict, code: "lockout",
                message: "this change would block your own address \(source) from the web UI (stage "
                    + "'\(cut.stage.title)', rule \(cut.ruleID)); send it with force to apply it anyway")
        }
        let confirm =
            previous.map {
                ManagementPath.reachabilityChanges(
                    before: $0, after: policy, source: requester.source, local: requester.local,
                    changing: stored.document, to: updated)
            }
            ?? false

        let applied: Bool
        if !confirm, state.applied, Self.onlyListsDiffer(stored.document, updated) {
            applied = try await applyListChanges(from: stored.document, to: updated, policy)
        } else {
            applied = try await apply(policy)
        }
        let saved: Versioned<FirewallConfiguration>
        do {
            saved = try store.saveForAPI(updated, expectedVersion: stored.version)
        } catch {
            // The kernel must not keep what the store does not hold.
            if applied, let previous { try? await backend.apply(previous) }
            throw error
        }
        noteExpiries(of: updated)
        var confirmBy: Date?
        if confirm && applied {
            let deadline = Date().addingTimeInterval(options.confirmationTimeout.seconds)
            confirmBy = deadline
            pending = PendingConfirmation(deadline: deadline, changes: changes, user: requester.user)
            let timeout = options.confirmationTimeout
            revertTask = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                await self?.revert(to: stored.document, changes: changes)
            }
        }
        return (
            FirewallChangeReport(
                version: saved.version, applied: applied, detail: state.detail, changes: changes,
                confirmBy: confirmBy), value
        )
    }

    /// Keeps the pending change.
    package func confirm() throws(APIError) -> [String] {
        guard let pending else {
            throw APIError(
                status: .conflict, code: "nothing_pending", message: "no firewall change awaits confirmation")
        }
        guard !reverting else {
            throw APIError(
                status: .conflict, code: "reverting",
                message: "the confirmation came too late: the change is being reverted")
        }
        revertTask?.cancel()
        revertTask = nil
        self.pending = nil
        return pending.changes
    }

    /// Applies `policy`: true when the kernel holds it now, false when rulesets cannot be applied here.
    private func apply(_ policy: CompiledPolicy) async throws(APIError) -> Bool {
        try await applying(what: "ruleset", kept: "the previous one stays in force", detail: "applied") {
            () async throws(FirewallApplyError) in try await self.backend.apply(policy)
        }
    }

    /// Runs a kernel change when the backend can make one: true when made, false when rulesets cannot be applied
    /// here (the state says why); a refusal is a 422 naming what stays as it was.
    private func applying(
        what: String, kept: String, detail: String, _ change: () async throws(FirewallApplyError) -> Void
    ) async throws(APIError) -> Bool {
        if let reason = await backend.unavailableReason() {
            state = FirewallState(applied: false, detail: "saved, not applied: \(reason)", at: nil)
            return false
        }
        do {
            try await change()
        } catch {
            throw APIError(
                status: .unprocessableContent, code: "ruleset_rejected",
                message: "the kernel refused the \(what); \(kept) and nothing was saved: \(error)")
        }
        state = FirewallState(applied: true, detail: detail, at: Date())
        return true
    }

    /// Changes only the address sets the lists live in, not the ruleset (SPEC FW-3: list updates are one set
    /// operation each, whatever the size of the policy).
    private func applyListChanges(
        from old: FirewallConfiguration, to new: FirewallConfiguration, _ policy: CompiledPolicy
    ) async throws(APIError) -> Bool {
        let lists: [(PolicyCompiler.List, [ListEntry], [ListEntry])] = [
            (.allowlist, old.allowlist, new.allowlist), (.denylist, old.denylist, new.denylist),
        ]
        let backend = self.backend
        return try await applying(
            what: "list update", kept: "the lists stay as they were", detail: "applied (list update)"
        ) { () async throws(FirewallApplyError) in
            for (list, oldList, newList) in lists {
                let removed = Set(oldList).subtracting(newList).compactMap { try? AddressSpec.parse($0.address).get() }
                let added = Set(newList).subtracting(oldList).compactMap { try? AddressSpec.parse($0.address).get() }
                for set in policy.sets where set.name.hasPrefix(list.rawValue + "_") {
                    let gone = removed.filter { PolicyCompiler.setName(list, for: $0) == set.name }
                    if !gone.isEmpty { try await backend.remove(gone, from: set.name) }
                    let elements = set.elements.filter { added.contains($0.address) }
                    if !elements.isEmpty { try await backend.add(elements, to: set.name) }
                }
            }
        }
    }

    private static func onlyListsDiffer(_ old: FirewallConfiguration, _ new: FirewallConfiguration) -> Bool {
        var old = old
        old.allowlist = new.allowlist
        old.denylist = new.denylist
        return old == new
    }

    /// Puts `previous` back. The change stays pending (so no other change starts, and readers never see "nothing
    /// pending" with the change still in force) until the previous policy is applied and saved.
    private func revert(to previous: FirewallConfiguration, changes: [String]) async {
        guard pending != nil, !reverting else { return }
        reverting = true
        defer {
            reverting = false
            pending = nil
            revertTask = nil
        }
        var fields = changes.map { EventField("change", $0) }
        do {
            let policy = try PolicyCompiler.compile(
                previous, environment: await environment(), now: Date(), allowOverlaps: true)
            _ = try await apply(policy)
            let current = try read()
            _ = try store.save(previous, expectedVersion: current.version)
            noteExpiries(of: previous)
        } catch {
            fields.append(EventField(EventField.detail, "\(error)"))
        }
        let seconds = Int(options.confirmationTimeout.seconds)
        await reporter?.audit(
            Self.event(
                severity: .warning, type: "FirewallChangeReverted",
                title: "Firewall change reverted: it was not confirmed within \(seconds) s", fields: fields))
    }

    static func event(severity: Severity, type: String, title: String, fields: [EventField]) -> SecurityEvent {
        SecurityEvent(
            stream: .audit, severity: severity, entity: EventEntity.firewall, type: type, title: title,
            fields: fields)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
