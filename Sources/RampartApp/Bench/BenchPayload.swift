import NIOCore

/// The 16-byte header `rampart bench` publishers put at the start of every payload, so that a subscriber can tell
/// which publisher a message comes from, where it belongs in that publisher's sequence and how long it travelled.
///
/// Layout (big-endian): one 8-byte word with the publisher index in the top 24 bits and the sequence number in the
/// low 40 bits, then the send time as 8 bytes of monotonic nanoseconds (`NIODeadline.now()`, CLOCK_MONOTONIC on
/// Linux: comparable between processes of one machine only). Packing index and sequence into one word keeps the
/// header at 16 bytes, so that the 16-byte `p2p-qos0` scenario carries nothing but the header; 2^40 messages per
/// publisher and 2^24 publishers are far beyond what one run produces.
enum BenchPayload {
    static let headerSize = 16
    static let sequenceBits: UInt64 = 40
    static let sequenceMask: UInt64 = (1 << sequenceBits) - 1
    static let maximumPublishers = 1 << 24

    /// Rewrites `buffer` as the payload of message `sequence` of publisher `publisher`, `size` bytes long.
    ///
    /// The buffer is cleared and refilled in place: when the caller holds the only reference (the previous
    /// PUBLISH was encoded and released), no memory is allocated.
    static func write(
        publisher: UInt32,
        sequence: UInt64,
        sentAt: UInt64,
        size: Int,
        into buffer: inout ByteBuffer
    ) {
        buffer.clear()
        buffer.writeInteger((UInt64(publisher) << sequenceBits) | (sequence & sequenceMask))
        buffer.writeInteger(sentAt)
        if size > headerSize {
            buffer.writeRepeatingByte(0x2E, count: size - headerSize)
        }
    }

    /// The header of a received payload, or nil when it is too short to carry one (not from `rampart bench`).
    static func read(_ payload: ByteBuffer) -> (publisher: UInt32, sequence: UInt64, sentAt: UInt64)? {
        let start = payload.readerIndex
        guard payload.readableBytes >= headerSize,
            let word = payload.getInteger(at: start, as: UInt64.self),
            let sentAt = payload.getInteger(at: start + 8, as: UInt64.self)
        else { return nil }
        return (UInt32(truncatingIfNeeded: word >> sequenceBits), word & sequenceMask, sentAt)
    }
}
