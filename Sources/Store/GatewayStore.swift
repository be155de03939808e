import Events
import Foundation
import GRDB

/// The gateway's store: configuration documents with versions and secrets encrypted at rest, in one SQLite
/// database (WAL mode) with its master key in a separate file.
///
/// Safe to use from any thread or task (GRDB's `DatabasePool` serializes writes and runs reads concurrently).
package final class GatewayStore: Sendable {
    /// Where the database lives.
    package let databasePath: String
    private let database: DatabasePool
    private let masterKey: MasterKey
    /// The audit log of system security, kept in the same database.
    package let auditLog: AuditLog

    /// Opens (or creates) the store.
    /// - Parameters:
    ///   - databasePath: the SQLite file; its folder must exist.
    ///   - masterKeyPath: the master key file, kept apart from the database. Created with a new random key when the
    ///     database holds no secret yet; when it does and the file is missing, opening fails rather than making a
    ///     key that cannot open them.
    package init(databasePath: String, masterKeyPath: String) throws {
        var configuration = Configuration()
        configuration.label = "rampart-store"
        configuration.busyMode = .timeout(5)
        let database = try DatabasePool(path: databasePath, configuration: configuration)
        try Self.migrator.migrate(database)
        let hasSecrets = try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM secret") ?? 0 } > 0
        self.masterKey = try MasterKey.load(at: masterKeyPath, create: !hasSecrets)
        self.database = database
        self.auditLog = AuditLog(database: database)
        self.databasePath = databasePath
    }

    // MARK: Configuration documents

    /// The stored document, or its initial value at version 0 when it was never saved.
    package func document<Document: ConfigurationDocument>(_ type: Document.Type) throws -> Versioned<Document> {
        let name = Document.documentName
        let row = try database.read { db in
            try Row.fetchOne(db, sql: "SELECT version, body FROM document WHERE name = ?", arguments: [name])
        }
        guard let row else { return Versioned(document: Document.initial, version: 0) }
        let body: Data = row["body"]
        do {
            return Versioned(document: try JSONDecoder().decode(Document.self, from: body), version: row["version"])
        } catch {
            throw StoreError.documentUnreadable(document: name, reason: "\(error)")
        }
    }

    /// Saves `document` if the stored version is still `expectedVersion`, and returns it with its new version.
    /// - Throws: `StoreError.versionConflict` when it was saved by someone else since it was read.
    @discardableResult
    package func save<Document: ConfigurationDocument>(
        _ document: Document,
        expectedVersion: Int
    ) throws -> Versioned<Document> {
        let name = Document.documentName
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = try encoder.encode(document)
        let version = try database.write { db -> Int in
            let current =
                try Int.fetchOne(db, sql: "SELECT version FROM document WHERE name = ?", arguments: [name]) ?? 0
            guard current == expectedVersion else {
                throw StoreError.versionConflict(document: name, expected: expectedVersion, current: current)
            }
            try db.execute(
                sql: """
                    INSERT INTO document (name, version, body, updatedAt) VALUES (?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET version = excluded.version, body = excluded.body,
                        updatedAt = excluded.updatedAt
                    """,
                arguments: [name, current + 1, body, Date()])
            return current + 1
        }
        return Versioned(document: document, version: version)
    }

    // MARK: Secrets

    /// Stores `secret` under `name`, encrypted with the master key (AES-GCM; the name is authenticated with it).
    package func setSecret(_ secret: [UInt8], named name: String) throws {
        let sealed = try masterKey.seal(secret, name: name)
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO secret (name, sealed, updatedAt) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed, updatedAt = excluded.updatedAt
                    """,
                arguments: [name, sealed, Date()])
        }
    }

    /// The secret stored under `name`, decrypted; nil when there is none.
    package func secret(named name: String) throws -> [UInt8]? {
        let sealed = try database.read { db in
            try Data.fetchOne(db, sql: "SELECT sealed FROM secret WHERE name = ?", arguments: [name])
        }
        return try sealed.map { try masterKey.open($0, name: name) }
    }

    /// Removes the secret stored under `name`; returns whether there was one.
    @discardableResult
    package func removeSecret(named name: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM secret WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    // MARK: Backup

    /// Writes a consistent copy of the database to `path` (SQLite's online backup: writers are not stopped, and
    /// the copy is one point in time). The master key is not part of it and must be kept with it.
    package func backup(to path: String) throws {
        let destination = try DatabaseQueue(path: path)
        try database.backup(to: destination)
    }

    // MARK: Schema

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: documents and secrets") { db in
            try db.create(table: "document") { table in
                table.primaryKey("name", .text)
                table.column("version", .integer).notNull()
                table.column("body", .blob).notNull()
                table.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "secret") { table in
                table.primaryKey("name", .text)
                table.column("sealed", .blob).notNull()
                table.column("updatedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v2: audit log") { db in
            // The sequence is given by the audit log (audit_state.written + 1), never by SQLite, so that it is never
            // reused after the oldest entries are removed.
            try db.create(table: "audit") { table in
                table.primaryKey("sequence", .integer)
                table.column("time", .integer).notNull()  // milliseconds since 1970
                table.column("severity", .text).notNull()
                table.column("entity", .text).notNull()
                table.column("type", .text).notNull()
                table.column("title", .text).notNull()
                table.column("fields", .text).notNull()  // JSON array of {"name", "value"}, in order
                table.column("previous_hash", .text).notNull()
                table.column("hash", .text).notNull()
            }
            try db.create(index: "audit_time", on: "audit", columns: ["time"])
            try db.create(index: "audit_severity", on: "audit", columns: ["severity"])
            try db.create(table: "audit_state") { table in
                table.primaryKey("id", .integer).check { $0 == 1 }
                table.column("anchor", .text).notNull()  // the hash the oldest kept entry names
                table.column("capacity", .integer).notNull()
                table.column("policy", .text).notNull()
                table.column("written", .integer).notNull()  // entries ever written: the last sequence given
                table.column("overwritten", .integer).notNull()
                table.column("refused", .integer).notNull()
            }
            let initial = AuditLog.Settings()
            try db.execute(
                sql: """
                    INSERT INTO audit_state (id, anchor, capacity, policy, written, overwritten, refused)
                    VALUES (1, ?, ?, ?, 0, 0, 0)
                    """,
                arguments: [AuditChain.genesis, initial.capacity, initial.policy.rawValue])
        }
        return migrator
    }
}
