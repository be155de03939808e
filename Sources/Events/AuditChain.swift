import Crypto
import Foundation

/// An audit record with its place in the hash chain: each entry carries the SHA-256 of the previous one, so that
/// editing, inserting or removing an entry anywhere but at the ends breaks a link that `AuditChain.verify` finds.
package struct AuditEntry: Sendable, Codable, Hashable {
    package var event: SecurityEvent
    /// The previous entry's hash (the anchor for the first entry kept).
    package var previousHash: String
    package var hash: String

    package init(event: SecurityEvent, previousHash: String, hash: String) {
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
    }

    package var sequence: UInt64 { event.sequence }
}

/// The audit log's hash chain.
///
/// The hash covers a canonical encoding of every part of the record: each part is written as its UTF-8 length
/// (8 bytes, big-endian) followed by its bytes, so no text inside a field can imitate a boundary.
package enum AuditChain {
    /// The anchor of an empty log that was never exported.
    package static let genesis = String(repeating: "0", count: 64)

    /// The hash of `event` (with its sequence) chained to `previousHash`.
    package static func hash(of event: SecurityEvent, previousHash: String) -> String {
        var hasher = SHA256()
        func part(_ text: String) {
            let bytes = Array(text.utf8)
            var length = UInt64(bytes.count).bigEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        part(previousHash)
        part(String(event.sequence))
        part(String(event.millisecondsSince1970))
        part(event.severity.rawValue)
        part(event.entity)
        part(event.type)
        part(event.title)
        part(String(event.fields.count))
        for field in event.fields {
            part(field.name)
            part(field.value)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Chains `event` after `previousHash`.
    package static func entry(for event: SecurityEvent, previousHash: String) -> AuditEntry {
        AuditEntry(event: event, previousHash: previousHash, hash: hash(of: event, previousHash: previousHash))
    }

    /// The outcome of checking a run of entries.
    package struct Verification: Sendable, Codable, Hashable {
        /// How many entries were checked.
        package var checked: Int
        /// The sequence of the first entry whose link or hash is wrong, nil when the chain holds.
        package var firstBroken: UInt64?
        /// Why that entry is wrong.
        package var reason: String?

        package var intact: Bool { firstBroken == nil }
    }

    /// Checks `entries` (in sequence order) against `anchor`, the hash the first of them must name.
    package static func verify(_ entries: some Sequence<AuditEntry>, anchor: String) -> Verification {
        var previous = anchor
        var checked = 0
        for entry in entries {
            checked += 1
            guard entry.previousHash == previous else {
                return Verification(
                    checked: checked, firstBroken: entry.sequence,
                    reason:
                        "entry \(entry.sequence) does not follow the one before it (an entry was removed or inserted)"
                )
            }
            guard hash(of: entry.event, previousHash: entry.previousHash) == entry.hash else {
                return Verification(
                    checked: checked, firstBroken: entry.sequence,
                    reason: "entry \(entry.sequence) was altered: its content does not match its hash")
            }
            previous = entry.hash
        }
        return Verification(checked: checked, firstBroken: nil, reason: nil)
    }
}
