import Histogram
import MQTTCodec
import NIOCore

/// One subscriber's tallies, kept by its loop's worker.
struct BenchSubscriberState {
    var streams: [UInt32: BenchStream] = [:]
    var delivered: UInt64 = 0
    var duplicates: UInt64 = 0
    var outOfOrder: UInt64 = 0
}

/// What the subscribers of one loop saw, merged over the loops at the end of a run.
struct BenchDeliveryTotals: Sendable {
    var delivered: UInt64 = 0
    var deliveredInWindow: UInt64 = 0
    var duplicates: UInt64 = 0
    var outOfOrder: UInt64 = 0
    /// Messages expected and never seen: gaps in the sequences and, when the publishers are known, the tails.
    var lost: UInt64 = 0
    /// Of `lost`, those after the last message received from their publisher (the end of the stream never came).
    var lostAtEnd: UInt64 = 0
    var expected: UInt64 = 0
    /// Payloads without a bench header (another client publishing on the topics).
    var foreign: UInt64 = 0
    /// Retained messages delivered on subscribing (left by an earlier run): not counted.
    var retained: UInt64 = 0
    var firstDeliveryAt: NIODeadline?
    var lastDeliveryAt: NIODeadline?
    var latency: Histogram<UInt64>

    init() {
        latency = BenchLoopWorker.makeHistogram()
    }

    mutating func add(_ other: BenchDeliveryTotals) {
        delivered += other.delivered
        deliveredInWindow += other.deliveredInWindow
        duplicates += other.duplicates
        outOfOrder += other.outOfOrder
        lost += other.lost
        lostAtEnd += other.lostAtEnd
        expected += other.expected
        foreign += other.foreign
        retained += other.retained
        firstDeliveryAt = [firstDeliveryAt, other.firstDeliveryAt].compactMap { $0 }.min()
        lastDeliveryAt = [lastDeliveryAt, other.lastDeliveryAt].compactMap { $0 }.max()
        latency.add(other.latency)
    }
}

/// Everything of a run that lives on one event loop: its subscribers' tallies, one latency histogram and its
/// publishers.
///
/// Confined to the loop (reached through a `NIOLoopBoundBox`), so that a delivery costs no lock and no hop: the
/// client calls `onMessage` on the loop, the worker records the latency and the sequence check right there.
final class BenchLoopWorker {
    /// Latencies are recorded in nanoseconds up to 10 minutes, 3 significant digits.
    static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
    }

    private var totals = BenchDeliveryTotals()
    private var subscribers: [BenchSubscriberState]
    private(set) var publishers: [BenchPublisher] = []
    /// Deliveries after this instant do not count for the throughput (they drain a backlog); set when the
    /// publishers start.
    var windowEnd = NIODeadline.distantFuture

    init(subscriberCount: Int) {
        self.subscribers = Array(repeating: BenchSubscriberState(), count: subscriberCount)
    }

    func add(_ publisher: BenchPublisher) {
        publishers.append(publisher)
    }

    /// One PUBLISH for local subscriber `subscriber`: latency, sequence check, counts.
    func receive(_ packet: PublishPacket, subscriber: Int) {
        let now = NIODeadline.now()
        guard let header = BenchPayload.read(packet.payload) else {
            totals.foreign += 1
            return
        }
        if packet.retain {
            // Forwarded messages have the retain flag cleared; a set one was stored by an earlier run.
            totals.retained += 1
            return
        }
        totals.delivered += 1
        if now <= windowEnd { totals.deliveredInWindow += 1 }
        if totals.firstDeliveryAt == nil { totals.firstDeliveryAt = now }
        totals.lastDeliveryAt = now
        let nanoseconds = now.uptimeNanoseconds
        let latency = nanoseconds > header.sentAt ? nanoseconds - header.sentAt : 0
        _ = totals.latency.record(min(latency, totals.latency.highestTrackableValue))
        subscribers[subscriber].delivered += 1
        switch subscribers[subscriber].streams[header.publisher, default: BenchStream()].record(header.sequence) {
        case .inOrder, .ahead: break
        case .late: subscribers[subscriber].outOfOrder += 1
        case .duplicate: subscribers[subscriber].duplicates += 1
        }
    }

    /// Delivered so far, to tell when the subscribers have drained.
    var delivered: UInt64 { totals.delivered }

    /// The totals, with losses counted against what each publisher sent.
    /// - Parameters:
    ///   - sources: per local subscriber, the global indexes of the publishers it should hear from; nil when the
    ///     publishers are not in this process (`bench sub`): only gaps count as lost then.
    ///   - published: messages each publisher sent, by global index.
    func finalTotals(sources: [[Int]]?, published: [UInt64]) -> BenchDeliveryTotals {
        var result = totals
        result.lost = 0
        result.lostAtEnd = 0
        result.expected = 0
        for (local, subscriber) in subscribers.enumerated() {
            result.duplicates += subscriber.duplicates
            result.outOfOrder += subscriber.outOfOrder
            if let sources {
                for publisher in sources[local] {
                    let stream = subscriber.streams[UInt32(truncatingIfNeeded: publisher)] ?? BenchStream()
                    result.expected += published[publisher]
                    result.lost += stream.lost(published: published[publisher])
                    result.lostAtEnd += stream.lost(published: published[publisher]) - stream.missing
                }
            } else {
                for stream in subscriber.streams.values {
                    result.lost += stream.missing
                    result.expected += stream.next
                }
            }
        }
        return result
    }
}
