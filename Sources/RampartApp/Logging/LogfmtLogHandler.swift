import Foundation
import Logging
import Synchronization

/// Where log lines go: any of standard output, standard error and files (mosquitto.conf `log_dest`).
package final class LogOutput: Sendable {
    private let handles: Mutex<[FileHandle]>

    package init(handles: [FileHandle]) {
        self.handles = Mutex(handles)
    }

    /// Standard error only, the default.
    package static let standardError = LogOutput(handles: [FileHandle.standardError])

    /// Opens `path` for appending, creating it when missing.
    package static func appending(to path: String) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        return handle
    }

    func write(_ line: String) {
        let data = Data(line.utf8)
        handles.withLock { handles in
            for handle in handles { handle.write(data) }
        }
    }
}

/// Writes one logfmt line per event (`time=… level=… label=… msg="…" key=value …`), so that logs are both readable
/// and machine-parseable.
package struct LogfmtLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level
    private let label: String
    private let output: LogOutput
    private let timestamps: Bool

    package init(label: String, level: Logger.Level, output: LogOutput = .standardError, timestamps: Bool = true) {
        self.label = label
        self.logLevel = level
        self.output = output
        self.timestamps = timestamps
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var line = timestamps ? "time=\(Self.timestamp()) " : ""
        line += "level=\(event.level) label=\(label) msg=\(Self.quoted("\(event.message)"))"
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quoted("\(value)"))"
        }
        line += "\n"
        output.write(line)
    }

    private static func quoted(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" })
        guard needsQuotes else { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }

    private static func timestamp() -> String {
        Date().formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)
        )
    }
}
