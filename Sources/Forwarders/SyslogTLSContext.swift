import NIOCore
import NIOSSL

/// The NIOSSL client context for a TLS syslog destination (RFC 5425), and the name to send as SNI.
///
/// Trust: the uploaded CA certificate(s) only, never the system store. TLS 1.2 at least (RFC 5425 requires 1.2).
/// Name verification:
/// - `serverName` set to a DNS name: the certificate must name it (it is also sent as SNI), or name the address
///   connected to (NIOSSL accepts either);
/// - `serverName` set to an IP address: the certificate must name the address connected to (no SNI: RFC 6066 does
///   not allow addresses there);
/// - no `serverName`, receiver addressed by IP: the chain is verified against the CA but no name is checked.
///   Receivers are usually addressed by IP and their certificates often carry a host name only, not the address;
///   trusting nothing but the uploaded CA keeps this safe when that CA issues certificates for syslog receivers;
/// - no `serverName`, receiver addressed by name: the certificate must name that host.
struct SyslogTLSContext: Sendable {
    let sslContext: NIOSSLContext
    /// SNI and the name verified by NIOSSL; nil when no name is sent.
    let serverHostname: String?

    /// How long closing waits for the receiver's close_notify.
    static let shutdownTimeout = TimeAmount.seconds(1)

    init(_ tls: SyslogTLS, host: String) throws {
        let roots: [NIOSSLCertificate]
        do {
            roots = try NIOSSLCertificate.fromPEMBytes(Array(tls.caCertificatesPEM.utf8))
        } catch {
            throw SyslogSendError(.tlsConfiguration, "the syslog CA certificate cannot be read as PEM: \(error)")
        }
        guard !roots.isEmpty else {
            throw SyslogSendError(.tlsConfiguration, "the syslog CA certificate PEM contains no certificate")
        }

        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates(roots)
        configuration.shutdownTimeout = Self.shutdownTimeout
        try Self.addClientIdentity(tls, to: &configuration)

        let serverName = tls.serverName.flatMap { $0.isEmpty ? nil : $0 }
        switch (serverName, host) {
        case (let name?, _) where isIPAddress(name):
            configuration.certificateVerification = .fullVerification
            serverHostname = nil
        case (let name?, _):
            configuration.certificateVerification = .fullVerification
            serverHostname = name
        case (nil, let host) where isIPAddress(host):
            configuration.certificateVerification = .noHostnameVerification
            serverHostname = nil
        case (nil, let host):
            configuration.certificateVerification = .fullVerification
            serverHostname = host
        }

        do {
            sslContext = try NIOSSLContext(configuration: configuration)
        } catch {
            throw SyslogSendError(.tlsConfiguration, "the syslog TLS settings cannot be used: \(error)")
        }
    }

    private static func addClientIdentity(_ tls: SyslogTLS, to configuration: inout TLSConfiguration) throws {
        let certificatePEM = tls.clientCertificatePEM.flatMap { $0.isEmpty ? nil : $0 }
        let keyPEM = tls.clientPrivateKeyPEM.flatMap { $0.isEmpty ? nil : $0 }
        switch (certificatePEM, keyPEM) {
        case (nil, nil):
            return
        case (nil, _?):
            throw SyslogSendError(.tlsConfiguration, "a syslog client private key was given without its certificate")
        case (_?, nil):
            throw SyslogSendError(.tlsConfiguration, "a syslog client certificate was given without its private key")
        case (let certificatePEM?, let keyPEM?):
            let chain: [NIOSSLCertificate]
            do {
                chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
            } catch {
                throw SyslogSendError(
                    .tlsConfiguration, "the syslog client certificate cannot be read as PEM: \(error)")
            }
            guard !chain.isEmpty else {
                throw SyslogSendError(.tlsConfiguration, "the syslog client certificate PEM contains no certificate")
            }
            let key: NIOSSLPrivateKey
            do {
                key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
            } catch {
                throw SyslogSendError(
                    .tlsConfiguration,
                    "the syslog client private key cannot be read as an unencrypted PEM key: \(error)")
            }
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        }
    }
}

extension SyslogTLS {
    /// Checks that the PEMs can be read and used together, for the UI to refuse an unusable upload.
    /// - Throws: `SyslogSendError` of kind `.tlsConfiguration` naming the problem.
    package func validate(connectingTo host: String) throws {
        _ = try SyslogTLSContext(self, host: host)
    }
}

/// Whether `text` is an IPv4 or IPv6 address literal.
private func isIPAddress(_ text: String) -> Bool {
    (try? SocketAddress(ipAddress: text, port: 0)) != nil
}
