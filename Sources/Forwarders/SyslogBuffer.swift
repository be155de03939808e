import NIOCore

/// The messages a syslog sender holds, oldest first: `pending` ones not yet written, and `unconfirmed` ones written on
/// the current connection whose bytes the receiver has not yet acknowledged. A connection lost with unacknowledged
/// bytes may have lost them, so `requeueUnconfirmed()` puts those messages back in front of the pending ones.
///
/// Bounded by `capacity` messages in all. Not thread-safe: the sender keeps it under its lock.
struct SyslogBuffer {
    /// A message written to the current connection.
    struct Written {
        let sequence: UInt64
        let message: String
        /// The connection's outbound byte count (TLS records included) once the message's write completed: when the
        /// receiver has acknowledged that many bytes, it has the message.
        var wireEnd: Int?
        /// When its write completed, for systems that cannot tell acknowledged bytes.
        var writtenAt: NIODeadline?
    }

    /// What `append` had to do to stay within capacity. The oldest message held goes: an unconfirmed one if any
    /// (they are older than every pending one), else the oldest pending one.
    enum AppendOutcome: Equatable {
        case stored
        /// The oldest unconfirmed message is no longer held for a resend. It is in the socket and most likely
        /// arrives (it is only unprotected against a connection loss), so it is not lost.
        case releasedOldestUnconfirmed
        /// The oldest pending message was dropped: it is lost.
        case droppedOldest
    }

    let capacity: Int
    private(set) var pending = CircularBuffer<String>()
    private(set) var unconfirmed = CircularBuffer<Written>()
    private var nextSequence: UInt64 = 0
    /// How many entries at the front of `unconfirmed` have their write completed (later ones are still in NIO).
    private var writtenPrefix = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Messages held: pending and unconfirmed.
    var count: Int { pending.count + unconfirmed.count }

    mutating func append(_ message: String) -> AppendOutcome {
        var outcome = AppendOutcome.stored
        if count >= capacity {
            if !unconfirmed.isEmpty {
                unconfirmed.removeFirst()
                writtenPrefix = max(0, writtenPrefix - 1)
                outcome = .releasedOldestUnconfirmed
            } else {
                pending.removeFirst()
                outcome = .droppedOldest
            }
        }
        pending.append(message)
        return outcome
    }

    /// Takes up to `limit` pending messages for writing, oldest first. With `keepUntilConfirmed` they move to the
    /// unconfirmed list (TCP, TLS); without (UDP) they leave the buffer.
    /// - Returns: the messages and the sequence number of the last, for `markWritten(through:…)`.
    mutating func takeForWriting(limit: Int, keepUntilConfirmed: Bool) -> (messages: [String], lastSequence: UInt64) {
        var messages: [String] = []
        messages.reserveCapacity(min(limit, pending.count))
        while messages.count < limit, let message = pending.popFirst() {
            messages.append(message)
            if keepUntilConfirmed {
                unconfirmed.append(Written(sequence: nextSequence, message: message))
            }
            nextSequence &+= 1
        }
        return (messages, nextSequence &- 1)
    }

    /// Records that the writes of all unconfirmed messages up to `sequence` completed.
    mutating func markWritten(through sequence: UInt64, wireEnd: Int, at time: NIODeadline) {
        var index = unconfirmed.index(unconfirmed.startIndex, offsetBy: writtenPrefix)
        while index != unconfirmed.endIndex, unconfirmed[index].sequence <= sequence {
            unconfirmed[index].wireEnd = wireEnd
            unconfirmed[index].writtenAt = time
            writtenPrefix += 1
            index = unconfirmed.index(after: index)
        }
    }

    /// Releases the messages whose bytes the receiver acknowledged.
    /// - Returns: how many.
    mutating func confirm(wireBytesAcknowledged acknowledged: Int) -> Int {
        releaseWritten { $0.wireEnd.map { $0 <= acknowledged } ?? false }
    }

    /// Releases the messages written before `time`: the fallback where acknowledged bytes cannot be read.
    /// - Returns: how many.
    mutating func confirm(writtenBefore time: NIODeadline) -> Int {
        releaseWritten { $0.writtenAt.map { $0 <= time } ?? false }
    }

    private mutating func releaseWritten(while isConfirmed: (Written) -> Bool) -> Int {
        var released = 0
        while released < writtenPrefix, let first = unconfirmed.first, isConfirmed(first) {
            unconfirmed.removeFirst()
            released += 1
        }
        writtenPrefix -= released
        return released
    }

    /// After a connection loss: the unconfirmed messages go back in front of the pending ones, in order.
    /// - Returns: how many were put back.
    @discardableResult
    mutating func requeueUnconfirmed() -> Int {
        let count = unconfirmed.count
        for written in unconfirmed.reversed() {
            pending.prepend(written.message)
        }
        unconfirmed.removeAll()
        writtenPrefix = 0
        return count
    }

    /// Empties the buffer.
    /// - Returns: how many messages it held.
    mutating func removeAll() -> Int {
        let count = count
        pending.removeAll()
        unconfirmed.removeAll()
        writtenPrefix = 0
        return count
    }
}
