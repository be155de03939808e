/// What a subscriber knows about the messages of one publisher: the next sequence number it expects and the
/// ranges it has not seen below that.
///
/// Missing messages are kept as ranges rather than one entry per message, so that a broker dropping a million
/// QoS 0 messages in a few bursts costs a few ranges. A message below `next` that falls in a range arrived late
/// (out of order); one outside every range was seen before (a duplicate).
struct BenchStream {
    enum Arrival {
        case inOrder
        /// Ahead of what was expected: the skipped sequence numbers become a missing range.
        case ahead
        /// Below what was expected, filling a missing range: reordered.
        case late
        case duplicate
    }

    /// One past the highest sequence number seen.
    private(set) var next: UInt64 = 0
    /// Sequence numbers below `next` not seen yet, sorted and disjoint.
    private(set) var gaps: [Range<UInt64>] = []

    mutating func record(_ sequence: UInt64) -> Arrival {
        if sequence == next {
            next += 1
            return .inOrder
        }
        if sequence > next {
            gaps.append(next..<sequence)
            next = sequence + 1
            return .ahead
        }
        // Binary search for the gap holding `sequence`: the last gap starting at or below it.
        var low = 0
        var high = gaps.count
        while low < high {
            let middle = (low + high) / 2
            if gaps[middle].lowerBound <= sequence { low = middle + 1 } else { high = middle }
        }
        let index = low - 1
        guard index >= 0, gaps[index].contains(sequence) else { return .duplicate }
        let gap = gaps[index]
        let before = gap.lowerBound..<sequence
        let after = (sequence + 1)..<gap.upperBound
        switch (before.isEmpty, after.isEmpty) {
        case (true, true): gaps.remove(at: index)
        case (false, true): gaps[index] = before
        case (true, false): gaps[index] = after
        case (false, false):
            gaps[index] = before
            gaps.insert(after, at: index + 1)
        }
        return .late
    }

    /// Messages missing below `next`.
    var missing: UInt64 { gaps.reduce(0) { $0 + UInt64($1.count) } }

    /// Messages never received out of `published` (sequence numbers 0..<published): the gaps and the tail.
    func lost(published: UInt64) -> UInt64 {
        missing + (published > next ? published - next : 0)
    }
}
