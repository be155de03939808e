import BrokerCore
import BrokerServer
import Foundation
import Logging
import MQTTCodec
import NIOCore
import Synchronization

/// A directory under the system's temporary directory, removed by `remove()`.
struct TemporaryStoreDirectory {
    let path: String

    init() {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("rampart-store-\(UUID().uuidString)").path
    }

    var log: String { path + "/log" }
    var snapshot: String { path + "/snapshot" }

    func create() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A copy of the directory as it is now (what a crash at this instant would leave, page cache included).
    func copy() throws -> TemporaryStoreDirectory {
        let copy = TemporaryStoreDirectory()
        try FileManager.default.copyItem(atPath: path, toPath: copy.path)
        return copy
    }

    func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
    }

    func write(_ bytes: [UInt8], to name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))
    }

    func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/" + name)
    }

    func size(_ name: String) throws -> Int {
        try read(name).count
    }
}

/// A wall clock the test moves by hand.
final class ManualWallClock: Sendable {
    private let nanoseconds: Mutex<Int64>

    init(_ start: Int64 = 1_700_000_000_000_000_000) {
        nanoseconds = Mutex(start)
    }

    func advance(seconds: Int64) {
        nanoseconds.withLock { $0 += seconds * 1_000_000_000 }
    }

    var now: Int64 { nanoseconds.withLock { $0 } }
}

/// Keeps the log messages of a store, to check what recovery reports.
final class RecordingLogHandler: LogHandler, Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let storage = Mutex<[Entry]>([])

    var entries: [Entry] { storage.withLock { $0 } }

    func log(event: LogEvent) {
        var flattened: [String: String] = [:]
        for (key, value) in event.metadata ?? [:] { flattened[key] = "\(value)" }
        storage.withLock { $0.append(Entry(level: event.level, message: "\(event.message)", metadata: flattened)) }
    }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}  // swiftlint:disable:this unused_setter_value
    }

    var logLevel: Logger.Level {
        get { .trace }
        set {}  // swiftlint:disable:this unused_setter_value
    }

    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}  // swiftlint:disable:this unused_setter_value
    }
}

enum StoreFixtures {
    static func logger(_ handler: RecordingLogHandler = RecordingLogHandler()) -> Logger {
        Logger(label: "test.durable-store") { _ in handler }
    }

    static func open(
        _ directory: TemporaryStoreDirectory,
        compactOnOpen: Bool = false,
        compactionThreshold: Int = 64 << 20,
        wallClock: ManualWallClock? = nil,
        handler: RecordingLogHandler = RecordingLogHandler()
    ) throws -> (DurableStore, RecoveredState) {
        var configuration = DurableStore.Configuration(
            directory: directory.path,
            compactionThreshold: compactionThreshold,
            compactOnOpen: compactOnOpen
        )
        if let wallClock { configuration.wallClock = { wallClock.now } }
        return try DurableStore.open(configuration: configuration, logger: logger(handler))
    }

    /// Opens, returns the recovered state and closes (for comparing states).
    static func recover(_ directory: TemporaryStoreDirectory, compactOnOpen: Bool = false) async throws -> String {
        let (store, state) = try open(directory, compactOnOpen: compactOnOpen)
        await store.close()
        return describe(state)
    }

    static func message(
        _ topic: String,
        _ payload: String = "payload",
        qos: QoS = .atLeastOnce,
        retain: Bool = false,
        expiresIn: Int64? = nil,
        id: UInt64? = nil
    ) -> Message {
        Message(
            topic: topic,
            payload: ByteBuffer(string: payload),
            qos: qos,
            retain: retain,
            expiresAt: expiresIn.map { .now() + .seconds($0) },
            publisherID: "publisher",
            id: id
        )
    }

    static func delivery(_ message: Message, qos: QoS = .atLeastOnce, identifiers: [UInt32] = []) -> Delivery {
        Delivery(message: message, qos: qos, retain: false, subscriptionIdentifiers: identifiers)
    }

    /// A canonical text of a recovered state, to compare states (messages are classes, not `Equatable`).
    static func describe(_ state: RecoveredState) -> String {
        var lines: [String] = []
        for message in state.retained {
            lines.append("retained \(message.topic) = \(describe(message))")
        }
        for session in state.sessions {
            lines.append("session \(session.clientID) expiry \(session.expiryInterval)")
            for filter in session.subscriptions.keys.sorted() {
                guard let subscription = session.subscriptions[filter] else { continue }
                let options = subscription.options
                lines.append(
                    "  sub \(filter) qos \(options.qos.rawValue) nl \(options.noLocal) rap \(options.retainAsPublished)"
                        + " rh \(options.retainHandling.rawValue) id \(subscription.identifier.map { "\($0)" } ?? "-")"
                )
            }
            for delivery in session.queue {
                lines.append("  queued \(describe(delivery))")
            }
            for (packetIdentifier, inflight) in session.inflight {
                lines.append("  inflight \(packetIdentifier) \(inflight.stage) \(describe(inflight.delivery))")
            }
            lines.append("  incoming \(session.incomingQoS2.sorted())")
        }
        return lines.joined(separator: "\n")
    }

    static func describe(_ delivery: Delivery) -> String {
        "qos \(delivery.qos.rawValue) retain \(delivery.retain) ids \(delivery.subscriptionIdentifiers) "
            + describe(delivery.message)
    }

    static func describe(_ message: Message) -> String {
        "#\(message.id) \(message.topic) '\(String(buffer: message.payload))' qos \(message.qos.rawValue)"
            + " retain \(message.retain) from \(message.publisherID ?? "-")"
    }
}
