import MQTTCodec
import NIOCore

extension ClientConnection {
    /// PUBLISH from the client (MQTT 5 §3.3.4): resolves the topic alias, routes, and runs the QoS 1/2 flow.
    func handlePublish(_ publish: PublishPacket, now: NIODeadline) -> Disposition {
        guard let session else { return .close }
        let configuration = configuration
        if publish.qos > maximumQoS(configuration) {
            return close(reason: .qosNotSupported, reasonString: "QoS \(publish.qos.rawValue) is not supported")
        }
        if publish.retain && !configuration.retainAvailable {
            return close(reason: .retainNotSupported, reasonString: "retained messages are not available")
        }
        if !publish.properties.subscriptionIdentifiers.isEmpty {
            // [MQTT-3.3.4-6]: a client must not send a Subscription Identifier.
            return close(reason: .protocolError, reasonString: "subscription identifier in PUBLISH from a client")
        }

        var topic = publish.topic
        if let alias = publish.properties.topicAlias {
            guard alias <= topicAliasMaximum(configuration) else {
                return close(reason: .topicAliasInvalid, reasonString: "topic alias \(alias) above maximum")
            }
            if topic.isEmpty {
                guard let known = inboundAliases[alias] else {
                    return close(reason: .protocolError, reasonString: "unknown topic alias \(alias)")
                }
                topic = known
            } else {
                inboundAliases[alias] = topic
            }
        }

        topic = listener.mount(topic)
        if !isAllowed(.write, topic) {
            // Refused by the ACL: the flow completes, the message goes nowhere (v5 clients see 0x87).
            return refusePublish(publish, reason: .notAuthorized)
        }
        if let limit = configuration.maximumPayloadSize, publish.payload.readableBytes > limit {
            // 0x95 is for DISCONNECT only; an acknowledgement says quota exceeded (MQTT 5 §3.4.2.1).
            return refusePublish(publish, reason: .quotaExceeded, reasonString: "payload above message_size_limit")
        }
        // Message inspection (BRK-5). A resent QoS 2 message was inspected when it first arrived.
        let resentQoS2 =
            publish.qos == .exactlyOnce
            && session.state.withLock { $0.incomingQoS2.contains(publish.packetIdentifier ?? 0) }
        if !resentQoS2, let inspection,
            let violation = inspection.evaluate(
                topic: topic,
                payload: publish.payload,
                listenerPort: listener.port,
                listenerName: listener.name,
                clientID: clientID,
                username: username,
                rates: &publishRates,
                now: now
            )
        {
            return refusePublish(publish, reason: violation.reasonCode, reasonString: violation.clientReason)
        }

        switch publish.qos {
        case .atMostOnce:
            route(publish, topic: topic, limits: configuration.queueLimits, now: now)
        case .atLeastOnce:
            let matched = route(publish, topic: topic, limits: configuration.queueLimits, now: now)
            requestDurability()
            let reason: ReasonCode = matched == 0 ? .noMatchingSubscribers : .success
            send(.puback(AckPacket(packetIdentifier: publish.packetIdentifier ?? 0, reasonCode: reason)))
        case .exactlyOnce:
            let packetIdentifier = publish.packetIdentifier ?? 0
            let clientID = self.clientID
            let isNew = session.state.withLock { state -> Bool? in
                if state.incomingQoS2.contains(packetIdentifier) { return false }
                // Receive Maximum counts QoS 2 messages not yet released (MQTT 5 §3.3.4, [MQTT-3.3.4-9]).
                if state.incomingQoS2.count >= Int(configuration.receiveMaximum) { return nil }
                state.incomingQoS2.insert(packetIdentifier)
                return true
            }
            guard let isNew else {
                return close(reason: .receiveMaximumExceeded, reasonString: "more than Receive Maximum in flight")
            }
            var reason = ReasonCode.success
            if isNew {
                // A resent PUBLISH whose PUBREC was lost is not routed again [MQTT-4.3.3-10].
                if route(publish, topic: topic, limits: configuration.queueLimits, now: now) == 0 {
                    reason = .noMatchingSubscribers
                }
                session.state.withLock { state in
                    state.record(.incomingReceived(clientID: clientID, packetIdentifier: packetIdentifier))
                }
            }
            requestDurability()
            send(.pubrec(AckPacket(packetIdentifier: packetIdentifier, reasonCode: reason)))
        }
        return .keepOpen
    }

    /// Completes the QoS flow of a PUBLISH that is dropped, with `reason` for v5 clients (3.1.1 cannot say why).
    private func refusePublish(_ publish: PublishPacket, reason: ReasonCode, reasonString: String? = nil) -> Disposition
    {
        let properties = reasonString.map(problem) ?? Properties()
        let ack = AckPacket(packetIdentifier: publish.packetIdentifier ?? 0, reasonCode: reason, properties: properties)
        switch publish.qos {
        case .atMostOnce: break
        case .atLeastOnce: send(.puback(ack))
        case .exactlyOnce: send(.pubrec(ack))
        }
        return .keepOpen
    }

