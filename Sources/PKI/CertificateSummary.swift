import Crypto
import Foundation
import RampartModel
import X509
import _CryptoExtras

/// What an operator needs to see of a certificate to recognise it and to know when it expires: shown by the web UI
/// and returned as JSON by the REST API, so plain values only.
package struct CertificateSummary: Codable, Sendable, Equatable {
    /// The subject in RFC 4514 form, e.g. `CN=gateway.example.com,O=Example`.
    package var subject: String
    /// The issuer in RFC 4514 form; equal to `subject` for a self-signed certificate.
    package var issuer: String
    /// The serial number in uppercase hex without separators, as `openssl x509 -noout -serial` prints it.
    package var serialNumber: String
    package var notValidBefore: Date
    package var notValidAfter: Date
    /// SHA-256 of the certificate's DER, as colon-separated uppercase hex pairs (the form browsers show).
    package var sha256Fingerprint: String
    /// The DNS names of the subject alternative name extension, in its order.
    package var dnsNames: [String]
    /// The IP addresses of the subject alternative name extension, as text (IPv6 in RFC 5952 form).
    package var ipAddresses: [String]
    /// The certificate's key: "ECDSA P-256", "ECDSA P-384", "RSA 2048" …
    package var keyDescription: String

    package init(
        subject: String,
        issuer: String,
        serialNumber: String,
        notValidBefore: Date,
        notValidAfter: Date,
        sha256Fingerprint: String,
        dnsNames: [String],
        ipAddresses: [String],
        keyDescription: String
    ) {
        self.subject = subject
        self.issuer = issuer
        self.serialNumber = serialNumber
        self.notValidBefore = notValidBefore
        self.notValidAfter = notValidAfter
        self.sha256Fingerprint = sha256Fingerprint
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.keyDescription = keyDescription
    }

    /// The summary of `certificate`, whose DER encoding is `der`.
    /// - Throws: `PKIError` `.malformedCertificate` when its subject alternative name extension does not decode.
    package init(_ certificate: Certificate, der: [UInt8]) throws(PKIError) {
        var dnsNames: [String] = []
        var ipAddresses: [String] = []
        let alternativeNames: SubjectAlternativeNames?
        do {
            alternativeNames = try certificate.extensions.subjectAlternativeNames
        } catch {
            throw PKIError(
                .malformedCertificate,
                "the subject alternative names of the certificate \(certificate.subject) do not decode: \(error)"
            )
        }
        for name in alternativeNames ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let dnsName): dnsNames.append(dnsName)
            case .ipAddress(let address): ipAddresses.append(IPAddressText.text(of: address.bytes))
            default: break
            }
        }
        self.init(
            subject: certificate.subject.description,
            issuer: certificate.issuer.description,
            serialNumber: certificate.serialNumber.bytes.map(IPAddressText.hexByte).joined(),
            notValidBefore: certificate.notValidBefore,
            notValidAfter: certificate.notValidAfter,
            sha256Fingerprint: SHA256.hash(data: der).map(IPAddressText.hexByte).joined(separator: ":"),
            dnsNames: dnsNames,
            ipAddresses: ipAddresses,
            keyDescription: Self.describe(certificate.publicKey)
        )
    }

    /// "ECDSA P-256", "RSA 2048" …: the names operators know from their CA's order form.
    package static func describe(_ key: Certificate.PublicKey) -> String {
        if P256.Signing.PublicKey(key) != nil { return "ECDSA P-256" }
        if P384.Signing.PublicKey(key) != nil { return "ECDSA P-384" }
        if P521.Signing.PublicKey(key) != nil { return "ECDSA P-521" }
        if let rsa = _RSA.Signing.PublicKey(key) { return "RSA \(rsa.keySizeInBits)" }
        if Curve25519.Signing.PublicKey(key) != nil { return "Ed25519" }
        return key.description
    }
}
