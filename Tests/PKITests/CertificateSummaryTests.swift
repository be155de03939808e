import Crypto
import Foundation
import PKI
import Testing
import X509
import _CryptoExtras

@Suite struct CertificateSummaryTests {
    @Test func roundTripsThroughJSON() throws {
        let bundle = try SelfSignedCertificate.make(
            commonName: "gw", dnsNames: ["gw.local"], ipAddresses: ["2001:db8::7"], now: TestMaterial.now)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = try encoder.encode(bundle.summary)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(CertificateSummary.self, from: json) == bundle.summary)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["ipAddresses"] as? [String] == ["2001:db8::7"])
        #expect(object["keyDescription"] as? String == "ECDSA P-256")
        #expect(object["notValidBefore"] as? String == "2025-12-31T23:00:00Z")
        #expect(
            Set(object.keys) == [
                "subject", "issuer", "serialNumber", "notValidBefore", "notValidAfter", "sha256Fingerprint", "dnsNames",
                "ipAddresses", "keyDescription",
            ])
    }

    @Test func fingerprintIsColonSeparatedUppercaseSHA256OfTheDER() throws {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let certificate = try TestMaterial.selfSigned(key)
        let der = try TestMaterial.der(certificate)
        let summary = try CertificateSummary(certificate, der: der)
        let pairs = summary.sha256Fingerprint.split(separator: ":")
        #expect(pairs.count == 32)
        #expect(pairs.allSatisfy { $0.count == 2 && $0.uppercased() == $0 && UInt8($0, radix: 16) != nil })
        #expect(pairs.compactMap { UInt8($0, radix: 16) } == Array(SHA256.hash(data: der)))
    }

    @Test func keysAreDescribedByTypeAndSize() throws {
        #expect(
            CertificateSummary.describe(Certificate.PublicKey(P256.Signing.PrivateKey().publicKey)) == "ECDSA P-256")
        #expect(
            CertificateSummary.describe(Certificate.PublicKey(P384.Signing.PrivateKey().publicKey)) == "ECDSA P-384")
        #expect(
            CertificateSummary.describe(Certificate.PublicKey(P521.Signing.PrivateKey().publicKey)) == "ECDSA P-521")
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(CertificateSummary.describe(Certificate.PublicKey(rsa.publicKey)) == "RSA 2048")
        #expect(
            CertificateSummary.describe(Certificate.PublicKey(Curve25519.Signing.PrivateKey().publicKey)) == "Ed25519")
    }
}
