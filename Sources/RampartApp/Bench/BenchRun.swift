import MQTTClient
import MQTTCodec
import NIOCore
import NIOPosix

/// One publish/subscribe run: `bench pub` (no subscribers), `bench sub` (no publishers) or `bench pubsub`.
struct BenchRunSettings: Sendable {
    var command: String
    var client: BenchClientSettings
    var threads: Int
    var publishers: Int
    var subscribers: Int
    /// `%i` is the publisher index.
    var publishTopic: String
    /// `%i` is the subscriber index.
    var subscribeFilter: String
    var subscribeQoS: QoS
    var plan: BenchPublishPlan
    /// The publishing window; nil with a message count (`plan.count`, per publisher).
    var duration: TimeAmount?
    /// Subscribers stop waiting for the missing messages once none arrived for this long …
    var drainIdle: TimeAmount
    /// … or after this long in any case: at QoS 0 an overloaded run leaves megabytes in the socket buffers, and
    /// a run must stay bounded. What has not arrived by then counts as lost.
    var drainMaximum: TimeAmount
    /// `bench sub` with a count: stop once this many messages were delivered in total.
    var deliveryTarget: UInt64?
}

/// Runs the publishers and subscribers of a benchmark on the generator's own event-loop group.
///
/// Subscribers and publishers run on two separate groups of `threads` loops each, clients spread round-robin. They
/// must not share a loop: NIO runs every ready task before it polls for I/O again, so a loop whose QoS 0
/// publishers always have their next turn queued would read nothing until they stop, and its subscribers would
/// see all their messages after the window. Subscribers connect and subscribe before any publisher connects; the
/// publishers then start together at one instant, publish for the window (or their count), wait for their
/// acknowledgements, and the subscribers drain what is still on its way before the losses are counted.
enum BenchRun {
    static func run(_ settings: BenchRunSettings) async throws -> BenchReport {
        let threads = max(1, settings.threads)
        let subscriberGroup = MultiThreadedEventLoopGroup(numberOfThreads: settings.subscribers > 0 ? threads : 1)
        let publisherGroup = MultiThreadedEventLoopGroup(numberOfThreads: settings.publishers > 0 ? threads : 1)
        let subscriberLoops = Array(subscriberGroup.makeIterator())
        let loops = subscriberLoops + Array(publisherGroup.makeIterator())
        do {
            let report = try await run(settings, loops: loops, subscriberLoops: subscriberLoops.count)
            try await subscriberGroup.shutdownGracefully()
            try await publisherGroup.shutdownGracefully()
            return report
        } catch {
            try? await subscriberGroup.shutdownGracefully()
            try? await publisherGroup.shutdownGracefully()
            throw error
        }
    }

