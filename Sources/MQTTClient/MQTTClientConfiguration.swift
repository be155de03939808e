import MQTTCodec
import NIOCore
import NIOSSL

/// Everything `MQTTClientConnection.connect` needs to open one MQTT connection.
///
/// The defaults suit a bridge towards a local broker: MQTT 3.1.1, clean start, 60 s keep-alive, no TLS.
package struct MQTTClientConfiguration: Sendable {
    package var host: String
    package var port: Int
    /// The protocol level sent in CONNECT; the decoder speaks this version from the first byte on, since a client
    /// knows it before the server answers (MQTT 5 §3.1.2.2).
    package var protocolVersion: ProtocolVersion
    /// May be empty: a v5 server then assigns one and returns it as Assigned Client Identifier
    /// (MQTT 5 §3.2.2.3.7); a 3.1.1 server accepts an empty identifier only with a clean session [MQTT-3.1.3-8].
    package var clientIdentifier: String
    /// Clean Start (v5) or Clean Session (3.1/3.1.1), MQTT 5 §3.1.2.4.
    package var cleanStart: Bool
    /// Keep Alive in seconds (MQTT 5 §3.1.2.10); 0 turns keep-alive off. A v5 Server Keep Alive overrides it.
    package var keepAlive: UInt16
    package var username: String?
    package var password: ByteBuffer?
    package var will: WillMessage?
    /// CONNECT properties (v5 only): Session Expiry Interval, Receive Maximum, Topic Alias Maximum, Maximum Packet
    /// Size, user properties … A Topic Alias Maximum above 0 makes the client resolve the aliases the server
    /// sends; a Maximum Packet Size bounds what the decoder accepts.
    package var connectProperties: Properties
    /// TLS towards the server when set (NIOSSL). `tlsServerHostname` is used for SNI and certificate validation.
    package var tls: TLSConfiguration?
    /// The name the server certificate is checked against; defaults to `host` when `host` is not an IP address.
    package var tlsServerHostname: String?
    /// Bounds TCP connect, TLS handshake and CONNACK together.
    package var connectTimeout: TimeAmount
    /// Sets the high bit of the protocol level in CONNECT as Mosquitto bridges do with `try_private` (0x84 for
    /// 3.1.1): a Mosquitto broker then treats the connection as a bridge (no loop-back of its own messages).
    package var bridgeProtocolBit: Bool

    /// How long after a PINGREQ the client waits for any packet before it closes the connection; nil means half
    /// the keep-alive (at least one second). MQTT 5 §3.1.2.10 leaves "a reasonable amount of time" to the client.
    package var pingTimeout: TimeAmount?
    /// Most outgoing QoS 1/2 PUBLISH packets in flight when the server announces no Receive Maximum (3.1.1, or a
    /// v5 server without the property). A v5 server's Receive Maximum lowers it (MQTT 5 §4.9).
    package var maximumInflight: Int
    /// Most publishes waiting for a free in-flight slot; one more fails at once with `.queueFull`, so that a
    /// publisher faster than the server learns it instead of growing memory without bound.
    package var maximumQueuedPublishes: Int
    /// Whether outgoing PUBLISH packets use topic aliases (v5, up to the server's Topic Alias Maximum, first come
    /// first served, MQTT 5 §3.3.2.3.4). Off by default: aliases save bytes but cost a dictionary look-up per
    /// publish.
    package var outboundTopicAliases: Bool
    /// Encoded bytes buffered before they are written out even within one event-loop turn, so that a tight
    /// publish loop keeps the socket busy instead of building one huge buffer.
    package var writeBatchSize: Int

    package init(
        host: String,
        port: Int = 1883,
        protocolVersion: ProtocolVersion = .v3_1_1,
        clientIdentifier: String = "",
        cleanStart: Bool = true,
        keepAlive: UInt16 = 60,
        username: String? = nil,
        password: ByteBuffer? = nil,
        will: WillMessage? = nil,
        connectProperties: Properties = Properties(),
        tls: TLSConfiguration? = nil,
        tlsServerHostname: String? = nil,
        connectTimeout: TimeAmount = .seconds(10),
        bridgeProtocolBit: Bool = false
    ) {
        self.host = host
        self.port = port
        self.protocolVersion = protocolVersion
        self.clientIdentifier = clientIdentifier
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.will = will
        self.connectProperties = connectProperties
        self.tls = tls
        self.tlsServerHostname = tlsServerHostname
        self.connectTimeout = connectTimeout
        self.bridgeProtocolBit = bridgeProtocolBit
        self.pingTimeout = nil
        self.maximumInflight = 65_535
        self.maximumQueuedPublishes = 100_000
        self.outboundTopicAliases = false
        self.writeBatchSize = 64 * 1024
    }

    /// The CONNECT packet this configuration describes.
    var connectPacket: ConnectPacket {
        ConnectPacket(
            protocolVersion: protocolVersion,
            clientIdentifier: clientIdentifier,
            cleanStart: cleanStart,
            keepAlive: keepAlive,
            username: username,
            password: password,
            will: will,
            properties: protocolVersion == .v5 ? connectProperties : Properties()
        )
    }

    /// The SNI / verification name: the explicit one, else `host` unless it is an IP literal (RFC 6066 §3 forbids
    /// IP addresses in SNI).
    var effectiveServerHostname: String? {
        if let tlsServerHostname { return tlsServerHostname }
        let isIPv4 = host.utf8.allSatisfy { $0 == UInt8(ascii: ".") || ($0 >= 0x30 && $0 <= 0x39) }
        let isIPv6 = host.utf8.contains(UInt8(ascii: ":"))
        return isIPv4 || isIPv6 ? nil : host
    }
}
