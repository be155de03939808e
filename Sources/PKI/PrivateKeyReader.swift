import Crypto
import SwiftASN1
import X509
import _CryptoExtras

/// A private key read from a PEM block and found fit to serve TLS with.
struct LoadedPrivateKey: Sendable {
    var key: Certificate.PrivateKey
    /// The key as a PKCS#8 `PRIVATE KEY` PEM block, the one form every TLS library reads.
    var pkcs8PEM: String
    /// "RSA 2048", "ECDSA P-256" …
    var description: String
}

/// Reads the three private key forms that OpenSSL writes unencrypted (PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY`,
/// PKCS#1 `RSA PRIVATE KEY`), and refuses keys a browser would not accept or should not trust.
///
/// The key's type and size are read from its ASN.1 structure before any crypto library sees it, so that a refusal
/// can name them ("RSA 1024", "ECDSA P-521", "Ed25519") instead of repeating a library's generic "invalid key".
enum PrivateKeyReader {
    /// Below this an RSA key is refused as weak (NIST SP 800-131A; browsers refuse smaller ones too).
    static let minimumRSABits = 2048
    /// Above this BoringSSL, which NIOSSL is built on, refuses RSA keys.
    static let maximumRSABits = 16384

    static func load(_ block: PEMBlock) throws(PKIError) -> LoadedPrivateKey {
        switch block.label {
        case "RSA PRIVATE KEY":
            return try loadRSA(pkcs1: block.der, block: block)
        case "EC PRIVATE KEY":
            let curve = try sec1Curve(block.der, block: block)
            return try loadEC(der: block.der, curve: curve, block: block)
        default:
            let info = try pkcs8Envelope(block.der, block: block)
            switch info.algorithm {
            case OID.rsaEncryption:
                return try loadRSA(pkcs1: info.privateKey, block: block)
            case OID.ecPublicKey:
                let curve: ASN1ObjectIdentifier
                if let parameters = info.parameters, let oid = try? ASN1ObjectIdentifier(derEncoded: parameters) {
                    curve = oid
                } else {
                    // PKCS#8 puts the curve in the algorithm parameters; the inner SEC1 key may repeat it.
                    curve = try sec1Curve(info.privateKey, block: block)
                }
                return try loadEC(der: block.der, curve: curve, block: block)
            default:
                throw unsupported(algorithmName(info.algorithm), block: block)
            }
        }
    }

    // MARK: RSA

