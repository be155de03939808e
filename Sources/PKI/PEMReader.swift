import Foundation

/// One `-----BEGIN …-----` … `-----END …-----` block of a PEM file, decoded.
struct PEMBlock: Sendable {
    /// The type between `BEGIN ` and the dashes, e.g. `CERTIFICATE`.
    var label: String
    /// The decoded base64 body.
    var der: [UInt8]
    /// The 1-based line of the `BEGIN` line, for messages.
    var line: Int
    /// Whether the block has RFC 1421 headers saying it is encrypted (`Proc-Type: 4,ENCRYPTED`, `DEK-Info:`), as
    /// `openssl rsa -aes256` and `openssl ec -aes256` write them for the legacy key formats.
    var hasEncryptionHeaders: Bool
}

/// Splits a PEM file into its blocks, by hand rather than with SwiftASN1's `PEMDocument`, so that an upload is
/// refused with the line at fault, and so that what real files carry is accepted: CRLF line endings, text around
/// the blocks (`openssl x509 -text` output, PKCS#12 "Bag Attributes"), headers inside legacy key blocks.
enum PEMReader {
    static func blocks(in bytes: [UInt8]) throws(PKIError) -> [PEMBlock] {
        var blocks: [PEMBlock] = []
        // The block being read; its body and header flag are kept apart so that appending to them copies nothing.
        var open: (label: String, line: Int)?
        var body = ""
        var encrypted = false
        var lineNumber = 0
        // Split on the bytes, not on the characters: "\r\n" is one Character in Swift, never equal to "\n".
        for rawLine in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            // Invalid UTF-8 becomes U+FFFD: harmless outside a block, and refused by the base64 check inside one.
            let line = String(decoding: rawLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if let label = boundaryLabel(line, kind: "BEGIN") {
                if let current = open {
                    throw PKIError(
                        .malformedPEM,
                        "the \(current.label) block at line \(current.line) has no END line before the next BEGIN "
                            + "at line \(lineNumber)"
                    )
                }
                open = (label, lineNumber)
                body = ""
                encrypted = false
            } else if let label = boundaryLabel(line, kind: "END") {
                guard let current = open else {
                    throw PKIError(.malformedPEM, "line \(lineNumber) ends a \(label) block that was never begun")
                }
                guard label == current.label else {
                    throw PKIError(
                        .malformedPEM,
                        "the \(current.label) block at line \(current.line) ends with END \(label) at line "
                            + "\(lineNumber)"
                    )
                }
                blocks.append(try decode(current.label, line: current.line, body: body, encrypted))
                open = nil
            } else if open != nil {
                if line.contains(":") {
                    // An RFC 1421 header of a legacy key block; only whether it says "encrypted" matters.
                    let upper = line.uppercased()
                    if upper.hasPrefix("DEK-INFO:") || (upper.hasPrefix("PROC-TYPE:") && upper.contains("ENCRYPTED")) {
                        encrypted = true
                    }
                } else {
                    body += line
                }
            }
        }
        if let current = open {
            throw PKIError(
                .malformedPEM,
                "the \(current.label) block at line \(current.line) has no END line (is the file cut short?)"
            )
        }
        guard !blocks.isEmpty else {
            throw PKIError(
                .malformedPEM,
                "the file holds no PEM block (-----BEGIN CERTIFICATE----- …); a binary (DER or PKCS#12) file must "
                    + "be converted to PEM first"
            )
        }
        return blocks
    }

    /// The label of a `-----BEGIN label-----` (or END) line, nil for any other line.
    private static func boundaryLabel(_ line: String, kind: String) -> String? {
        let prefix = "-----\(kind) "
        guard line.hasPrefix(prefix), line.hasSuffix("-----"), line.count >= prefix.count + 5 else { return nil }
        let label = line.dropFirst(prefix.count).dropLast(5)
        return String(label)
    }

    private static func decode(_ label: String, line: Int, body: String, _ encrypted: Bool) throws(PKIError) -> PEMBlock
    {
        let isBase64 = body.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="):
                true
            default:
                false
            }
        }
        guard !body.isEmpty else {
            throw PKIError(.malformedPEM, "the \(label) block at line \(line) is empty")
        }
        guard isBase64, let data = Data(base64Encoded: body) else {
            throw PKIError(.malformedPEM, "the \(label) block at line \(line) is not valid base64")
        }
        return PEMBlock(label: label, der: Array(data), line: line, hasEncryptionHeaders: encrypted)
    }
}
