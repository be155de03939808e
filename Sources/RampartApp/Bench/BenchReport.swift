import Foundation
import Histogram

/// The result of one `rampart bench` run, printed as a table or, with `--json`, as JSON (the form
/// `scripts/bench-vs-mosquitto` reads). Absent fields do not apply to the command that ran.
struct BenchReport: Codable, Sendable {
    struct Connections: Codable, Sendable {
        var attempted: Int
        var established: Int
        var failed: Int
        var seconds: Double
        /// Established connections per second, from the first attempt to the last CONNACK.
        var perSecond: Double
        var firstError: String?
    }

    struct Latency: Codable, Sendable {
        var count: UInt64
        var min: Double
        var p50: Double
        var p90: Double
        var p99: Double
        var p999: Double
        var max: Double
        var mean: Double

        /// Microseconds, from a histogram of nanoseconds.
        init(_ histogram: Histogram<UInt64>) {
            func micro(_ value: UInt64) -> Double { Double(value) / 1000 }
            count = histogram.totalCount
            min = micro(histogram.min)
            p50 = micro(histogram.valueAtPercentile(50))
            p90 = micro(histogram.valueAtPercentile(90))
            p99 = micro(histogram.valueAtPercentile(99))
            p999 = micro(histogram.valueAtPercentile(99.9))
            max = micro(histogram.max)
            mean = histogram.mean / 1000
        }
    }

    struct BrokerMemory: Codable, Sendable {
        var pid: Int32
        var residentBeforeKiB: Int?
        var residentConnectedKiB: Int?
        var residentAfterCloseKiB: Int?
        /// (connected − before) / established connections.
        var bytesPerConnection: Double?
    }

    var command: String
    var host: String
    var port: Int
    var protocolVersion: String
    var tls: Bool
    var qos: Int?
    var payloadSize: Int?
    var publishers: Int?
    var subscribers: Int?
    /// The publishing (or holding) window in seconds.
    var seconds: Double?
    var connections: Connections
    var published: UInt64?
    var publishedPerSecond: Double?
    var acknowledged: UInt64?
    var publishFailures: UInt64?
    var delivered: UInt64?
    var deliveredPerSecond: Double?
    var expected: UInt64?
    var lost: UInt64?
    /// Of `lost`, the messages after the last one a subscriber received from their publisher.
    var lostAtEnd: UInt64?
    var duplicates: UInt64?
    var outOfOrder: UInt64?
    var foreign: UInt64?
    var latencyMicroseconds: Latency?
    var brokerMemory: BrokerMemory?

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The human form: one aligned row per figure.
    func table() -> String {
        var rows: [(String, String)] = []
        var title = "rampart bench \(command)  \(host):\(port)  MQTT \(protocolVersion)\(tls ? " TLS" : "")"
        if let qos { title += "  QoS \(qos)" }
        if let payloadSize { title += "  \(payloadSize) B" }
        if let publishers, let subscribers { title += "  \(publishers) pub → \(subscribers) sub" }
        if let seconds { title += "  \(Self.decimal(seconds, 1)) s" }
        let c = connections
        var connectionRow = "\(c.established)/\(c.attempted) in \(Self.decimal(c.seconds, 2)) s"
        connectionRow += " (\(Self.count(c.perSecond))/s)"
        if c.failed > 0 { connectionRow += ", \(c.failed) failed: \(c.firstError ?? "?")" }
        rows.append(("connections", connectionRow))
        if let published {
            var row = "\(Self.count(Double(published)))  \(Self.count(publishedPerSecond ?? 0))/s"
            if let acknowledged, (qos ?? 0) > 0 { row += "  (acknowledged \(Self.count(Double(acknowledged))))" }
            if let publishFailures, publishFailures > 0 { row += "  failures \(publishFailures)" }
            rows.append(("published", row))
        }
        if let delivered {
            var row = "\(Self.count(Double(delivered)))  \(Self.count(deliveredPerSecond ?? 0))/s"
            if let expected { row += "  (expected \(Self.count(Double(expected))))" }
            rows.append(("delivered", row))
        }
        if let lost {
            rows.append(("lost", lost > 0 ? "\(lost)  (\(lostAtEnd ?? 0) at the end of a stream)" : "0"))
        }
        if let duplicates { rows.append(("duplicates", "\(duplicates)")) }
        if let outOfOrder { rows.append(("out of order", "\(outOfOrder)")) }
        if let foreign, foreign > 0 { rows.append(("not from bench", "\(foreign)")) }
        if let l = latencyMicroseconds, l.count > 0 {
            let figures = [
                ("min", l.min), ("p50", l.p50), ("p90", l.p90), ("p99", l.p99), ("p99.9", l.p999), ("max", l.max),
            ]
            rows.append(("latency µs", figures.map { "\($0.0) \(Self.decimal($0.1, 1))" }.joined(separator: "  ")))
        }
        if let m = brokerMemory {
            var row = "pid \(m.pid)"
            if let before = m.residentBeforeKiB { row += "  before \(before) KiB" }
            if let connected = m.residentConnectedKiB { row += "  connected \(connected) KiB" }
            if let after = m.residentAfterCloseKiB { row += "  after close \(after) KiB" }
            if let perConnection = m.bytesPerConnection { row += "  \(Self.decimal(perConnection, 0)) B/connection" }
            rows.append(("broker RSS", row))
        }
        let width = rows.map(\.0.count).max() ?? 0
        let body = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
        return ([title] + body).joined(separator: "\n")
    }

    private static func decimal(_ value: Double, _ places: Int) -> String {
        String(format: "%.\(places)f", value)
    }

    /// Whole numbers with thousands separators, for counts and rates.
    private static func count(_ value: Double) -> String {
        let digits = String(Int64(value.rounded()))
        var result = ""
        for (offset, character) in digits.reversed().enumerated() {
            if offset > 0 && offset % 3 == 0 && character != "-" { result.append(",") }
            result.append(character)
        }
        return String(result.reversed())
    }
}
