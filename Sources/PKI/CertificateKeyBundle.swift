import SwiftASN1
import X509

/// A certificate, its chain and its private key, checked to belong together: what a web-server profile serves TLS
/// with. Made only by `parse(pem:maximumSize:)` (an operator's upload) or by `SelfSignedCertificate.make`, so a
/// value of this type has always passed the checks.
package struct CertificateKeyBundle: Sendable, Equatable {
    /// The largest upload accepted by default: 128 KiB, far more than a leaf, a few intermediates and a key need
    /// (a few kilobytes), and small enough that a wrong file (a log, a backup) is refused before it is read.
    package static let defaultMaximumSize = 131_072

    /// The server's own certificate, the first of the file.
    package let leaf: Certificate
    /// The certificates after the leaf, each issuing the one before it.
    package let chain: [Certificate]
    /// The leaf and its chain as PEM `CERTIFICATE` blocks, re-encoded from their DER: no text around them, no key.
    package let certificateChainPEM: String
    /// The private key as a PKCS#8 `PRIVATE KEY` block (whatever form it was uploaded in).
    package let privateKeyPEM: String
    /// What the web UI and the REST API show of the leaf.
    package let summary: CertificateSummary

    /// Reads and checks an uploaded PEM file.
    ///
    /// The file holds `CERTIFICATE` blocks (the first is the leaf, each next one the issuer of the one before) and
    /// exactly one unencrypted private key (`PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`), in any order;
    /// text outside the blocks is ignored, CRLF line endings are accepted. The key must be RSA of 2048 bits or
    /// more or ECDSA P-256 / P-384, and must belong to the leaf. Expiry is not checked here: the summary shows the
    /// dates, and whether an expired certificate may be saved is the caller's decision.
    /// - Throws: `PKIError` naming what is wrong and where (the line of the block at fault, the position of a
    ///   certificate in the chain).
    package static func parse(
        pem: [UInt8],
        maximumSize: Int = defaultMaximumSize
    ) throws(PKIError) -> CertificateKeyBundle {
        guard pem.count <= maximumSize else {
            throw PKIError(
                .fileTooLarge,
                "the file is \(pem.count) bytes, more than the limit of \(maximumSize) bytes; a certificate chain "
                    + "and its key take a few kilobytes"
            )
        }
        var certificateBlocks: [PEMBlock] = []
        var keyBlocks: [PEMBlock] = []
        for block in try PEMReader.blocks(in: pem) {
            switch block.label {
            case "CERTIFICATE":
                certificateBlocks.append(block)
            case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
                if block.hasEncryptionHeaders { throw encrypted(block) }
                keyBlocks.append(block)
            case "ENCRYPTED PRIVATE KEY":
                throw encrypted(block)
            case "EC PARAMETERS":
                // `openssl ecparam -genkey` writes the curve before the key by default; the key names it again.
                continue
            case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
                throw PKIError(
                    .unsupportedBlock,
                    "the \(block.label) block at line \(block.line) is a certificate signing request, not a "
                        + "certificate: upload the certificate the CA issued for it"
                )
            default:
                throw PKIError(
                    .unsupportedBlock,
                    "the file holds a \(block.label) block (line \(block.line)), which a web-server profile does not "
                        + "use: only CERTIFICATE blocks and one PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block "
                        + "are accepted"
                )
            }
        }
        guard !certificateBlocks.isEmpty else {
            throw PKIError(.noCertificate, "the file holds no CERTIFICATE block: add the server certificate")
        }
        guard let keyBlock = keyBlocks.first else {
            throw PKIError(
                .noPrivateKey,
                "the file holds no private key: add the PRIVATE KEY block of the certificate after it"
            )
        }
        guard keyBlocks.count == 1 else {
            let lines = keyBlocks.map { String($0.line) }.joined(separator: ", ")
            throw PKIError(
                .multiplePrivateKeys,
                "the file holds \(keyBlocks.count) private keys (blocks at lines \(lines)); keep only the one of "
                    + "the certificate"
            )
        }
        // The key before the certificates: swift-certificates refuses to decode a certificate with an RSA key below
        // 2048 bits, and "the key is RSA 1024, too weak" tells the operator more than a decoding error.
        let key = try PrivateKeyReader.load(keyBlock)

        var certificates: [Certificate] = []
        for (index, block) in certificateBlocks.enumerated() {
            do {
                certificates.append(try Certificate(derEncoded: block.der))
            } catch {
                throw PKIError(
                    .malformedCertificate,
                    "the \(position(index)) (block at line \(block.line)) does not decode as an X.509 "
                        + "certificate: \(error)"
                )
            }
        }
        let leaf = certificates[0]

        guard key.key.publicKey == leaf.publicKey else {
            throw PKIError(
                .keyMismatch,
                "the private key does not belong to the certificate \(leaf.subject) (the key is \(key.description), "
                    + "the certificate's is \(CertificateSummary.describe(leaf.publicKey)))"
            )
        }

        for index in certificates.indices.dropLast() {
            let certificate = certificates[index]
            let issuer = certificates[index + 1]
            guard certificate.issuer == issuer.subject else {
                throw PKIError(
                    .brokenChain,
                    "the chain is broken after the \(position(index)): it is issued by \(certificate.issuer), but "
                        + "the next certificate is \(issuer.subject); put the certificates in order, leaf first, "
                        + "each followed by its issuer"
                )
            }
            guard issuer.publicKey.isValidSignature(certificate.signature, for: certificate) else {
                throw PKIError(
                    .brokenChain,
                    "the chain is broken after the \(position(index)): its signature does not verify with the key "
                        + "of the next certificate \(issuer.subject), although the names match"
                )
            }
        }

        let leafDER = certificateBlocks[0].der
        return CertificateKeyBundle(
            leaf: leaf,
            chain: Array(certificates.dropFirst()),
            certificateChainPEM: certificateBlocks.map {
                PEMDocument(type: "CERTIFICATE", derBytes: $0.der).pemString + "\n"
            }.joined(),
            privateKeyPEM: key.pkcs8PEM.hasSuffix("\n") ? key.pkcs8PEM : key.pkcs8PEM + "\n",
            summary: try CertificateSummary(leaf, der: leafDER)
        )
    }

    /// Reads and checks an uploaded PEM file given as text; see `parse(pem:maximumSize:)` for `[UInt8]`.
    package static func parse(
        pem: String,
        maximumSize: Int = defaultMaximumSize
    ) throws(PKIError) -> CertificateKeyBundle {
        try parse(pem: Array(pem.utf8), maximumSize: maximumSize)
    }

    /// "certificate 1 (the leaf)", "certificate 2" …: positions as an operator counts them, from 1.
    private static func position(_ index: Int) -> String {
        index == 0 ? "certificate 1 (the leaf)" : "certificate \(index + 1)"
    }

    private static func encrypted(_ block: PEMBlock) -> PKIError {
        PKIError(
            .encryptedPrivateKey,
            "the private key (block at line \(block.line)) is encrypted with a passphrase, which is not supported: "
                + "decrypt it first (openssl pkey -in key.pem -out key-decrypted.pem)"
        )
    }
}
