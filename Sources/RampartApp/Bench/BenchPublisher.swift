import MQTTClient
import MQTTCodec
import NIOCore

/// How each publisher of a run publishes; the same for all of them but for the topic and the index.
struct BenchPublishPlan: Sendable {
    var qos: QoS
    var retain: Bool
    var payloadSize: Int
    /// Messages per second for one publisher; 0 publishes as fast as the connection takes them.
    var rate: Double
    /// Messages per publisher; nil publishes until `deadline`.
    var count: UInt64?
    /// Most QoS 1/2 messages waiting for their acknowledgement.
    var inflight: Int
    /// Most messages published in one event-loop task before yielding to reads and the other connections.
    var batch: Int
    /// How long a finished publisher waits for the acknowledgements still missing.
    var drainTimeout: TimeAmount
}

/// What one publisher did, read once it has finished.
struct BenchPublisherResult: Sendable {
    var index: Int
    var published: UInt64
    var acknowledged: UInt64
    var failed: UInt64
    /// Messages published before the end of the publishing window (all of them in a `--count` run).
    var publishedInWindow: UInt64
    var firstPublishAt: NIODeadline?
    var lastPublishAt: NIODeadline?
}

/// One publishing connection's loop, run entirely on the connection's event loop.
///
/// Publishing is driven by event-loop tasks, never by an async task per message: each turn publishes a batch
/// (encoded into the client's write batch, flushed once at the end of the turn), then yields with
/// `execute` so that reads and the other connections of the loop get their turn. The loop stops on its own and
/// waits instead of queueing when the window is full: a rate limit schedules the next turn at the time the next
/// message is due, a full QoS 1/2 window waits for an acknowledgement, and an unwritable channel (the socket
/// buffer is full: the broker reads slower than we write) is retried shortly after, so that QoS 0 at an unlimited
/// rate measures what the broker accepts rather than how much memory the generator can fill.
final class BenchPublisher {
    private enum State {
        case waiting
        case running
        case draining
        case finished
    }

    let index: Int
    private let connection: MQTTClientConnection
    private let eventLoop: any EventLoop
    private let plan: BenchPublishPlan
    private let windowEnd: NIODeadline
    private let finished: EventLoopPromise<Void>
    private var packet: PublishPacket
    private var state = State.waiting
    private var startedAt = NIODeadline.now()
    /// Nanoseconds between two messages at the configured rate.
    private let interval: Double

    private var published: UInt64 = 0
    private var publishedInWindow: UInt64 = 0
    private var acknowledged: UInt64 = 0
    private var failed: UInt64 = 0
    private var inflight = 0
    private var firstPublishAt: NIODeadline?
    private var lastPublishAt: NIODeadline?

    private var turnScheduled = false
    private var waitingForAcknowledgement = false
    private var timer: Scheduled<Void>?
    private var endTimer: Scheduled<Void>?

    /// - Parameters:
    ///   - windowEnd: when publishing stops (`.distantFuture` with a message count).
    init(
        index: Int,
        topic: String,
        connection: MQTTClientConnection,
        plan: BenchPublishPlan,
        windowEnd: NIODeadline
    ) {
        self.index = index
        self.connection = connection
        self.eventLoop = connection.eventLoop
        self.plan = plan
        self.windowEnd = windowEnd
        self.finished = connection.eventLoop.makePromise(of: Void.self)
        self.interval = plan.rate > 0 ? 1e9 / plan.rate : 0
        var payload = ByteBufferAllocator().buffer(capacity: max(plan.payloadSize, BenchPayload.headerSize))
        payload.writeRepeatingByte(0, count: max(plan.payloadSize, BenchPayload.headerSize))
        self.packet = PublishPacket(topic: topic, payload: payload, qos: plan.qos, retain: plan.retain)
    }

    /// Completes when the publisher has stopped and its acknowledgements are in (or the drain timed out).
    var done: EventLoopFuture<Void> { finished.futureResult }

