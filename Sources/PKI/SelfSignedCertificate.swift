import Crypto
import Foundation
import RampartModel
import SwiftASN1
import X509

/// Makes the certificate a gateway serves HTTPS with before the operator uploads one of their own: browsers warn
/// about it, but the connection is encrypted, and its fingerprint can be checked against the one the console shows.
package enum SelfSignedCertificate {
    /// The default validity: 825 days, the longest Apple's platforms accept for a TLS server certificate.
    package static let defaultValidityDays = 825
    /// The longest validity accepted: ten years, so that a typo (36500) is refused rather than served.
    package static let maximumValidityDays = 3650

    /// A fresh ECDSA P-256 key and a certificate for it, signed with itself.
    ///
    /// The certificate names `commonName` as its subject and issuer, and lists `dnsNames` and `ipAddresses` in its
    /// subject alternative names (the names browsers check: they ignore the common name). It is valid from one
    /// hour before `now` (so that a client whose clock is a little behind accepts it) for `validityDays` days, and
    /// is marked for TLS server use only (basic constraints CA false, key usage digitalSignature, extended key
    /// usage serverAuth).
    /// - Parameters:
    ///   - commonName: 1 to 64 characters (the X.520 limit that OpenSSL enforces).
    ///   - dnsNames: host names (letters, digits, hyphens; a leading `*.` for a wildcard; internationalised names
    ///     in their `xn--` form).
    ///   - ipAddresses: IPv4 or IPv6 text. At least one DNS name or IP address is needed.
    ///   - now: the current time, passed in so that this stays free of the wall clock.
    /// - Throws: `PKIError` `.invalidName`, `.invalidIPAddress`, `.invalidValidity` for a request that cannot be
    ///   made; `.certificateCreationFailed` if signing fails.
    package static func make(
        commonName: String,
        dnsNames: [String],
        ipAddresses: [String],
        now: Date,
        validityDays: Int = defaultValidityDays
    ) throws(PKIError) -> CertificateKeyBundle {
        guard !commonName.trimmingCharacters(in: .whitespaces).isEmpty, commonName.count <= 64 else {
            throw PKIError(.invalidName, "the common name \"\(commonName)\" must have 1 to 64 characters")
        }
        for name in dnsNames where !isValidDNSName(name) {
            throw PKIError(
                .invalidName,
                "\"\(name)\" is not a DNS name: use letters, digits and hyphens in dot-separated labels of at most "
                    + "63 characters, \"*.\" only at the start, and the xn-- form of an international name"
            )
        }
        var addressBytes: [[UInt8]] = []
        for address in ipAddresses {
            guard let bytes = IPAddressText.bytes(of: address) else {
                throw PKIError(.invalidIPAddress, "\"\(address)\" is not an IPv4 or IPv6 address")
            }
            addressBytes.append(bytes)
        }
        guard !dnsNames.isEmpty || !addressBytes.isEmpty else {
            throw PKIError(
                .invalidName,
                "a server certificate needs at least one DNS name or IP address: browsers ignore the common name"
            )
        }
        guard (1...maximumValidityDays).contains(validityDays) else {
            throw PKIError(
                .invalidValidity,
                "a validity of \(validityDays) days is out of range: 1 to \(maximumValidityDays) days"
            )
        }

        let key = P256.Signing.PrivateKey()
        let privateKey = Certificate.PrivateKey(key)
        let pem: String
        do {
            let name = try DistinguishedName { CommonName(commonName) }
            let alternativeNames = SubjectAlternativeNames(
                dnsNames.map { GeneralName.dnsName($0) }
                    + addressBytes.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: $0[...])) }
            )
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                // No KeyUsage: a self-signed certificate whose KeyUsage lacks keyCertSign is not "self-signed" to
                // BoringSSL (and older OpenSSL), so a client that trusts exactly this certificate (`rampart ctl`
                // pinning <data dir>/web-certificate.pem, or --cacert) cannot verify it; and keyCertSign without
                // cA would break RFC 5280 4.2.1.3. KeyUsage is optional for an end-entity certificate.
                try ExtendedKeyUsage([.serverAuth])
                SubjectKeyIdentifier(hash: privateKey.publicKey)
                alternativeNames
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: randomSerialNumber(),
                publicKey: privateKey.publicKey,
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(Double(validityDays) * 86400),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: privateKey
            )
            pem = try certificate.serializeAsPEM().pemString + "\n" + key.pemRepresentation + "\n"
        } catch {
            throw PKIError(.certificateCreationFailed, "the self-signed certificate cannot be made: \(error)")
        }
        // Read back through the same checks as an upload, so that what is made is what would be accepted.
        return try CertificateKeyBundle.parse(pem: pem)
    }

    /// 20 random bytes (RFC 5280's maximum), the first with its top bit clear so that the number stays positive in
    /// 20 bytes, and its next bit set so that it never shrinks below 20 bytes.
    private static func randomSerialNumber() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        bytes[0] = bytes[0] & 0x7F | 0x40
        return Certificate.SerialNumber(bytes: bytes)
    }

    /// A host name as RFC 1123 and the CA/Browser Forum allow it in a certificate, with an optional leading `*.`.
    static func isValidDNSName(_ name: String) -> Bool {
        guard (1...253).contains(name.utf8.count) else { return false }
        var labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count > 1, labels[0] == "*" {
            // A wildcard stands for one label under a registered name: "*.example.com", never "*.com".
            labels.removeFirst()
            guard labels.count >= 2 else { return false }
        }
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { byte in
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                        true
                    default:
                        false
                    }
                }
        }
    }
}