    /// - Parameter limits: the queue limits of the settings this PUBLISH is handled under (read once per packet).
    @discardableResult
    private func route(_ publish: PublishPacket, topic: String, limits: QueueLimits, now: NIODeadline) -> Int {
        if topic.utf8.starts(with: "$SYS/".utf8) {
            return 0  // Only the broker publishes statistics; clients' writes there are dropped.
        }
        let message = Message(publish: publish, topic: topic, publisherID: clientID, now: now)
        let outcome = broker.publish(message, now: now, from: handle, limits: limits)
        if outcome.pausePublisher { publishingPaused = true }
        return outcome.matched
    }

    /// PUBREL from the client: the QoS 2 message is released (MQTT 5 §4.3.3).
    func handlePubRel(_ ack: AckPacket) -> Disposition {
        let clientID = self.clientID
        let known =
            session?.state.withLock { state in
                guard state.incomingQoS2.remove(ack.packetIdentifier) != nil else { return false }
                state.record(.incomingReleased(clientID: clientID, packetIdentifier: ack.packetIdentifier))
                return true
            } ?? false
        send(.pubcomp(known ? AckPacket(packetIdentifier: ack.packetIdentifier) : notFound(ack, answering: "PUBREL")))
        return .keepOpen
    }

    /// The reply to an acknowledgement whose packet identifier is in no flow: 0x92 (MQTT 5 §4.3.3).
    private func notFound(_ ack: AckPacket, answering packet: String) -> AckPacket {
        AckPacket(
            packetIdentifier: ack.packetIdentifier,
            reasonCode: .packetIdentifierNotFound,
            properties: problem("\(packet) for unknown packet identifier \(ack.packetIdentifier)")
        )
    }

    /// PUBACK from the client completes a QoS 1 delivery and opens the in-flight window.
    func handlePubAck(_ ack: AckPacket, now: NIODeadline) -> Disposition {
        let clientID = self.clientID
        session?.state.withLock { state in
            if state.inflight[ack.packetIdentifier]?.delivery.qos == .atLeastOnce {
                state.completeInflight(ack.packetIdentifier, clientID: clientID)
            }
        }
        _ = drain(now: now, limit: Int.max)
        return .keepOpen
    }

    /// PUBREC from the client: answer PUBREL, or end the flow if the client refused the message (MQTT 5 §4.3.3).
    func handlePubRec(_ ack: AckPacket, now: NIODeadline) -> Disposition {
        let clientID = self.clientID
        let known = session?.state.withLock { state -> Bool in
            guard let inflight = state.inflight[ack.packetIdentifier], inflight.delivery.qos == .exactlyOnce else {
                return false
            }
            if ack.reasonCode.isFailure {
                state.completeInflight(ack.packetIdentifier, clientID: clientID)
            } else {
                state.inflight[ack.packetIdentifier]?.stage = .awaitingCompletion
                state.record(.releasePending(clientID: clientID, packetIdentifier: ack.packetIdentifier))
            }
            return true
        }
        guard known == true else {
            send(.pubrel(notFound(ack, answering: "PUBREC")))
            return .keepOpen
        }
        if ack.reasonCode.isFailure {
            _ = drain(now: now, limit: Int.max)
        } else {
            send(.pubrel(AckPacket(packetIdentifier: ack.packetIdentifier)))
        }
        return .keepOpen
    }

    /// PUBCOMP from the client completes a QoS 2 delivery.
    func handlePubComp(_ ack: AckPacket, now: NIODeadline) -> Disposition {
        let clientID = self.clientID
        session?.state.withLock { state in
            if state.inflight[ack.packetIdentifier]?.stage == .awaitingCompletion {
                state.completeInflight(ack.packetIdentifier, clientID: clientID)
            }
        }
        _ = drain(now: now, limit: Int.max)
        return .keepOpen
    }

    /// Resends the session's unacknowledged messages after it resumed: PUBLISH with DUP, or PUBREL for QoS 2
    /// messages already received (MQTT 5 §4.4, [MQTT-4.4.0-1]).
    func resendInflight(now: NIODeadline) {
        guard let session else { return }
        let inflight = session.state.withLock { Array($0.inflight) }
        for (packetIdentifier, message) in inflight {
            switch message.stage {
            case .awaitingAcknowledgement:
                // Not dropped when expired: the delivery had started before the client went away.
                sendPublish(message.delivery, packetIdentifier: packetIdentifier, dup: true, now: now)
            case .awaitingCompletion:
                send(.pubrel(AckPacket(packetIdentifier: packetIdentifier)))
            }
        }
    }

