import Events
import Logging
import NIOCore
import Synchronization

/// Sends already formatted syslog messages to one receiver: UDP (RFC 5426), TCP with octet counting (RFC 6587) or
/// TLS (RFC 5425).
///
/// `send` never blocks: it appends to a bounded buffer that one connection drains in order. The capacity counts
/// messages waiting and messages written but not yet confirmed (see below). When it is full, the oldest held message
/// goes: an unconfirmed one is merely no longer kept for a resend (it is in the socket already and counts as sent);
/// otherwise the oldest waiting message is dropped and counted. `onDropped` reports the drops once per outage (when
/// the connection is back, when an overload has drained, or at shutdown) so that the caller audits each outage once.
///
/// `status.sent` counts, for TCP and TLS, the messages the receiver's TCP acknowledged; for UDP, the datagrams
/// handed to the kernel.
///
/// TCP and TLS reconnect after a failure or loss, waiting `reconnect.initial`, then twice as long each time, up to
/// `reconnect.maximum`.
///
/// Nothing that fits the buffer is lost when the receiver restarts: a message written just before the connection
/// broke may never have reached the receiver, so every message written on a connection is kept ("unconfirmed") until
/// the receiver's TCP has acknowledged its last byte. On Linux that is read from the socket (`tcpi_bytes_acked` of
/// TCP_INFO, compared with the bytes handed to the socket, TLS records included), every 100 ms while messages wait
/// for it. Where that cannot be read, a message counts as confirmed 3 s after its write. When the connection is
/// lost, the unconfirmed messages go back to the front of the buffer and are sent again on the next connection. The
/// receiver may then get a message twice; the formatter's RFC 5424 sequenceId lets it tell. A receiver that dies
/// after its kernel acknowledged bytes it had not yet read still loses them: TCP cannot tell.
package final class SyslogSender: Sendable {
    /// Delays between reconnection attempts: `initial`, doubling up to `maximum`.
    package struct Backoff: Sendable, Hashable {
        package var initial: Duration
        package var maximum: Duration

        package init(initial: Duration, maximum: Duration) {
            self.initial = initial
            self.maximum = max(initial, maximum)
        }

        func delay(after previous: Duration) -> Duration { min(previous * 2, maximum) }
    }

    package let destination: SyslogDestination
    private let reconnect: Backoff
    private let loop: any EventLoop
    private let logger: Logger
    private let onDropped: @Sendable (Int) -> Void
    private let state: Mutex<State>

    /// Most messages written in one go before looking at the channel's writability again.
    private static let batchSize = 64
    /// How often the receiver's acknowledgements are read while messages wait for them.
    private static let confirmationInterval = TimeAmount.milliseconds(100)
    /// Where acknowledgements cannot be read: how long a written message is kept for a resend.
    private static let unconfirmedHoldTime = TimeAmount.seconds(3)
    /// Bounds TCP connect and TLS handshake.
    private static let connectTimeout = TimeAmount.seconds(10)
    /// How long `shutdown` waits for the buffer to drain.
    private static let shutdownFlushTime = Duration.seconds(2)
    /// How long `sendTest` listens after its write for a late refusal (a TLS 1.3 alert, an ICMP port unreachable).
    private static let testSettleTime = TimeAmount.milliseconds(300)

    private enum Phase {
        case idle
        case running
        case stopping
        case stopped
    }

    private enum LinkState {
        case down
        case connecting
        case up(SyslogLink)
    }

    private struct State {
        var buffer: SyslogBuffer
        var phase = Phase.idle
        var link = LinkState.down
        /// Identifies the current connection attempt; callbacks of older ones are ignored.
        var generation = 0
        var nextDelay: Duration
        var reconnectTask: Scheduled<Void>?
        var drainScheduled = false
        var confirmationScheduled = false
        var sent = 0
        var dropped = 0
        /// Dropped since the last `onDropped` call.
        var unreportedDrops = 0
        var lastError: String?
        /// Whether the current connection reported an error before closing.
        var linkFailed = false
        /// Failed attempts since the last connection, to log the first at warning level and the rest at debug.
        var failedAttempts = 0
        var tlsContext: SyslogTLSContext?

        var isUp: Bool {
            if case .up = link { return true }
            return false
        }
    }

    /// - Parameters:
    ///   - bufferCapacity: messages held at most, waiting or unconfirmed (see the type's description).
    ///   - onDropped: called with the number of messages lost during an outage, once per outage.
    package init(
        destination: SyslogDestination, bufferCapacity: Int = 10_000,
        reconnect: Backoff = .init(initial: .milliseconds(250), maximum: .seconds(5)), group: any EventLoopGroup,
        logger: Logger, onDropped: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.destination = destination
        self.reconnect = reconnect
        self.loop = group.next()
        self.logger = logger
        self.onDropped = onDropped
        self.state = Mutex(State(buffer: SyslogBuffer(capacity: bufferCapacity), nextDelay: reconnect.initial))
    }

    package var status: ForwarderStatus {
        state.withLock { state in
            ForwarderStatus(
                enabled: state.phase == .running || state.phase == .stopping, connected: state.isUp, sent: state.sent,
                buffered: state.buffer.count, dropped: state.dropped, lastError: state.lastError)
        }
    }

    /// Connects and starts draining the buffer. Messages sent before are kept.
    package func start() {
        let starting = state.withLock { state in
            guard state.phase == .idle else { return false }
            state.phase = .running
            return true
        }
        if starting {
            loop.execute { self.connect() }
        }
    }

    /// Queues one formatted message. Never blocks; when the buffer is full the oldest held message goes (see the
    /// type's description).
    package func send(_ message: String) {
        let wake = state.withLock { state in
            guard state.phase != .stopped else {
                state.dropped += 1
                return false
            }
            switch state.buffer.append(message) {
            case .stored: break
            case .droppedOldest:
                state.dropped += 1
                state.unreportedDrops += 1
            case .releasedOldestUnconfirmed:
                state.sent += 1
            }
            return Self.claimDrain(&state)
        }
        if wake {
            loop.execute { self.drain() }
        }
    }

    /// Tries for up to 2 s to deliver what is buffered, then closes the connection. What is still buffered then is
    /// counted as dropped and reported through `onDropped`.
    package func shutdown() async {
        let wasRunning = state.withLock { state in
            guard state.phase == .idle || state.phase == .running else { return nil as Bool? }
            defer { state.phase = .stopping }
            return state.phase == .running
        }
        guard let wasRunning else { return }
        if wasRunning {
            let deadline = ContinuousClock.now + Self.shutdownFlushTime
            while ContinuousClock.now < deadline, state.withLock({ $0.buffer.count > 0 }) {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        let (link, reconnectTask, report) = state.withLock { state in
            state.phase = .stopped
            state.generation += 1
            var link: SyslogLink?
            if case .up(let current) = state.link { link = current }
            state.link = .down
            let task = state.reconnectTask
            state.reconnectTask = nil
            let lost = state.buffer.removeAll()
            state.dropped += lost
            state.unreportedDrops += lost
            defer { state.unreportedDrops = 0 }
            return (link, task, state.unreportedDrops)
        }
        reconnectTask?.cancel()
        if let link {
            try? await link.channel.close()
        }
        if report > 0 {
            reportDrops(report)
        }
        logger.info("syslog forwarding stopped", metadata: metadata)
    }

    /// Opens a separate connection, sends `message` and closes: for the UI's "send test message". For TCP and TLS it
    /// returns once the connection (and handshake) succeeded and the write completed; for all transports it then
    /// listens briefly for a refusal (a TLS 1.3 receiver rejects a client certificate after our side of the
    /// handshake is done; a UDP port without a receiver answers with ICMP port unreachable).
    /// - Throws: `SyslogSendError` naming the receiver and the reason.
    package func sendTest(_ message: String, timeout: Duration) async throws {
        let timeAllowed = TimeAmount(timeout)
        let deadline = NIODeadline.now() + timeAllowed
        let tls = try tlsContext()
        let recorder = SyslogErrorRecorder()
        let link = try await SyslogLink.open(
            to: destination, tls: tls, on: loop, timeout: timeAllowed,
            onError: { recorder.record($0) }, onWritable: {}
        ).get()

        let written = loop.makePromise(of: Void.self)
        let timer = loop.scheduleTask(deadline: deadline) {
            written.fail(SyslogSendError.timedOut(self.destination, after: timeAllowed))
        }
        link.write([message]).first?.cascade(to: written)
        do {
            try await written.futureResult.get()
            timer.cancel()
        } catch {
            timer.cancel()
            link.channel.close(promise: nil)
            throw SyslogSendError.describing(recorder.first ?? error, destination: destination)
        }

        let settled = loop.makePromise(of: Void.self)
        loop.scheduleTask(in: min(Self.testSettleTime, max(.zero, deadline - .now()))) { settled.succeed() }
        link.channel.closeFuture.whenComplete { _ in settled.succeed() }
        try? await settled.futureResult.get()
        // Errors while we close do not count: receivers commonly answer our close_notify by just closing.
        let refusal = recorder.first
        try? await link.channel.close()
        if let refusal {
            throw SyslogSendError.describing(refusal, destination: destination)
        }
    }

    // MARK: - Connection (on `loop`)

    private func connect() {
        loop.preconditionInEventLoop()
        let generation = state.withLock { state -> Int? in
            guard state.phase == .running || state.phase == .stopping, case .down = state.link else { return nil }
            state.reconnectTask = nil
            state.generation += 1
            state.link = .connecting
            state.linkFailed = false
            return state.generation
        }
        guard let generation else { return }
        let tls: SyslogTLSContext?
        do {
            tls = try tlsContext()
        } catch {
            attemptFailed(error, generation: generation)
            return
        }
        SyslogLink.open(
            to: destination, tls: tls, on: loop, timeout: Self.connectTimeout,
            onError: { self.linkReported($0, generation: generation) },
            onWritable: { self.scheduleDrain() }
        ).whenComplete { result in
            switch result {
            case .success(let link): self.attemptSucceeded(link, generation: generation)
            case .failure(let error): self.attemptFailed(error, generation: generation)
            }
        }
    }

    private func attemptSucceeded(_ link: SyslogLink, generation: Int) {
        let outcome = state.withLock { state -> (report: Int, failedAttempts: Int)? in
            guard state.generation == generation, case .connecting = state.link else { return nil }
            state.link = .up(link)
            state.nextDelay = reconnect.initial
            defer {
                state.unreportedDrops = 0
                state.failedAttempts = 0
            }
            return (state.unreportedDrops, state.failedAttempts)
        }
        guard let outcome else {
            link.channel.close(promise: nil)
            return
        }
        var details = metadata
        if outcome.failedAttempts > 0 { details["failedAttempts"] = "\(outcome.failedAttempts)" }
        logger.info("syslog receiver connected", metadata: details)
        if outcome.report > 0 {
            reportDrops(outcome.report)
        }
        link.channel.closeFuture.whenComplete { _ in self.linkClosed(generation: generation) }
        drain()
    }

    private func attemptFailed(_ error: any Error, generation: Int) {
        let failure = SyslogSendError.describing(error, destination: destination)
        let attempt = state.withLock { state -> (delay: Duration, count: Int)? in
            guard state.generation == generation else { return nil }
            state.link = .down
            state.lastError = failure.description
            state.failedAttempts += 1
            guard let delay = scheduleReconnect(&state) else { return nil }
            return (delay, state.failedAttempts)
        }
        guard let attempt else { return }
        var details = metadata
        details["error"] = "\(failure)"
        details["retryInMilliseconds"] = "\(Int((attempt.delay / .milliseconds(1)).rounded()))"
        if attempt.count == 1 {
            logger.warning("syslog receiver unreachable, retrying", metadata: details)
        } else {
            logger.debug("syslog receiver still unreachable", metadata: details)
        }
    }

    private func linkReported(_ error: any Error, generation: Int) {
        let failure = SyslogSendError.describing(error, destination: destination)
        state.withLock { state in
            guard state.generation == generation else { return }
            state.lastError = failure.description
            state.linkFailed = true
        }
        logger.debug("syslog connection error", metadata: metadata.merging(["error": "\(failure)"]) { $1 })
    }

    private func linkClosed(generation: Int) {
        let requeued = state.withLock { state -> Int? in
            guard state.generation == generation, state.isUp else { return nil }
            state.link = .down
            if !state.linkFailed {
                state.lastError = SyslogSendError.closedByReceiver(destination).description
            }
            let requeued = state.buffer.requeueUnconfirmed()
            _ = scheduleReconnect(&state)
            return requeued
        }
        guard let requeued else { return }
        logger.warning(
            "syslog connection lost, reconnecting",
            metadata: metadata.merging(["resending": "\(requeued)"]) { $1 })
    }

    /// Schedules the next attempt after the current backoff delay and doubles the delay.
    /// - Returns: the delay, or nil when the sender is stopped.
    private func scheduleReconnect(_ state: inout State) -> Duration? {
        guard state.phase == .running || state.phase == .stopping else { return nil }
        let delay = state.nextDelay
        state.nextDelay = reconnect.delay(after: delay)
        state.reconnectTask = loop.scheduleTask(in: TimeAmount(delay)) { self.connect() }
        return delay
    }

    // MARK: - Writing (on `loop`)

    /// Marks a drain as scheduled if one is useful and none is; the caller then runs `drain()` on the loop.
    private static func claimDrain(_ state: inout State) -> Bool {
        guard state.isUp, !state.drainScheduled, !state.buffer.pending.isEmpty else { return false }
        state.drainScheduled = true
        return true
    }

    private func scheduleDrain() {
        if state.withLock({ Self.claimDrain(&$0) }) {
            loop.execute { self.drain() }
        }
    }

    /// Writes pending messages while the channel accepts them.
    private func drain() {
        loop.preconditionInEventLoop()
        let keepUntilConfirmed = destination.transport != .udp
        state.withLock { $0.drainScheduled = false }
        while true {
            let batch = state.withLock { state -> (SyslogLink, [String], UInt64, Int)? in
                guard case .up(let link) = state.link, link.channel.isWritable else { return nil }
                let taken = state.buffer.takeForWriting(
                    limit: Self.batchSize, keepUntilConfirmed: keepUntilConfirmed)
                guard !taken.messages.isEmpty else { return nil }
                return (link, taken.messages, taken.lastSequence, state.generation)
            }
            guard let (link, messages, lastSequence, generation) = batch else { return }
            let completions = link.write(messages)
            if keepUntilConfirmed {
                completions.last?.whenSuccess {
                    self.written(through: lastSequence, link: link, generation: generation)
                }
            } else {
                EventLoopFuture.whenAllComplete(completions, on: loop).whenSuccess { results in
                    self.datagramsWritten(results)
                }
            }
        }
    }

    private func written(through sequence: UInt64, link: SyslogLink, generation: Int) {
        let wireEnd = link.wireBytes.value
        let startPolling = state.withLock { state in
            guard state.generation == generation, state.isUp else { return false }
            state.buffer.markWritten(through: sequence, wireEnd: wireEnd, at: .now())
            guard !state.confirmationScheduled else { return false }
            state.confirmationScheduled = true
            return true
        }
        if startPolling {
            loop.scheduleTask(in: Self.confirmationInterval) { self.pollConfirmations() }
        }
    }

    /// Releases the unconfirmed messages the receiver acknowledged; repeats while some are left.
    private func pollConfirmations() {
        let current = state.withLock { state -> (SyslogLink, Int)? in
            guard case .up(let link) = state.link, !state.buffer.unconfirmed.isEmpty else {
                state.confirmationScheduled = false
                return nil
            }
            return (link, state.generation)
        }
        guard let (link, generation) = current else { return }
        link.acknowledgedWireBytes().whenComplete { result in
            let acknowledged = (try? result.get()) ?? nil
            let (again, report) = self.state.withLock { state -> (Bool, Int) in
                if state.generation == generation, state.isUp {
                    if let acknowledged {
                        state.sent += state.buffer.confirm(wireBytesAcknowledged: acknowledged)
                    } else {
                        state.sent += state.buffer.confirm(writtenBefore: .now() - Self.unconfirmedHoldTime)
                    }
                }
                state.confirmationScheduled = state.isUp && !state.buffer.unconfirmed.isEmpty
                return (state.confirmationScheduled, Self.takeReportAfterOverload(&state))
            }
            if again {
                self.loop.scheduleTask(in: Self.confirmationInterval) { self.pollConfirmations() }
            }
            if report > 0 {
                self.reportDrops(report)
            }
        }
    }

    private func datagramsWritten(_ results: [Result<Void, any Error>]) {
        var failure: (any Error)?
        var failed = 0
        for case .failure(let error) in results {
            failure = failure ?? error
            failed += 1
        }
        let description = failure.map { SyslogSendError.describing($0, destination: destination).description }
        let report = state.withLock { state -> Int in
            state.sent += results.count - failed
            state.dropped += failed
            state.unreportedDrops += failed
            if let description { state.lastError = description }
            return failed == 0 ? Self.takeReportAfterOverload(&state) : 0
        }
        if report > 0 {
            reportDrops(report)
        }
        scheduleDrain()
    }

    /// Drops while connected (the receiver slower than the events, or UDP send errors) are reported once the
    /// buffer has drained, which ends that episode.
    private static func takeReportAfterOverload(_ state: inout State) -> Int {
        guard state.isUp, state.buffer.count == 0, state.unreportedDrops > 0 else { return 0 }
        defer { state.unreportedDrops = 0 }
        return state.unreportedDrops
    }

    private func reportDrops(_ count: Int) {
        logger.warning(
            "syslog messages dropped: the buffer was full", metadata: metadata.merging(["dropped": "\(count)"]) { $1 })
        onDropped(count)
    }

    private func tlsContext() throws -> SyslogTLSContext? {
        guard case .tls(let tls) = destination.transport else { return nil }
        if let cached = state.withLock({ $0.tlsContext }) { return cached }
        let context = try SyslogTLSContext(tls, host: destination.host)
        state.withLock { $0.tlsContext = context }
        return context
    }

    private var metadata: Logger.Metadata {
        ["receiver": "\(destination.displayAddress)", "transport": "\(destination.transportName)"]
    }
}

/// The first error a test connection reported.
private final class SyslogErrorRecorder: Sendable {
    private let error = Mutex<(any Error)?>(nil)

    var first: (any Error)? { error.withLock { $0 } }

    func record(_ error: any Error) {
        self.error.withLock { $0 = $0 ?? error }
    }
}
