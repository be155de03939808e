import NIOCore
import NIOSSL
import Synchronization

/// The certificate and key the HTTPS listener presents, replaceable while it runs.
///
/// NIOSSL asks `sslContextCallback` for every new TLS connection, so a new web-server profile takes effect for the
/// next connection without a restart; connections already open keep the certificate they were made with.
package final class CertificateSwitch: Sendable {
    package struct Credentials: Sendable {
        package var chain: [NIOSSLCertificate]
        package var key: NIOSSLPrivateKey

        /// Reads a PEM certificate chain (leaf first) and its private key.
        package init(chainPEM: String, keyPEM: String) throws {
            self.chain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8))
            self.key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        }
    }

    private let current: Mutex<Credentials>

    package init(_ credentials: Credentials) {
        self.current = Mutex(credentials)
    }

    package func replace(with credentials: Credentials) {
        current.withLock { $0 = credentials }
    }

    package var credentials: Credentials { current.withLock { $0 } }

    /// TLS 1.2 and 1.3 only; the certificate is chosen per connection from this switch.
    package func serverConfiguration() -> TLSConfiguration {
        let initial = credentials
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: initial.chain.map { .certificate($0) },
            privateKey: .privateKey(initial.key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        configuration.sslContextCallback = { [self] _, promise in
            let credentials = self.credentials
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = credentials.chain.map { .certificate($0) }
            override.privateKey = .privateKey(credentials.key)
            promise.succeed(override)
        }
        return configuration
    }
}
