import Events
import Logging

/// Sends security events as push notifications (Firebase Cloud Messaging), one per event on the topic
/// `<Device>_<Entity>_<EventType>`, and announces the device and its topics on `DevicesAndTopics` every
/// `announceInterval`.
///
/// Events wait in a bounded queue and leave it in order: a failed send is tried again after a growing pause
/// (1 s doubling to 60 s by default) before any later event, so a phone sees events in the order they happened. A
/// message the receiver refuses outright (4xx other than 408 and 429) would be refused again: it is dropped and
/// counted instead. When the queue is full the oldest event makes room. Outages are reported to `onOutage` once
/// when they begin and once when they end, never per message, so that the audit log is not flooded while the
/// receiver is down.
package actor PushForwarder {
    private struct Pending {
        var id: UInt64
        var message: PushMessage
    }

    private enum Attempt {
        case delivered
        /// Refused for good; counted as dropped.
        case refused
        case retryLater
    }

    private let configuration: PushConfiguration
    private let logger: Logger
    private let onOutage: @Sendable (PushOutage) -> Void
    private let transport: PushTransport
    private let announce: PushMessage

    private var queue: [Pending] = []
    private var nextID: UInt64 = 0
    private var sent = 0
    private var dropped = 0
    private var connected = false
    private var lastError: String?
    /// While an outage lasts: the dropped count when it began, to report how many were lost.
    private var droppedWhenOutageBegan: Int?
    private var running = false
    /// `run` waiting for an event, the next announce or a retry.
    private var waiter: CheckedContinuation<Void, Never>?

    /// - Throws: `PushError.configuration` when the endpoint is not a URL or the additional trust roots are not
    ///   PEM certificates.
    package init(
        configuration: PushConfiguration, logger: Logger, onOutage: @escaping @Sendable (PushOutage) -> Void
    ) throws(PushError) {
        self.configuration = configuration
        self.logger = logger
        self.onOutage = onOutage
        self.transport = try PushTransport(configuration: configuration)
        self.announce = PushMessage.devicesAndTopics(device: configuration.deviceName, offered: configuration.offered)
    }

    /// Queues `event` for sending. When the queue is full the oldest waiting event is dropped and counted.
    package func enqueue(_ event: SecurityEvent) {
        if queue.count >= max(1, configuration.queueCapacity) {
            queue.removeFirst()
            dropped += 1
            logger.debug("push queue full: oldest event dropped", metadata: ["dropped": "\(dropped)"])
        }
        nextID += 1
        queue.append(Pending(id: nextID, message: PushMessage.event(device: configuration.deviceName, event)))
        wake()
    }

    /// Announces and sends until the task is cancelled. A second `run` while one is running returns at once.
    package func run() async {
        guard !running else {
            logger.error("push forwarder: run() called while it is running")
            return
        }
        running = true
        defer { running = false }
        let clock = ContinuousClock()
        var nextAnnounce = clock.now
        var retryDelay = configuration.initialRetryDelay
        // While the queue's first event waits to be tried again.
        var retryAt: ContinuousClock.Instant?
        while !Task.isCancelled {
            let now = clock.now
            if now >= nextAnnounce {
                nextAnnounce = now + configuration.announceInterval
                if await attempt(announce) == .delivered, retryAt != nil {
                    // The receiver is back: no need to wait out the pause before the queued events.
                    retryAt = nil
                    retryDelay = configuration.initialRetryDelay
                }
                continue
            }
            if let head = queue.first, retryAt.map({ now >= $0 }) ?? true {
                let outcome = await attempt(head.message)
                if outcome == .retryLater {
                    retryAt = clock.now + retryDelay
                    retryDelay = min(retryDelay * 2, configuration.maximumRetryDelay)
                    continue
                }
                retryAt = nil
                retryDelay = configuration.initialRetryDelay
                // Sent or refused; unless the queue overflowed meanwhile and it is gone already.
                if queue.first?.id == head.id { queue.removeFirst() }
                if outcome == .delivered { sent += 1 } else { dropped += 1 }
                continue
            }
            var wakeAt = nextAnnounce
            if !queue.isEmpty, let retryAt { wakeAt = min(wakeAt, retryAt) }
            await pause(until: wakeAt)
        }
    }

    package func status() -> ForwarderStatus {
        ForwarderStatus(
            enabled: true, connected: connected, sent: sent, buffered: queue.count, dropped: dropped,
            lastError: lastError)
    }

    /// Sends one announce now, outside the queue, and reports the outcome (for the UI's test button). It does not
    /// change the outage state or the counts.
    package func sendTest() async -> Result<String, PushError> {
        do {
            return .success(try await transport.send(announce))
        } catch {
            return .failure(error)
        }
    }

    /// Shuts the HTTP client down. Cancel `run` first: sends fail afterwards.
    package func shutdown() async {
        await transport.shutdown()
    }

    private func attempt(_ message: PushMessage) async -> Attempt {
        do {
            _ = try await transport.send(message)
            connected = true
            lastError = nil
            if let droppedBefore = droppedWhenOutageBegan {
                droppedWhenOutageBegan = nil
                let lost = dropped - droppedBefore
                logger.notice("push notifications delivered again", metadata: ["lost": "\(lost)"])
                onOutage(.ended(lost: lost))
            }
            return .delivered
        } catch {
            // Stopping is not an outage: the message stays queued.
            if Task.isCancelled { return .retryLater }
            connected = false
            lastError = error.description
            if droppedWhenOutageBegan == nil {
                droppedWhenOutageBegan = dropped
                logger.warning("push notifications cannot be delivered", metadata: ["error": "\(error)"])
                onOutage(.began(reason: error.description))
            }
            if error.isRetriable { return .retryLater }
            logger.debug("push message refused", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
            return .refused
        }
    }

    /// Waits until `deadline`, an enqueued event or cancellation, whichever comes first.
    private func pause(until deadline: ContinuousClock.Instant) async {
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
            await self?.wake()
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { continuation.resume() } else { waiter = continuation }
            }
        } onCancel: {
            Task { await self.wake() }
        }
    }

    private func wake() {
        waiter?.resume()
        waiter = nil
    }
}
