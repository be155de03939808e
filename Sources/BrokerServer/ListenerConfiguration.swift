import BrokerCore
import NIOCore

/// One MQTT listener: where it binds, how bytes arrive (TCP, TLS, WebSocket), and what its clients inherit.
package struct ListenerConfiguration: Sendable {
    /// How MQTT packets are carried.
    package enum Framing: String, Sendable, Hashable {
        /// MQTT straight over the byte stream.
        case mqtt
        /// MQTT in binary WebSocket frames (MQTT 5 §6), subprotocol `mqtt`.
        case websockets
    }

    /// TLS settings of a listener (mosquitto.conf `cafile`, `certfile`, `keyfile`, …).
    package struct TLS: Sendable, Hashable {
        package var certificateFile: String
        package var keyFile: String
        /// CA certificates that client certificates must chain to.
        package var caFile: String?
        /// A folder of further CA certificates (`*.pem`, `*.crt`), as `capath`.
        package var caDirectory: String?
        /// Whether a client must present a certificate that chains to `caFile`.
        package var requireCertificate = false
        /// Lowest TLS version accepted: 1.2 by default; older versions are not offered.
        package var minimumVersion: TLSVersionFloor = .tls12
        /// OpenSSL cipher list for TLS 1.2 (`ciphers`); nil for the library's defaults.
        package var ciphers: String?
        /// Use the whole certificate subject rather than its CN as the username (`use_subject_as_username`).
        package var subjectAsUsername = false

        package init(certificateFile: String, keyFile: String) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    package enum TLSVersionFloor: String, Sendable, Hashable {
        case tls12 = "tlsv1.2"
        case tls13 = "tlsv1.3"
    }

    package var host: String
    package var port: Int
    /// Bind to the addresses of this network interface (mosquitto.conf `bind_interface`).
    package var interface: String?
    package var framing: Framing = .mqtt
    package var tls: TLS?
    /// Connections accepted at once; further ones are closed at accept. nil for no limit.
    package var maxConnections: Int?
    package var context: ListenerContext

    package init(host: String, port: Int, context: ListenerContext = ListenerContext()) {
        self.host = host
        self.port = port
        self.context = context
    }

    /// `mqtt://127.0.0.1:1883`, `wss://0.0.0.0:8081` …, for logs.
    package var displayName: String {
        let scheme: String
        switch (framing, tls != nil) {
        case (.mqtt, false): scheme = "mqtt"
        case (.mqtt, true): scheme = "mqtts"
        case (.websockets, false): scheme = "ws"
        case (.websockets, true): scheme = "wss"
        }
        return "\(scheme)://\(host):\(port)" + (interface.map { "%\($0)" } ?? "")
    }
}
