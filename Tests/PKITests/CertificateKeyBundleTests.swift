import Crypto
import Foundation
import NIOSSL
import PKI
import SwiftASN1
import Testing
import X509
import _CryptoExtras

@Suite struct CertificateKeyBundleTests {
    // MARK: Accepted files

    @Test func p256CertificateWithPKCS8KeyIsAcceptedAndSummarised() throws {
        let key = P256.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let bundle = try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + key.pemRepresentation)

        #expect(bundle.leaf == certificate)
        #expect(bundle.chain.isEmpty)
        #expect(bundle.summary.keyDescription == "ECDSA P-256")
        #expect(bundle.summary.subject == "CN=device.example.com,O=Rampart Tests")
        #expect(bundle.summary.issuer == bundle.summary.subject)
        #expect(bundle.summary.dnsNames == ["device.example.com"])
        #expect(bundle.summary.ipAddresses.isEmpty)
        #expect(bundle.summary.notValidBefore == certificate.notValidBefore)
        #expect(bundle.summary.notValidAfter == certificate.notValidAfter)
        let expectedFingerprint = SHA256.hash(data: try TestMaterial.der(certificate))
            .map { String(format: "%02X", $0) }.joined(separator: ":")
        #expect(bundle.summary.sha256Fingerprint == expectedFingerprint)
        #expect(bundle.summary.sha256Fingerprint.count == 32 * 3 - 1)
        let expectedSerial = certificate.serialNumber.bytes.map { String(format: "%02X", $0) }.joined()
        #expect(bundle.summary.serialNumber == expectedSerial)

