import BrokerCore
import Dispatch
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The broker's durable state on disk: an append-only log with group commit, compacted into a snapshot.
///
/// The broker core reports every change of durable state as a `PersistenceRecord` through `append`, on event
/// loops and under session locks, so `append` only adds the record to an array under a mutex. One writer thread
/// takes everything appended so far, encodes it into one buffer, `write`s it to the log and `fdatasync`s once,
/// then completes the `whenDurable` futures the batch covers. While it syncs, new records gather for the next
/// batch: the more load, the larger the batches, and the cost of a sync is shared by all of them (group commit).
///
/// ## Files (in `Configuration.directory`)
/// - `snapshot`: the whole state at some point, as records, ending with a `snapshotEnd` record.
/// - `log`: the records appended since that snapshot.
/// Both have a header with a generation number; a log continues the snapshot of the same generation.
///
/// ## Crash safety
/// At every instant, replaying `snapshot` then `log` (when their generations match) gives the acknowledged
/// state, because of the order of operations:
/// - Appending: records reach the log by `write` + `fdatasync` before `whenDurable` completes, and the broker
///   acknowledges (PUBACK/PUBREC/SUBACK) only after that. A crash during the `write` leaves a torn record at
///   the tail; its CRC (or its length running past the end) shows it, and recovery truncates it: that record
///   was never acknowledged.
/// - Compacting from generation N to N+1 (all of N's log is synced first):
///   1. write the model into `snapshot.tmp` (header N+1), `fdatasync` it. A crash here leaves `snapshot.tmp`,
///      which recovery deletes: `snapshot` (N) + `log` (N) still hold the state.
///   2. `rename(snapshot.tmp, snapshot)`, `fsync` the directory. From the rename on, `snapshot` (N+1) holds the
///      whole state and recovery ignores `log` (N), whose generation is older: nothing is applied twice.
///   3. write `log.tmp` with only a header (N+1), `fdatasync`, `rename(log.tmp, log)`, `fsync` the directory,
///      then append to it. Before the rename recovery sees the stale log N (ignored), after it the empty log N+1.
///   If any step fails the writer never appends to the old log again: the next batch retries the whole
///   compaction, which also rewrites the records whose write failed (they are in the model).
/// - Corruption: a damaged record at the very end of the log is a torn write (warning). A damaged record
///   followed by more data is corruption in the middle: the log is truncated there too (the records after it
///   cannot be trusted to apply to the state before them), a copy of the damaged log is kept as
///   `log.damaged`, and an error is logged. A snapshot is never torn by a crash (it is renamed into place only
///   once synced), so a damaged snapshot is an error that stops `open`: the operator decides.
///
/// Compaction runs on the writer thread from its in-memory model, so the broker never stops for it; only the
/// durability of records appended meanwhile waits for it to finish.
package final class DurableStore: PersistenceSink, Sendable {
    package struct Configuration: Sendable {
        /// The folder holding `log` and `snapshot` (created if missing).
        package var directory: String
        /// Compact once the log holds this many bytes since the last snapshot, and at least as many as the last
        /// snapshot (so that compaction costs no more than the log writes it saves, however large the state).
        package var compactionThreshold: Int
        /// Compact at least this often while the log is not empty (mosquitto's `autosave_interval`).
        package var autosaveInterval: TimeAmount?
        /// Compact at start-up when the log is not empty, so each run starts from a snapshot and an empty log.
        package var compactOnOpen: Bool
        /// Nanoseconds since the Unix epoch; replaced in tests to simulate time passing while the broker is down.
        package var wallClock: @Sendable () -> Int64

        package init(
            directory: String,
            compactionThreshold: Int = 64 << 20,
            autosaveInterval: TimeAmount? = nil,
            compactOnOpen: Bool = true,
            wallClock: @escaping @Sendable () -> Int64 = { StoreFile.wallClockNanoseconds() }
        ) {
            self.directory = directory
            self.compactionThreshold = compactionThreshold
            self.autosaveInterval = autosaveInterval
            self.compactOnOpen = compactOnOpen
            self.wallClock = wallClock
        }

        var logPath: String { directory + "/log" }
        var snapshotPath: String { directory + "/snapshot" }
        var temporaryLogPath: String { directory + "/log.tmp" }
        var temporarySnapshotPath: String { directory + "/snapshot.tmp" }
        var damagedLogPath: String { directory + "/log.damaged" }
    }

    /// Counters for measurements and `$SYS`-style reporting.
    package struct Statistics: Sendable, Equatable {
        /// Records passed to `append` (before close).
        package var recordsAppended: UInt64 = 0
        /// Records written to the log (those that changed the state).
        package var recordsWritten: UInt64 = 0
        /// Records that changed nothing (unknown session or identifier), hence not written.
        package var recordsSkipped: UInt64 = 0
        /// Records appended after `close`, dropped.
        package var recordsDropped: UInt64 = 0
        /// Bytes appended to logs (snapshots not included).
        package var bytesWritten: UInt64 = 0
        /// Number of `fdatasync` calls on the log, one per batch that wrote something.
        package var syncs: UInt64 = 0
        package var largestBatch: Int = 0
        package var lastSyncDuration: TimeAmount = .zero
        package var totalSyncDuration: TimeAmount = .zero
        package var compactions: UInt64 = 0
        package var lastCompactionDuration: TimeAmount = .zero
        /// Bytes in the current log, header excluded.
        package var logBytes: Int = 0
        /// Size of the current snapshot.
        package var snapshotBytes: Int = 0
        /// Distinct messages (payloads) stored.
        package var storedMessages: Int = 0
        /// Failed writes, syncs or compactions.
        package var failures: UInt64 = 0
    }

    package enum StoreError: Error, CustomStringConvertible {
        /// The snapshot cannot be read; it is left untouched for the operator.
        case damagedSnapshot(path: String, offset: Int, reason: String)
        /// The records a future waited for could not be made durable.
        case writeFailed(String)

        package var description: String {
            switch self {
            case .damagedSnapshot(let path, let offset, let reason):
                "damaged snapshot \(path) at offset \(offset): \(reason)"
            case .writeFailed(let reason):
                "durable store write failed: \(reason)"
            }
        }
    }

    private typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    /// What producers share with the writer. Guarded by `pending`; never held during I/O.
    private struct Pending: Sendable {
        var records: [PersistenceRecord] = []
        /// Sequence number of the last record appended (records are numbered from 1).
        var appended: UInt64 = 0
        /// Sequence number of the last record the writer has finished with (durable, or its batch failed).
        var durable: UInt64 = 0
        var waiters: [(sequence: UInt64, completion: Completion)] = []
        var compactionWaiters: [Completion] = []
        var closeWaiters: [@Sendable () -> Void] = []
        var writerSleeping = false
        var closing = false
        var exited = false
        var recordsDropped: UInt64 = 0
    }

    /// The writer thread's own state; only the writer thread locks it once `open` has returned (and
    /// `statistics`, briefly), so it is never contended.
    private struct Writer: Sendable {
        var model: StoreModel
        var log: Int32
        var generation: UInt64
        /// Bytes of records in the log since the last snapshot.
        var logBytes: Int
        var snapshotBytes: Int
        var lastCompaction: NIODeadline
        /// Set when a write, sync or compaction failed: the log may hold a partial record, so nothing more is
        /// appended to it until a compaction has replaced it.
        var failure: StoreFileError?
        var statistics = Statistics()
    }

    private let configuration: Configuration
    private let logger: Logger
    private let pending = Mutex(Pending())
    private let writer: Mutex<Writer>
    private let wakeUp = DispatchSemaphore(value: 0)
    private let thread = NIOThreadPool(numberOfThreads: 1)
    /// The writer's counters as of its last batch, readable without waiting for a batch in progress.
    private let published: Mutex<Statistics>

    private init(configuration: Configuration, logger: Logger, writer: Writer) {
        self.configuration = configuration
        self.logger = logger
        self.writer = Mutex(writer)
        self.published = Mutex(writer.statistics)
    }

    // MARK: Opening and recovery

    /// Reads the snapshot and the log, truncating a torn or damaged log tail (and logging it), and returns the
    /// store ready for appends together with the recovered state. Calls `Message.reserveIdentifiers(through:)`
    /// with the largest message identifier found, so that new messages never reuse a stored identifier.
    package static func open(configuration: Configuration, logger: Logger) throws -> (DurableStore, RecoveredState) {
        let start = NIODeadline.now()
        if !StoreFile.exists(configuration.directory) {
            try StoreFile.makeDirectory(configuration.directory)
            // The new directory's own entry must be durable too, or a crash could lose the whole folder.
            let parent = configuration.directory.split(separator: "/", omittingEmptySubsequences: false).dropLast()
                .joined(separator: "/")
            try StoreFile.syncDirectory(parent.isEmpty ? (configuration.directory.hasPrefix("/") ? "/" : ".") : parent)
        }
        // Leftovers of an interrupted compaction: never part of the state (see the type's documentation).
        for leftover in [configuration.temporarySnapshotPath, configuration.temporaryLogPath]
        where StoreFile.exists(leftover) {
            logger.info("Removing an interrupted compaction's file", metadata: ["path": "\(leftover)"])
            try StoreFile.remove(leftover)
        }
        let time = RecordCodec.Timestamp(monotonic: start, wallNanoseconds: configuration.wallClock())
        var model = StoreModel()
        var snapshotGeneration: UInt64 = 0
        var snapshotBytes = 0
        if let snapshot = try StoreFile.read(configuration.snapshotPath) {
            snapshotGeneration = try readSnapshot(snapshot, path: configuration.snapshotPath, into: &model, at: time)
            snapshotBytes = snapshot.readableBytes
        }

        // The log: replayed when it continues this snapshot.
        enum LogState {
            /// Missing, stale or with a damaged header: a new empty log is needed.
            case replace
            /// Valid up to `validEnd` (file offset); `length` is its current size.
            case reuse(validEnd: Int, length: Int)
        }
        var logState = LogState.replace
        if let log = try StoreFile.read(configuration.logPath) {
            if let header = RecordCodec.readHeader(log), header.kind == .log, header.generation >= snapshotGeneration {
                if header.generation > snapshotGeneration {
                    logger.warning(
                        "The log continues a newer snapshot than the one found; replaying it anyway",
                        metadata: ["log": "\(header.generation)", "snapshot": "\(snapshotGeneration)"]
                    )
                }
                let validEnd = replayLog(log, configuration: configuration, into: &model, at: time, logger)
                logState = .reuse(validEnd: validEnd, length: log.readableBytes)
            } else if let header = RecordCodec.readHeader(log), header.kind == .log {
                // Crash between steps 2 and 3 of a compaction: the snapshot already holds all of it.
                logger.info(
                    "Ignoring a log older than the snapshot (interrupted compaction)",
                    metadata: ["log": "\(header.generation)", "snapshot": "\(snapshotGeneration)"]
                )
            } else {
                logger.error(
                    "The log's header is damaged; its records are lost. A copy is kept.",
                    metadata: ["path": "\(configuration.logPath)", "copy": "\(configuration.damagedLogPath)"]
                )
                try keepDamagedCopy(log, configuration: configuration)
            }
        }

        let dropped = model.dropExpired(at: time.monotonic)
        if dropped > 0 {
            logger.info("Dropped messages that expired while the broker was down", metadata: ["count": "\(dropped)"])
        }
        Message.reserveIdentifiers(through: model.largestMessageID)
        let recovered = model.recoveredState

        var writer = Writer(
            model: model,
            log: -1,
            generation: snapshotGeneration,
            logBytes: 0,
            snapshotBytes: snapshotBytes,
            lastCompaction: start
        )
        switch logState {
        case .reuse(let validEnd, let length)
        where !(configuration.compactOnOpen && (validEnd > RecordCodec.headerSize || dropped > 0 || validEnd < length)):
            let descriptor = try StoreFile.openForAppending(configuration.logPath, create: false)
            if validEnd < length {
                do {
                    try StoreFile.truncate(descriptor, to: validEnd, path: configuration.logPath)
                    try StoreFile.sync(descriptor, path: configuration.logPath)
                } catch {
                    StoreFile.close(descriptor)
                    throw error
                }
            }
            writer.log = descriptor
            writer.logBytes = validEnd - RecordCodec.headerSize
        case .reuse:
            // Start this run from a fresh snapshot and an empty log (also drops what expired from the disk).
            try compact(&writer, configuration: configuration, time: time)
        case .replace:
            if configuration.compactOnOpen && dropped > 0 {
                try compact(&writer, configuration: configuration, time: time)
            } else {
                writer.log = try createLog(generation: snapshotGeneration, configuration: configuration)
            }
        }
        writer.statistics.logBytes = writer.logBytes
        writer.statistics.snapshotBytes = writer.snapshotBytes
        writer.statistics.storedMessages = writer.model.storedMessageCount

        let store = DurableStore(configuration: configuration, logger: logger, writer: writer)
        store.thread.start()
        store.thread.submit { state in
            guard case .active = state else { return }
            store.runWriter()
        }
        logger.info(
            "Durable store opened",
            metadata: [
                "directory": "\(configuration.directory)",
                "sessions": "\(recovered.sessions.count)",
                "retained": "\(recovered.retained.count)",
                "duration": "\((NIODeadline.now() - start).nanoseconds / 1_000_000) ms",
            ]
        )
        return (store, recovered)
    }

    /// Replays a snapshot into `model`, returning its generation. Any damage throws: see the type's documentation.
    private static func readSnapshot(
        _ snapshot: ByteBuffer,
        path: String,
        into model: inout StoreModel,
        at time: RecordCodec.Timestamp
    ) throws -> UInt64 {
        guard let header = RecordCodec.readHeader(snapshot), header.kind == .snapshot else {
            throw StoreError.damagedSnapshot(path: path, offset: 0, reason: "bad header")
        }
        var offset = RecordCodec.headerSize
        var count: UInt64 = 0
        while true {
            switch RecordCodec.frame(in: snapshot, at: offset) {
            case .endOfFile:
                throw StoreError.damagedSnapshot(path: path, offset: offset, reason: "no end record")
            case .damaged(let reason, _):
                throw StoreError.damagedSnapshot(path: path, offset: offset, reason: reason)
            case .record(let type, let body, let end):
                let decoded: RecordCodec.Decoded
                do {
                    decoded = try RecordCodec.decode(type: type, body: body, at: time) { model.storedMessage($0) }
                } catch {
                    throw StoreError.damagedSnapshot(path: path, offset: offset, reason: error.description)
                }
                switch decoded {
                case .record(let record):
                    model.apply(record)
                case .unresolved(let id):
                    throw StoreError.damagedSnapshot(path: path, offset: offset, reason: "unknown message \(id)")
                case .snapshotEnd(let recordCount):
                    guard recordCount == count, end == snapshot.readableBytes else {
                        throw StoreError.damagedSnapshot(path: path, offset: offset, reason: "bad end record")
                    }
                    return header.generation
                }
                count += 1
                offset = end
            }
        }
    }

    /// Replays the log's records into `model`, returning the offset where the valid records end.
    private static func replayLog(
        _ log: ByteBuffer,
        configuration: Configuration,
        into model: inout StoreModel,
        at time: RecordCodec.Timestamp,
        _ logger: Logger
    ) -> Int {
        var offset = RecordCodec.headerSize
        while true {
            let problem: (reason: String, tornTail: Bool)
            switch RecordCodec.frame(in: log, at: offset) {
            case .endOfFile:
                return offset
            case .damaged(let reason, let reachesEnd):
                problem = (reason, reachesEnd)
            case .record(let type, let body, let end):
                do {
                    switch try RecordCodec.decode(
                        type: type, body: body, at: time, resolve: { model.storedMessage($0) })
                    {
                    case .record(let record):
                        model.apply(record)
                        offset = end
                        continue
                    case .unresolved(let id):
                        // Only possible after damage elsewhere; the record cannot apply, the others still can.
                        logger.warning(
                            "Log record refers to an unknown message; skipped",
                            metadata: ["offset": "\(offset)", "message": "\(id)"]
                        )
                        model.noteMessageID(id)
                        offset = end
                        continue
                    case .snapshotEnd:
                        problem = ("snapshot end record in the log", false)
                    }
                } catch {
                    problem = (error.description, false)
                }
            }
            if problem.tornTail {
                logger.warning(
                    "Truncating a torn record at the end of the log (crash during a write; it was never acknowledged)",
                    metadata: [
                        "offset": "\(offset)", "bytes": "\(log.readableBytes - offset)", "reason": "\(problem.reason)",
                    ]
                )
            } else {
                logger.error(
                    "Damaged record in the log: truncating it there, later records are lost. A copy is kept.",
                    metadata: [
                        "offset": "\(offset)", "discarded": "\(log.readableBytes - offset)",
                        "reason": "\(problem.reason)", "copy": "\(configuration.damagedLogPath)",
                    ]
                )
                do {
                    try keepDamagedCopy(log, configuration: configuration)
                } catch {
                    logger.error("Could not keep a copy of the damaged log", metadata: ["error": "\(error)"])
                }
            }
            return offset
        }
    }

    private static func keepDamagedCopy(_ log: ByteBuffer, configuration: Configuration) throws {
        let descriptor = try StoreFile.openForAppending(configuration.damagedLogPath, create: true)
        defer { StoreFile.close(descriptor) }
        try StoreFile.write(log, to: descriptor, path: configuration.damagedLogPath)
        try StoreFile.sync(descriptor, path: configuration.damagedLogPath)
    }

    // MARK: Appending

    /// Queues `record` for the next batch. O(1), no I/O: called on event loops under session locks.
    package func append(_ record: PersistenceRecord) {
        let wake = pending.withLock { pending -> Bool in
            guard !pending.closing else {
                pending.recordsDropped += 1
                return false
            }
            pending.records.append(record)
            pending.appended += 1
            guard pending.writerSleeping else { return false }
            pending.writerSleeping = false
            return true
        }
        if wake { wakeUp.signal() }
    }

    /// Completes once every record appended before this call is on disk (written and `fdatasync`ed), or fails
    /// if its batch could not be written. Completes at once when nothing is pending.
    package func whenDurable(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let future = pending.withLock { pending -> EventLoopFuture<Void>? in
            guard pending.durable < pending.appended else { return nil }
            let promise = eventLoop.makePromise(of: Void.self)
            pending.waiters.append((pending.appended, { promise.completeWith($0) }))
            return promise.futureResult
        }
        return future ?? eventLoop.makeSucceededVoidFuture()
    }

    /// `whenDurable` for callers without an event loop (tests, shutdown).
    package func whenDurable() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let waiting = pending.withLock { pending -> Bool in
                guard pending.durable < pending.appended else { return false }
                pending.waiters.append((pending.appended, { continuation.resume(with: $0) }))
                return true
            }
            if !waiting { continuation.resume() }
        }
    }

    /// Writes what is pending, then compacts now (snapshot + empty log), whatever the thresholds.
    package func compact() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let wake = pending.withLock { pending -> Bool? in
                guard !pending.exited else { return nil }
                pending.compactionWaiters.append { continuation.resume(with: $0) }
                let wake = pending.writerSleeping
                pending.writerSleeping = false
                return wake
            }
            switch wake {
            case nil: continuation.resume(throwing: StoreError.writeFailed("the store is closed"))
            case true?: wakeUp.signal()
            case false?: break
            }
        }
    }

    /// Writes and syncs what is pending and stops the writer thread. Records appended afterwards are dropped
    /// (and counted). Idempotent.
    package func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            requestClose { continuation.resume() }
        }
    }

    /// `close` for synchronous callers; blocks the calling thread (never call it on an event loop).
    package func syncClose() {
        let done = DispatchSemaphore(value: 0)
        requestClose { done.signal() }
        done.wait()
    }

    private func requestClose(_ whenClosed: @escaping @Sendable () -> Void) {
        let wake = pending.withLock { pending -> Bool? in
            guard !pending.exited else { return nil }
            pending.closeWaiters.append(whenClosed)
            pending.closing = true
            let wake = pending.writerSleeping
            pending.writerSleeping = false
            return wake
        }
        switch wake {
        case nil: whenClosed()
        case true?: wakeUp.signal()
        case false?: break
        }
    }

    package var statistics: Statistics {
        var statistics = published.withLock { $0 }
        let (appended, dropped) = pending.withLock { ($0.appended, $0.recordsDropped) }
        statistics.recordsAppended = appended
        statistics.recordsDropped = dropped
        return statistics
    }

    // MARK: The writer thread

    private struct Work {
        var records: [PersistenceRecord]
        var through: UInt64
        var compactionWaiters: [Completion]
        var closing: Bool
    }

    private func runWriter() {
        var spare: [PersistenceRecord] = []
        while true {
            let work = pending.withLock { pending -> Work? in
                guard !pending.records.isEmpty || !pending.compactionWaiters.isEmpty || pending.closing else {
                    pending.writerSleeping = true
                    return nil
                }
                pending.writerSleeping = false
                // Swap rather than copy: the producers continue in the (emptied, still allocated) spare array.
                swap(&pending.records, &spare)
                let waiters = pending.compactionWaiters
                pending.compactionWaiters = []
                return Work(
                    records: spare, through: pending.appended, compactionWaiters: waiters, closing: pending.closing)
            }
            spare.removeAll(keepingCapacity: true)
            guard let work else {
                sleep()
                continue
            }
            if !work.records.isEmpty {
                let result = writer.withLock { writer in
                    defer { publish(writer.statistics) }
                    return writeBatch(work.records, writer: &writer)
                }
                finish(through: work.through, result: result)
            }
            let compaction = writer.withLock { writer -> Result<Void, any Error>? in
                guard !work.compactionWaiters.isEmpty || compactionDue(writer) else { return nil }
                defer { publish(writer.statistics) }
                return compactOnWriter(&writer)
            }
            for waiter in work.compactionWaiters { waiter(compaction ?? .success(())) }
            if work.closing && pending.withLock({ $0.records.isEmpty }) {
                exit()
                return
            }
        }
    }

    /// Sleeps until woken by an append, a request, or the next autosave.
    private func sleep() {
        let autosaveIn = writer.withLock { writer -> TimeAmount? in
            guard let interval = configuration.autosaveInterval, writer.logBytes > 0 else { return nil }
            return writer.lastCompaction + interval - .now()
        }
        if let autosaveIn {
            if autosaveIn.nanoseconds > 0 {
                _ = wakeUp.wait(timeout: .now() + .nanoseconds(Int(autosaveIn.nanoseconds)))
            }
            let result = writer.withLock { writer -> Result<Void, any Error>? in
                guard compactionDue(writer) else { return nil }
                defer { publish(writer.statistics) }
                return compactOnWriter(&writer)
            }
            if case .failure = result {
                // Already logged; retried at the next batch or autosave. Avoid spinning on a persistent failure.
                _ = wakeUp.wait(timeout: .now() + .seconds(1))
            }
        } else {
            wakeUp.wait()
        }
        pending.withLock { $0.writerSleeping = false }
    }

    private func publish(_ statistics: Statistics) {
        published.withLock { $0 = statistics }
    }

    private func compactionDue(_ writer: Writer) -> Bool {
        if writer.failure != nil { return true }
        if writer.logBytes >= max(configuration.compactionThreshold, writer.snapshotBytes) { return true }
        guard let interval = configuration.autosaveInterval, writer.logBytes > 0 else { return false }
        return writer.lastCompaction + interval <= .now()
    }

    /// Applies and encodes a batch, writes it and syncs once. After a failure the log is not trusted any more:
    /// the records are written by a compaction instead (they are in the model).
    private func writeBatch(_ records: [PersistenceRecord], writer: inout Writer) -> Result<Void, any Error> {
        let time = RecordCodec.Timestamp(monotonic: .now(), wallNanoseconds: configuration.wallClock())
        var buffer = ByteBufferAllocator().buffer(capacity: records.count * 64)
        var written: UInt64 = 0
        for record in records {
            switch writer.model.apply(record) {
            case .ignored:
                continue
            case .applied(let storesMessage):
                RecordCodec.encode(record, inlineMessage: storesMessage, at: time, into: &buffer)
                written += 1
            }
        }
        writer.statistics.recordsWritten += written
        writer.statistics.recordsSkipped += UInt64(records.count) - written
        writer.statistics.largestBatch = max(writer.statistics.largestBatch, records.count)
        writer.statistics.storedMessages = writer.model.storedMessageCount
        if writer.failure == nil && buffer.readableBytes > 0 {
            let syncStart = NIODeadline.now()
            do {
                try StoreFile.write(buffer, to: writer.log, path: configuration.logPath)
                try StoreFile.sync(writer.log, path: configuration.logPath)
                let duration = NIODeadline.now() - syncStart
                writer.logBytes += buffer.readableBytes
                writer.statistics.bytesWritten += UInt64(buffer.readableBytes)
                writer.statistics.syncs += 1
                writer.statistics.lastSyncDuration = duration
                writer.statistics.totalSyncDuration = writer.statistics.totalSyncDuration + duration
                writer.statistics.logBytes = writer.logBytes
            } catch {
                writer.failure = error
                writer.statistics.failures += 1
                logger.error(
                    "Writing the persistence log failed; rewriting the state into a new snapshot",
                    metadata: ["error": "\(error)"]
                )
            }
        }
        guard writer.failure != nil else { return .success(()) }
        return compactOnWriter(&writer)
    }

    /// Completes the futures of every record up to `through`.
    private func finish(through: UInt64, result: Result<Void, any Error>) {
        let completed = pending.withLock { pending -> [(sequence: UInt64, completion: Completion)] in
            pending.durable = through
            let count = pending.waiters.prefix { $0.sequence <= through }.count
            let completed = Array(pending.waiters.prefix(count))
            pending.waiters.removeFirst(count)
            return completed
        }
        for waiter in completed { waiter.completion(result) }
    }

    private func compactOnWriter(_ writer: inout Writer) -> Result<Void, any Error> {
        let time = RecordCodec.Timestamp(monotonic: .now(), wallNanoseconds: configuration.wallClock())
        do {
            try Self.compact(&writer, configuration: configuration, time: time)
            logger.debug(
                "Compacted the persistence log",
                metadata: [
                    "snapshotBytes": "\(writer.snapshotBytes)",
                    "duration": "\(writer.statistics.lastCompactionDuration.nanoseconds / 1_000) µs",
                ]
            )
            return .success(())
        } catch {
            writer.failure = error
            writer.statistics.failures += 1
            logger.error("Compacting the persistence log failed", metadata: ["error": "\(error)"])
            return .failure(StoreError.writeFailed("\(error)"))
        }
    }

    private func exit() {
        writer.withLock { writer in
            if writer.log >= 0 { StoreFile.close(writer.log) }
            writer.log = -1
        }
        let (waiters, compactionWaiters) = pending.withLock { pending in
            pending.exited = true
            defer {
                pending.closeWaiters = []
                pending.compactionWaiters = []
            }
            return (pending.closeWaiters, pending.compactionWaiters)
        }
        // Joins this thread from another queue once it has returned.
        thread.shutdownGracefully(queue: .global()) { _ in }
        for waiter in compactionWaiters { waiter(.failure(StoreError.writeFailed("the store is closed"))) }
        for waiter in waiters { waiter() }
    }

    // MARK: Compaction

    /// Writes the model as a snapshot of the next generation and starts an empty log; see the type's
    /// documentation for the order of operations and why each intermediate state recovers correctly.
    private static func compact(
        _ writer: inout Writer,
        configuration: Configuration,
        time: RecordCodec.Timestamp
    ) throws(StoreFileError) {
        let start = NIODeadline.now()
        let generation = writer.generation + 1
        let temporary = configuration.temporarySnapshotPath

        // 1. snapshot.tmp, synced.
        let descriptor = try StoreFile.openForAppending(temporary, create: true)
        var snapshotBytes = 0
        do throws(StoreFileError) {
            defer { StoreFile.close(descriptor) }
            var buffer = ByteBufferAllocator().buffer(capacity: 1 << 16)
            RecordCodec.writeHeader(kind: .snapshot, generation: generation, into: &buffer)
            var count: UInt64 = 0
            var failure: StoreFileError?
            writer.model.forEachRecord { record, isFirstReference in
                guard failure == nil else { return }
                RecordCodec.encode(record, inlineMessage: isFirstReference, at: time, into: &buffer)
                count += 1
                guard buffer.readableBytes >= 1 << 20 else { return }
                do throws(StoreFileError) {
                    try StoreFile.write(buffer, to: descriptor, path: temporary)
                    snapshotBytes += buffer.readableBytes
                    buffer.clear()
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            RecordCodec.encodeSnapshotEnd(recordCount: count, into: &buffer)
            try StoreFile.write(buffer, to: descriptor, path: temporary)
            snapshotBytes += buffer.readableBytes
            try StoreFile.sync(descriptor, path: temporary)
        } catch {
            try? StoreFile.remove(temporary)
            throw error
        }

        // 2. The snapshot takes over: from here the old log is ignored.
        try StoreFile.rename(temporary, to: configuration.snapshotPath)
        try StoreFile.syncDirectory(configuration.directory)

        // 3. An empty log of the same generation.
        let log = try createLog(generation: generation, configuration: configuration)
        if writer.log >= 0 { StoreFile.close(writer.log) }
        writer.log = log
        writer.generation = generation
        writer.logBytes = 0
        writer.snapshotBytes = snapshotBytes
        writer.failure = nil
        writer.lastCompaction = .now()
        writer.statistics.compactions += 1
        writer.statistics.lastCompactionDuration = writer.lastCompaction - start
        writer.statistics.logBytes = 0
        writer.statistics.snapshotBytes = snapshotBytes
        writer.statistics.storedMessages = writer.model.storedMessageCount
    }

    /// Creates an empty log (header only) through `log.tmp` and a rename, so that `log` is always either the
    /// previous file or a complete new one. Returns it open for appending.
    private static func createLog(generation: UInt64, configuration: Configuration) throws(StoreFileError) -> Int32 {
        let temporary = configuration.temporaryLogPath
        let descriptor = try StoreFile.openForAppending(temporary, create: true)
        do throws(StoreFileError) {
            var header = ByteBufferAllocator().buffer(capacity: RecordCodec.headerSize)
            RecordCodec.writeHeader(kind: .log, generation: generation, into: &header)
            try StoreFile.write(header, to: descriptor, path: temporary)
            try StoreFile.sync(descriptor, path: temporary)
            try StoreFile.rename(temporary, to: configuration.logPath)
            try StoreFile.syncDirectory(configuration.directory)
        } catch {
            StoreFile.close(descriptor)
            try? StoreFile.remove(temporary)
            throw error
        }
        return descriptor
    }
}
