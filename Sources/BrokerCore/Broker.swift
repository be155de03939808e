import DequeModule
import MQTTCodec
import NIOCore
import RampartModel
import Synchronization

/// The broker's shared state: sessions, subscriptions, retained messages, pending wills and statistics.
///
/// Safe to use from every event loop. Lock order, outermost first: `registry`, `router`, a session's state,
/// `retained`. Routing copies the subscription trie under the lock and matches outside it.
package final class Broker: Sendable {
    package let settings: SharedSetting<BrokerConfiguration>
    package let statistics = BrokerStatistics()
    package let startedAt: NIODeadline
    private let router = Mutex(SubscriptionTrie())
    private let retained = Mutex<[String: Message]>([:])
    private let registry = Mutex(Registry())

    private struct PendingWill {
        var deadline: NIODeadline
        var will: WillMessage
        var clientID: String

        /// The will as a message published at `now`: its expiry counts from publication (MQTT 5 §3.1.3.2.4).
        func message(at now: NIODeadline) -> Message {
            Broker.message(for: will, clientID: clientID, now: now)
        }
    }

    private struct Registry {
        var sessions: [String: Session] = [:]
        /// Wills waiting for their delay (MQTT 5 §3.1.3.2.2), by client identifier.
        var pendingWills: [String: PendingWill] = [:]
        /// Disconnected sessions that expire, by client identifier.
        var expiries: [String: NIODeadline] = [:]
    }

    /// Where durable state changes go when persistence is on.
    package let persistence: (any PersistenceSink)?
    /// Message inspection (BRK-5), replaced on reload; nil when the profile has no rules.
    package let inspectionSetting = SharedSetting<MessageInspection?>(nil)
    /// Refusals by the inspection rules; kept across reloads.
    package let inspectionStatistics = InspectionStatistics()
    /// Told about refused log-ins (the gateway's security events); nil when nobody listens.
    package let authenticationObserver = SharedSetting<(any AuthenticationObserver)?>(nil)

    package init(
        configuration: BrokerConfiguration = BrokerConfiguration(),
        persistence: (any PersistenceSink)? = nil,
        now: NIODeadline
    ) {
        self.settings = SharedSetting(configuration)
        self.persistence = persistence
        self.startedAt = now
    }

    /// The protocol limits in force. A connection reads them as it handles each packet, so a change applies to
    /// every client from its next packet on.
    package var configuration: BrokerConfiguration { settings.value }

    /// The message inspection in force, if any.
    package var inspection: MessageInspection? { inspectionSetting.value }

    /// Replaces the inspection rules (profile activation, reload).
    package func update(inspection: MessageInspection?) {
        inspectionSetting.replace(with: inspection)
    }

    /// Replaces the protocol limits (configuration reload).
    package func update(configuration: BrokerConfiguration) {
        settings.replace(with: configuration)
    }

    // MARK: Sessions

    /// The outcome of attaching a connection to a session.
    package struct Attachment: Sendable {
        package var session: Session
        package var epoch: UInt64
        package var sessionPresent: Bool
    }

    /// Attaches a new connection to the session of `clientID`, taking the session over from an existing
    /// connection (MQTT 5 §3.1.4) and starting a new session when asked to or when none exists.
    package func attach(
        clientID: String,
        cleanStart: Bool,
        expiryInterval: UInt32,
        will: WillMessage?,
        connection: any SessionConnection,
        now: NIODeadline
    ) -> Attachment {
        var wills: [Message] = []
        var takenOver: (any SessionConnection)?
        let attachment = registry.withLock { registry -> Attachment in
            var session: Session
            var sessionPresent = false
            if let existing = registry.sessions[clientID],
                let deadline = registry.expiries[clientID], deadline <= now
            {
                // Expired, though the periodic sweep has not run yet: it ends now and is not resumed.
                registry.expiries[clientID] = nil
                registry.sessions[clientID] = nil
                if let pending = registry.pendingWills.removeValue(forKey: clientID) {
                    wills.append(pending.message(at: now))
                }
                end(existing)
            }
            if let existing = registry.sessions[clientID] {
                registry.expiries[clientID] = nil
                // A will still waiting for its delay: a new connection cancels it unless the session ends now.
                if let pending = registry.pendingWills.removeValue(forKey: clientID), cleanStart {
                    wills.append(pending.message(at: now))
                }
                takenOver = existing.detachAny()
                if takenOver != nil, let will = existing.state.withLock({ $0.will }) {
                    // The old connection ends without DISCONNECT: its will goes out now unless delayed and the
                    // session carries on.
                    if (will.properties.willDelayInterval ?? 0) == 0 || cleanStart {
                        wills.append(Self.message(for: will, clientID: clientID, now: now))
                    }
                }
                if cleanStart {
                    end(existing)
                    session = Session(clientID: clientID)
                } else {
                    session = existing
                    sessionPresent = true
                }
            } else {
                session = Session(clientID: clientID)
            }
            registry.sessions[clientID] = session
            let persistence = self.persistence
            session.state.withLock { state in
                state.expiryInterval = expiryInterval
                state.will = will
                if let persistence, expiryInterval > 0 {
                    state.persistence = persistence
                    state.record(.sessionOpened(clientID: clientID, expiryInterval: expiryInterval))
                } else {
                    // Resumed with no expiry: the session dies with this connection, so it leaves the store now.
                    state.record(.sessionEnded(clientID: clientID))
                    state.persistence = nil
                }
            }
            let epoch = session.attach(connection)
            return Attachment(session: session, epoch: epoch, sessionPresent: sessionPresent)
        }
        takenOver?.sessionTakenOver()
        for will in wills { publish(will, now: now) }
        return attachment
    }

    /// Detaches a closed connection from its session. Publishes or schedules the will, and ends the session now
    /// or schedules its expiry.
    /// - Parameter publishWill: false after a normal DISCONNECT (MQTT 5 §3.1.2.5).
    package func detach(session: Session, epoch: UInt64, publishWill: Bool, now: NIODeadline) {
        guard session.detach(epoch: epoch) else { return }  // taken over: the new connection owns the session
        let (storedWill, expiry) = session.state.withLock { state in
            defer { state.will = nil }
            return (state.will, state.expiryInterval)
        }
        let will = publishWill ? storedWill : nil
        var publishNow: Message?
        registry.withLock { registry in
            guard registry.sessions[session.clientID] === session else { return }
            if expiry == 0 {
                registry.sessions[session.clientID] = nil
                end(session)
                publishNow = will.map { Self.message(for: $0, clientID: session.clientID, now: now) }
                return
            }
            if expiry != UInt32.max {
                registry.expiries[session.clientID] = now + .seconds(Int64(expiry))
            }
            if let will {
                let delay = min(will.properties.willDelayInterval ?? 0, expiry)
                if delay == 0 {
                    publishNow = Self.message(for: will, clientID: session.clientID, now: now)
                } else {
                    registry.pendingWills[session.clientID] = PendingWill(
                        deadline: now + .seconds(Int64(delay)),
                        will: will,
                        clientID: session.clientID
                    )
                }
            }
        }
        if let publishNow { publish(publishNow, now: now) }
    }

    /// Publishes wills whose delay has passed and ends sessions whose expiry interval has passed.
    /// Call periodically; the cost is proportional to the number of disconnected sessions with a deadline.
    package func expire(now: NIODeadline) {
        var wills: [Message] = []
        registry.withLock { registry in
            for (clientID, pending) in registry.pendingWills where pending.deadline <= now {
                registry.pendingWills[clientID] = nil
                wills.append(pending.message(at: now))
            }
            for (clientID, deadline) in registry.expiries where deadline <= now {
                registry.expiries[clientID] = nil
                if let pending = registry.pendingWills.removeValue(forKey: clientID) {
                    wills.append(pending.message(at: now))
                }
                if let session = registry.sessions.removeValue(forKey: clientID) {
                    end(session)
                }
            }
        }
        for will in wills { publish(will, now: now) }
    }

    /// Number of sessions the broker holds, connected or not.
    package var sessionCount: Int { registry.withLock { $0.sessions.count } }

    /// The session of `clientID`, if any (for tests and the management plane).
    package func session(clientID: String) -> Session? {
        registry.withLock { $0.sessions[clientID] }
    }

    /// Ends a session: its subscriptions leave the router and its durable state leaves the store.
    private func end(_ session: Session) {
        let filters = session.state.withLock { state in
            state.record(.sessionEnded(clientID: session.clientID))
            state.persistence = nil
            defer { state.subscriptions.removeAll() }
            return Array(state.subscriptions.keys)
        }
        guard !filters.isEmpty else { return }
        router.withLock { trie in
            for filter in filters { trie.remove(filter: filter, clientID: session.clientID) }
        }
    }

    fileprivate static func message(for will: WillMessage, clientID: String, now: NIODeadline) -> Message {
        var properties = Properties()
        properties.payloadFormatIndicator = will.properties.payloadFormatIndicator
        properties.contentType = will.properties.contentType
        properties.responseTopic = will.properties.responseTopic
        properties.correlationData = will.properties.correlationData
        properties.userProperties = will.properties.userProperties
        return Message(
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties: properties,
            expiresAt: will.properties.messageExpiryInterval.map { now + .seconds(Int64($0)) },
            publisherID: clientID
        )
    }

    // MARK: Routing

    /// Stores a retained message (an empty payload deletes, MQTT 5 §3.3.1.3) and delivers the message to every
    /// matching subscription: once per session, at the highest QoS among its matching subscriptions, with all of
    /// their subscription identifiers (MQTT 5 §3.3.4).
    /// - Returns: the number of sessions the message was delivered to.
    @discardableResult
    package func publish(_ message: Message, now: NIODeadline) -> Int {
        publish(message, now: now, from: nil).matched
    }

    /// Routes `message` to every matching session's queue.
    /// - Parameter publisher: the client connection that published it; when a subscriber's queue is full it is
    ///   registered to be resumed, and `pausePublisher` tells it to stop reading (see `Session`).
    /// - Returns: how many sessions the message went to, and whether the publisher must pause.
    package func publish(
        _ message: Message,
        now: NIODeadline,
        from publisher: (any SessionConnection)?,
        limits: QueueLimits? = nil
    ) -> (matched: Int, pausePublisher: Bool) {
        BrokerStatistics.add(statistics.messagesReceived)
        if message.retain {
            let persistence = self.persistence
            retained.withLock { store in
                if message.payload.readableBytes == 0 {
                    if store.removeValue(forKey: message.topic) != nil {
                        persistence?.append(.retainedCleared(topic: message.topic))
                    }
                } else {
                    store[message.topic] = message
                    // The broker's own statistics are published again every interval: not worth a disk write.
                    if !message.topic.hasPrefix("$SYS/") { persistence?.append(.retained(message)) }
                }
            }
        }
        let trie = router.withLock { $0 }
        var targets: [Target] = []
        targets.reserveCapacity(16)  // grows by doubling past that: few allocations for a large fan-out
        trie.forEachMatch(topic: message.topic) { subscriber, shared in
            // No-local never applies to shared subscriptions (MQTT 5 §3.8.3.1 forbids the combination).
            if subscriber.options.noLocal && !shared && subscriber.session.clientID == message.publisherID {
                return
            }
            if let access = subscriber.access, !access.mayRead(message.topic) { return }
            let delivery = Delivery(
                message: message,
                qos: min(message.qos, subscriber.options.qos),
                retain: subscriber.options.retainAsPublished && message.retain,
                subscriptionIdentifiers: subscriber.identifier.map { [$0] } ?? []
            )
            targets.append(Target(session: subscriber.session, delivery: delivery, shared: shared))
        }
        if targets.count > 1 { targets = Self.mergeOverlapping(targets) }
        let limits = limits ?? configuration.queueLimits
        var pausePublisher = false
        for target in targets {
            switch target.session.enqueue(target.delivery, limits: limits, now: now, publisher: publisher) {
            case .queued: break
            case .queuedPausePublisher: pausePublisher = true
            case .dropped: BrokerStatistics.add(statistics.messagesDropped)
            }
        }
        return (targets.count, pausePublisher)
    }

    private struct Target {
        var session: Session
        var delivery: Delivery
        var shared: Bool
    }

    /// Folds the plain subscriptions of one session that match the same message into one delivery.
    private static func mergeOverlapping(_ targets: [Target]) -> [Target] {
        var merged: [Target] = []
        merged.reserveCapacity(targets.count)
        var positions: [ObjectIdentifier: Int] = [:]
        positions.reserveCapacity(targets.count)
        for target in targets {
            guard !target.shared else {
                merged.append(target)
                continue
            }
            let key = ObjectIdentifier(target.session)
            guard let position = positions[key] else {
                positions[key] = merged.count
                merged.append(target)
                continue
            }
            merged[position].delivery.qos = max(merged[position].delivery.qos, target.delivery.qos)
            merged[position].delivery.retain = merged[position].delivery.retain || target.delivery.retain
            merged[position].delivery.subscriptionIdentifiers += target.delivery.subscriptionIdentifiers
        }
        return merged
    }

    /// Adds or replaces the subscriptions of one SUBSCRIBE and queues the retained messages they ask for.
    /// - Returns: one reason code per requested filter, in order (MQTT 5 §3.9.3).
    package func subscribe(
        session: Session,
        subscriptions: [TopicSubscription],
        identifier: UInt32?,
        access: SubscriberAccess? = nil,
        maximumQoS: QoS = .exactlyOnce,
        now: NIODeadline
    ) -> [ReasonCode] {
        var codes: [ReasonCode] = []
        codes.reserveCapacity(subscriptions.count)
        for request in subscriptions {
            var options = request.options
            options.qos = min(options.qos, configuration.maximumQoS, maximumQoS)
            let subscriber = Subscriber(session: session, options: options, identifier: identifier, access: access)
            let isNew = router.withLock { trie in
                let isNew = trie.insert(filter: request.filter, subscriber: subscriber)
                session.state.withLock { state in
                    let subscription = Subscription(options: options, identifier: identifier)
                    state.subscriptions[request.filter] = subscription
                    state.record(
                        .subscribed(clientID: session.clientID, filter: request.filter, subscription: subscription)
                    )
                }
                return isNew
            }
            codes.append(ReasonCode(rawValue: options.qos.rawValue))
            // Retained messages are not sent to shared subscriptions (MQTT 5 §4.8.2).
            let sendRetained: Bool
            switch options.retainHandling {
            case .sendOnSubscribe: sendRetained = true
            case .sendIfNewSubscription: sendRetained = isNew
            case .doNotSend: sendRetained = false
            }
            guard sendRetained, Topic.sharedSubscription(request.filter) == nil else { continue }
            for message in retainedMessages(matching: request.filter, now: now)
            where access?.mayRead(message.topic) ?? true {
                let delivery = Delivery(
                    message: message,
                    qos: min(message.qos, options.qos),
                    retain: true,
                    subscriptionIdentifiers: identifier.map { [$0] } ?? []
                )
                if session.enqueue(delivery, limits: configuration.queueLimits, now: now) == .dropped {
                    BrokerStatistics.add(statistics.messagesDropped)
                }
            }
        }
        return codes
    }

    /// Removes subscriptions of one UNSUBSCRIBE.
    /// - Returns: one reason code per filter: success, or no subscription existed (MQTT 5 §3.11.3).
    package func unsubscribe(session: Session, filters: [String]) -> [ReasonCode] {
        filters.map { filter in
            let removed = router.withLock { trie in
                session.state.withLock { state in
                    if state.subscriptions.removeValue(forKey: filter) != nil {
                        state.record(.unsubscribed(clientID: session.clientID, filter: filter))
                    }
                }
                return trie.remove(filter: filter, clientID: session.clientID)
            }
            return removed ? .success : .noSubscriptionExisted
        }
    }

    /// Number of subscriptions across all sessions.
    package var subscriptionCount: Int { router.withLock { $0.count } }

    /// Number of retained messages.
    package var retainedCount: Int { retained.withLock { $0.count } }

    /// The unexpired retained messages whose topic matches `filter`, dropping expired ones on the way.
    package func retainedMessages(matching filter: String, now: NIODeadline) -> [Message] {
        retained.withLock { store in
            if !filter.utf8.contains(UInt8(ascii: "+")) && !filter.utf8.contains(UInt8(ascii: "#")) {
                guard let message = store[filter] else { return [] }
                if message.isExpired(at: now) {
                    store[filter] = nil
                    return []
                }
                return [message]
            }
            var matches: [Message] = []
            var expired: [String] = []
            for (topic, message) in store where Topic.matches(filter: filter, topic: topic) {
                if message.isExpired(at: now) {
                    expired.append(topic)
                } else {
                    matches.append(message)
                }
            }
            for topic in expired { store[topic] = nil }
            return matches
        }
    }

    // MARK: Recovery

    /// Loads the durable state read back at start-up: retained messages, and the persistent sessions, which
    /// wait disconnected, their expiry counting from `now`. Subscriptions get their ACL check back when the
    /// client reconnects; until then, and always at send time, queued messages are checked again.
    package func restore(_ state: RecoveredState, now: NIODeadline) {
        retained.withLock { store in
            for message in state.retained { store[message.topic] = message }
        }
        let persistence = self.persistence
        registry.withLock { registry in
            for recovered in state.sessions {
                let session = Session(clientID: recovered.clientID)
                session.state.withLock { sessionState in
                    sessionState.expiryInterval = recovered.expiryInterval
                    sessionState.subscriptions = recovered.subscriptions
                    sessionState.queue = Deque(recovered.queue)
                    for (packetIdentifier, message) in recovered.inflight {
                        sessionState.inflight[packetIdentifier] = message
                    }
                    if let highest = recovered.inflight.map(\.packetIdentifier).max() {
                        sessionState.nextPacketIdentifier = highest == UInt16.max ? 1 : highest + 1
                    }
                    sessionState.incomingQoS2 = recovered.incomingQoS2
                    sessionState.persistence = persistence
                }
                registry.sessions[recovered.clientID] = session
                if recovered.expiryInterval != UInt32.max {
                    registry.expiries[recovered.clientID] = now + .seconds(Int64(recovered.expiryInterval))
                }
                router.withLock { trie in
                    for (filter, subscription) in recovered.subscriptions {
                        trie.insert(
                            filter: filter,
                            subscriber: Subscriber(
                                session: session,
                                options: subscription.options,
                                identifier: subscription.identifier
                            )
                        )
                    }
                }
            }
        }
    }

    /// Gives a resumed session's subscriptions the access rules of the connection that resumed it: the client may
    /// have logged in under another name, and restored subscriptions carry none.
    package func refreshAccess(of session: Session, access: SubscriberAccess?) {
        let subscriptions = session.state.withLock { $0.subscriptions }
        guard !subscriptions.isEmpty else { return }
        router.withLock { trie in
            for (filter, subscription) in subscriptions {
                trie.insert(
                    filter: filter,
                    subscriber: Subscriber(
                        session: session,
                        options: subscription.options,
                        identifier: subscription.identifier,
                        access: access
                    )
                )
            }
        }
    }
}
