import Foundation
import Testing

@testable import Events

@Suite struct AuditChainTests {
    private func chain(_ count: Int) -> [AuditEntry] {
        var previous = AuditChain.genesis
        return (1...count).map { index in
            let event = SecurityEvent(
                stream: .audit, time: Date(timeIntervalSince1970: 1_700_000_000 + Double(index)), severity: .warning,
                entity: EventEntity.management, type: "ConfigurationChange", title: "change \(index)",
                fields: [EventField(EventField.user, "admin"), EventField(EventField.sourceAddress, "192.0.2.7")],
                sequence: UInt64(index))
            let entry = AuditChain.entry(for: event, previousHash: previous)
            previous = entry.hash
            return entry
        }
    }

    @Test func anUntouchedChainVerifies() {
        let entries = chain(5)
        let result = AuditChain.verify(entries, anchor: AuditChain.genesis)
        #expect(result.intact)
        #expect(result.checked == 5)
    }

    @Test func anEditedEntryIsTheFirstBrokenLink() {
        var entries = chain(5)
        entries[2].event.title = "nothing happened"
        let result = AuditChain.verify(entries, anchor: AuditChain.genesis)
        #expect(result.firstBroken == 3)
        #expect(result.reason?.contains("altered") == true)
    }

    @Test func anEditedEntryWithARecomputedHashBreaksTheNextLink() {
        var entries = chain(5)
        entries[1].event.fields[0].value = "nobody"
        entries[1].hash = AuditChain.hash(of: entries[1].event, previousHash: entries[1].previousHash)
        #expect(AuditChain.verify(entries, anchor: AuditChain.genesis).firstBroken == 3)
    }

    @Test func aRemovedEntryIsFound() {
        var entries = chain(5)
        entries.remove(at: 1)
        #expect(AuditChain.verify(entries, anchor: AuditChain.genesis).firstBroken == 3)
    }

    @Test func theChainContinuesFromAnAnchorAfterExport() {
        let entries = chain(6)
        let kept = Array(entries[3...])
        #expect(AuditChain.verify(kept, anchor: entries[2].hash).intact)
        #expect(!AuditChain.verify(kept, anchor: AuditChain.genesis).intact)
    }

    /// A field boundary cannot be imitated by text inside a field.
    @Test func partsAreDelimitedByLength() {
        let a = SecurityEvent(
            stream: .audit, severity: .informational, entity: "ab", type: "c", title: "t", sequence: 1)
        var b = a
        b.entity = "a"
        b.type = "bc"
        #expect(
            AuditChain.hash(of: a, previousHash: AuditChain.genesis)
                != AuditChain.hash(of: b, previousHash: AuditChain.genesis))
    }

    @Test func timesAreKeptToTheMillisecond() {
        let event = SecurityEvent(
            stream: .audit, time: Date(timeIntervalSince1970: 1_700_000_000.123_456), severity: .critical,
            entity: "e", type: "t", title: "x")
        #expect(event.millisecondsSince1970 == 1_700_000_000_123)
        let again = SecurityEvent(
            stream: .audit, time: Date(timeIntervalSince1970: Double(event.millisecondsSince1970) / 1000),
            severity: .critical, entity: "e", type: "t", title: "x")
        #expect(AuditChain.hash(of: event, previousHash: "") == AuditChain.hash(of: again, previousHash: ""))
    }
}
