import Foundation
import Testing

@testable import Store

/// A document as the management plane will have them: a few fields with defaults.
private struct TimeSettings: ConfigurationDocument {
    static let documentName = "time"
    static let initial = TimeSettings(ntpServers: [], timeZone: "UTC")

    var ntpServers: [String]
    var timeZone: String
}

/// A fresh folder per test, removed afterwards.
private final class Folder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var database: String { path + "/rampart.sqlite" }
    var masterKey: String { path + "/master.key" }

    func open() throws -> GatewayStore {
        try GatewayStore(databasePath: database, masterKeyPath: masterKey)
    }
}

@Suite("Gateway store")
struct GatewayStoreTests {
    @Test func aDocumentNeverSavedIsItsInitialValueAtVersion0() throws {
        let folder = try Folder()
        let store = try folder.open()
        let time = try store.document(TimeSettings.self)
        #expect(time.version == 0)
        #expect(time.document == TimeSettings.initial)
    }

    @Test func savingIncrementsTheVersionAndSurvivesReopening() throws {
        let folder = try Folder()
        var time = try folder.open().document(TimeSettings.self)
        time.document.ntpServers = ["192.0.2.123"]
        let saved = try folder.open().save(time.document, expectedVersion: time.version)
        #expect(saved.version == 1)
        let reread = try folder.open().document(TimeSettings.self)
        #expect(reread.version == 1)
        #expect(reread.document.ntpServers == ["192.0.2.123"])
    }

    @Test func aSaveAgainstAnOldVersionIsRefusedAndChangesNothing() throws {
        let folder = try Folder()
        let store = try folder.open()
        let first = try store.document(TimeSettings.self)
        var mine = first.document
        mine.timeZone = "Europe/Berlin"
        try store.save(mine, expectedVersion: first.version)
        var theirs = first.document
        theirs.timeZone = "Asia/Tokyo"
        #expect(throws: StoreError.versionConflict(document: "time", expected: 0, current: 1)) {
            try store.save(theirs, expectedVersion: first.version)
        }
        #expect(try store.document(TimeSettings.self).document.timeZone == "Europe/Berlin")
    }

    @Test func secretsRoundTripAndNeverStandInTheDatabaseInClear() throws {
        let folder = try Folder()
        let store = try folder.open()
        let pem = Array("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n".utf8)
        try store.setSecret(pem, named: "web/default/key")
        #expect(try store.secret(named: "web/default/key") == pem)
        #expect(try store.secret(named: "absent") == nil)

        // The database file (and its WAL) hold no byte sequence of the secret's body.
        let body = Data("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg".utf8)
        for path in [folder.database, folder.database + "-wal"] where FileManager.default.fileExists(atPath: path) {
            let contents = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(contents.range(of: body) == nil, "the secret stands in clear in \(path)")
        }
        #expect(try store.removeSecret(named: "web/default/key"))
        #expect(try store.secret(named: "web/default/key") == nil)
    }

    @Test func theMasterKeyIsAFileOfItsOwnReadableOnlyByItsOwner() throws {
        let folder = try Folder()
        _ = try folder.open()
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.masterKey)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect((attributes[.size] as? NSNumber)?.intValue == 32)
    }

    @Test func withoutItsMasterKeyTheSecretsCannotBeOpenedAndNoNewKeyIsMade() throws {
        let folder = try Folder()
        try folder.open().setSecret(Array("token".utf8), named: "api/token")
        try FileManager.default.removeItem(atPath: folder.masterKey)
        #expect(throws: StoreError.masterKeyMissing(path: folder.masterKey)) { try folder.open() }
        #expect(!FileManager.default.fileExists(atPath: folder.masterKey))
    }

    @Test func anotherMasterKeyDoesNotOpenTheSecrets() throws {
        let folder = try Folder()
        try folder.open().setSecret(Array("token".utf8), named: "api/token")
        try FileManager.default.removeItem(atPath: folder.masterKey)
        let other = try Folder()
        _ = try other.open()  // makes a key of its own
        try FileManager.default.copyItem(atPath: other.masterKey, toPath: folder.masterKey)
        let store = try folder.open()
        #expect(throws: StoreError.secretUnreadable(name: "api/token")) { try store.secret(named: "api/token") }
    }

    @Test func aMasterKeyOthersCanReadIsRefused() throws {
        let folder = try Folder()
        _ = try folder.open()
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: folder.masterKey)
        #expect(throws: StoreError.self) { try folder.open() }
    }

    @Test func aBackupIsAConsistentCopyThatOpensWithTheSameKey() throws {
        let folder = try Folder()
        let store = try folder.open()
        try store.save(TimeSettings(ntpServers: ["192.0.2.1"], timeZone: "UTC"), expectedVersion: 0)
        try store.setSecret(Array("s3cret".utf8), named: "push/credentials")
        let backup = folder.path + "/backup.sqlite"
        try store.backup(to: backup)
        let restored = try GatewayStore(databasePath: backup, masterKeyPath: folder.masterKey)
        #expect(try restored.document(TimeSettings.self).document.ntpServers == ["192.0.2.1"])
        #expect(try restored.document(TimeSettings.self).version == 1)
        #expect(try restored.secret(named: "push/credentials") == Array("s3cret".utf8))
    }
}
