import MQTTCodec
import NIOCore

extension ClientConnection {
    /// SUBSCRIBE (MQTT 5 §3.8.4): SUBACK first, then the retained messages the subscriptions ask for.
    func handleSubscribe(_ subscribe: SubscribePacket, now: NIODeadline) -> Disposition {
        guard let session else { return .close }
        for request in subscribe.subscriptions
        where request.options.noLocal && Topic.sharedSubscription(request.filter) != nil {
            // [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol error.
            return close(reason: .protocolError, reasonString: "no-local on shared subscription \(request.filter)")
        }
        let identity = ClientIdentity(clientID: clientID, username: username)
        let access =
            security.authorizer == nil
            ? nil : SubscriberAccess(identity: identity, security: listener.security)
        let maximumQoS = maximumQoS(configuration)
        var codes: [ReasonCode] = []
        codes.reserveCapacity(subscribe.subscriptions.count)
        for var request in subscribe.subscriptions {
            request.filter = listener.mount(filter: request.filter)
            // Unlike Mosquitto's acl_file, subscriptions are checked too: a refused filter gets 0x87 (0x80 in 3.1.1).
            guard isAllowed(.subscribe, request.filter) else {
                codes.append(.notAuthorized)
                continue
            }
            codes += broker.subscribe(
                session: session,
                subscriptions: [request],
                identifier: subscribe.properties.subscriptionIdentifiers.first,
                access: access,
                maximumQoS: maximumQoS,
                now: now
            )
        }
        send(.suback(SubAckPacket(packetIdentifier: subscribe.packetIdentifier, reasonCodes: codes)))
        return .keepOpen
    }

    /// UNSUBSCRIBE (MQTT 5 §3.10.4).
    func handleUnsubscribe(_ unsubscribe: UnsubscribePacket) -> Disposition {
        guard let session else { return .close }
        let codes = broker.unsubscribe(
            session: session, filters: unsubscribe.filters.map { listener.mount(filter: $0) })
        send(.unsuback(UnsubAckPacket(packetIdentifier: unsubscribe.packetIdentifier, reasonCodes: codes)))
        return .keepOpen
    }

    /// DISCONNECT from the client (MQTT 5 §3.14.4): no will unless the reason asks for it; v5 may change the
    /// session expiry.
    func handleDisconnect(_ disconnect: DisconnectPacket, now: NIODeadline) -> Disposition {
        publishWillOnClose = protocolVersion == .v5 && disconnect.reasonCode == .disconnectWithWillMessage
        if protocolVersion == .v5, let expiry = disconnect.properties.sessionExpiryInterval {
            if connectExpiryInterval == 0 && expiry != 0 {
                publishWillOnClose = true
                return close(reason: .protocolError, reasonString: "session expiry set in DISCONNECT after 0")
            }
            let capped = configuration.maximumSessionExpiry.map { min(expiry, $0) } ?? expiry
            let clientID = self.clientID
            session?.state.withLock { state in
                state.expiryInterval = capped
                if capped > 0 { state.record(.sessionOpened(clientID: clientID, expiryInterval: capped)) }
            }
        }
        phase = .closed
        return .close
    }
}