    /// Moves queued deliveries into `outbound`, as far as the client's in-flight window allows.
    ///
    /// QoS 0 messages queued behind a QoS 1/2 message wait for the window too, so order is kept
    /// (MQTT 5 §4.6).
    /// - Parameter limit: the most messages to move in this call, so that one busy session shares its event loop.
    /// - Returns: true when messages remain that could be sent now: the caller schedules another drain.
    package func drain(now: NIODeadline, limit: Int) -> Bool {
        guard phase == .connected, let session else { return false }
        var budget = limit
        while true {
            let (moved, moreReady) = takeBatch(from: session, now: now, limit: budget)
            var freedSlot = false
            for (delivery, packetIdentifier) in drainBatch {
                let written = sendPublish(delivery, packetIdentifier: packetIdentifier, dup: false, now: now)
                if !written && packetIdentifier != nil { freedSlot = true }
            }
            drainBatch.removeAll(keepingCapacity: true)
            budget -= moved
            // An oversized QoS 1/2 message gave its in-flight slot back without any PUBACK to come: go on
            // with the queue behind it rather than wait for an acknowledgement that never arrives.
            guard freedSlot else { return moreReady }
            if budget <= 0 { return true }
        }
    }

    /// Moves deliveries from the session queue into `drainBatch`, registering QoS 1/2 ones as in flight.
    /// - Returns: how many were moved, and whether more could be moved now had the limit allowed.
    private func takeBatch(from session: Session, now: NIODeadline, limit: Int) -> (moved: Int, moreReady: Bool) {
        let window = clientReceiveMaximum
        let epoch = self.epoch
        let clientID = self.clientID
        // Checked again at send time: the ACL may have changed, and restored sessions were queued without it.
        let authorizer = security.authorizer
        let username = self.username
        var expired = 0
        var resumed: [any SessionConnection] = []
        let result = session.state.withLock { state -> (Int, Bool) in
            // A connection that was just taken over must not pull messages onto its dying socket.
            guard state.epoch == epoch else { return (0, false) }
            var moved = 0
            while let head = state.queue.first {
                let readable =
                    authorizer?.isAllowed(.read, topic: head.message.topic, clientID: clientID, username: username)
                    ?? true
                if !readable || head.message.isExpired(at: now) {
                    state.queue.removeFirst()
                    if head.qos != .atMostOnce {
                        state.record(.dequeued(clientID: clientID, messageID: head.message.id))
                    }
                    expired += 1
                    continue
                }
                guard moved < limit else { break }
                if head.qos == .atMostOnce {
                    state.queue.removeFirst()
                    drainBatch.append((head, nil))
                } else {
                    guard state.inflight.count < window, let packetIdentifier = state.allocatePacketIdentifier()
                    else { break }
                    state.queue.removeFirst()
                    state.inflight[packetIdentifier] = InflightMessage(delivery: head, stage: .awaitingAcknowledgement)
                    state.record(
                        .sent(clientID: clientID, messageID: head.message.id, packetIdentifier: packetIdentifier)
                    )
                    drainBatch.append((head, packetIdentifier))
                }
                moved += 1
            }
            // While messages wait, a PUBACK/PUBCOMP, writability or our own reschedule drains again;
            // no publisher needs to wake us.
            state.drainScheduled = !state.queue.isEmpty
            resumed = state.endCongestionIfDrained()
            return (moved, moved >= limit && !state.queue.isEmpty)
        }
        Session.resume(resumed)
        if expired > 0 { BrokerStatistics.add(broker.statistics.messagesDropped, expired) }
        return result
    }

    /// Encodes one delivery for this client: its QoS, retain flag, remaining expiry, subscription identifiers and an
    /// outbound topic alias where the client allows them. A packet over the client's Maximum Packet Size is dropped
    /// and, for QoS 1/2, its flow is ended as if acknowledged [MQTT-3.1.2-25].
    /// - Returns: false when the packet was too large for the client and dropped.
    @discardableResult
    private func sendPublish(_ delivery: Delivery, packetIdentifier: UInt16?, dup: Bool, now: NIODeadline) -> Bool {
        let message = delivery.message
        let clientTopic = listener.unmount(message.topic)
        var topic = clientTopic
        var properties = Properties()
        var newAlias: UInt16?
        if protocolVersion == .v5 {
            properties = message.properties
            // At least 1: a resent message keeps an expiry even when its time ran out while in flight.
            properties.messageExpiryInterval = message.remainingExpiry(at: now).map { max($0, 1) }
            properties.subscriptionIdentifiers = delivery.subscriptionIdentifiers
            if clientTopicAliasMaximum > 0 {
                if let alias = outboundAliases[topic] {
                    properties.topicAlias = alias
                    topic = ""
                } else if outboundAliases.count < Int(clientTopicAliasMaximum) {
                    let alias = UInt16(outboundAliases.count + 1)
                    properties.topicAlias = alias
                    newAlias = alias
                }
            }
        }
        let packet = PublishPacket(
            topic: topic,
            payload: message.payload,
            qos: delivery.qos,
            retain: delivery.retain,
            dup: dup,
            packetIdentifier: packetIdentifier,
            properties: properties
        )
        if send(.publish(packet)) {
            if let newAlias { outboundAliases[clientTopic] = newAlias }
            BrokerStatistics.add(broker.statistics.messagesSent)
            return true
        }
        BrokerStatistics.add(broker.statistics.messagesOversized)
        if let packetIdentifier {
            let clientID = self.clientID
            session?.state.withLock { state in state.completeInflight(packetIdentifier, clientID: clientID) }
        }
        return false
    }
}
