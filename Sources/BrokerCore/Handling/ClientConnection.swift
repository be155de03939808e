import MQTTCodec
import NIOCore

/// The protocol state of one client connection: it turns each decoded packet into replies written to `outbound`,
/// calls into the shared `Broker`, and pulls the session's queued deliveries when asked to.
///
/// Not thread-safe by design: the server keeps one per channel and uses it only on that channel's event loop.
/// It does no I/O; the caller writes `outbound` and closes the channel when told to.
package final class ClientConnection {
    /// What the caller does after a call.
    package enum Disposition: Equatable, Sendable {
        case keepOpen
        /// Write what is in `outbound`, then close the connection.
        case close
    }

    package enum Phase: Equatable, Sendable {
        case awaitingConnect
        case connected
        case closed
    }

    package let broker: Broker
    package let listener: ListenerContext
    let handle: any SessionConnection
    /// The peer's address, for failed log-in throttling and logs; set by the server.
    package var remoteAddress: String?
    /// The CN of the verified client certificate, set by the server after the TLS handshake.
    package var certificateIdentity: String?
    /// The username the client authenticated as (or the certificate identity), after CONNECT.
    package internal(set) var username: String?
    package internal(set) var phase = Phase.awaitingConnect
    package internal(set) var protocolVersion = ProtocolVersion.v3_1_1
    package internal(set) var clientID = ""
    /// The keep-alive in force, in seconds, after CONNECT; 0 means none (MQTT 5 §3.1.2.10).
    package internal(set) var keepAlive: UInt16 = 0
    package internal(set) var outbound: ByteBuffer
    let allocator: ByteBufferAllocator

    var session: Session?
    var epoch: UInt64 = 0
    /// Whether the will is published when the connection closes (cleared by a normal DISCONNECT).
    var publishWillOnClose = true
    /// The Session Expiry Interval from CONNECT, to refuse a DISCONNECT that sets one after none (MQTT 5 §3.14.2.2.2).
    var connectExpiryInterval: UInt32 = 0

    // What the client announced in CONNECT (MQTT 5 §3.1.2.11).
    var clientReceiveMaximum = 65535
    var clientMaximumPacketSize = Int.max
    var clientTopicAliasMaximum: UInt16 = 0
    var requestProblemInformation = true

    /// Topic aliases the client established towards us (MQTT 5 §3.3.2.3.4).
    var inboundAliases: [UInt16: String] = [:]
    /// Topic aliases we established towards the client.
    var outboundAliases: [String: UInt16] = [:]

    /// Set when replies written since the last `takeDurabilityRequest()` acknowledge messages that must be on disk
    /// before the client hears of them (persistence on).
    var durabilityRequested = false

    /// Direction of a packet seen by `packetObserver`.
    package enum PacketDirection: Sendable {
        case received
        case sent
    }

    /// Sees every packet received and sent, for a verbose log; nil (the default) costs nothing.
    package var packetObserver: ((PacketDirection, MQTTPacket) -> Void)?

    /// Per-client publish rates of the inspection rules.
    var publishRates = PublishRateLimiter()

    /// Set when a message this client published filled a subscriber's queue: the caller stops reading from the
    /// client until `SessionConnection.resumePublishing()` (publisher flow control, see `Session`).
    package internal(set) var publishingPaused = false

    /// Reads and clears `publishingPaused`.
    package func takePublishingPause() -> Bool {
        defer { publishingPaused = false }
        return publishingPaused
    }

    // The settings as last read, refreshed when they change (see `SharedSetting`): a packet takes no lock to read them.
    private var configurationSnapshot: SharedSetting<BrokerConfiguration>.Snapshot?
    private var inspectionSnapshot: SharedSetting<MessageInspection?>.Snapshot?
    private var securitySnapshot: SharedSetting<SecurityPolicy>.Snapshot?

    /// The broker's protocol limits in force.
    var configuration: BrokerConfiguration {
        let snapshot = broker.settings.snapshot(reusing: configurationSnapshot)
        configurationSnapshot = snapshot
        return snapshot.value
    }

    /// The message inspection in force, if any.
    var inspection: MessageInspection? {
        let snapshot = broker.inspectionSetting.snapshot(reusing: inspectionSnapshot)
        inspectionSnapshot = snapshot
        return snapshot.value
    }

    /// The listener's security policy in force.
    var security: SecurityPolicy {
        let snapshot = listener.security.policy.snapshot(reusing: securitySnapshot)
        securitySnapshot = snapshot
        return snapshot.value
    }

    /// Reused between drains so a drain does not allocate its batch.
    var drainBatch: [(delivery: Delivery, packetIdentifier: UInt16?)] = []

    package init(
        broker: Broker,
        handle: any SessionConnection,
        allocator: ByteBufferAllocator,
        listener: ListenerContext = ListenerContext()
    ) {
        self.broker = broker
        self.listener = listener
        self.handle = handle
        self.allocator = allocator
        self.outbound = allocator.buffer(capacity: 0)
    }

    /// Whether what `takeOutbound()` returns next may only be written once the durable store has synced everything
    /// recorded so far: it acknowledges QoS 1/2 messages (the durability rule of the README). Resets the request.
    package func takeDurabilityRequest() -> Bool {
        defer { durabilityRequested = false }
        return durabilityRequested
    }

    func requestDurability() {
        if broker.persistence != nil { durabilityRequested = true }
    }

    /// Hands over what has been written so far and starts a fresh buffer.
    package func takeOutbound() -> ByteBuffer? {
        guard outbound.readableBytes > 0 else { return nil }
        defer { outbound = allocator.buffer(capacity: 0) }
        return outbound
    }

    /// Handles one decoded packet received from the client.
    package func receive(_ packet: MQTTPacket, now: NIODeadline) -> Disposition {
        packetObserver?(.received, packet)
        switch phase {
        case .closed:
            return .close
        case .awaitingConnect:
            guard case .connect(let connect) = packet else {
                // The first packet must be CONNECT [MQTT-3.1.0-1].
                return close(reason: .protocolError)
            }
            return handleConnect(connect, now: now)
        case .connected:
            break
        }
        switch packet {
        case .publish(let publish):
            return handlePublish(publish, now: now)
        case .puback(let ack):
            return handlePubAck(ack, now: now)
        case .pubrec(let ack):
            return handlePubRec(ack, now: now)
        case .pubrel(let ack):
            return handlePubRel(ack)
        case .pubcomp(let ack):
            return handlePubComp(ack, now: now)
        case .subscribe(let subscribe):
            return handleSubscribe(subscribe, now: now)
        case .unsubscribe(let unsubscribe):
            return handleUnsubscribe(unsubscribe)
        case .pingreq:
            send(.pingresp)
            return .keepOpen
        case .disconnect(let disconnect):
            return handleDisconnect(disconnect, now: now)
        case .connect:
            // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
            return close(reason: .protocolError, reasonString: "second CONNECT on one connection")
        case .auth:
            // Enhanced authentication is refused at CONNECT, so AUTH can only be a violation (MQTT 5 §4.12).
            return close(reason: .protocolError, reasonString: "AUTH without an authentication method")
        case .connack, .suback, .unsuback, .pingresp:
            return close(reason: .protocolError, reasonString: "\(packet.type) is sent by servers only")
        }
    }

    /// The decoder rejected the bytes: answer as MQTT 5 §4.13 asks and close.
    package func decodingFailed(_ error: MQTTCodecError) -> Disposition {
        BrokerStatistics.add(broker.statistics.protocolErrors)
        if phase == .awaitingConnect {
            if error.code == .unsupportedProtocolVersion {
                // Answered in 3.1.1 form, which every version's client understands [MQTT-3.1.2-2].
                send(
                    .connack(ConnAckPacket(sessionPresent: false, reasonCode: .unsupportedProtocolVersion)),
                    version: .v3_1_1)
            }
            phase = .closed
            return .close
        }
        return close(reason: error.reasonCode, reasonString: error.message)
    }

    /// No packet arrived within 1.5 times the keep-alive (MQTT 5 §3.1.2.10): the will is published.
    package func keepAliveExpired() -> Disposition {
        close(reason: .keepAliveTimeout)
    }

    /// The server is shutting down: v5 clients are told with DISCONNECT 0x8B.
    package func serverShuttingDown() -> Disposition {
        close(reason: .serverShuttingDown)
    }

    /// Another connection took over the session: v5 clients are told with DISCONNECT 0x8E. The broker has already
    /// dealt with the will.
    package func sessionTakenOver() -> Disposition {
        publishWillOnClose = false
        return close(reason: .sessionTakenOver)
    }

    /// The network connection is gone; detaches from the session.
    package func connectionClosed(now: NIODeadline) {
        let wasAttached = session != nil
        phase = .closed
        guard wasAttached, let session else { return }
        self.session = nil
        BrokerStatistics.add(broker.statistics.clientsConnected, -1)
        broker.detach(session: session, epoch: epoch, publishWill: publishWillOnClose, now: now)
    }

    /// Sends DISCONNECT with `reason` to a v5 client (MQTT 5 §4.13.2), and asks for the connection to be closed.
    func close(reason: ReasonCode, reasonString: String? = nil) -> Disposition {
        if phase == .connected && protocolVersion == .v5 {
            var properties = Properties()
            properties.reasonString = reasonString
            send(.disconnect(DisconnectPacket(reasonCode: reason, properties: properties)))
        }
        phase = .closed
        return .close
    }

    /// Encodes `packet` into `outbound`. A packet over the client's Maximum Packet Size loses its reason string
    /// and user properties first, and is dropped only if still too large ([MQTT-3.1.2-25], [MQTT-3.4.2-2]).
    /// - Returns: false when the packet was not written.
    @discardableResult
    func send(_ packet: MQTTPacket, version: ProtocolVersion? = nil) -> Bool {
        if encode(packet, version: version ?? protocolVersion) { return true }
        guard let stripped = packet.withoutDiagnostics() else { return false }
        return encode(stripped, version: version ?? protocolVersion)
    }

    private func encode(_ packet: MQTTPacket, version: ProtocolVersion) -> Bool {
        defer { packetObserver?(.sent, packet) }
        let start = outbound.writerIndex
        do {
            let written = try MQTTPacketEncoder.encode(packet, version: version, into: &outbound)
            if written > clientMaximumPacketSize {
                outbound.moveWriterIndex(to: start)
                return false
            }
            BrokerStatistics.add(broker.statistics.bytesSent, written)
            return true
        } catch {
            outbound.moveWriterIndex(to: start)
            return false
        }
    }

    /// The highest QoS on this connection: the listener's `max_qos` within the broker's maximum.
    /// Takes the broker's settings the caller already read, so a packet reads them (under their lock) once.
    func maximumQoS(_ configuration: BrokerConfiguration) -> QoS {
        min(listener.maximumQoS ?? .exactlyOnce, configuration.maximumQoS)
    }

    /// Topic aliases this client may establish towards the broker.
    func topicAliasMaximum(_ configuration: BrokerConfiguration) -> UInt16 {
        listener.topicAliasMaximum ?? configuration.topicAliasMaximum
    }

    /// Whether this client may `access` the (mounted) `topic` under the listener's ACL.
    func isAllowed(_ access: TopicAccess, _ topic: String) -> Bool {
        guard let authorizer = security.authorizer else { return true }
        return authorizer.isAllowed(access, topic: topic, clientID: clientID, username: username)
    }

    /// The reason string to add to an acknowledgement, only if the client asked for problem information
    /// (MQTT 5 §3.1.2.11.7).
    func problem(_ reasonString: String) -> Properties {
        var properties = Properties()
        if requestProblemInformation { properties.reasonString = reasonString }
        return properties
    }
}
