import Foundation
import Testing

@testable import Accounts

@Suite("API tokens")
struct APITokenTests {
    @Test func generateMakesAPrefixedSecretAndARecordWithoutIt() throws {
        let (secret, record) = APIToken.generate(name: "central server", now: Fixture.now)
        #expect(secret.hasPrefix("rpt_"))
        #expect(secret.count == 4 + 43)
        #expect(secret.dropFirst(4).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        #expect(record.id.count == 12 && record.id.allSatisfy(\.isHexDigit))
        #expect(record.name == "central server")
        #expect(record.created == Fixture.now)
        #expect(record.secretSHA256.count == 64 && record.secretSHA256.allSatisfy(\.isHexDigit))
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        #expect(!json.contains(String(secret.dropFirst(4))))
    }

    @Test func theStoredDigestIsTheSHA256OfTheSecret() {
        // FIPS 180-2 test vector.
        #expect(APITokenRecord.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let (secret, record) = APIToken.generate(name: "t", now: Fixture.now)
        #expect(record.secretSHA256 == APITokenRecord.digest(secret))
    }

    @Test func onlyTheExactSecretMatches() {
        let (secret, record) = APIToken.generate(name: "backup", now: Fixture.now)
        #expect(record.matches(secret))
        #expect(!record.matches(""))
        #expect(!record.matches(String(secret.dropLast())))
        #expect(!record.matches(secret + "x"))
        #expect(!record.matches(secret.uppercased()))
        #expect(!record.matches(record.secretSHA256))
        let (other, _) = APIToken.generate(name: "backup", now: Fixture.now)
        #expect(other != secret)
        #expect(!record.matches(other))
    }

    @Test func anInjectedGeneratorMakesTokensRepeatable() {
        var first = SeededGenerator(seed: 3)
        var second = SeededGenerator(seed: 3)
        let one = APIToken.generate(name: "n", now: Fixture.now, using: &first)
        let two = APIToken.generate(name: "n", now: Fixture.now, using: &second)
        #expect(one.secret == two.secret && one.record == two.record)
    }

    @Test func recordsRoundTripThroughJSON() throws {
        let (_, record) = APIToken.generate(name: "n", now: Fixture.now)
        let decoded = try JSONDecoder().decode(APITokenRecord.self, from: try JSONEncoder().encode(record))
        #expect(decoded == record)
    }
}
