import Crypto
import Foundation
import PKI
import SwiftASN1
import X509
import _CryptoExtras

/// Keys and certificates made by the tests themselves with swift-crypto and swift-certificates, so that no fixture
/// expires or hides what it holds.
enum TestMaterial {
    /// 2026-01-01T00:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_767_225_600)

    static func signatureAlgorithm(for key: Certificate.PrivateKey) -> Certificate.SignatureAlgorithm {
        switch CertificateSummary.describe(key.publicKey) {
        case "ECDSA P-384": .ecdsaWithSHA384
        case "ECDSA P-521": .ecdsaWithSHA512
        case "Ed25519": .ed25519
        case let description where description.hasPrefix("RSA"): .sha256WithRSAEncryption
        default: .ecdsaWithSHA256
        }
    }

    /// A certificate for `publicKey` named `subject` (a common name), signed by `issuerKey` in the name of `issuer`
    /// (self-signed when `issuer` is nil).
    static func certificate(
        subject: String,
        publicKey: Certificate.PublicKey,
        issuer: String? = nil,
        issuerKey: Certificate.PrivateKey,
        isCertificateAuthority: Bool = false,
        dnsNames: [String] = []
    ) throws -> Certificate {
        let subjectName = try DistinguishedName {
            OrganizationName("Rampart Tests")
            CommonName(subject)
        }
        let issuerName = try DistinguishedName {
            OrganizationName("Rampart Tests")
            CommonName(issuer ?? subject)
        }
        let extensions = try Certificate.Extensions {
            if isCertificateAuthority {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            } else {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                SubjectAlternativeNames(dnsNames.map { GeneralName.dnsName($0) })
            }
        }
        return try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-86400),
            notValidAfter: now.addingTimeInterval(365 * 86400),
            issuer: issuerName,
            subject: subjectName,
            signatureAlgorithm: signatureAlgorithm(for: issuerKey),
            extensions: extensions,
            issuerPrivateKey: issuerKey
        )
    }

    /// A self-signed certificate for `key`.
    static func selfSigned(_ key: Certificate.PrivateKey, name: String = "device.example.com") throws -> Certificate {
        try certificate(subject: name, publicKey: key.publicKey, issuerKey: key, dnsNames: [name])
    }

    static func pem(_ certificate: Certificate) throws -> String {
        try certificate.serializeAsPEM().pemString + "\n"
    }

    static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    /// A P-256 key in SEC1 form (`EC PRIVATE KEY`), as `openssl ecparam -genkey` writes it; swift-crypto writes
    /// PKCS#8 only.
    static func sec1PEM(_ key: P256.Signing.PrivateKey) throws -> String {
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(1)
            try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(key.rawRepresentation)))
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                try coder.serialize(ASN1ObjectIdentifier.NamedCurves.secp256r1)
            }
            try coder.serialize(explicitlyTaggedWithTagNumber: 1, tagClass: .contextSpecific) { coder in
                try coder.serialize(ASN1BitString(bytes: ArraySlice(key.publicKey.x963Representation)))
            }
        }
        return PEMDocument(type: "EC PRIVATE KEY", derBytes: serializer.serializedBytes).pemString + "\n"
    }

    /// A leaf (P-256) issued by an intermediate CA (P-384) issued by a root CA (RSA 2048), so that the chain check
    /// verifies signatures of each kind.
    struct Chain {
        var leafKey: P256.Signing.PrivateKey
        var leaf: Certificate
        var intermediate: Certificate
        var root: Certificate
    }

    static func chain() throws -> Chain {
        let rootKey = Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits2048))
        let intermediateKey = Certificate.PrivateKey(P384.Signing.PrivateKey())
        let leafKey = P256.Signing.PrivateKey()
        let root = try certificate(
            subject: "Test Root CA", publicKey: rootKey.publicKey, issuerKey: rootKey, isCertificateAuthority: true)
        let intermediate = try certificate(
            subject: "Test Intermediate CA", publicKey: intermediateKey.publicKey, issuer: "Test Root CA",
            issuerKey: rootKey, isCertificateAuthority: true)
        let leaf = try certificate(
            subject: "gateway.example.com", publicKey: Certificate.PublicKey(leafKey.publicKey),
            issuer: "Test Intermediate CA", issuerKey: intermediateKey, dnsNames: ["gateway.example.com"])
        return Chain(leafKey: leafKey, leaf: leaf, intermediate: intermediate, root: root)
    }
}
