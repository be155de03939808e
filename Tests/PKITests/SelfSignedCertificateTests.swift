import Crypto
import Foundation
import NIOSSL
import PKI
import SwiftASN1
import Testing
import X509

@Suite struct SelfSignedCertificateTests {
    let now = TestMaterial.now

    @Test func madeCertificateParsesBackWithItsNamesAndUses() throws {
        let bundle = try SelfSignedCertificate.make(
            commonName: "Rampart gateway",
            dnsNames: ["rampart.local", "*.gw.example.com"],
            ipAddresses: ["192.168.1.10", "FD00:0:0:0:0:0:0:1", "::1"],
            now: now
        )
        let again = try CertificateKeyBundle.parse(pem: bundle.certificateChainPEM + bundle.privateKeyPEM)
        #expect(again == bundle)

        let summary = bundle.summary
        #expect(summary.subject == "CN=Rampart gateway")
        #expect(summary.issuer == "CN=Rampart gateway")
        #expect(summary.dnsNames == ["rampart.local", "*.gw.example.com"])
        #expect(summary.ipAddresses == ["192.168.1.10", "fd00::1", "::1"])
        #expect(summary.keyDescription == "ECDSA P-256")
        #expect(summary.notValidBefore == now.addingTimeInterval(-3600))
        #expect(summary.notValidAfter == now.addingTimeInterval(825 * 86400))

        let leaf = bundle.leaf
        #expect(bundle.chain.isEmpty)
        #expect(leaf.version == .v3)
        #expect(leaf.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(leaf.publicKey.isValidSignature(leaf.signature, for: leaf))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(leaf.extensions[oid: .X509ExtensionID.basicConstraints]?.critical == true)
        // No KeyUsage: with one lacking keyCertSign, BoringSSL does not take the certificate as self-signed and
        // clients that trust exactly it (rampart ctl's pinning) fail to verify it.
        #expect(try leaf.extensions.keyUsage == nil)
        #expect(try leaf.extensions.extendedKeyUsage.map(Array.init) == [.serverAuth])
        let names = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(Array(names).count == 5)
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [192, 168, 1, 10]))))
        #expect(try leaf.extensions.subjectKeyIdentifier != nil)
        // 20 bytes, positive: the first byte has its top bit clear and is never zero.
        #expect(leaf.serialNumber.bytes.count == 20)
        #expect(summary.serialNumber.count == 40)
        #expect(bundle.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
    }

    @Test func eachCertificateHasItsOwnKeyAndSerial() throws {
        let first = try SelfSignedCertificate.make(
            commonName: "gw", dnsNames: ["gw.local"], ipAddresses: [], now: now)
        let second = try SelfSignedCertificate.make(
            commonName: "gw", dnsNames: ["gw.local"], ipAddresses: [], now: now)
        #expect(first.leaf.serialNumber != second.leaf.serialNumber)
        #expect(first.leaf.publicKey != second.leaf.publicKey)
        #expect(first.privateKeyPEM != second.privateKeyPEM)
        #expect(first.summary.sha256Fingerprint != second.summary.sha256Fingerprint)
    }

    @Test func validityInDaysIsHonoured() throws {
        let bundle = try SelfSignedCertificate.make(
            commonName: "gw", dnsNames: [], ipAddresses: ["10.0.0.1"], now: now, validityDays: 30)
        #expect(bundle.summary.notValidAfter == now.addingTimeInterval(30 * 86400))
        #expect(bundle.summary.dnsNames.isEmpty)
        #expect(bundle.summary.ipAddresses == ["10.0.0.1"])
    }

    @Test func madeCertificateIsAcceptedByNIOSSL() throws {
        let bundle = try SelfSignedCertificate.make(
            commonName: "gw", dnsNames: ["gw.local"], ipAddresses: ["127.0.0.1", "::1"], now: now)
        let certificates = try NIOSSLCertificate.fromPEMBytes(Array(bundle.certificateChainPEM.utf8))
        let key = try NIOSSLPrivateKey(bytes: Array(bundle.privateKeyPEM.utf8), format: .pem)
        _ = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key)))
        #expect(try certificates.first?.toDERBytes() == (try TestMaterial.der(bundle.leaf)))
    }

    @Test(arguments: [
        ("", ["gw.local"], [String]()),
        (String(repeating: "a", count: 65), ["gw.local"], []),
        ("gw", [], []),
        ("gw", ["exa mple.com"], []),
        ("gw", ["*.com"], []),
        ("gw", ["-gw.local"], []),
        ("gw", ["gw..local"], []),
        ("gw", ["gw.local."], []),
        ("gw", ["bücher.example"], []),
        ("gw", [String(repeating: "a", count: 64) + ".example"], []),
    ])
    func unusableNamesAreRefused(commonName: String, dnsNames: [String], ipAddresses: [String]) {
        let error = #expect(throws: PKIError.self) {
            try SelfSignedCertificate.make(
                commonName: commonName, dnsNames: dnsNames, ipAddresses: ipAddresses, now: now)
        }
        #expect(error?.code == .invalidName)
    }

    @Test(arguments: ["300.1.1.1", "10.0.0", "010.0.0.1", "fe80::1%eth0", "1::2::3", "gw.local", ""])
    func unusableIPAddressesAreRefused(address: String) {
        let error = #expect(throws: PKIError.self) {
            try SelfSignedCertificate.make(commonName: "gw", dnsNames: ["gw.local"], ipAddresses: [address], now: now)
        }
        #expect(error?.code == .invalidIPAddress)
        #expect(error?.message.contains("\"\(address)\"") == true)
    }

    @Test(arguments: [0, -1, 3651])
    func validityOutOfRangeIsRefused(days: Int) {
        let error = #expect(throws: PKIError.self) {
            try SelfSignedCertificate.make(
                commonName: "gw", dnsNames: ["gw.local"], ipAddresses: [], now: now, validityDays: days)
        }
        #expect(error?.code == .invalidValidity)
    }
}