    /// - Parameter loops: the subscribers' loops (the first `subscriberLoops`), then the publishers'.
    private static func run(_ settings: BenchRunSettings, loops: [any EventLoop], subscriberLoops: Int) async throws
        -> BenchReport
    {
        let loopCount = subscriberLoops
        let publisherLoopCount = loops.count - subscriberLoops
        let workers = loops.enumerated().map { offset, loop in
            let subscribers =
                offset < loopCount && settings.subscribers > offset
                ? (settings.subscribers - offset - 1) / loopCount + 1 : 0
            return NIOLoopBoundBox.makeBoxSendingValue(
                BenchLoopWorker(subscriberCount: subscribers), eventLoop: loop)
        }
        let filters = (0..<settings.subscribers).map { BenchTopic.expand(settings.subscribeFilter, index: $0) }
        let topics = (0..<settings.publishers).map { BenchTopic.expand(settings.publishTopic, index: $0) }
        let publisherLoop = { (index: Int) in loopCount + index % publisherLoopCount }

        // Subscribers first, so that no message is published before every subscription is in place.
        let subscriberOutcome = await BenchConnector.connect(
            count: settings.subscribers,
            role: "sub",
            settings: settings.client,
            inflight: settings.plan.inflight,
            loop: { loops[$0 % loopCount] },
            onMessage: { index in
                let worker = workers[index % loopCount]
                let local = index / loopCount
                return { packet in worker.value.receive(packet, subscriber: local) }
            }
        )
        var subscribeFailures = 0
        var subscribeError: String?
        let subscriptions = subscriberOutcome.connections.enumerated().compactMap { index, connection in
            connection?.subscribe([
                TopicSubscription(filter: filters[index], options: SubscriptionOptions(qos: settings.subscribeQoS))
            ])
        }
        for subscription in subscriptions {
            do {
                let ack = try await subscription.get()
                if let code = ack.reasonCodes.first(where: \.isFailure) {
                    subscribeFailures += 1
                    subscribeError = subscribeError ?? "SUBACK refused: \(code)"
                }
            } catch {
                subscribeFailures += 1
                subscribeError = subscribeError ?? "SUBSCRIBE failed: \(error)"
            }
        }

        let publisherOutcome = await BenchConnector.connect(
            count: settings.publishers,
            role: "pub",
            settings: settings.client,
            inflight: settings.plan.inflight,
            loop: { loops[publisherLoop($0)] },
            onMessage: { _ in { _ in } }
        )

        // Everyone starts at once, a little later so that the last publisher is set up in time.
        let start = NIODeadline.now() + .milliseconds(50)
        let windowEnd = settings.duration.map { start + $0 } ?? .distantFuture
        var finished: [EventLoopFuture<Void>] = []
        for (offset, loop) in loops.enumerated() {
            let mine = publisherOutcome.connections.enumerated().compactMap { index, connection in
                connection.flatMap { publisherLoop(index) == offset ? (index, topics[index], $0) : nil }
            }
            let worker = workers[offset]
            let plan = settings.plan
            let done = try await loop.submit {
                worker.value.windowEnd = windowEnd
                var done: [EventLoopFuture<Void>] = []
                for (index, topic, connection) in mine {
                    let publisher = BenchPublisher(
                        index: index, topic: topic, connection: connection, plan: plan, windowEnd: windowEnd)
                    worker.value.add(publisher)
                    publisher.start(at: start)
                    done.append(publisher.done)
                }
                return EventLoopFuture.andAllComplete(done, on: loop)
            }.get()
            finished.append(done)
        }
        for done in finished { try await done.get() }

        var results: [BenchPublisherResult] = []
        for (offset, loop) in loops.enumerated() {
            let worker = workers[offset]
            results += try await loop.submit { worker.value.publishers.map(\.result) }.get()
        }
        var sent = Array(repeating: UInt64(0), count: settings.publishers)
        for result in results { sent[result.index] = result.published }
        let published = sent

        let sources =
            settings.publishers > 0
            ? BenchTopic.sources(publisherTopics: topics, subscriberFilters: filters) : nil
        try await drain(
            settings: settings, loops: loops, workers: workers, sources: sources, published: published,
            windowEnd: windowEnd)

        var totals = BenchDeliveryTotals()
        for (offset, loop) in loops.enumerated() {
            let worker = workers[offset]
            // The sources of this loop's subscribers, by local index.
            let local = sources.map { all in
                offset < loopCount ? stride(from: offset, to: all.count, by: loopCount).map { all[$0] } : []
            }
            totals.add(try await loop.submit { worker.value.finalTotals(sources: local, published: published) }.get())
        }
        await BenchConnector.disconnectAll(subscriberOutcome.connections + publisherOutcome.connections)

        return report(
            settings: settings,
            outcomes: [subscriberOutcome, publisherOutcome],
            subscribeFailures: subscribeFailures,
            subscribeError: subscribeError,
            start: start,
            results: results,
            totals: totals
        )
    }

