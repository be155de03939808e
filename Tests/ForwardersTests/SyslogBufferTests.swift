import NIOCore
import Testing

@testable import Forwarders

@Suite struct SyslogBufferTests {
    @Test func fullBufferDropsTheOldestPendingMessage() {
        var buffer = SyslogBuffer(capacity: 3)
        #expect(["a", "b", "c"].map { buffer.append($0) } == [.stored, .stored, .stored])
        #expect(buffer.append("d") == .droppedOldest)
        #expect(Array(buffer.pending) == ["b", "c", "d"])
        #expect(buffer.count == 3)
    }

    @Test func unconfirmedMessagesGoBackInFrontOnLoss() {
        var buffer = SyslogBuffer(capacity: 10)
        for message in ["a", "b", "c"] { _ = buffer.append(message) }
        let taken = buffer.takeForWriting(limit: 2, keepUntilConfirmed: true)
        #expect(taken.messages == ["a", "b"])
        _ = buffer.append("d")
        #expect(buffer.count == 4)

        #expect(buffer.requeueUnconfirmed() == 2)
        #expect(Array(buffer.pending) == ["a", "b", "c", "d"])
        #expect(buffer.unconfirmed.isEmpty)
    }

    @Test func whenFullTheOldestUnconfirmedIsReleasedBeforeAnyPendingIsDropped() {
        var buffer = SyslogBuffer(capacity: 3)
        for message in ["a", "b", "c"] { _ = buffer.append(message) }
        _ = buffer.takeForWriting(limit: 2, keepUntilConfirmed: true)
        // "a" and "b" are in the socket already: releasing them loses nothing for sure.
        #expect(buffer.append("d") == .releasedOldestUnconfirmed)
        #expect(buffer.append("e") == .releasedOldestUnconfirmed)
        #expect(buffer.unconfirmed.isEmpty)
        #expect(buffer.append("f") == .droppedOldest)
        #expect(Array(buffer.pending) == ["d", "e", "f"])
    }

    @Test func acknowledgedBytesConfirmOnlyCompletedWritesTheyCover() {
        var buffer = SyslogBuffer(capacity: 10)
        for message in ["a", "b", "c", "d"] { _ = buffer.append(message) }
        let first = buffer.takeForWriting(limit: 2, keepUntilConfirmed: true)
        let second = buffer.takeForWriting(limit: 2, keepUntilConfirmed: true)
        buffer.markWritten(through: first.lastSequence, wireEnd: 100, at: .now())

        // The second batch's write has not completed: no amount of acknowledged bytes confirms it.
        #expect(buffer.confirm(wireBytesAcknowledged: 99) == 0)
        #expect(buffer.confirm(wireBytesAcknowledged: 1000) == 2)
        #expect(buffer.unconfirmed.map(\.message) == ["c", "d"])

        buffer.markWritten(through: second.lastSequence, wireEnd: 200, at: .now())
        #expect(buffer.confirm(wireBytesAcknowledged: 199) == 0)
        #expect(buffer.confirm(wireBytesAcknowledged: 200) == 2)
        #expect(buffer.count == 0)
    }

    @Test func timeFallbackConfirmsWritesOlderThanTheHoldTime() {
        var buffer = SyslogBuffer(capacity: 10)
        for message in ["a", "b"] { _ = buffer.append(message) }
        let start = NIODeadline.now()
        let first = buffer.takeForWriting(limit: 1, keepUntilConfirmed: true)
        buffer.markWritten(through: first.lastSequence, wireEnd: 1, at: start)
        let second = buffer.takeForWriting(limit: 1, keepUntilConfirmed: true)
        buffer.markWritten(through: second.lastSequence, wireEnd: 2, at: start + .seconds(2))
        #expect(buffer.confirm(writtenBefore: start + .seconds(1)) == 1)
        #expect(buffer.unconfirmed.map(\.message) == ["b"])
    }

    @Test func datagramsLeaveTheBufferWhenTaken() {
        var buffer = SyslogBuffer(capacity: 10)
        for message in ["a", "b"] { _ = buffer.append(message) }
        #expect(buffer.takeForWriting(limit: 10, keepUntilConfirmed: false).messages == ["a", "b"])
        #expect(buffer.count == 0)
    }
}