    private static func loadRSA(pkcs1: [UInt8], block: PEMBlock) throws(PKIError) -> LoadedPrivateKey {
        let bits: Int
        do {
            // RSAPrivateKey ::= SEQUENCE { version INTEGER, modulus INTEGER, publicExponent INTEGER, … }
            let modulus = try DER.sequence(try DER.parse(pkcs1), identifier: .sequence) { nodes in
                _ = try ArraySlice<UInt8>(derEncoded: &nodes)
                let modulus = try ArraySlice<UInt8>(derEncoded: &nodes)
                while nodes.next() != nil {}
                return modulus
            }
            bits = bitCount(modulus)
        } catch {
            throw malformed("an RSA key", block: block, error)
        }
        guard bits >= minimumRSABits else {
            throw PKIError(
                .weakKey,
                "the private key (block at line \(block.line)) is RSA \(bits), which is too weak: RSA keys need "
                    + "at least \(minimumRSABits) bits (or use ECDSA P-256)"
            )
        }
        guard bits <= maximumRSABits else {
            throw unsupported(
                "RSA \(bits)", block: block, reason: "the TLS library takes at most \(maximumRSABits) bits")
        }
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(derRepresentation: pkcs1)
        } catch {
            throw malformed("an RSA key", block: block, error)
        }
        return LoadedPrivateKey(
            key: Certificate.PrivateKey(key),
            pkcs8PEM: key.pkcs8PEMRepresentation,
            description: "RSA \(key.keySizeInBits)"
        )
    }

    /// The bit length of a big-endian unsigned integer (its leading zero bytes and bits not counted).
    private static func bitCount(_ bytes: ArraySlice<UInt8>) -> Int {
        let significant = bytes.drop { $0 == 0 }
        guard let first = significant.first else { return 0 }
        return (significant.count - 1) * 8 + (8 - first.leadingZeroBitCount)
    }

    // MARK: ECDSA

    private static func loadEC(
        der: [UInt8],
        curve: ASN1ObjectIdentifier,
        block: PEMBlock
    ) throws(PKIError) -> LoadedPrivateKey {
        // swift-crypto's `derRepresentation` initializers read both PKCS#8 and SEC1, and write PKCS#8.
        do {
            switch curve {
            case OID.p256:
                let key = try P256.Signing.PrivateKey(derRepresentation: der)
                return LoadedPrivateKey(
                    key: Certificate.PrivateKey(key), pkcs8PEM: key.pemRepresentation, description: "ECDSA P-256")
            case OID.p384:
                let key = try P384.Signing.PrivateKey(derRepresentation: der)
                return LoadedPrivateKey(
                    key: Certificate.PrivateKey(key), pkcs8PEM: key.pemRepresentation, description: "ECDSA P-384")
            default:
                break
            }
        } catch {
            throw malformed("an ECDSA key", block: block, error)
        }
        throw unsupported("ECDSA \(curveName(curve))", block: block)
    }

    /// The curve named in a SEC1 `ECPrivateKey`:
    /// `SEQUENCE { version INTEGER (1), privateKey OCTET STRING, [0] parameters OPTIONAL, [1] publicKey OPTIONAL }`.
    private static func sec1Curve(_ der: [UInt8], block: PEMBlock) throws(PKIError) -> ASN1ObjectIdentifier {
        let curve: ASN1ObjectIdentifier?
        do {
            curve = try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
                guard try Int(derEncoded: &nodes) == 1 else {
                    throw ASN1Error.invalidASN1Object(reason: "SEC1 version is not 1")
                }
                _ = try ASN1OctetString(derEncoded: &nodes)
                let curve = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) {
                    node in try ASN1ObjectIdentifier(derEncoded: node)
                }
                while nodes.next() != nil {}
                return curve
            }
        } catch {
            throw malformed("an EC key", block: block, error)
        }
        guard let curve else {
            throw PKIError(
                .malformedPrivateKey,
                "the EC private key (block at line \(block.line)) does not name its curve"
            )
        }
        return curve
    }

    // MARK: PKCS#8

    private struct PKCS8Envelope {
        var algorithm: ASN1ObjectIdentifier
        var parameters: ASN1Node?
        var privateKey: [UInt8]
    }

    /// `PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm AlgorithmIdentifier, privateKey OCTET STRING, … }`
    /// (version 1, RFC 5958's `OneAsymmetricKey`, adds a public key after it).
    private static func pkcs8Envelope(_ der: [UInt8], block: PEMBlock) throws(PKIError) -> PKCS8Envelope {
        do {
            return try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
                let version = try Int(derEncoded: &nodes)
                guard version == 0 || version == 1 else {
                    throw ASN1Error.invalidASN1Object(reason: "PKCS#8 version \(version)")
                }
                guard let algorithmNode = nodes.next() else {
                    throw ASN1Error.invalidASN1Object(reason: "PKCS#8 without an algorithm")
                }
                let (algorithm, parameters) = try DER.sequence(algorithmNode, identifier: .sequence) { inner in
                    let algorithm = try ASN1ObjectIdentifier(derEncoded: &inner)
                    let parameters = inner.next()
                    while inner.next() != nil {}
                    return (algorithm, parameters)
                }
                let privateKey = try ASN1OctetString(derEncoded: &nodes)
                while nodes.next() != nil {}
                return PKCS8Envelope(algorithm: algorithm, parameters: parameters, privateKey: Array(privateKey.bytes))
            }
        } catch {
            throw malformed("a PKCS#8 key", block: block, error)
        }
    }

    // MARK: Names and errors

    private enum OID {
        static let rsaEncryption: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 1, 1]
        static let rsassaPSS: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 1, 10]
        static let dsa: ASN1ObjectIdentifier = [1, 2, 840, 10040, 4, 1]
        static let ecPublicKey: ASN1ObjectIdentifier = [1, 2, 840, 10045, 2, 1]
        static let x25519: ASN1ObjectIdentifier = [1, 3, 101, 110]
        static let x448: ASN1ObjectIdentifier = [1, 3, 101, 111]
        static let ed25519: ASN1ObjectIdentifier = [1, 3, 101, 112]
        static let ed448: ASN1ObjectIdentifier = [1, 3, 101, 113]
        static let p256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 3, 1, 7]
        static let p384: ASN1ObjectIdentifier = [1, 3, 132, 0, 34]
        static let p521: ASN1ObjectIdentifier = [1, 3, 132, 0, 35]
        static let secp256k1: ASN1ObjectIdentifier = [1, 3, 132, 0, 10]
    }

    private static func algorithmName(_ oid: ASN1ObjectIdentifier) -> String {
        switch oid {
        case OID.rsassaPSS: "RSA-PSS"
        case OID.dsa: "DSA"
        case OID.x25519: "X25519"
        case OID.x448: "X448"
        case OID.ed25519: "Ed25519"
        case OID.ed448: "Ed448"
        default: "algorithm \(oid)"
        }
    }

    private static func curveName(_ oid: ASN1ObjectIdentifier) -> String {
        switch oid {
        case OID.p256: "P-256"
        case OID.p384: "P-384"
        case OID.p521: "P-521"
        case OID.secp256k1: "secp256k1"
        default: "curve \(oid)"
        }
    }

    private static func unsupported(_ name: String, block: PEMBlock, reason: String? = nil) -> PKIError {
        PKIError(
            .unsupportedKey,
            "the private key (block at line \(block.line)) is \(name), which is not supported"
                + (reason.map { " (\($0))" } ?? "") + ": use RSA (2048 bits or more) or ECDSA P-256 or P-384"
        )
    }

    private static func malformed(_ what: String, block: PEMBlock, _ error: any Error) -> PKIError {
        PKIError(
            .malformedPrivateKey,
            "the \(block.label) block at line \(block.line) does not decode as \(what): \(error)"
        )
    }
}