    /// Waits until the subscribers have everything the publishers sent, or nothing has arrived for `drainIdle`.
    /// `bench sub` alone listens until the end of the window or its delivery target.
    private static func drain(
        settings: BenchRunSettings,
        loops: [any EventLoop],
        workers: [NIOLoopBoundBox<BenchLoopWorker>],
        sources: [[Int]]?,
        published: [UInt64],
        windowEnd: NIODeadline
    ) async throws {
        guard settings.subscribers > 0 else { return }
        let expected: UInt64? = sources.map { all in
            all.reduce(0) { sum, publishers in sum + publishers.reduce(0) { $0 + published[$1] } }
        }
        var lastCount: UInt64 = .max
        var lastChange = NIODeadline.now()
        let giveUp = lastChange + settings.drainMaximum
        while true {
            var delivered: UInt64 = 0
            for (offset, loop) in loops.enumerated() {
                let worker = workers[offset]
                delivered += try await loop.submit { worker.value.delivered }.get()
            }
            let now = NIODeadline.now()
            if let expected, delivered >= expected { return }
            if let target = settings.deliveryTarget, delivered >= target { return }
            if settings.publishers > 0 && now >= giveUp { return }
            if settings.publishers == 0 {
                if now >= windowEnd { return }
            } else {
                if delivered != lastCount {
                    lastCount = delivered
                    lastChange = now
                } else if now - lastChange >= settings.drainIdle {
                    return
                }
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    private static func report(
        settings: BenchRunSettings,
        outcomes: [BenchConnectOutcome],
        subscribeFailures: Int,
        subscribeError: String?,
        start: NIODeadline,
        results: [BenchPublisherResult],
        totals: BenchDeliveryTotals
    ) -> BenchReport {
        let attempted = outcomes.reduce(0) { $0 + $1.connections.count }
        let established = outcomes.reduce(0) { $0 + $1.established }
        let connectSeconds = outcomes.reduce(0.0) { $0 + Double($1.elapsed.nanoseconds) / 1e9 }
        var connections = BenchReport.Connections(
            attempted: attempted,
            established: established,
            failed: outcomes.reduce(0) { $0 + $1.failed } + subscribeFailures,
            seconds: connectSeconds,
            perSecond: connectSeconds > 0 ? Double(established) / connectSeconds : 0,
            firstError: outcomes.lazy.compactMap(\.firstError).first ?? subscribeError
        )
        if established == 0 { connections.perSecond = 0 }

        let lastPublish = results.compactMap(\.lastPublishAt).max()
        let window: Double =
            settings.duration.map { Double($0.nanoseconds) / 1e9 }
            ?? lastPublish.map { Double(($0 - start).nanoseconds) / 1e9 } ?? 0
        let hasPublishers = settings.publishers > 0
        let hasSubscribers = settings.subscribers > 0
        var report = BenchReport(
            command: settings.command,
            host: settings.client.host,
            port: settings.client.port,
            protocolVersion: settings.client.protocolVersion.description,
            tls: settings.client.tls != nil,
            qos: Int(hasPublishers ? settings.plan.qos.rawValue : settings.subscribeQoS.rawValue),
            payloadSize: hasPublishers ? settings.plan.payloadSize : nil,
            publishers: settings.publishers,
            subscribers: settings.subscribers,
            seconds: window,
            connections: connections
        )
        if hasPublishers {
            let published = results.reduce(0) { $0 + $1.published }
            let inWindow = results.reduce(0) { $0 + $1.publishedInWindow }
            report.published = published
            report.publishedPerSecond = window > 0 ? Double(inWindow) / window : 0
            report.acknowledged = results.reduce(0) { $0 + $1.acknowledged }
            report.publishFailures = results.reduce(0) { $0 + $1.failed }
        }
        if hasSubscribers {
            report.delivered = totals.delivered
            if settings.duration != nil {
                report.deliveredPerSecond = window > 0 ? Double(totals.deliveredInWindow) / window : 0
            } else {
                let span = totals.lastDeliveryAt.map { Double(($0 - start).nanoseconds) / 1e9 } ?? 0
                report.deliveredPerSecond = span > 0 ? Double(totals.delivered) / span : 0
            }
            report.expected = hasPublishers ? totals.expected : nil
            report.lost = totals.lost
            report.lostAtEnd = totals.lostAtEnd
            report.duplicates = totals.duplicates
            report.outOfOrder = totals.outOfOrder
            report.foreign = totals.foreign
            report.latencyMicroseconds = BenchReport.Latency(totals.latency)
        }
        return report
    }
}

/// `bench conn`: opens connections at the connect rate, holds them idle, closes them, and measures the broker's
/// resident memory around it when given its pid.
enum BenchConnections {
    static func run(
        client: BenchClientSettings,
        threads: Int,
        count: Int,
        hold: TimeAmount,
        brokerPID: Int32?
    ) async throws -> BenchReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let loops = Array(group.makeIterator())
        var memory = brokerPID.map { BenchReport.BrokerMemory(pid: $0) }
        memory?.residentBeforeKiB = brokerPID.flatMap(BenchProcessMemory.residentKiB)
        let outcome = await BenchConnector.connect(
            count: count,
            role: "conn",
            settings: client,
            inflight: 1,
            loop: { loops[$0 % loops.count] },
            onMessage: { _ in { _ in } }
        )
        let holdEnd = NIODeadline.now() + hold
        // Let the broker settle (its buffers for the last CONNACKs) before reading its memory.
        try await Task.sleep(nanoseconds: UInt64(min(hold, .seconds(1)).nanoseconds))
        memory?.residentConnectedKiB = brokerPID.flatMap(BenchProcessMemory.residentKiB)
        let remaining = holdEnd - NIODeadline.now()
        if remaining > .zero { try await Task.sleep(nanoseconds: UInt64(remaining.nanoseconds)) }
        let stillOpen = outcome.connections.reduce(0) { open, connection in
            open + (connection.map { $0.closeError == nil ? 1 : 0 } ?? 0)
        }
        await BenchConnector.disconnectAll(outcome.connections)
        if let pid = brokerPID {
            try await Task.sleep(nanoseconds: 2_000_000_000)
            memory?.residentAfterCloseKiB = BenchProcessMemory.residentKiB(pid: pid)
        }
        if let before = memory?.residentBeforeKiB, let connected = memory?.residentConnectedKiB,
            outcome.established > 0
        {
            memory?.bytesPerConnection = Double((connected - before) * 1024) / Double(outcome.established)
        }
        try await group.shutdownGracefully()

        let seconds = Double(outcome.elapsed.nanoseconds) / 1e9
        var report = BenchReport(
            command: "conn",
            host: client.host,
            port: client.port,
            protocolVersion: client.protocolVersion.description,
            tls: client.tls != nil,
            seconds: Double(hold.nanoseconds) / 1e9,
            connections: BenchReport.Connections(
                attempted: count,
                established: outcome.established,
                failed: outcome.failed + (outcome.established - stillOpen),
                seconds: seconds,
                perSecond: outcome.rate,
                firstError: outcome.firstError
            )
        )
        report.brokerMemory = memory
        return report
    }
}