        #expect(bundle.certificateChainPEM == (try TestMaterial.pem(certificate)))
        #expect(bundle.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(bundle.privateKeyPEM.hasSuffix("-----END PRIVATE KEY-----\n"))
        #expect(
            try P256.Signing.PrivateKey(pemRepresentation: bundle.privateKeyPEM).rawRepresentation
                == key.rawRepresentation)
    }

    @Test func p384KeyIsAccepted() throws {
        let key = P384.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let bundle = try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + key.pemRepresentation)
        #expect(bundle.summary.keyDescription == "ECDSA P-384")
    }

    @Test func rsa2048KeyIsAcceptedInPKCS8AndInPKCS1Form() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let certificatePEM = try TestMaterial.pem(certificate)

        let pkcs8 = try CertificateKeyBundle.parse(pem: certificatePEM + key.pkcs8PEMRepresentation)
        #expect(pkcs8.summary.keyDescription == "RSA 2048")

        #expect(key.pemRepresentation.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        let pkcs1 = try CertificateKeyBundle.parse(pem: certificatePEM + key.pemRepresentation)
        #expect(pkcs1.summary.keyDescription == "RSA 2048")
        // Re-encoded as PKCS#8 whatever the uploaded form.
        #expect(pkcs1.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(
            try _RSA.Signing.PrivateKey(pemRepresentation: pkcs1.privateKeyPEM).derRepresentation
                == key.derRepresentation)
    }

    @Test func sec1ECKeyIsAcceptedAndReencodedAsPKCS8() throws {
        let key = P256.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let sec1 = try TestMaterial.sec1PEM(key)
        #expect(sec1.hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
        // openssl ecparam -genkey writes the curve before the key.
        let parameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
        let bundle = try CertificateKeyBundle.parse(pem: parameters + sec1 + (try TestMaterial.pem(certificate)))
        #expect(bundle.summary.keyDescription == "ECDSA P-256")
        #expect(bundle.privateKeyPEM == key.pemRepresentation + "\n")
    }

    @Test func keyMayComeBeforeTheCertificateAndTextAroundBlocksIsIgnored() throws {
        let key = P256.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let pem =
            "Bag Attributes\n    friendlyName: device\n" + key.pemRepresentation + "\nsubject=CN=device\n"
            + (try TestMaterial.pem(certificate)) + "trailing words\n"
        let bundle = try CertificateKeyBundle.parse(pem: pem)
        #expect(bundle.leaf == certificate)
    }

    @Test func crlfLineEndingsAreAccepted() throws {
        let key = P256.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let pem = (try TestMaterial.pem(certificate) + key.pemRepresentation + "\n")
            .replacingOccurrences(of: "\n", with: "\r\n")
        #expect(pem.contains("\r\n"))
        let bundle = try CertificateKeyBundle.parse(pem: Array(pem.utf8))
        #expect(bundle.leaf == certificate)
        #expect(!bundle.certificateChainPEM.contains("\r"))
    }

    @Test func chainInOrderIsAcceptedAndKept() throws {
        let chain = try TestMaterial.chain()
        let pem =
            try [chain.leaf, chain.intermediate, chain.root].map(TestMaterial.pem).joined()
            + chain.leafKey.pemRepresentation
        let bundle = try CertificateKeyBundle.parse(pem: pem)
        #expect(bundle.leaf == chain.leaf)
        #expect(bundle.chain == [chain.intermediate, chain.root])
        #expect(bundle.summary.issuer == "CN=Test Intermediate CA,O=Rampart Tests")
        #expect(bundle.certificateChainPEM == pem.replacingOccurrences(of: chain.leafKey.pemRepresentation, with: ""))
        #expect(bundle.certificateChainPEM.components(separatedBy: "-----BEGIN CERTIFICATE-----").count == 4)
        #expect(!bundle.certificateChainPEM.contains("PRIVATE KEY"))
    }

    @Test func chainWithoutRootIsAccepted() throws {
        let chain = try TestMaterial.chain()
        let pem =
            try [chain.leaf, chain.intermediate].map(TestMaterial.pem).joined()
            + chain.leafKey.pemRepresentation
        #expect(try CertificateKeyBundle.parse(pem: pem).chain == [chain.intermediate])
    }

    @Test func bundleIsAcceptedByNIOSSL() throws {
        let chain = try TestMaterial.chain()
        let pem =
            try [chain.leaf, chain.intermediate].map(TestMaterial.pem).joined()
            + (try TestMaterial.sec1PEM(chain.leafKey))
        let bundle = try CertificateKeyBundle.parse(pem: pem)
        let certificates = try NIOSSLCertificate.fromPEMBytes(Array(bundle.certificateChainPEM.utf8))
        #expect(certificates.count == 2)
        let key = try NIOSSLPrivateKey(bytes: Array(bundle.privateKeyPEM.utf8), format: .pem)
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        // NIOSSLContext checks that the key matches the certificate.
        _ = try NIOSSLContext(configuration: configuration)
    }

    // MARK: Refused files

    @Test func swappedIntermediateAndRootBreakTheChain() throws {
        let chain = try TestMaterial.chain()
        let pem =
            try [chain.leaf, chain.root, chain.intermediate].map(TestMaterial.pem).joined()
            + chain.leafKey.pemRepresentation
        let error = #expect(throws: PKIError.self) { try CertificateKeyBundle.parse(pem: pem) }
        #expect(error?.code == .brokenChain)
        #expect(error?.message.contains("certificate 1 (the leaf)") == true)
        #expect(error?.message.contains("Test Intermediate CA") == true)
    }

    @Test func brokenLinkFurtherDownIsNamedByPosition() throws {
        let chain = try TestMaterial.chain()
        let other = try TestMaterial.chain()
        // Same names, other keys: the names match but the signature does not verify.
        let pem =
            try [chain.leaf, chain.intermediate, other.root].map(TestMaterial.pem).joined()
            + chain.leafKey.pemRepresentation
        let error = #expect(throws: PKIError.self) { try CertificateKeyBundle.parse(pem: pem) }
        #expect(error?.code == .brokenChain)
        #expect(error?.message.contains("after the certificate 2") == true)
        #expect(error?.message.contains("signature") == true)
    }

    @Test func keyOfAnotherCertificateIsRefused() throws {
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(P256.Signing.PrivateKey()))
        let otherKey = P256.Signing.PrivateKey()
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + otherKey.pemRepresentation)
        }
        #expect(error?.code == .keyMismatch)
        #expect(
            error?.message.hasPrefix(
                "the private key does not belong to the certificate CN=device.example.com,O=Rampart Tests") == true)
    }

    @Test func keyOfAnotherTypeIsAMismatch() throws {
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(P256.Signing.PrivateKey()))
        let otherKey = P384.Signing.PrivateKey()
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + otherKey.pemRepresentation)
        }
        #expect(error?.code == .keyMismatch)
        #expect(error?.message.contains("ECDSA P-384") == true)
    }

    @Test func fileAboveTheLimitIsRefusedWithItsSize() throws {
        let key = P256.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let valid = try TestMaterial.pem(certificate) + key.pemRepresentation + "\n"
        let padded = valid + String(repeating: "x", count: 131_072 - valid.utf8.count + 1)
        #expect(padded.utf8.count == 131_073)
        let error = #expect(throws: PKIError.self) { try CertificateKeyBundle.parse(pem: padded) }
        #expect(error?.code == .fileTooLarge)
        #expect(error?.message.contains("131073") == true)
        #expect(error?.message.contains("131072") == true)
        // At the limit exactly, the same file is read.
        let atLimit = valid + String(repeating: "x", count: 131_072 - valid.utf8.count)
        #expect(try CertificateKeyBundle.parse(pem: atLimit).leaf == certificate)
        // The limit can be lowered.
        #expect(throws: PKIError.self) { try CertificateKeyBundle.parse(pem: valid, maximumSize: 100) }
    }

    @Test func encryptedPKCS8KeyIsRefused() throws {
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(P256.Signing.PrivateKey()))
        let encrypted = PEMDocument(type: "ENCRYPTED PRIVATE KEY", derBytes: Array(repeating: 0x30, count: 40))
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + encrypted.pemString)
        }
        #expect(error?.code == .encryptedPrivateKey)
        #expect(error?.message.contains("decrypt it first") == true)
    }

    @Test func legacyEncryptedRSAKeyIsRefused() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let body = key.pemRepresentation.split(separator: "\n").dropFirst().dropLast().joined(separator: "\n")
        let legacy =
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
            + "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n" + body + "\n-----END RSA PRIVATE KEY-----\n"
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + legacy)
        }
        #expect(error?.code == .encryptedPrivateKey)
    }

    @Test func rsa1024KeyIsRefusedAsWeak() throws {
        let key = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        let issuer = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let certificate = try TestMaterial.certificate(
            subject: "old.example.com", publicKey: Certificate.PublicKey(key.publicKey), issuer: "Issuer",
            issuerKey: issuer)
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + key.pemRepresentation)
        }
        #expect(error?.code == .weakKey)
        #expect(error?.message.contains("RSA 1024") == true)
        #expect(error?.message.contains("2048") == true)
    }

    @Test func p521KeyIsRefusedAsUnsupported() throws {
        let key = P521.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + key.pemRepresentation)
        }
        #expect(error?.code == .unsupportedKey)
        #expect(error?.message.contains("ECDSA P-521") == true)
    }

    @Test func ed25519KeyIsRefusedAsUnsupported() throws {
        let key = Certificate.PrivateKey(Curve25519.Signing.PrivateKey())
        let certificate = try TestMaterial.selfSigned(key)
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(
                pem: try TestMaterial.pem(certificate) + key.serializeAsPEM().pemString)
        }
        #expect(error?.code == .unsupportedKey)
        #expect(error?.message.contains("Ed25519") == true)
    }

    @Test func unknownBlockIsRefusedByName() throws {
        let key = P256.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(
                pem: try TestMaterial.pem(certificate) + key.pemRepresentation + "\n"
                    + key.publicKey.pemRepresentation)
        }
        #expect(error?.code == .unsupportedBlock)
        #expect(error?.message.contains("PUBLIC KEY block") == true)
    }

    @Test func fileWithoutCertificateIsRefused() {
        let key = P256.Signing.PrivateKey()
        let error = #expect(throws: PKIError.self) { try CertificateKeyBundle.parse(pem: key.pemRepresentation) }
        #expect(error?.code == .noCertificate)
    }

    @Test func fileWithoutKeyIsRefused() throws {
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(P256.Signing.PrivateKey()))
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate))
        }
        #expect(error?.code == .noPrivateKey)
    }

    @Test func fileWithTwoKeysIsRefused() throws {
        let key = P256.Signing.PrivateKey()
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(key))
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(
                pem: try TestMaterial.pem(certificate) + key.pemRepresentation + "\n"
                    + P256.Signing.PrivateKey().pemRepresentation)
        }
        #expect(error?.code == .multiplePrivateKeys)
        #expect(error?.message.contains("2 private keys") == true)
    }

    @Test func garbageBase64IsMalformedPEM() throws {
        let key = P256.Signing.PrivateKey()
        let garbage = "-----BEGIN CERTIFICATE-----\nMIIB!!not*base64@@\n-----END CERTIFICATE-----\n"
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: garbage + key.pemRepresentation)
        }
        #expect(error?.code == .malformedPEM)
        #expect(error?.message.contains("line 1") == true)
    }

    @Test func truncatedBlockIsMalformedPEM() throws {
        let certificate = try TestMaterial.pem(
            try TestMaterial.selfSigned(Certificate.PrivateKey(P256.Signing.PrivateKey())))
        let cut = String(certificate.prefix(200))
        let error = #expect(throws: PKIError.self) { try CertificateKeyBundle.parse(pem: cut) }
        #expect(error?.code == .malformedPEM)
        #expect(error?.message.contains("no END line") == true)
    }

    @Test func fileWithoutPEMBlocksIsMalformedPEM() throws {
        let der = try TestMaterial.der(try TestMaterial.selfSigned(Certificate.PrivateKey(P256.Signing.PrivateKey())))
        let error = #expect(throws: PKIError.self) { try CertificateKeyBundle.parse(pem: der) }
        #expect(error?.code == .malformedPEM)
    }

    @Test func validBase64ThatIsNoCertificateIsMalformedCertificate() {
        let key = P256.Signing.PrivateKey()
        let notACertificate = PEMDocument(type: "CERTIFICATE", derBytes: [0x30, 0x03, 0x02, 0x01, 0x01]).pemString
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: notACertificate + "\n" + key.pemRepresentation)
        }
        #expect(error?.code == .malformedCertificate)
        #expect(error?.message.contains("certificate 1 (the leaf)") == true)
    }

    @Test func keyBlockThatIsNoKeyIsMalformedPrivateKey() throws {
        let certificate = try TestMaterial.selfSigned(Certificate.PrivateKey(P256.Signing.PrivateKey()))
        let notAKey = PEMDocument(type: "PRIVATE KEY", derBytes: [0x30, 0x03, 0x02, 0x01, 0x00]).pemString
        let error = #expect(throws: PKIError.self) {
            try CertificateKeyBundle.parse(pem: try TestMaterial.pem(certificate) + notAKey)
        }
        #expect(error?.code == .malformedPrivateKey)
    }
}
