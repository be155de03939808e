import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import Forwarders

@Suite struct PushServiceAccountKeyTests {
    /// A key file as the console exports it, with `key`'s private key (PKCS#8, as the console writes it).
    static func keyFile(
        _ key: _RSA.Signing.PrivateKey, tokenURI: String = "https://oauth2.example.test/token",
        replacing overrides: [String: Any?] = [:]
    ) throws -> Data {
        var object: [String: Any] = [
            "type": "service_account", "project_id": "rampart-test", "private_key_id": "key-id-1",
            "private_key": key.pkcs8PEMRepresentation, "client_email": "push@rampart-test.example.test",
            "client_id": "1234", "token_uri": tokenURI,
        ]
        for (name, value) in overrides { object[name] = value }
        return try JSONSerialization.data(withJSONObject: object)
    }

    private func parseError(_ data: Data) -> ServiceAccountError? {
        do {
            _ = try ServiceAccountKey(json: data)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsTheFieldsOfAKeyFile() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let account = try ServiceAccountKey(json: Self.keyFile(key))
        #expect(account.projectID == "rampart-test")
        #expect(account.privateKeyID == "key-id-1")
        #expect(account.clientEmail == "push@rampart-test.example.test")
        #expect(account.tokenURI == "https://oauth2.example.test/token")
        #expect(account.privateKeyPEM == key.pkcs8PEMRepresentation)
    }

    @Test func errorsNameTheFieldAtFault() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        for field in ["type", "project_id", "private_key_id", "private_key", "client_email", "token_uri"] {
            #expect(parseError(try Self.keyFile(key, replacing: [field: nil])) == .missingField(field))
            #expect(parseError(try Self.keyFile(key, replacing: [field: " "])) == .missingField(field))
        }
        #expect(
            parseError(try Self.keyFile(key, replacing: ["project_id": 42]))
                == .invalidField("project_id", reason: "not a string"))
        guard case .invalidField("type", _) = parseError(try Self.keyFile(key, replacing: ["type": "user"])) else {
            Issue.record("a key of another type is accepted")
            return
        }
        guard
            case .invalidField("private_key", _) = parseError(
                try Self.keyFile(
                    key, replacing: ["private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]))
        else {
            Issue.record("an unreadable private key is accepted")
            return
        }
        guard
            case .invalidField("token_uri", _) = parseError(
                try Self.keyFile(key, replacing: ["token_uri": "oauth2 token endpoint"]))
        else {
            Issue.record("a token_uri that is not a URL is accepted")
            return
        }
        guard case .notJSON = parseError(Data("not json".utf8)), case .notJSON = parseError(Data("[1]".utf8)) else {
            Issue.record("text that is not a JSON object is accepted")
            return
        }
        let message = ServiceAccountError.missingField("client_email").description
        #expect(message.contains("client_email"))
    }

    /// The PKCS#1 form ("BEGIN RSA PRIVATE KEY") is read too.
    @Test func readsAPKCS1Key() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let account = try ServiceAccountKey(json: Self.keyFile(key, replacing: ["private_key": key.pemRepresentation]))
        let jwt = try account.signedAssertion(audience: account.tokenURI, now: Date())
        #expect(try Self.verify(jwt, with: key.publicKey) != nil)
    }

    @Test func signsAnRS256AssertionForTheTokenEndpoint() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let account = try ServiceAccountKey(json: Self.keyFile(key))
        let now = Date(timeIntervalSince1970: 1_700_000_000.7)
        let jwt = try account.signedAssertion(
            scope: ServiceAccountKey.messagingScope, audience: "https://oauth2.example.test/token", now: now)

        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        try #require(parts.count == 3)
        for part in parts { #expect(!part.contains("=") && !part.contains("+") && !part.contains("/")) }
        let headerJSON = try #require(Base64URL.decode(parts[0]))
        let header = try #require(try JSONSerialization.jsonObject(with: headerJSON) as? [String: Any])
        #expect(header["alg"] as? String == "RS256")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["kid"] as? String == "key-id-1")
        let claimsJSON = try #require(Base64URL.decode(parts[1]))
        let claims = try #require(try JSONSerialization.jsonObject(with: claimsJSON) as? [String: Any])
        #expect(claims["iss"] as? String == "push@rampart-test.example.test")
        #expect(claims["scope"] as? String == "https://www.googleapis.com/auth/firebase.messaging")
        #expect(claims["aud"] as? String == "https://oauth2.example.test/token")
        #expect((claims["iat"] as? NSNumber)?.int64Value == 1_700_000_000)
        #expect((claims["exp"] as? NSNumber)?.int64Value == 1_700_003_600)

        #expect(try Self.verify(jwt, with: key.publicKey) != nil)
        // Another key's signature, or changed claims, do not verify.
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(try Self.verify(jwt, with: other.publicKey) == nil)
        let forged = Base64URL.encode(Data(#"{"iss":"mallory"}"#.utf8))
        #expect(try Self.verify([parts[0], forged, parts[2]].joined(separator: "."), with: key.publicKey) == nil)
    }

    /// The claims of `jwt` when its RS256 signature verifies with `publicKey`.
    static func verify(_ jwt: String, with publicKey: _RSA.Signing.PublicKey) throws -> [String: Any]? {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let signature = Base64URL.decode(parts[2]), let claims = Base64URL.decode(parts[1])
        else { return nil }
        let valid = publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: Data("\(parts[0]).\(parts[1])".utf8),
            padding: .insecurePKCS1v1_5)
        guard valid else { return nil }
        return try JSONSerialization.jsonObject(with: claims) as? [String: Any]
    }
}
