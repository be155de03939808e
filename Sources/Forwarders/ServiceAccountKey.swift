import Crypto
import Foundation
import _CryptoExtras

/// Why a service-account key file cannot be used.
package enum ServiceAccountError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file is not a JSON object.
    case notJSON(reason: String)
    /// A field the key needs is absent or empty.
    case missingField(String)
    /// A field is present but unusable.
    case invalidField(String, reason: String)
    /// The assertion could not be signed.
    case signingFailed(reason: String)

    package var description: String {
        switch self {
        case .notJSON(let reason): "service account key: not a JSON object (\(reason))"
        case .missingField(let field): "service account key: the field \"\(field)\" is missing or empty"
        case .invalidField(let field, let reason): "service account key: the field \"\(field)\" is invalid: \(reason)"
        case .signingFailed(let reason): "service account key: cannot sign the assertion: \(reason)"
        }
    }
}

/// A service-account key as the cloud console exports it (JSON), enough to obtain OAuth 2.0 access tokens by the
/// JWT bearer grant (RFC 7523): the gateway signs an assertion with the private key and trades it for a token.
///
/// The private key is kept as its PEM text so that the value stays `Hashable` and comparable with a stored
/// configuration; it is checked once here and parsed again for each assertion (about once an hour).
package struct ServiceAccountKey: Sendable, Hashable {
    /// The OAuth scope that allows sending push messages.
    package static let messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

    package var projectID: String
    package var privateKeyID: String
    package var privateKeyPEM: String
    package var clientEmail: String
    package var tokenURI: String

    package init(projectID: String, privateKeyID: String, privateKeyPEM: String, clientEmail: String, tokenURI: String)
    {
        self.projectID = projectID
        self.privateKeyID = privateKeyID
        self.privateKeyPEM = privateKeyPEM
        self.clientEmail = clientEmail
        self.tokenURI = tokenURI
    }

    /// Reads a key file's JSON (`type` "service_account", `project_id`, `private_key_id`, `private_key`,
    /// `client_email`, `token_uri`; other fields are ignored).
    /// - Throws: `ServiceAccountError` naming the first field that is missing or invalid.
    package init(json: Data) throws(ServiceAccountError) {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
                throw ServiceAccountError.notJSON(reason: "the top level is not an object")
            }
            object = parsed
        } catch let error as ServiceAccountError {
            throw error
        } catch {
            throw .notJSON(reason: "\(error.localizedDescription)")
        }
        func string(_ field: String) throws(ServiceAccountError) -> String {
            guard let value = object[field] else { throw .missingField(field) }
            guard let text = value as? String else { throw .invalidField(field, reason: "not a string") }
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .missingField(field) }
            return text
        }
        let type = try string("type")
        guard type == "service_account" else {
            throw .invalidField("type", reason: "\"\(type)\" is not \"service_account\"")
        }
        self.projectID = try string("project_id")
        self.privateKeyID = try string("private_key_id")
        self.privateKeyPEM = try string("private_key")
        self.clientEmail = try string("client_email")
        self.tokenURI = try string("token_uri")
        guard let url = URL(string: tokenURI), let scheme = url.scheme?.lowercased(),
            ["https", "http"].contains(scheme),
            url.host != nil
        else {
            throw .invalidField("token_uri", reason: "\"\(tokenURI)\" is not an http(s) URL")
        }
        _ = try Self.privateKey(privateKeyPEM)
    }

    /// The signed JWT (RS256) that asserts this account's identity to `audience` (the token endpoint) for `scope`,
    /// valid for one hour from `now`.
    package func signedAssertion(
        scope: String = Self.messagingScope, audience: String, now: Date
    ) throws(ServiceAccountError) -> String {
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        let header = Header(alg: "RS256", typ: "JWT", kid: privateKeyID)
        let claims = Claims(iss: clientEmail, scope: scope, aud: audience, iat: issuedAt, exp: issuedAt + 3600)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let signingInput: String
        do {
            signingInput =
                "\(Base64URL.encode(try encoder.encode(header))).\(Base64URL.encode(try encoder.encode(claims)))"
        } catch {
            throw .signingFailed(reason: "\(error)")
        }
        let key = try Self.privateKey(privateKeyPEM)
        do {
            let signature = try key.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5)
            return "\(signingInput).\(Base64URL.encode(signature.rawRepresentation))"
        } catch {
            throw .signingFailed(reason: "\(error)")
        }
    }

    private struct Header: Encodable {
        var alg: String
        var typ: String
        var kid: String
    }

    private struct Claims: Encodable {
        var iss: String
        var scope: String
        var aud: String
        var iat: Int64
        var exp: Int64
    }

    private static func privateKey(_ pem: String) throws(ServiceAccountError) -> _RSA.Signing.PrivateKey {
        do {
            return try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw .invalidField("private_key", reason: "not an RSA private key of 2048 bits or more in PEM (\(error))")
        }
    }
}

/// Base64url without padding (RFC 7515 §2), the encoding of every JWT part.
enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
