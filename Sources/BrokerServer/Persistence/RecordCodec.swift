import BrokerCore
import MQTTCodec
import NIOCore

/// The binary format of the durable store's files.
///
/// Both files (`log` and `snapshot`) start with a 20-byte header and continue with framed records:
///
///     header: "RMPT" | kind UInt8 (1 log, 2 snapshot) | version UInt8 (1) | reserved UInt16
///             | generation UInt64 | CRC-32C of the 16 bytes before it (UInt32)
///     frame:  length UInt32 (of type + body) | type UInt8 | body | CRC-32C of length + type + body (UInt32)
///
/// Integers are big-endian. The length prefix lets recovery find the end of a record without understanding it;
/// the CRC, which covers the length too, detects a torn write at the tail of the log (a crash in the middle of a
/// `write`) as well as bit rot. The generation ties a log to the snapshot it continues (see `DurableStore`).
///
/// A message is written in full (topic, payload, properties, expiry) only the first time a record refers to it
/// while it is not yet stored; later records refer to it by `Message.id`, so a fan-out to many persistent
/// sessions stores its payload once. Expiry is stored as the remaining nanoseconds plus the wall-clock time of
/// writing, since `NIODeadline` is a monotonic clock that means nothing to the next process.
package enum RecordCodec {
    /// Identifies the store's files and their format.
    package static let magic: UInt32 = 0x524D_5054  // "RMPT"
    package static let version: UInt8 = 1
    package static let headerSize = 20
    /// Frame overhead: length, type and CRC.
    package static let frameOverhead = 9
    /// Larger lengths are treated as corruption: no record comes close (MQTT packets are at most 256 MiB).
    package static let maximumRecordLength = 512 << 20

    package enum FileKind: UInt8, Sendable {
        case log = 1
        case snapshot = 2
    }

    package struct FileHeader: Sendable, Equatable {
        package var kind: FileKind
        package var generation: UInt64
    }

    /// The record types on disk; values are part of the format and must never be reused.
    package enum RecordType: UInt8, Sendable {
        case retained = 1
        case retainedCleared = 2
        case sessionOpened = 3
        case sessionEnded = 4
        case subscribed = 5
        case unsubscribed = 6
        case queued = 7
        case dequeued = 8
        case sent = 9
        case releasePending = 10
        case completed = 11
        case incomingReceived = 12
        case incomingReleased = 13
        /// Last record of a snapshot, with the number of records before it: proves the snapshot is complete.
        case snapshotEnd = 0x7F
    }

    /// The clocks read once per batch: expiry is stored relative to both.
    package struct Timestamp: Sendable {
        /// The process's monotonic clock, which `Message.expiresAt` uses.
        package var monotonic: NIODeadline
        /// Nanoseconds since the Unix epoch, comparable between processes.
        package var wallNanoseconds: Int64

        package init(monotonic: NIODeadline, wallNanoseconds: Int64) {
            self.monotonic = monotonic
            self.wallNanoseconds = wallNanoseconds
        }
    }

    package struct MalformedRecord: Error, CustomStringConvertible {
        package var description: String
    }

    // MARK: Headers

    package static func writeHeader(kind: FileKind, generation: UInt64, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(magic)
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(version)
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(generation)
        let crc = buffer.withUnsafeReadableBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(start - buffer.readerIndex)...]))
        }
        buffer.writeInteger(crc)
    }

    /// The header at the start of `bytes`, or nil when it is short, damaged or of another format.
    package static func readHeader(_ bytes: ByteBuffer) -> FileHeader? {
        guard bytes.readableBytes >= headerSize else { return nil }
        let start = bytes.readerIndex
        let crc = bytes.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<16])) }
        guard bytes.getInteger(at: start, as: UInt32.self) == magic,
            let kindValue = bytes.getInteger(at: start + 4, as: UInt8.self),
            let kind = FileKind(rawValue: kindValue),
            bytes.getInteger(at: start + 5, as: UInt8.self) == version,
            let generation = bytes.getInteger(at: start + 8, as: UInt64.self),
            bytes.getInteger(at: start + 16, as: UInt32.self) == crc
        else { return nil }
        return FileHeader(kind: kind, generation: generation)
    }

    // MARK: Frames

    /// What lies at one offset of a file.
    package enum Frame {
        /// A complete record with a good checksum; the next one starts at `end`.
        case record(type: UInt8, body: ByteBuffer, end: Int)
        /// The file ends exactly here.
        case endOfFile
        /// The bytes here are not a good record. `reachesEnd` is true when the damaged frame runs to (or past)
        /// the end of the file: the signature of a write torn by a crash, as opposed to damage in the middle.
        case damaged(reason: String, reachesEnd: Bool)
    }

    /// Reads the frame at `offset` (relative to the readable bytes of `file`).
    package static func frame(in file: ByteBuffer, at offset: Int) -> Frame {
        let available = file.readableBytes - offset
        if available == 0 { return .endOfFile }
        guard available >= frameOverhead,
            let length32 = file.getInteger(at: file.readerIndex + offset, as: UInt32.self)
        else { return .damaged(reason: "short frame (\(available) bytes)", reachesEnd: true) }
        let length = Int(length32)
        guard length >= 1, length <= maximumRecordLength else {
            // A crash can leave the end of a file zero-filled (the size was updated, the data never written).
            let zeroTail = file.withUnsafeReadableBytes { bytes in bytes[offset...].allSatisfy { $0 == 0 } }
            return .damaged(reason: "impossible record length \(length)", reachesEnd: zeroTail)
        }
        let frameSize = length + frameOverhead - 1
        guard frameSize <= available else {
            return .damaged(reason: "record of \(frameSize) bytes cut at \(available)", reachesEnd: true)
        }
        let start = file.readerIndex + offset
        let computed = file.withUnsafeReadableBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 4 + length)]))
        }
        guard let stored = file.getInteger(at: start + 4 + length, as: UInt32.self), stored == computed,
            let type = file.getInteger(at: start + 4, as: UInt8.self),
            let body = file.getSlice(at: start + 5, length: length - 1)
        else {
            return .damaged(reason: "checksum mismatch", reachesEnd: frameSize == available)
        }
        return .record(type: type, body: body, end: offset + frameSize)
    }

    /// Starts a frame: returns the position of its length field, to be passed to `endFrame`.
    private static func beginFrame(_ type: RecordType, into buffer: inout ByteBuffer) -> Int {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(type.rawValue)
        return start
    }

    private static func endFrame(startingAt start: Int, in buffer: inout ByteBuffer) {
        buffer.setInteger(UInt32(buffer.writerIndex - start - 4), at: start)
        let crc = buffer.withUnsafeReadableBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(start - buffer.readerIndex)...]))
        }
        buffer.writeInteger(crc)
    }

    // MARK: Encoding

    /// Appends one framed record. `inlineMessage` says whether the record carries the whole message (the first
    /// reference to it) or only its identifier; it matters only for `retained` and `queued`.
    package static func encode(
        _ record: PersistenceRecord,
        inlineMessage: Bool,
        at time: Timestamp,
        into buffer: inout ByteBuffer
    ) {
        switch record {
        case .retained(let message):
            let start = beginFrame(.retained, into: &buffer)
            writeMessageReference(message, inline: inlineMessage, at: time, into: &buffer)
            endFrame(startingAt: start, in: &buffer)
        case .retainedCleared(let topic):
            let start = beginFrame(.retainedCleared, into: &buffer)
            writeString(topic, into: &buffer)
            endFrame(startingAt: start, in: &buffer)
        case .sessionOpened(let clientID, let expiryInterval):
            let start = beginFrame(.sessionOpened, into: &buffer)
            writeString(clientID, into: &buffer)
            buffer.writeInteger(expiryInterval)
            endFrame(startingAt: start, in: &buffer)
        case .sessionEnded(let clientID):
            let start = beginFrame(.sessionEnded, into: &buffer)
            writeString(clientID, into: &buffer)
            endFrame(startingAt: start, in: &buffer)
        case .subscribed(let clientID, let filter, let subscription):
            let start = beginFrame(.subscribed, into: &buffer)
            writeString(clientID, into: &buffer)
            writeString(filter, into: &buffer)
            let options = subscription.options
            buffer.writeInteger(options.qos.rawValue)
            buffer.writeInteger(options.retainHandling.rawValue)
            var flags: UInt8 = 0
            if options.noLocal { flags |= 1 }
            if options.retainAsPublished { flags |= 2 }
            if subscription.identifier != nil { flags |= 4 }
            buffer.writeInteger(flags)
            if let identifier = subscription.identifier { buffer.writeInteger(identifier) }
            endFrame(startingAt: start, in: &buffer)
        case .unsubscribed(let clientID, let filter):
            let start = beginFrame(.unsubscribed, into: &buffer)
            writeString(clientID, into: &buffer)
            writeString(filter, into: &buffer)
            endFrame(startingAt: start, in: &buffer)
        case .queued(let clientID, let delivery):
            let start = beginFrame(.queued, into: &buffer)
            writeString(clientID, into: &buffer)
            buffer.writeInteger(delivery.qos.rawValue)
            buffer.writeInteger(UInt8(delivery.retain ? 1 : 0))
            buffer.writeInteger(UInt32(delivery.subscriptionIdentifiers.count))
            for identifier in delivery.subscriptionIdentifiers { buffer.writeInteger(identifier) }
            writeMessageReference(delivery.message, inline: inlineMessage, at: time, into: &buffer)
            endFrame(startingAt: start, in: &buffer)
        case .dequeued(let clientID, let messageID):
            let start = beginFrame(.dequeued, into: &buffer)
            writeString(clientID, into: &buffer)
            buffer.writeInteger(messageID)
            endFrame(startingAt: start, in: &buffer)
        case .sent(let clientID, let messageID, let packetIdentifier):
            let start = beginFrame(.sent, into: &buffer)
            writeString(clientID, into: &buffer)
            buffer.writeInteger(messageID)
            buffer.writeInteger(packetIdentifier)
            endFrame(startingAt: start, in: &buffer)
        case .releasePending(let clientID, let packetIdentifier):
            writePacketRecord(.releasePending, clientID, packetIdentifier, into: &buffer)
        case .completed(let clientID, let packetIdentifier):
            writePacketRecord(.completed, clientID, packetIdentifier, into: &buffer)
        case .incomingReceived(let clientID, let packetIdentifier):
            writePacketRecord(.incomingReceived, clientID, packetIdentifier, into: &buffer)
        case .incomingReleased(let clientID, let packetIdentifier):
            writePacketRecord(.incomingReleased, clientID, packetIdentifier, into: &buffer)
        }
    }

    package static func encodeSnapshotEnd(recordCount: UInt64, into buffer: inout ByteBuffer) {
        let start = beginFrame(.snapshotEnd, into: &buffer)
        buffer.writeInteger(recordCount)
        endFrame(startingAt: start, in: &buffer)
    }

    private static func writePacketRecord(
        _ type: RecordType,
        _ clientID: String,
        _ packetIdentifier: UInt16,
        into buffer: inout ByteBuffer
    ) {
        let start = beginFrame(type, into: &buffer)
        writeString(clientID, into: &buffer)
        buffer.writeInteger(packetIdentifier)
        endFrame(startingAt: start, in: &buffer)
    }

    private static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(string.utf8.count))
        buffer.writeString(string)
    }

    private static func writeBytes(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(bytes.readableBytes))
        buffer.writeImmutableBuffer(bytes)
    }

    private enum MessageFlag {
        static let payloadFormat: UInt8 = 1
        static let contentType: UInt8 = 2
        static let responseTopic: UInt8 = 4
        static let correlationData: UInt8 = 8
        static let expiry: UInt8 = 16
        static let publisher: UInt8 = 32
        static let retain: UInt8 = 64
    }

    private static func writeMessageReference(
        _ message: Message,
        inline: Bool,
        at time: Timestamp,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeInteger(message.id)
        buffer.writeInteger(UInt8(inline ? 1 : 0))
        guard inline else { return }
        let properties = message.properties
        var flags: UInt8 = 0
        if properties.payloadFormatIndicator != nil { flags |= MessageFlag.payloadFormat }
        if properties.contentType != nil { flags |= MessageFlag.contentType }
        if properties.responseTopic != nil { flags |= MessageFlag.responseTopic }
        if properties.correlationData != nil { flags |= MessageFlag.correlationData }
        if message.expiresAt != nil { flags |= MessageFlag.expiry }
        if message.publisherID != nil { flags |= MessageFlag.publisher }
        if message.retain { flags |= MessageFlag.retain }
        buffer.writeInteger(flags)
        buffer.writeInteger(message.qos.rawValue)
        writeString(message.topic, into: &buffer)
        if let indicator = properties.payloadFormatIndicator { buffer.writeInteger(indicator) }
        if let contentType = properties.contentType { writeString(contentType, into: &buffer) }
        if let responseTopic = properties.responseTopic { writeString(responseTopic, into: &buffer) }
        if let correlationData = properties.correlationData { writeBytes(correlationData, into: &buffer) }
        buffer.writeInteger(UInt32(properties.userProperties.count))
        for property in properties.userProperties {
            writeString(property.name, into: &buffer)
            writeString(property.value, into: &buffer)
        }
        if let expiresAt = message.expiresAt {
            buffer.writeInteger(max((expiresAt - time.monotonic).nanoseconds, 0))
            buffer.writeInteger(time.wallNanoseconds)
        }
        if let publisherID = message.publisherID { writeString(publisherID, into: &buffer) }
        writeBytes(message.payload, into: &buffer)
    }

    // MARK: Decoding

    /// One decoded record.
    package enum Decoded {
        case record(PersistenceRecord)
        /// A record referring to a message that is not stored (only after damage): skipped.
        case unresolved(messageID: UInt64)
        case snapshotEnd(recordCount: UInt64)
    }

    /// Decodes the body of a frame. `resolve` finds a message already stored by its identifier; `time` is the
    /// present, against which stored expiry is rebuilt.
    package static func decode(
        type rawType: UInt8,
        body: ByteBuffer,
        at time: Timestamp,
        resolve: (UInt64) -> Message?
    ) throws(MalformedRecord) -> Decoded {
        guard let type = RecordType(rawValue: rawType) else {
            throw MalformedRecord(description: "unknown record type \(rawType)")
        }
        var body = body
        let decoded: Decoded
        switch type {
        case .retained:
            switch try readMessageReference(&body, at: time, resolve: resolve) {
            case .found(let message): decoded = .record(.retained(message))
            case .missing(let id): decoded = .unresolved(messageID: id)
            }
        case .retainedCleared:
            decoded = .record(.retainedCleared(topic: try readString(&body)))
        case .sessionOpened:
            let clientID = try readString(&body)
            decoded = .record(.sessionOpened(clientID: clientID, expiryInterval: try read(&body)))
        case .sessionEnded:
            decoded = .record(.sessionEnded(clientID: try readString(&body)))
        case .subscribed:
            let clientID = try readString(&body)
            let filter = try readString(&body)
            let qos = try readQoS(&body)
            guard let retainHandling = RetainHandling(rawValue: try read(&body)) else {
                throw MalformedRecord(description: "bad retain handling")
            }
            let flags: UInt8 = try read(&body)
            let identifier: UInt32? = flags & 4 != 0 ? try read(&body) : nil
            let options = SubscriptionOptions(
                qos: qos,
                noLocal: flags & 1 != 0,
                retainAsPublished: flags & 2 != 0,
                retainHandling: retainHandling
            )
            let subscription = Subscription(options: options, identifier: identifier)
            decoded = .record(.subscribed(clientID: clientID, filter: filter, subscription: subscription))
        case .unsubscribed:
            let clientID = try readString(&body)
            decoded = .record(.unsubscribed(clientID: clientID, filter: try readString(&body)))
        case .queued:
            let clientID = try readString(&body)
            let qos = try readQoS(&body)
            let retain: UInt8 = try read(&body)
            let count: UInt32 = try read(&body)
            guard Int(count) * 4 <= body.readableBytes else {
                throw MalformedRecord(description: "bad subscription identifier count")
            }
            var identifiers: [UInt32] = []
            identifiers.reserveCapacity(Int(count))
            for _ in 0..<count { identifiers.append(try read(&body)) }
            switch try readMessageReference(&body, at: time, resolve: resolve) {
            case .found(let message):
                let delivery = Delivery(
                    message: message,
                    qos: qos,
                    retain: retain != 0,
                    subscriptionIdentifiers: identifiers
                )
                decoded = .record(.queued(clientID: clientID, delivery: delivery))
            case .missing(let id):
                decoded = .unresolved(messageID: id)
            }
        case .dequeued:
            let clientID = try readString(&body)
            decoded = .record(.dequeued(clientID: clientID, messageID: try read(&body)))
        case .sent:
            let clientID = try readString(&body)
            let messageID: UInt64 = try read(&body)
            let packetIdentifier: UInt16 = try read(&body)
            decoded = .record(.sent(clientID: clientID, messageID: messageID, packetIdentifier: packetIdentifier))
        case .releasePending:
            let clientID = try readString(&body)
            decoded = .record(.releasePending(clientID: clientID, packetIdentifier: try read(&body)))
        case .completed:
            let clientID = try readString(&body)
            decoded = .record(.completed(clientID: clientID, packetIdentifier: try read(&body)))
        case .incomingReceived:
            let clientID = try readString(&body)
            decoded = .record(.incomingReceived(clientID: clientID, packetIdentifier: try read(&body)))
        case .incomingReleased:
            let clientID = try readString(&body)
            decoded = .record(.incomingReleased(clientID: clientID, packetIdentifier: try read(&body)))
        case .snapshotEnd:
            decoded = .snapshotEnd(recordCount: try read(&body))
        }
        guard body.readableBytes == 0 else {
            throw MalformedRecord(description: "\(body.readableBytes) unexpected bytes after a \(type) record")
        }
        return decoded
    }

    private enum MessageReference {
        case found(Message)
        case missing(UInt64)
    }

    private static func readMessageReference(
        _ body: inout ByteBuffer,
        at time: Timestamp,
        resolve: (UInt64) -> Message?
    ) throws(MalformedRecord) -> MessageReference {
        let id: UInt64 = try read(&body)
        let inline: UInt8 = try read(&body)
        guard inline != 0 else { return resolve(id).map { .found($0) } ?? .missing(id) }
        let flags: UInt8 = try read(&body)
        let qos = try readQoS(&body)
        let topic = try readString(&body)
        var properties = Properties()
        if flags & MessageFlag.payloadFormat != 0 { properties.payloadFormatIndicator = try read(&body) }
        if flags & MessageFlag.contentType != 0 { properties.contentType = try readString(&body) }
        if flags & MessageFlag.responseTopic != 0 { properties.responseTopic = try readString(&body) }
        if flags & MessageFlag.correlationData != 0 { properties.correlationData = try readBytes(&body) }
        let userPropertyCount: UInt32 = try read(&body)
        guard Int(userPropertyCount) * 8 <= body.readableBytes else {
            throw MalformedRecord(description: "bad user property count")
        }
        for _ in 0..<userPropertyCount {
            let name = try readString(&body)
            properties.userProperties.append(UserProperty(name: name, value: try readString(&body)))
        }
        var expiresAt: NIODeadline?
        if flags & MessageFlag.expiry != 0 {
            let remaining: Int64 = try read(&body)
            let writtenAt: Int64 = try read(&body)
            // A wall clock set backwards must not extend the message's life: count no negative elapsed time.
            let elapsed = max(time.wallNanoseconds &- writtenAt, 0)
            let left = remaining &- elapsed
            expiresAt = left > 0 ? time.monotonic + .nanoseconds(left) : time.monotonic
        }
        let publisherID = flags & MessageFlag.publisher != 0 ? try readString(&body) : nil
        let payload = try readBytes(&body)
        // The existing instance wins: one object per message, however many records mention it.
        if let existing = resolve(id) { return .found(existing) }
        return .found(
            Message(
                topic: topic,
                payload: payload,
                qos: qos,
                retain: flags & MessageFlag.retain != 0,
                properties: properties,
                expiresAt: expiresAt,
                publisherID: publisherID,
                id: id
            )
        )
    }

    private static func read<Value: FixedWidthInteger>(_ body: inout ByteBuffer) throws(MalformedRecord) -> Value {
        guard let value = body.readInteger(as: Value.self) else {
            throw MalformedRecord(description: "record too short")
        }
        return value
    }

    private static func readQoS(_ body: inout ByteBuffer) throws(MalformedRecord) -> QoS {
        guard let qos = QoS(rawValue: try read(&body)) else { throw MalformedRecord(description: "bad QoS") }
        return qos
    }

    private static func readString(_ body: inout ByteBuffer) throws(MalformedRecord) -> String {
        let length: UInt32 = try read(&body)
        guard let string = body.readString(length: Int(length)) else {
            throw MalformedRecord(description: "string runs past the record")
        }
        return string
    }

    /// Copies the bytes out, so that a recovered payload does not keep the whole file buffer alive.
    private static func readBytes(_ body: inout ByteBuffer) throws(MalformedRecord) -> ByteBuffer {
        let length: UInt32 = try read(&body)
        guard let slice = body.readSlice(length: Int(length)) else {
            throw MalformedRecord(description: "bytes run past the record")
        }
        var copy = ByteBufferAllocator().buffer(capacity: slice.readableBytes)
        copy.writeImmutableBuffer(slice)
        return copy
    }
}
