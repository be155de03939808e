import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import X509

@testable import Forwarders

@Suite struct SyslogTLSTests {
    static func tlsSender(_ tls: SyslogTLS, port: Int) -> SyslogSender {
        SyslogSenderTests.sender(.tls(tls), port: port)
    }

    @Test func receiverAddressedByIPGetsFramesVerifiedAgainstTheUploadedCA() async throws {
        let material = try SyslogTestCertificates()
        let receiver = try await TestSyslogReceiver.tcp(tls: material.serverContext())
        let sender = Self.tlsSender(SyslogTLS(caCertificatesPEM: material.caPEM), port: receiver.port)
        sender.start()
        let messages = (0..<50).map(SyslogSenderTests.message) + ["<14>1 - - - - - - äöü €\nzwei"]
        for message in messages { sender.send(message) }

        #expect(try await receiver.waitFor { $0.count >= messages.count } == messages)
        #expect(receiver.framingErrors.isEmpty)
        // Acknowledged bytes are counted on the wire, TLS records included: every message gets confirmed.
        try await SyslogTestWait.until("all confirmed") {
            sender.status.sent == messages.count && sender.status.buffered == 0
        }
        #expect(sender.status.connected)
        await sender.shutdown()
        await receiver.stop()
    }

    @Test func serverNameIsVerified() async throws {
        let material = try SyslogTestCertificates()
        let receiver = try await TestSyslogReceiver.tcp(tls: material.serverContext())

        let named = Self.tlsSender(
            SyslogTLS(caCertificatesPEM: material.caPEM, serverName: SyslogTestCertificates.serverName),
            port: receiver.port)
        try await named.sendTest("<14>1 - - - - - - named", timeout: .seconds(30))
        _ = try await receiver.waitFor { $0.contains("<14>1 - - - - - - named") }

        let byAddress = Self.tlsSender(
            SyslogTLS(caCertificatesPEM: material.caPEM, serverName: "127.0.0.1"), port: receiver.port)
        try await byAddress.sendTest("<14>1 - - - - - - by address", timeout: .seconds(30))

        await receiver.stop()
    }

    @Test func certificateNotNamingTheServerNameIsRefused() async throws {
        // NIOSSL accepts a certificate naming the address connected to as well as one naming the server name: this
        // receiver's certificate names only syslog.test.
        let material = try SyslogTestCertificates(namingLoopbackAddress: false)
        let receiver = try await TestSyslogReceiver.tcp(tls: material.serverContext())
        let misnamed = Self.tlsSender(
            SyslogTLS(caCertificatesPEM: material.caPEM, serverName: "other.test"), port: receiver.port)
        do {
            try await misnamed.sendTest("<14>1 - - - - - - misnamed", timeout: .seconds(30))
            Issue.record("a certificate for \(SyslogTestCertificates.serverName) was accepted for other.test")
        } catch let error as SyslogSendError {
            #expect(error.kind == .tlsHandshakeFailed)
            #expect(error.description.contains("does not name"), "\(error)")
        }
        #expect(!receiver.messages.contains("<14>1 - - - - - - misnamed"))

        // Without a server name, a receiver addressed by IP is verified against the CA only.
        let byCA = Self.tlsSender(SyslogTLS(caCertificatesPEM: material.caPEM), port: receiver.port)
        try await byCA.sendTest("<14>1 - - - - - - by CA", timeout: .seconds(30))
        _ = try await receiver.waitFor { $0.contains("<14>1 - - - - - - by CA") }
        await receiver.stop()
    }

    @Test func wrongCAFailsTheTestMessageNamingTheCertificateProblem() async throws {
        let material = try SyslogTestCertificates()
        let other = try SyslogTestCertificates()
        let receiver = try await TestSyslogReceiver.tcp(tls: material.serverContext())
        let sender = Self.tlsSender(SyslogTLS(caCertificatesPEM: other.caPEM), port: receiver.port)
        do {
            try await sender.sendTest("<14>1 - - - - - - test", timeout: .seconds(30))
            Issue.record("a receiver certificate from another CA was accepted")
        } catch let error as SyslogSendError {
            #expect(error.kind == .tlsHandshakeFailed)
            #expect(error.description.contains("certificate"))
            #expect(error.description.contains("CERTIFICATE_VERIFY_FAILED"))
            #expect(error.description.contains("127.0.0.1:\(receiver.port)"))
        }

        // The forwarding connection keeps failing with the same reason, and keeps the messages.
        sender.start()
        sender.send("<14>1 - - - - - - kept")
        try await SyslogTestWait.until("the failure recorded") {
            sender.status.lastError?.contains("certificate") == true
        }
        #expect(sender.status.buffered == 1)
        #expect(!sender.status.connected)
        #expect(receiver.messages.isEmpty)
        await sender.shutdown()
        await receiver.stop()
    }

