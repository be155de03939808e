import Foundation
import RampartModel
import Testing

@testable import Accounts

@Suite("Password policy")
struct PasswordPolicyTests {
    private func violations(
        _ level: PasswordPolicy.Level,
        _ password: String,
        user: String = "operator",
        previous: [PasswordHash] = [],
        common: CommonPasswords = .none
    ) -> [PasswordPolicy.Rule] {
        level.violations(password: password, userName: user, previousHashes: previous, commonPasswords: common)
    }

    @Test func eachLevelListsItsRules() {
        #expect(PasswordPolicy.Level.low.rules == [.minimumLength(8)])
        #expect(PasswordPolicy.Level.medium.rules == [.minimumLength(10), .characterClasses(3)])
        #expect(
            PasswordPolicy.Level.high.rules == [
                .minimumLength(14), .characterClasses(4), .notContainingUserName, .notCommon, .notRecentlyUsed(5),
            ])
    }

    @Test func levelsAreStoredAsLowMediumHigh() throws {
        let json = try JSONEncoder().encode(PasswordPolicy.Level.allCases)
        #expect(String(decoding: json, as: UTF8.self) == #"["low","medium","high"]"#)
        #expect(try JSONDecoder().decode([PasswordPolicy.Level].self, from: json) == PasswordPolicy.Level.allCases)
    }

    // MARK: Low

    @Test func lowNeedsEightCharacters() {
        #expect(violations(.low, "abcdefg") == [.minimumLength(8)])
        #expect(violations(.low, "") == [.minimumLength(8)])
        #expect(violations(.low, "abcdefgh").isEmpty)
        #expect(violations(.low, "password").isEmpty)  // Low checks nothing else
    }

    @Test func lengthCountsCharactersNotBytes() {
        // 8 Cyrillic letters are 16 UTF-8 bytes; 7 letters are still too short.
        #expect(violations(.low, "пароль12").isEmpty)
        #expect(violations(.low, "парольё") == [.minimumLength(8)])
        // "ё" written as "е" plus a combining diaeresis is one character, not two.
        #expect(violations(.low, String(repeating: "е\u{308}", count: 7)) == [.minimumLength(8)])
        #expect(violations(.low, "🔒🔒🔒🔒🔒🔒🔒") == [.minimumLength(8)])
    }

    // MARK: Medium

    @Test func mediumNeedsTenCharactersOfThreeClasses() {
        #expect(violations(.medium, "Abcdefgh12").isEmpty)  // lower, upper, digit
        #expect(violations(.medium, "abcdefgh!1").isEmpty)  // lower, other, digit
        #expect(violations(.medium, "ABCDEFGH-x").isEmpty)  // upper, other, lower
        #expect(violations(.medium, "Abcdefgh1") == [.minimumLength(10)])
        #expect(violations(.medium, "abcdefghi1") == [.characterClasses(3)])
        #expect(violations(.medium, "abcdefghijklmnop") == [.characterClasses(3)])
        #expect(violations(.medium, "abc") == [.minimumLength(10), .characterClasses(3)])
        #expect(violations(.medium, "Пароль-для-шлюза").isEmpty)  // Cyrillic letters have case
    }

    // MARK: High

    private let good = "Correct-Horse7Battery"

    @Test func highAcceptsALongVariedUncommonNewPassword() throws {
        let previous = try (1...5).map { try Fixture.cheapHash("Old-Password\($0)x", seed: UInt64($0)) }
        #expect(
            violations(.high, good, user: "admin", previous: previous, common: CommonPasswords(["password"])).isEmpty)
    }

    @Test func highNeedsFourteenCharacters() {
        #expect(violations(.high, "Correct-Hors7") == [.minimumLength(14)])
        #expect(violations(.high, "Correct-Horse7").isEmpty)
    }

    @Test func highNeedsAllFourClasses() {
        #expect(violations(.high, "correct-horse7battery") == [.characterClasses(4)])
        #expect(violations(.high, "CorrectHorse7Battery") == [.characterClasses(4)])
        #expect(violations(.high, "Correct-HorseBattery") == [.characterClasses(4)])
        #expect(violations(.high, "Correct horse 7 battery").isEmpty)  // a space is an "other" character
    }

    @Test func highRefusesTheUserNameInAnyCase() {
        #expect(violations(.high, "My-ADMIN-Pass-77", user: "admin") == [.notContainingUserName])
        #expect(violations(.high, "My-admin-Pass-77", user: "Admin") == [.notContainingUserName])
        #expect(violations(.high, "My-adm1n-Pass-77", user: "admin").isEmpty)
        #expect(violations(.high, good, user: "").isEmpty)
    }

    @Test func highRefusesCommonPasswordsInAnyCase() {
        let common = CommonPasswords(["correct-horse7battery"])
        #expect(violations(.high, good, common: common) == [.notCommon])
        #expect(violations(.medium, good, common: common).isEmpty)  // only High checks the list
    }

    @Test func highRefusesTheLastFivePasswords() throws {
        let previous = try [good, "Other-Pass-111", "Other-Pass-222", "Other-Pass-333", "Other-Pass-444"]
            .enumerated().map { try Fixture.cheapHash($0.element, seed: UInt64($0.offset)) }
        #expect(violations(.high, good, previous: previous) == [.notRecentlyUsed(5)])
        #expect(violations(.high, "Other-Pass-444", previous: previous) == [.notRecentlyUsed(5)])
        #expect(violations(.high, "Other-Pass-555", previous: previous).isEmpty)
        // Only the last five count: a sixth, older hash is not checked.
        let sixth = try Fixture.cheapHash("Ancient-Pass-666", seed: 9)
        #expect(violations(.high, "Ancient-Pass-666", previous: previous + [sixth]).isEmpty)
    }

    @Test func everyBrokenRuleIsReported() throws {
        let previous = [try Fixture.cheapHash("admin")]
        #expect(
            violations(.high, "admin", user: "admin", previous: previous, common: CommonPasswords(["admin"])) == [
                .minimumLength(14), .characterClasses(4), .notContainingUserName, .notCommon, .notRecentlyUsed(5),
            ])
    }

    // MARK: Character classes

    @Test(
        arguments: [
            ("a", .lowercase), ("ж", .lowercase), ("ß", .lowercase), ("Z", .uppercase), ("Ж", .uppercase),
            ("7", .digit), ("٣", .digit), ("-", .other), (" ", .other), ("€", .other), ("中", .other), ("🔒", .other),
        ] as [(Character, PasswordPolicy.CharacterClass)])
    func charactersFallIntoTheirClass(character: Character, expected: PasswordPolicy.CharacterClass) {
        #expect(PasswordPolicy.CharacterClass(character) == expected)
    }

    // MARK: Texts

    @Test func everyRuleHasDistinctEnglishAndRussianTexts() {
        let rules = Set(PasswordPolicy.Level.allCases.flatMap(\.rules))
        #expect(rules.count == 8)
        for language in Language.allCases {
            let texts = rules.map { $0.text(in: language) }
            #expect(Set(texts).count == rules.count, "\(language)")
        }
        for rule in rules {
            #expect(rule.text(in: .english).unicodeScalars.allSatisfy { $0.isASCII }, "\(rule)")
            #expect(rule.text(in: .russian).contains { ("а"..."я").contains($0.lowercased()) }, "\(rule)")
        }
    }

    @Test func textsSayTheNumbers() {
        #expect(PasswordPolicy.Rule.minimumLength(8).text(in: .english) == "At least 8 characters")
        #expect(PasswordPolicy.Rule.minimumLength(8).text(in: .russian) == "Не менее 8 символов")
        #expect(PasswordPolicy.Rule.minimumLength(14).text(in: .russian) == "Не менее 14 символов")
        #expect(PasswordPolicy.Rule.minimumLength(21).text(in: .russian) == "Не менее 21 символа")
        #expect(PasswordPolicy.Rule.minimumLength(11).text(in: .russian) == "Не менее 11 символов")
        #expect(PasswordPolicy.Rule.characterClasses(3).text(in: .russian).hasPrefix("Не менее 3 из четырёх видов"))
        #expect(PasswordPolicy.Rule.characterClasses(4).text(in: .english).hasPrefix("All four kinds"))
        #expect(PasswordPolicy.Rule.notRecentlyUsed(5).text(in: .english).contains("last 5 passwords"))
        #expect(PasswordPolicy.Rule.notRecentlyUsed(5).text(in: .russian).contains("5 последних паролей"))
    }
}
