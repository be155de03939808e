import Foundation
import MQTTClient
import MQTTCodec
import NIOCore
import NIOPosix
import NIOSSL

/// How the generator's clients connect: the broker address, the protocol, credentials and TLS, and how fast new
/// connections are opened.
struct BenchClientSettings: Sendable {
    var host: String
    var port: Int
    var protocolVersion: ProtocolVersion
    var username: String?
    var password: String?
    var tls: TLSConfiguration?
    var tlsServerName: String?
    var keepAlive: UInt16
    var clientIdentifierPrefix: String
    /// New connections per second; 0 opens them as fast as `maximumPendingConnects` allows.
    var connectRate: Double
    /// Connections being set up at once (TCP, TLS, CONNECT/CONNACK): a bound so that 10,000 clients do not all
    /// hit the listen backlog in the same millisecond.
    var maximumPendingConnects: Int
    var connectTimeout: TimeAmount

    func configuration(clientIdentifier: String, inflight: Int) -> MQTTClientConfiguration {
        var configuration = MQTTClientConfiguration(
            host: host,
            port: port,
            protocolVersion: protocolVersion,
            clientIdentifier: clientIdentifier,
            cleanStart: true,
            keepAlive: keepAlive,
            username: username,
            password: password.map { ByteBuffer(string: $0) },
            tls: tls,
            tlsServerHostname: tlsServerName,
            connectTimeout: connectTimeout
        )
        configuration.maximumInflight = max(1, inflight)
        return configuration
    }
}

/// The outcome of opening a set of connections.
struct BenchConnectOutcome: Sendable {
    /// By client index; nil where the connection failed.
    var connections: [MQTTClientConnection?]
    var established: Int
    var failed: Int
    var firstError: String?
    /// From the first attempt to the last CONNACK.
    var elapsed: TimeAmount

    var rate: Double {
        elapsed.nanoseconds > 0 ? Double(established) / (Double(elapsed.nanoseconds) / 1e9) : 0
    }
}

/// Opens connections at the configured rate.
enum BenchConnector {
    /// Connects `count` clients; client `i` goes to `loop(i)` and hands its messages to `onMessage(i)`.
    ///
    /// Connections are started from this task at their due time (`connectRate`) and at most
    /// `maximumPendingConnects` are in progress at once; the wait is for the oldest pending one, which keeps the
    /// bookkeeping to one array. Failures are counted, not thrown: a benchmark reports how many clients it got.
    static func connect(
        count: Int,
        role: String,
        settings: BenchClientSettings,
        inflight: Int,
        loop: (Int) -> any EventLoop,
        onMessage: (Int) -> @Sendable (PublishPacket) -> Void
    ) async -> BenchConnectOutcome {
        let start = NIODeadline.now()
        var futures: [EventLoopFuture<(MQTTClientConnection, NIODeadline)>] = []
        futures.reserveCapacity(count)
        var outcome = BenchConnectOutcome(connections: [], established: 0, failed: 0, firstError: nil, elapsed: .zero)
        outcome.connections.reserveCapacity(count)
        var lastEstablished = start

        func settle(_ future: EventLoopFuture<(MQTTClientConnection, NIODeadline)>) async {
            do {
                let (connection, at) = try await future.get()
                outcome.connections.append(connection)
                outcome.established += 1
                lastEstablished = max(lastEstablished, at)
            } catch {
                outcome.connections.append(nil)
                outcome.failed += 1
                if outcome.firstError == nil { outcome.firstError = "\(error)" }
            }
        }

        for index in 0..<count {
            if settings.connectRate > 0 {
                let due = start + .nanoseconds(Int64(Double(index) / settings.connectRate * 1e9))
                let wait = due - NIODeadline.now()
                if wait > .microseconds(100) {
                    try? await Task.sleep(nanoseconds: UInt64(wait.nanoseconds))
                }
            }
            if futures.count - outcome.connections.count >= settings.maximumPendingConnects {
                await settle(futures[outcome.connections.count])
            }
            let configuration = settings.configuration(
                clientIdentifier: "\(settings.clientIdentifierPrefix)-\(role)\(index)", inflight: inflight)
            let future = MQTTClientConnection.connect(
                configuration: configuration,
                eventLoopGroup: loop(index),
                onMessage: onMessage(index)
            ).map { ($0, NIODeadline.now()) }
            futures.append(future)
        }
        while outcome.connections.count < futures.count {
            await settle(futures[outcome.connections.count])
        }
        outcome.elapsed = lastEstablished - start
        return outcome
    }

    /// Disconnects every connection and waits (bounded) for them to close.
    static func disconnectAll(_ connections: [MQTTClientConnection?], timeout: TimeAmount = .seconds(10)) async {
        let futures = connections.compactMap { $0?.disconnect() }
        let deadline = NIODeadline.now() + timeout
        for future in futures {
            let remaining = deadline - NIODeadline.now()
            guard remaining > .zero else { break }
            _ = try? await future.get()
        }
    }
}

/// Topic templates: `%i` becomes the client index.
enum BenchTopic {
    static func expand(_ template: String, index: Int) -> String {
        template.replacingOccurrences(of: "%i", with: String(index))
    }

    /// For each subscriber, the publishers whose topic its filter matches (the streams it must receive).
    static func sources(publisherTopics: [String], subscriberFilters: [String]) -> [[Int]] {
        var byTopic: [String: [Int]] = [:]
        for (index, topic) in publisherTopics.enumerated() { byTopic[topic, default: []].append(index) }
        return subscriberFilters.map { filter in
            if !filter.contains("+") && !filter.contains("#") { return byTopic[filter] ?? [] }
            return publisherTopics.indices.filter { Topic.matches(filter: filter, topic: publisherTopics[$0]) }
        }
    }
}

/// Resident memory of a process, for the broker's memory per connection (Linux /proc only).
enum BenchProcessMemory {
    /// VmRSS of `pid` in KiB, or nil when it cannot be read.
    static func residentKiB(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }
}