    @Test func clientCertificateIsPresentedWhenTheReceiverRequiresOne() async throws {
        let material = try SyslogTestCertificates()
        let receiver = try await TestSyslogReceiver.tcp(tls: material.serverContext(requiringClientCertificate: true))

        let withCertificate = Self.tlsSender(
            SyslogTLS(
                caCertificatesPEM: material.caPEM, clientCertificatePEM: material.clientCertificatePEM,
                clientPrivateKeyPEM: material.clientKeyPEM),
            port: receiver.port)
        try await withCertificate.sendTest("<14>1 - - - - - - with certificate", timeout: .seconds(30))
        _ = try await receiver.waitFor { $0.contains("<14>1 - - - - - - with certificate") }

        // TLS 1.3 refuses a missing client certificate after the client's side of the handshake is done: the
        // test message listens for that refusal.
        let without = Self.tlsSender(SyslogTLS(caCertificatesPEM: material.caPEM), port: receiver.port)
        do {
            try await without.sendTest("<14>1 - - - - - - without", timeout: .seconds(30))
            Issue.record("the receiver's refusal of a missing client certificate went unnoticed")
        } catch let error as SyslogSendError {
            #expect(error.kind == .tlsHandshakeFailed, "\(error)")
            #expect(error.description.contains("requires a client certificate"), "\(error)")
        }
        #expect(!receiver.messages.contains("<14>1 - - - - - - without"))
        await receiver.stop()
    }

    @Test func unusableTLSSettingsAreRefusedWithTheReason() {
        let cases: [(SyslogTLS, String)] = [
            (SyslogTLS(caCertificatesPEM: "not a certificate"), "CA certificate"),
            (SyslogTLS(caCertificatesPEM: ""), "CA certificate"),
            (
                SyslogTLS(caCertificatesPEM: (try? SyslogTestCertificates().caPEM) ?? "", clientCertificatePEM: "x"),
                "without its private key"
            ),
        ]
        for (tls, expected) in cases {
            do {
                try tls.validate(connectingTo: "127.0.0.1")
                Issue.record("\(tls) was accepted")
            } catch let error as SyslogSendError {
                #expect(error.kind == .tlsConfiguration)
                #expect(error.description.contains(expected), "\(error)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}

/// A CA, a receiver certificate it issued (for `serverName` and, unless told otherwise, 127.0.0.1) and a client
/// certificate, made with swift-certificates so that nothing expires or hides what it holds.
struct SyslogTestCertificates {
    static let serverName = "syslog.test"

    let caPEM: String
    let serverCertificatePEM: String
    let serverKeyPEM: String
    let clientCertificatePEM: String
    let clientKeyPEM: String

    init(namingLoopbackAddress: Bool = true) throws {
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("Syslog Test CA \(UUID())") }
        let now = Date()
        func issue(
            _ subject: DistinguishedName, key: Certificate.PublicKey,
            @ExtensionsBuilder extensions: () throws -> Result<Certificate.Extensions, any Error>
        ) throws -> Certificate {
            try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key,
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86400),
                issuer: caName, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions(builder: extensions), issuerPrivateKey: .init(caKey))
        }
        let ca = try issue(caName, key: .init(caKey.publicKey)) {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
        }
        let serverKey = P256.Signing.PrivateKey()
        let server = try issue(
            try DistinguishedName { CommonName(Self.serverName) }, key: .init(serverKey.publicKey)
        ) {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            if namingLoopbackAddress {
                SubjectAlternativeNames([.dnsName(Self.serverName), .ipAddress(.init(contentBytes: [127, 0, 0, 1]))])
            } else {
                SubjectAlternativeNames([.dnsName(Self.serverName)])
            }
        }
        let clientKey = P256.Signing.PrivateKey()
        let client = try issue(
            try DistinguishedName { CommonName("gateway") }, key: .init(clientKey.publicKey)
        ) {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
        }
        caPEM = try ca.serializeAsPEM().pemString
        serverCertificatePEM = try server.serializeAsPEM().pemString
        serverKeyPEM = serverKey.pemRepresentation
        clientCertificatePEM = try client.serializeAsPEM().pemString
        clientKeyPEM = clientKey.pemRepresentation
    }

    func serverContext(requiringClientCertificate: Bool = false) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(serverCertificatePEM.utf8)).map {
                .certificate($0)
            },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(serverKeyPEM.utf8), format: .pem)))
        if requiringClientCertificate {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
