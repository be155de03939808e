/// Why a certificate, a key or a request for a certificate was refused, in words an operator can act on.
///
/// A struct with a code rather than an enum with payloads (like swift-certificates' `CertificateError`): callers
/// branch on `code` (the REST API maps it to a stable error name), and show `message` as it is.
package struct PKIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of refusal this is; stable across releases, so that API clients can branch on it.
    package enum Code: String, Hashable, Sendable, Codable, CaseIterable {
        /// The uploaded file is larger than the limit.
        case fileTooLarge
        /// The file is not PEM, or a PEM block is cut short or holds no valid base64.
        case malformedPEM
        /// The file holds no `CERTIFICATE` block.
        case noCertificate
        /// The file holds no private key block.
        case noPrivateKey
        /// The file holds more than one private key block.
        case multiplePrivateKeys
        /// The private key is encrypted with a passphrase, which the gateway does not ask for.
        case encryptedPrivateKey
        /// The file holds a PEM block of a type that a web-server profile does not use.
        case unsupportedBlock
        /// A private key block does not decode as the key its type says.
        case malformedPrivateKey
        /// The key is of a type the gateway does not serve TLS with (P-521, Ed25519, DSA …).
        case unsupportedKey
        /// The key is of a supported type but too small to be safe (RSA below 2048 bits).
        case weakKey
        /// The private key does not belong to the leaf certificate.
        case keyMismatch
        /// A certificate of the chain is not issued by the one after it.
        case brokenChain
        /// A `CERTIFICATE` block does not decode as an X.509 certificate.
        case malformedCertificate
        /// A name asked for a new certificate (common name, DNS name) is not usable.
        case invalidName
        /// An IP address asked for a new certificate is not IPv4 or IPv6 text.
        case invalidIPAddress
        /// The validity asked for a new certificate is out of range.
        case invalidValidity
        /// Signing or encoding a new certificate failed.
        case certificateCreationFailed
    }

    package var code: Code
    /// One sentence for the operator: what was found, where, and what to do about it.
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
