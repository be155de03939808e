import Foundation
import NetConfig

/// Applies the compiled firewall ruleset to the kernel with `nft` and keeps the table's sets up to date.
///
/// The ruleset is one nft file for the whole table, applied with `nft -f` as one transaction: the kernel takes all
/// of it or none. After applying, the driver reads the table back and compares it with what the compiler expected;
/// when they differ it puts the last verified ruleset back, so a policy that does not load as intended never stays
/// in force. Set elements (blocked addresses, …) are changed on their own, without touching the rules.
///
/// Every text handed to nft goes through a file, never the command line: a set update may hold 100,000 elements, and
/// nft's errors then name a line of that file, which the error maps back to the submitted text.
package actor NFTablesDriver {
    package static let defaultExecutable = "/usr/sbin/nft"

    /// The nft executable in use.
    package nonisolated let executable: String
    package nonisolated let table: String
    package nonisolated let family: String
    /// Where the files handed to nft are written (and removed after each call).
    package nonisolated let workDirectory: URL
    /// When set, nft runs in that network namespace (`ip netns exec`): for tests and the lab; the gateway manages
    /// its own namespace.
    package nonisolated let namespace: String?

    /// The last ruleset applied and verified: put back when a later one fails its verification.
    package private(set) var lastApplied: String?

    /// The `ip` executable, for `ip netns exec`.
    private let ip = IPRoute2().executable
    /// Whether a call is running. The actor is reentrant at each `await`; calls are run one after the other so that
    /// an update cannot land between a ruleset's apply and its verification.
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// - Parameters:
    ///   - executable: nft's path; `/sbin/nft` is tried when it is not there.
    ///   - table, family: the table the driver owns (names nft reads as identifiers).
    package init(
        executable: String = NFTablesDriver.defaultExecutable, table: String = "rampart", family: String = "inet",
        workDirectory: URL = FileManager.default.temporaryDirectory, namespace: String? = nil
    ) {
        precondition(NFTablesText.isIdentifier(table) && NFTablesText.isIdentifier(family), "bad nft table name")
        self.executable = Self.resolve(executable)
        self.table = table
        self.family = family
        self.workDirectory = workDirectory
        self.namespace = namespace
    }

    // MARK: Availability

    /// Whether nft can be used here with the default executable: it is installed and the process has CAP_NET_ADMIN.
    package static var isAvailable: Bool { unavailableReason(executable: resolve(defaultExecutable)) == nil }

    /// Why this driver cannot change the firewall; nil when it can.
    package nonisolated var unavailableReason: String? { Self.unavailableReason(executable: executable) }

    private static func resolve(_ executable: String) -> String {
        FileManager.default.isExecutableFile(atPath: executable) ? executable : "/sbin/nft"
    }

    private static func unavailableReason(executable: String) -> String? {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            return "nft not found at \(defaultExecutable) or /sbin/nft: the ruleset is compiled but not applied"
        }
        guard Capability.netAdmin.isEffective else {
            return "\(Capability.netAdmin) missing: the ruleset is compiled but not applied"
        }
        return nil
    }

    // MARK: Ruleset

    /// Lets nft check `ruleset` against the kernel (`nft -c`) without applying it.
    /// `ruleset` with each set's `elements = { … }` line blanked (not removed: line numbers stay those of the
    /// submitted text).
    static func withoutElements(_ ruleset: String) -> String {
        guard ruleset.contains("elements = {") else { return ruleset }
        return ruleset.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.trimmingCharacters(in: .whitespaces).hasPrefix("elements = {") && line.hasSuffix("}") ? "" : line
        }.joined(separator: "\n")
    }

    package func check(_ ruleset: String) async throws(FirewallDriverError) {
        try await exclusively { () async throws(FirewallDriverError) in
            let file = try write(ruleset, phase: .check)
            defer { remove(file) }
            _ = try await nft(["-c", "-f", file.path], phase: .check, submitted: (file.path, ruleset))
        }
    }

    /// Checks and applies `ruleset` in one transaction, reads the table back and verifies it against `expected`.
    ///
    /// - Throws: `.check` or `.apply` when nft refuses it (nothing changed); `.readBack` or `.verify` when the table
    ///   is not as expected, after putting back the last verified ruleset (or removing the table when there is
    ///   none). Set elements added since that ruleset are not put back.
    package func apply(_ ruleset: String, expecting expected: ExpectedTable) async throws(FirewallDriverError)
        -> AppliedTable
    {
        try await exclusively { () async throws(FirewallDriverError) -> AppliedTable in
            let start = ContinuousClock.now
            // The check leaves out the sets' elements: it is for the rules, and nft parses 100,000 elements in
            // most of a second. The elements are checked by the apply itself, which is one transaction: when the
            // kernel refuses an element, nothing of the ruleset changes.
            let rules = Self.withoutElements(ruleset)
            let checkFile = try write(rules, phase: .check)
            defer { remove(checkFile) }
            _ = try await nft(["-c", "-f", checkFile.path], phase: .check, submitted: (checkFile.path, rules))
            let file = try write(ruleset, phase: .apply)
            defer { remove(file) }
            _ = try await nft(["-f", file.path], phase: .apply, submitted: (file.path, ruleset))
            let listing: TableListing
            let text: String
            do throws(FirewallDriverError) {
                guard let read = try await readListing() else {
                    throw FirewallDriverError(
                        phase: .readBack, message: "table \(family) \(table) is not there after applying the ruleset")
                }
                listing = read
                text = try await terseText()
            } catch {
                throw await restore(after: error)
            }
            let differences = expected.differences(from: listing)
            guard differences.isEmpty else {
                throw await restore(
                    after: FirewallDriverError(phase: .verify, message: differences.joined(separator: "; ")))
            }
            lastApplied = ruleset
            return AppliedTable(text: text, listing: listing, duration: ContinuousClock.now - start)
        }
    }

    /// `nft list table` with set elements; nil when the table does not exist.
    package func listTable() async throws(FirewallDriverError) -> String? {
        try await exclusively { () async throws(FirewallDriverError) -> String? in
            guard try await readListing() != nil else { return nil }
            return String(
                decoding: try await nft(["list", "table", family, table], phase: .readBack), as: UTF8.self)
        }
    }

    /// The table's chains, sets and counters, without set elements; nil when the table does not exist.
    package func listing() async throws(FirewallDriverError) -> TableListing? {
        try await exclusively { () async throws(FirewallDriverError) -> TableListing? in try await readListing() }
    }

    /// Removes the table; nothing happens when it is not there.
    package func deleteTable() async throws(FirewallDriverError) {
        try await exclusively { () async throws(FirewallDriverError) in try await removeTable() }
    }

    /// The table's named counters.
    package func counters() async throws(FirewallDriverError) -> [String: CounterValue] {
        try await exclusively { () async throws(FirewallDriverError) -> [String: CounterValue] in
            guard let listing = try await readListing() else {
                throw FirewallDriverError(phase: .readBack, message: "table \(family) \(table) does not exist")
            }
            return listing.counters
        }
    }

    // MARK: Sets

    /// Adds `elements` to `set` in one transaction: all of them or none.
    package func addElements(_ elements: [SetElement], to set: String) async throws(FirewallDriverError) {
        if let bad = elements.first(where: { !NFTablesText.isElementValue($0.text) }) {
            throw FirewallDriverError(phase: .setUpdate, message: "\"\(bad.text)\" is not an address, prefix or range")
        }
        try await updateSet(set, verb: "add", elements: elements.map(NFTablesText.element))
    }

    /// Deletes the elements written as `texts` (as they were added: `192.0.2.0/24`, …) from `set`, all or none; nft
    /// refuses the whole update when one of them is not in the set.
    package func deleteElements(_ texts: [String], from set: String) async throws(FirewallDriverError) {
        if let bad = texts.first(where: { !NFTablesText.isElementValue($0) }) {
            throw FirewallDriverError(phase: .setUpdate, message: "\"\(bad)\" is not an address, prefix or range")
        }
        try await updateSet(set, verb: "delete", elements: texts)
    }

    /// The elements of `set` with their timeouts and comments.
    package func elements(of set: String) async throws(FirewallDriverError) -> [ListedElement] {
        guard NFTablesText.isIdentifier(set) else {
            throw FirewallDriverError(phase: .readBack, message: "\"\(set)\" is not a set name")
        }
        return try await exclusively { () async throws(FirewallDriverError) -> [ListedElement] in
            let data = try await nft(["-j", "list", "set", family, table, set], phase: .readBack)
            do { return try NFTablesJSON.setElements(data) } catch {
                throw FirewallDriverError(
                    phase: .readBack, message: "nft's listing of set \(set) is not readable: \(error)")
            }
        }
    }

    private func updateSet(_ set: String, verb: String, elements: [String]) async throws(FirewallDriverError) {
        guard NFTablesText.isIdentifier(set) else {
            throw FirewallDriverError(phase: .setUpdate, message: "\"\(set)\" is not a set name")
        }
        guard !elements.isEmpty else { return }
        let text = NFTablesText.elementsCommand(verb: verb, family: family, table: table, set: set, elements: elements)
        try await exclusively { () async throws(FirewallDriverError) in
            let file = try write(text, phase: .setUpdate)
            defer { remove(file) }
            _ = try await nft(["-f", file.path], phase: .setUpdate, submitted: (file.path, text))
        }
    }

    // MARK: Steps

    /// The table's structure from a terse listing of the family's ruleset. `nft -t list table` would still fetch
    /// every set element from the kernel (seconds for 100,000 of them); the terse ruleset listing does not.
    private func readListing() async throws(FirewallDriverError) -> TableListing? {
        let data = try await nft(["-j", "-t", "list", "ruleset", family], phase: .readBack)
        do { return try NFTablesJSON.tableListing(data, family: family, table: table) } catch {
            throw FirewallDriverError(phase: .readBack, message: "nft's listing is not readable: \(error)")
        }
    }

    /// The table's text without set elements, cut from the terse listing of the family's ruleset.
    private func terseText() async throws(FirewallDriverError) -> String {
        let listing = String(
            decoding: try await nft(["-t", "list", "ruleset", family], phase: .readBack), as: UTF8.self)
        guard let text = NFTablesText.tableBlock(in: listing, family: family, table: table) else {
            throw FirewallDriverError(phase: .readBack, message: "table \(family) \(table) is not in nft's listing")
        }
        return text
    }

    /// Puts the last verified ruleset back (or removes the table when there is none) after `failure`, and returns
    /// `failure` saying what was done.
    private func restore(after failure: FirewallDriverError) async -> FirewallDriverError {
        var failure = failure
        do {
            if let previous = lastApplied {
                let file = try write(previous, phase: .apply)
                defer { remove(file) }
                _ = try await nft(["-f", file.path], phase: .apply, submitted: (file.path, previous))
                failure.message += " (the previous ruleset was put back)"
            } else {
                try await removeTable()
                failure.message += " (the table was removed: no ruleset was applied before)"
            }
        } catch {
            failure.message += "; putting the previous state back failed too: \(error)"
        }
        return failure
    }

    /// Creating the table before deleting it makes the deletion succeed whether or not it was there, in one
    /// transaction.
    private func removeTable() async throws(FirewallDriverError) {
        let text = "table \(family) \(table)\ndelete table \(family) \(table)\n"
        let file = try write(text, phase: .apply)
        defer { remove(file) }
        _ = try await nft(["-f", file.path], phase: .apply, submitted: (file.path, text))
        lastApplied = nil
    }

    // MARK: Running nft

    private func exclusively<T>(_ body: () async throws(FirewallDriverError) -> T) async throws(FirewallDriverError)
        -> T
    {
        if let reason = unavailableReason { throw FirewallDriverError(phase: .unavailable, message: reason) }
        while busy { await withCheckedContinuation { waiting.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiting.isEmpty { waiting.removeFirst().resume() }
        }
        return try await body()
    }

    /// Runs nft with `arguments`; when it fails on the file `submitted`, the error names the line of its text.
    private func nft(
        _ arguments: [String], phase: FirewallDriverError.Phase, submitted: (file: String, text: String)? = nil
    )
        async throws(FirewallDriverError) -> Data
    {
        let command = namespace.map { (ip, ["netns", "exec", $0, executable] + arguments) } ?? (executable, arguments)
        do { return try await SystemCommand.run(command.0, command.1) } catch {
            let stderr = error.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if let submitted {
                throw .located(phase: phase, stderr: stderr, file: submitted.file, submitted: submitted.text)
            }
            throw FirewallDriverError(phase: phase, message: stderr.isEmpty ? error.description : stderr)
        }
    }

    private func write(_ text: String, phase: FirewallDriverError.Phase) throws(FirewallDriverError) -> URL {
        let url = workDirectory.appendingPathComponent("rampart-nft-\(UUID().uuidString).nft")
        do { try Data(text.utf8).write(to: url) } catch {
            throw FirewallDriverError(phase: phase, message: "cannot write \(url.path) for nft: \(error)")
        }
        return url
    }

    private func remove(_ file: URL) {
        try? FileManager.default.removeItem(at: file)
    }
}
