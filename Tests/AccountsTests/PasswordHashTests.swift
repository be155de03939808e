import Foundation
import Testing

@testable import Accounts

@Suite("Password hash")
struct PasswordHashTests {
    @Test func makeUsesTheDocumentedFormatAndCostAndVerifies() throws {
        let hash = try PasswordHash.make(password: "Correct horse 7!")
        #expect(hash.iterations == 600_000)
        #expect(hash.salt.count == 16)
        #expect(hash.hash.count == 32)
        #expect(hash.encoded.hasPrefix("$pbkdf2-sha256$600000$"))
        #expect(!hash.needsRehash)
        #expect(hash.verify("Correct horse 7!"))
        #expect(!hash.verify("Correct horse 7?"))
    }

    @Test func twoHashesOfOnePasswordHaveDifferentSalts() throws {
        let first = try Fixture.cheapHash("same", seed: 1)
        let second = try Fixture.cheapHash("same", seed: 2)
        #expect(first.salt != second.salt)
        #expect(first.hash != second.hash)
        #expect(first.verify("same") && second.verify("same"))
    }

    /// RFC 7914 §11 and the widely published PBKDF2-HMAC-SHA256 vectors (first 32 bytes).
    @Test(arguments: [
        ("passwd", "salt", 1, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"),
        ("password", "salt", 1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"),
        ("password", "salt", 2, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"),
    ])
    func derivesTheKnownPBKDF2Answer(password: String, salt: String, iterations: Int, expected: String) throws {
        let hash = try PasswordHash(password: password, salt: Array(salt.utf8), iterations: iterations)
        #expect(Secrets.hex(hash.hash) == expected)
    }

    @Test func theEncodedFormRoundTripsAsTextAndAsJSON() throws {
        let hash = try Fixture.cheapHash("пароль-Ж9")
        let parsed = try PasswordHash(encoded: hash.encoded)
        #expect(parsed == hash)
        #expect(parsed.verify("пароль-Ж9"))

        let json = try JSONEncoder().encode([hash])
        #expect(try JSONDecoder().decode([String].self, from: json) == [hash.encoded])
        #expect(try JSONDecoder().decode([PasswordHash].self, from: json) == [hash])
        #expect(hash.needsRehash)
    }

    @Test func aTamperedHashSaltOrCountNoLongerVerifies() throws {
        let hash = try Fixture.cheapHash("secret-1")
        var flippedHash = hash.hash
        flippedHash[31] ^= 0x01
        var flippedSalt = hash.salt
        flippedSalt[0] ^= 0x80
        let variants = [
            "$pbkdf2-sha256$\(hash.iterations)$\(Data(hash.salt).base64EncodedString())$"
                + Data(flippedHash).base64EncodedString(),
            "$pbkdf2-sha256$\(hash.iterations)$\(Data(flippedSalt).base64EncodedString())$"
                + Data(hash.hash).base64EncodedString(),
            "$pbkdf2-sha256$\(hash.iterations + 1)$\(Data(hash.salt).base64EncodedString())$"
                + Data(hash.hash).base64EncodedString(),
        ]
        for text in variants {
            let tampered = try PasswordHash(encoded: text)
            #expect(!tampered.verify("secret-1"), "\(text)")
        }
    }

    @Test(arguments: [
        ("", "is not of the form"),
        ("hunter2", "is not of the form"),
        ("$7$101$c2FsdA==$aGFzaA==", "is not of the form"),
        ("$pbkdf2-sha512$1000$c2FsdA==$" + String(repeating: "A", count: 43) + "=", "is not of the form"),
        ("$pbkdf2-sha256$1000$c2FsdA==", "is not of the form"),
        ("$pbkdf2-sha256$1000$c2FsdA==$x$y", "is not of the form"),
        ("$pbkdf2-sha256$$c2FsdA==$x", "is not a positive decimal integer"),
        ("$pbkdf2-sha256$-5$c2FsdA==$x", "is not a positive decimal integer"),
        ("$pbkdf2-sha256$1e3$c2FsdA==$x", "is not a positive decimal integer"),
        ("$pbkdf2-sha256$0$c2FsdA==$x", "outside 1...10000000"),
        ("$pbkdf2-sha256$10000001$c2FsdA==$x", "outside 1...10000000"),
        ("$pbkdf2-sha256$99999999999999999999999$c2FsdA==$x", "is not a positive decimal integer"),
        ("$pbkdf2-sha256$1000$!!!!$" + String(repeating: "A", count: 43) + "=", "salt is not valid"),
        ("$pbkdf2-sha256$1000$$" + String(repeating: "A", count: 43) + "=", "salt is not valid"),
        ("$pbkdf2-sha256$1000$c2FsdA==$not base64", "value is not valid base64"),
        ("$pbkdf2-sha256$1000$c2FsdA==$aGFzaA==", "is 4 bytes, expected 32"),
    ])
    func malformedEncodingsAreRefusedWithAClearMessage(text: String, expected: String) {
        #expect {
            try PasswordHash(encoded: text)
        } throws: { error in
            (error as? PasswordHashError)?.message.contains(expected) == true
        }
    }

    @Test func aMalformedHashInJSONIsADecodingError() {
        let json = Data(#"["$pbkdf2-sha256$1000$c2FsdA==$aGFzaA=="]"#.utf8)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([PasswordHash].self, from: json)
        }
    }

    @Test func composedAndDecomposedAccentsAreTheSamePassword() throws {
        let composed = "caf\u{E9}-Ünïcode"
        let decomposed = "cafe\u{301}-U\u{308}ni\u{308}code"
        #expect(composed == decomposed)
        #expect(Array(composed.utf8) != Array(decomposed.utf8))
        let hash = try Fixture.cheapHash(composed)
        #expect(hash.verify(decomposed))
        #expect(!hash.verify("cafe-Unicode"))
    }

    @Test func hashingRefusesAnEmptySaltAndAnOutOfRangeCount() {
        #expect(throws: PasswordHashError.self) { try PasswordHash(password: "x", salt: [], iterations: 1) }
        #expect(throws: PasswordHashError.self) { try PasswordHash(password: "x", salt: [1], iterations: 0) }
        #expect(throws: PasswordHashError.self) {
            try PasswordHash(password: "x", salt: [1], iterations: PasswordHash.maximumIterations + 1)
        }
    }
}