    /// Starts publishing at `start` (all publishers of a run share it, so that they begin together).
    func start(at start: NIODeadline) {
        eventLoop.preconditionInEventLoop()
        guard state == .waiting else { return }
        state = .running
        startedAt = start
        connection.closeFuture.assumeIsolated().whenComplete { [self] _ in
            // Nothing more can be published or acknowledged: what is in flight has failed with the close.
            if state != .finished { finish() }
        }
        if windowEnd != .distantFuture {
            endTimer = eventLoop.assumeIsolated().scheduleTask(deadline: windowEnd) { [self] in beginDrain() }
        }
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: start) { [self] in turn() }
    }

    /// Stops publishing now (Ctrl-C, or the run gives up waiting).
    func stop() {
        if state == .running || state == .waiting { beginDrain() }
    }

    var result: BenchPublisherResult {
        BenchPublisherResult(
            index: index,
            published: published,
            acknowledged: acknowledged,
            failed: failed,
            publishedInWindow: publishedInWindow,
            firstPublishAt: firstPublishAt,
            lastPublishAt: lastPublishAt
        )
    }

    // MARK: The publishing loop

    private func turn() {
        turnScheduled = false
        timer = nil
        guard state == .running else { return }
        let now = NIODeadline.now()
        let limit = plan.count ?? .max
        if now >= windowEnd || published >= limit {
            beginDrain()
            return
        }
        var allowed = UInt64(plan.batch)
        if plan.rate > 0 {
            // Messages due by now since the start; the next one waits for its time slot.
            let due = UInt64(Double((now - startedAt).nanoseconds) / interval) + 1
            guard due > published else {
                scheduleTurn(at: dueTime(of: published))
                return
            }
            allowed = min(allowed, due - published)
        }
        allowed = min(allowed, limit - published)
        if plan.qos != .atMostOnce {
            let free = plan.inflight - inflight
            guard free > 0 else {
                waitingForAcknowledgement = true
                return
            }
            allowed = min(allowed, UInt64(free))
        }
        var sent: UInt64 = 0
        while sent < allowed && connection.isWritable {
            publishOne()
            sent += 1
        }
        guard state == .running else { return }
        if sent < allowed && !connection.isWritable {
            // The socket buffer is full: go on once the broker has read enough for the channel to be writable.
            waitForWritable()
        } else if plan.rate > 0 && dueTime(of: published) > NIODeadline.now() {
            scheduleTurn(at: dueTime(of: published))
        } else if plan.qos != .atMostOnce && inflight >= plan.inflight {
            waitingForAcknowledgement = true
        } else {
            yieldTurn()
        }
    }

    private func dueTime(of message: UInt64) -> NIODeadline {
        startedAt + .nanoseconds(Int64(Double(message) * interval))
    }

    private func scheduleTurn(at deadline: NIODeadline) {
        guard !turnScheduled else { return }
        turnScheduled = true
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in turn() }
    }

    private func waitForWritable() {
        guard !turnScheduled else { return }
        turnScheduled = true
        connection.whenWritable { [self] in
            turnScheduled = false
            yieldTurn()
        }
    }

    /// Lets reads and the other connections of this loop run before the next batch.
    private func yieldTurn() {
        guard !turnScheduled else { return }
        turnScheduled = true
        eventLoop.assumeIsolated().execute { [self] in turn() }
    }

    private func publishOne() {
        let now = NIODeadline.now()
        BenchPayload.write(
            publisher: UInt32(truncatingIfNeeded: index),
            sequence: published,
            sentAt: now.uptimeNanoseconds,
            size: plan.payloadSize,
            into: &packet.payload
        )
        if firstPublishAt == nil { firstPublishAt = now }
        lastPublishAt = now
        published += 1
        if now <= windowEnd { publishedInWindow += 1 }
        if plan.qos == .atMostOnce {
            connection.publish(packet, promise: nil)
            return
        }
        inflight += 1
        let promise = eventLoop.makePromise(of: ReasonCode.self)
        promise.futureResult.assumeIsolated().whenComplete { [self] result in
            acknowledgementArrived(success: (try? result.get()).map { !$0.isFailure } ?? false)
        }
        connection.publish(packet, promise: promise)
    }

    private func acknowledgementArrived(success: Bool) {
        inflight -= 1
        if success { acknowledged += 1 } else { failed += 1 }
        switch state {
        case .running where waitingForAcknowledgement:
            waitingForAcknowledgement = false
            // Not from here: this runs inside the client's read; the next turn publishes after the read burst.
            yieldTurn()
        case .draining where inflight == 0:
            finish()
        default:
            break
        }
    }

    private func beginDrain() {
        guard state == .running || state == .waiting else { return }
        state = .draining
        timer?.cancel()
        timer = nil
        if inflight == 0 {
            finish()
            return
        }
        endTimer?.cancel()
        endTimer = eventLoop.assumeIsolated().scheduleTask(in: plan.drainTimeout) { [self] in
            if state == .draining { finish() }
        }
    }

    private func finish() {
        guard state != .finished else { return }
        state = .finished
        timer?.cancel()
        endTimer?.cancel()
        timer = nil
        endTimer = nil
        finished.succeed(())
    }
}
