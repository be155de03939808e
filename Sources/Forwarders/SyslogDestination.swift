import NIOCore

/// Where security events go as syslog messages, and how.
package struct SyslogDestination: Sendable, Hashable {
    /// The receiver's address (the UI accepts IP addresses only, see `parse(address:)`).
    package var host: String
    package var port: Int
    package var transport: Transport

    package enum Transport: Sendable, Hashable {
        /// RFC 5426: one message per datagram, no delivery guarantee.
        case udp
        /// RFC 6587 octet counting over plain TCP.
        case tcp
        /// RFC 5425: octet counting over TLS 1.2 or later.
        case tls(SyslogTLS)
    }

    package init(host: String, port: Int, transport: Transport) {
        self.host = host
        self.port = port
        self.transport = transport
    }

    /// `host:port` for messages; IPv6 addresses in brackets.
    package var displayAddress: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// "UDP", "TCP" or "TLS", for messages.
    package var transportName: String {
        switch transport {
        case .udp: "UDP"
        case .tcp: "TCP"
        case .tls: "TLS"
        }
    }

    /// Reads the UI's "IP:port" field: `192.0.2.10:514` or `[2001:db8::1]:6514`. Host names are refused: the gateway
    /// must not depend on name resolution to deliver its security log.
    /// - Throws: `SyslogAddressError` naming what is wrong with `address`.
    package static func parse(address: String) throws -> (host: String, port: Int) {
        let text = String(address.trimmingWhitespace)
        guard !text.isEmpty else { throw SyslogAddressError.empty }

        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw SyslogAddressError.unclosedBracket(text) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), rest.count > 1 else { throw SyslogAddressError.missingPort(text) }
            portText = rest.dropFirst()
            guard (try? SocketAddress(ipAddress: String(host), port: 0))?.protocol == .inet6 else {
                throw SyslogAddressError.notAnIPAddress(String(host))
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw SyslogAddressError.missingPort(text) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw SyslogAddressError.unbracketedIPv6(text) }
            guard !portText.isEmpty else { throw SyslogAddressError.missingPort(text) }
            guard (try? SocketAddress(ipAddress: String(host), port: 0))?.protocol == .inet else {
                throw SyslogAddressError.notAnIPAddress(String(host))
            }
        }
        guard portText.allSatisfy(\.isASCIIDigit), let port = Int(portText), (1...65535).contains(port) else {
            throw SyslogAddressError.invalidPort(String(portText))
        }
        return (String(host), port)
    }
}

/// The TLS settings of a syslog destination (RFC 5425), as uploaded in the UI.
package struct SyslogTLS: Sendable, Hashable {
    /// The certificate(s) the receiver's certificate must chain to: the only trust roots, the system's are not used.
    package var caCertificatesPEM: String
    /// Our certificate (and chain), for receivers that require client authentication; needs `clientPrivateKeyPEM`.
    package var clientCertificatePEM: String?
    package var clientPrivateKeyPEM: String?
    /// The name the receiver's certificate must carry. When nil and the receiver is addressed by IP, the certificate
    /// is verified against the CA only (see `SyslogTLSContext`).
    package var serverName: String?

    package init(
        caCertificatesPEM: String, clientCertificatePEM: String? = nil, clientPrivateKeyPEM: String? = nil,
        serverName: String? = nil
    ) {
        self.caCertificatesPEM = caCertificatesPEM
        self.clientCertificatePEM = clientCertificatePEM
        self.clientPrivateKeyPEM = clientPrivateKeyPEM
        self.serverName = serverName
    }
}

/// Why an "IP:port" syslog address was refused.
package enum SyslogAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case missingPort(String)
    case invalidPort(String)
    case notAnIPAddress(String)
    case unbracketedIPv6(String)
    case unclosedBracket(String)

    package var description: String {
        switch self {
        case .empty:
            "the syslog address is empty: enter IP:port, e.g. 192.0.2.10:514"
        case .missingPort(let address):
            "the syslog address \"\(address)\" has no port: enter IP:port, e.g. 192.0.2.10:514"
        case .invalidPort(let port):
            "the syslog port \"\(port)\" is not a number from 1 to 65535"
        case .notAnIPAddress(let host):
            "the syslog host \"\(host)\" is not an IP address (host names are not accepted)"
        case .unbracketedIPv6(let address):
            "the syslog address \"\(address)\" looks like an IPv6 address: write it in brackets, e.g. [2001:db8::1]:514"
        case .unclosedBracket(let address):
            "the syslog address \"\(address)\" has no closing \"]\" after the IPv6 address"
        }
    }
}

extension String {
    fileprivate var trimmingWhitespace: Substring {
        let start = firstIndex(where: { !$0.isWhitespace }) ?? endIndex
        let end = lastIndex(where: { !$0.isWhitespace }).map { index(after: $0) } ?? endIndex
        return self[start..<max(start, end)]
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
