import BrokerCore
import MQTTCodec
import NIOCore
import Testing

@Suite("CONNECT handling")
struct ConnectTests {
    @Test(arguments: [ProtocolVersion.v3_1, .v3_1_1, .v5])
    func connectIsAcceptedWithCONNACK(version: ProtocolVersion) throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker, version: version)
        let connack = try #require(client.connect("c", at: clock.now))
        #expect(connack.reasonCode == .success)
        #expect(!connack.sessionPresent)
        #expect(client.connection.phase == .connected)
        #expect(client.connection.protocolVersion == version)
        #expect(broker.statistics.clientsConnected.load(ordering: .relaxed) == 1)
        client.dropConnection(at: clock.now)
        #expect(broker.statistics.clientsConnected.load(ordering: .relaxed) == 0)
    }

    @Test func firstPacketOtherThanConnectCloses() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        #expect(client.send(.pingreq, at: clock.now) == .close)
        #expect(client.received().isEmpty)
        #expect(client.connection.phase == .closed)
        // Nothing is accepted after that.
        #expect(
            client.send(
                .connect(
                    ConnectPacket(
                        protocolVersion: .v5, clientIdentifier: "c", cleanStart: true,
                        keepAlive: 0)), at: clock.now) == .close)
        #expect(broker.sessionCount == 0)
    }

    @Test func secondConnectIsAProtocolError() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        let second = ConnectPacket(protocolVersion: .v5, clientIdentifier: "c", cleanStart: true, keepAlive: 60)
        #expect(client.send(.connect(second), at: clock.now) == .close)
        #expect(client.received().first?.disconnect?.reasonCode == .protocolError)
    }

    @Test func pingreqIsAnsweredWithPingresp() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker, version: .v3_1_1)
        client.connect("c", at: clock.now)
        #expect(client.send(.pingreq, at: clock.now) == .keepOpen)
        #expect(client.received() == [.pingresp])
    }

    @Test func serverOnlyPacketsFromAClientAreProtocolErrors() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        #expect(client.send(.pingresp, at: clock.now) == .close)
        #expect(client.received().first?.disconnect?.reasonCode == .protocolError)
    }

    @Test func enhancedAuthenticationIsRefused() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        var properties = Properties()
        properties.authenticationMethod = "SCRAM-SHA-1"
        let connack = try #require(client.connect("c", properties: properties, at: clock.now))
        #expect(connack.reasonCode == .badAuthenticationMethod)
        #expect(client.lastDisposition == .close)
        #expect(broker.statistics.connectionsRefused.load(ordering: .relaxed) == 1)
    }

    // MARK: Keep-alive

    @Test func v5KeepAliveAboveMaximumIsReplacedAndAnnounced() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maxKeepAlive = 100 }
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("c", keepAlive: 500, at: clock.now))
        #expect(connack.reasonCode == .success)
        #expect(connack.properties.serverKeepAlive == 100)
        #expect(client.connection.keepAlive == 100)
    }

    @Test func v5KeepAliveWithinMaximumIsKeptAndNotAnnounced() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maxKeepAlive = 100 }
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("c", keepAlive: 30, at: clock.now))
        #expect(connack.properties.serverKeepAlive == nil)
        #expect(client.connection.keepAlive == 30)
    }

    @Test func v3KeepAliveAboveMaximumIsRefusedWithReturnCode2() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.maxKeepAlive = 100 }
        let client = TestClient(broker: broker, version: .v3_1_1)
        client.send(
            .connect(
                ConnectPacket(
                    protocolVersion: .v3_1_1, clientIdentifier: "c", cleanStart: true,
                    keepAlive: 500)), at: clock.now)
        #expect(client.lastDisposition == .close)
        // Check the byte on the wire: 3.1.1 CONNACK return code 2 (identifier rejected).
        let bytes = try #require(Self.rawOutbound(of: client))
        #expect(bytes == [0x20, 0x02, 0x00, 0x02])
        #expect(broker.sessionCount == 0)
    }

    // MARK: Client identifiers

    @Test func emptyClientIDGetsAnAssignedIdentifierInV5() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("", at: clock.now))
        #expect(connack.reasonCode == .success)
        let assigned = try #require(connack.properties.assignedClientIdentifier)
        #expect(assigned.hasPrefix("rampart-"))
        #expect(assigned.count > "rampart-".count)
        #expect(client.connection.clientID == assigned)
        #expect(broker.session(clientID: assigned) != nil)
        // Two clients get two identifiers.
        let other = TestClient(broker: broker)
        let otherID = other.connect("", at: clock.now)?.properties.assignedClientIdentifier
        #expect(otherID != nil && otherID != assigned)
    }

    @Test func emptyClientIDWithCleanSessionIsAcceptedInV3() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker, version: .v3_1_1)
        let connack = try #require(client.connect("", cleanStart: true, at: clock.now))
        #expect(connack.reasonCode == .success)
        #expect(!client.connection.clientID.isEmpty)
    }

    @Test func emptyClientIDWithPersistentSessionIsRefusedInV3() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker, version: .v3_1_1)
        client.send(
            .connect(
                ConnectPacket(
                    protocolVersion: .v3_1_1, clientIdentifier: "", cleanStart: false,
                    keepAlive: 60)), at: clock.now)
        #expect(client.lastDisposition == .close)
        #expect(try #require(Self.rawOutbound(of: client)) == [0x20, 0x02, 0x00, 0x02])
        #expect(broker.sessionCount == 0)
    }

    @Test func emptyClientIDIsRefusedWhenNotAllowed() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.allowZeroLengthClientID = false }
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("", at: clock.now))
        #expect(connack.reasonCode == .clientIdentifierNotValid)
    }

    // MARK: Reason strings

    @Test func refusalCarriesAReasonString() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) { $0.allowZeroLengthClientID = false }
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("", at: clock.now))
        #expect(connack.properties.reasonString != nil)
    }

    @Test func disconnectCarriesAReasonStringWhenProblemInformationIsRequested() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", properties: connectProperties(requestProblemInformation: 1), at: clock.now)
        client.send(.pingresp, at: clock.now)
        let disconnect = try #require(client.received().first?.disconnect)
        #expect(disconnect.reasonCode == .protocolError)
        #expect(disconnect.properties.reasonString != nil)
    }

    // MARK: CONNACK properties

    @Test func connackAnnouncesTheBrokersLimits() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now) {
            $0.receiveMaximum = 5
            $0.maximumPacketSize = 1024
            $0.topicAliasMaximum = 7
        }
        let client = TestClient(broker: broker)
        let connack = try #require(client.connect("c", at: clock.now))
        #expect(connack.properties.receiveMaximum == 5)
        #expect(connack.properties.maximumPacketSize == 1024)
        #expect(connack.properties.topicAliasMaximum == 7)
        #expect(connack.properties.maximumQoS == nil)
        #expect(connack.properties.retainAvailable == nil)
    }

    // MARK: Decoding failures and shutdown

    @Test func decodingFailureAfterConnectSendsDisconnectWithTheReason() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        #expect(client.connection.decodingFailed(.malformed("bad")) == .close)
        #expect(client.received().first?.disconnect?.reasonCode == .malformedPacket)
        #expect(broker.statistics.protocolErrors.load(ordering: .relaxed) == 1)
    }

    @Test func unsupportedProtocolVersionIsAnsweredIn311Form() throws {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        let error = MQTTCodecError(.unsupportedProtocolVersion, "level 6")
        #expect(client.connection.decodingFailed(error) == .close)
        #expect(try #require(Self.rawOutbound(of: client)) == [0x20, 0x02, 0x00, 0x01])
    }

    @Test func serverShutdownSendsDisconnect0x8B() {
        let clock = TestClock()
        let broker = makeBroker(at: clock.now)
        let client = TestClient(broker: broker)
        client.connect("c", at: clock.now)
        #expect(client.connection.serverShuttingDown() == .close)
        #expect(client.received() == [.disconnect(DisconnectPacket(reasonCode: .serverShuttingDown))])
    }

    private static func rawOutbound(of client: TestClient) -> [UInt8]? {
        client.connection.takeOutbound().map { Array($0.readableBytesView) }
    }
}
