import Crypto
import Foundation

/// The key that encrypts secrets at rest, kept in a file of its own (mode 0600) apart from the database, so that a
/// copy of the database alone reveals no secret (PKI-3).
package struct MasterKey: Sendable {
    /// The key's bytes (`SymmetricKey` is not `Sendable` in every swift-crypto version this package accepts).
    private let bytes: [UInt8]

    package init(key: SymmetricKey) {
        self.bytes = key.withUnsafeBytes { Array($0) }
    }

    private var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// Reads the key at `path`, or creates it (32 random bytes, mode 0600) when `create` is true and none exists.
    package static func load(at path: String, create: Bool) throws -> MasterKey {
        let manager = FileManager.default
        guard manager.fileExists(atPath: path) else {
            guard create else { throw StoreError.masterKeyMissing(path: path) }
            let key = SymmetricKey(size: .bits256)
            let bytes = key.withUnsafeBytes { Data($0) }
            // Created with 0600 from the start: the key is never readable by others, not even briefly.
            guard manager.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError.masterKeyInvalid(path: path, reason: "cannot be created")
            }
            return MasterKey(key: key)
        }
        let attributes = try manager.attributesOfItem(atPath: path)
        if let permissions = attributes[.posixPermissions] as? NSNumber, permissions.intValue & 0o077 != 0 {
            throw StoreError.masterKeyInvalid(
                path: path, reason: "mode \(String(permissions.intValue, radix: 8)) lets others read it; it must be 600"
            )
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        guard bytes.count == 32 else {
            throw StoreError.masterKeyInvalid(path: path, reason: "\(bytes.count) bytes, expected 32")
        }
        return MasterKey(key: SymmetricKey(data: bytes))
    }

    /// Encrypts `secret` with AES-GCM; the name is authenticated too, so a row copied under another name fails.
    func seal(_ secret: [UInt8], name: String) throws -> Data {
        let box = try AES.GCM.seal(secret, using: key, authenticating: Data(name.utf8))
        guard let combined = box.combined else { throw StoreError.secretUnreadable(name: name) }
        return combined
    }

    func open(_ sealed: Data, name: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: key, authenticating: Data(name.utf8)))
        } catch {
            throw StoreError.secretUnreadable(name: name)
        }
    }
}
