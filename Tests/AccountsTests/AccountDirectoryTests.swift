import Foundation
import RampartModel
import Testing

@testable import Accounts

@Suite("Account directory")
struct AccountDirectoryTests {
    private let t0 = Fixture.now
    private let cheap = Fixture.cheapIterations

    private func initial(_ password: String = "Initial-Pass-1") throws -> AccountDirectory {
        try AccountDirectory.initial(adminPassword: password, now: t0, iterations: cheap)
    }

    private func change(
        _ directory: inout AccountDirectory, from current: String, to new: String, at now: Date? = nil,
        common: CommonPasswords = .none
    ) throws(AccountError) {
        try directory.changePassword(
            user: "admin", current: current, new: new, commonPasswords: common, now: now ?? t0, iterations: cheap)
    }

    @Test func theInitialDirectoryHasAnAdminWhoMustChangeThePassword() throws {
        let directory = try initial()
        #expect(directory.users.count == 1)
        let admin = try #require(directory.user(named: "admin"))
        #expect(admin.mustChangePassword)
        #expect(admin.language == .english)
        #expect(admin.previousPasswordHashes.isEmpty)
        #expect(admin.created == t0 && admin.passwordChanged == t0)
        #expect(directory.policy == .medium)
        #expect(directory.tokens.isEmpty)
        #expect(directory.authenticate(user: "admin", password: "Initial-Pass-1") == admin)
        #expect(directory.authenticate(user: "admin", password: "initial-pass-1") == nil)
        #expect(directory.authenticate(user: "Admin", password: "Initial-Pass-1") == nil)
    }

    /// The one test at the real cost: the public entry point hashes with 600,000 iterations.
    @Test func theInitialPasswordIsHashedAtFullCost() throws {
        let directory = try AccountDirectory.initial(adminPassword: "Initial-Pass-1", now: t0)
        let admin = try #require(directory.user(named: "admin"))
        #expect(admin.passwordHash.iterations == 600_000)
        #expect(directory.authenticate(user: "admin", password: "Initial-Pass-1") != nil)
    }

    @Test func anUnknownUserDoesNotAuthenticate() throws {
        #expect(try initial().authenticate(user: "root", password: "Initial-Pass-1") == nil)
    }

    @Test func theInitialPasswordMustHaveEightCharacters() {
        #expect(throws: AccountError.policyViolated([.minimumLength(8)])) {
            try AccountDirectory.initial(adminPassword: "admin12", now: t0, iterations: cheap)
        }
    }

    @Test func refusedChangesChangeNothing() throws {
        var directory = try initial()
        let before = directory
        #expect(throws: AccountError.wrongCurrentPassword) {
            try change(&directory, from: "wrong", to: "New-Password-2")
        }
        #expect(throws: AccountError.unknownUser("root")) {
            try directory.changePassword(
                user: "root", current: "Initial-Pass-1", new: "New-Password-2", commonPasswords: .none, now: t0,
                iterations: cheap)
        }
        #expect(throws: AccountError.sameAsCurrent) {
            try change(&directory, from: "Initial-Pass-1", to: "Initial-Pass-1")
        }
        #expect(throws: AccountError.policyViolated([.minimumLength(10), .characterClasses(3)])) {
            try change(&directory, from: "Initial-Pass-1", to: "short")
        }
        #expect(directory == before)
        #expect(directory.authenticate(user: "admin", password: "Initial-Pass-1") != nil)
    }

    @Test func aSuccessfulChangeClearsTheForcedChangeAndKeepsTheOldHash() throws {
        var directory = try initial()
        let old = try #require(directory.user(named: "admin")).passwordHash
        try change(&directory, from: "Initial-Pass-1", to: "New-Password-2", at: t0.plus(60))
        let admin = try #require(directory.user(named: "admin"))
        #expect(!admin.mustChangePassword)
        #expect(admin.previousPasswordHashes == [old])
        #expect(admin.passwordChanged == t0.plus(60))
        #expect(admin.created == t0)
        #expect(directory.authenticate(user: "admin", password: "New-Password-2") != nil)
        #expect(directory.authenticate(user: "admin", password: "Initial-Pass-1") == nil)
    }

    @Test func theHistoryKeepsTheLastFivePasswordsAndHighRefusesThem() throws {
        let passwords = (0...6).map { "Password-\($0)-Aa-long" }
        var directory = try initial(passwords[0])
        directory.setPolicy(.high)
        for index in 1...6 {
            try change(&directory, from: passwords[index - 1], to: passwords[index])
        }
        let history = try #require(directory.user(named: "admin")).previousPasswordHashes
        #expect(history.count == 5)
        // Newest first: passwords 5, 4, 3, 2, 1; password 0, the initial one, is gone.
        for (hash, index) in zip(history, [5, 4, 3, 2, 1]) {
            #expect(hash.verify(passwords[index]), "\(index)")
        }
        for index in 1...5 {
            #expect(throws: AccountError.policyViolated([.notRecentlyUsed(5)]), "\(index)") {
                try change(&directory, from: passwords[6], to: passwords[index])
            }
        }
        // Password 0 (six changes back) is allowed again, and so pushes out password 1.
        try change(&directory, from: passwords[6], to: passwords[0])
        #expect(directory.authenticate(user: "admin", password: passwords[0]) != nil)
    }

    @Test func theDirectoryPolicyDecidesWhichRulesApply() throws {
        var directory = try initial()
        directory.setPolicy(.low)
        try change(&directory, from: "Initial-Pass-1", to: "password")
        directory.setPolicy(.high)
        let common = CommonPasswords(["Correct-Horse7Battery"])
        #expect(throws: AccountError.policyViolated([.notContainingUserName])) {
            try change(&directory, from: "password", to: "Correct-Admin7Battery", common: common)
        }
        #expect(throws: AccountError.policyViolated([.notCommon])) {
            try change(&directory, from: "password", to: "correct-horse7BATTERY", common: common)
        }
        #expect(throws: AccountError.policyViolated([.minimumLength(14), .characterClasses(4)])) {
            try change(&directory, from: "password", to: "password2", common: common)
        }
        try change(&directory, from: "password", to: "Staple-Horse7Battery", common: common)
    }

    @Test func theLanguageIsSetPerUser() throws {
        var directory = try initial()
        try directory.setLanguage(.russian, for: "admin")
        #expect(directory.user(named: "admin")?.language == .russian)
        #expect(throws: AccountError.unknownUser("root")) { try directory.setLanguage(.english, for: "root") }
    }

    @Test func tokensAreAddedFoundAndRemoved() throws {
        var directory = try initial()
        let (secret, record) = APIToken.generate(name: "central", now: t0)
        let (otherSecret, other) = APIToken.generate(name: "backup", now: t0)
        try directory.addToken(record)
        try directory.addToken(other)
        #expect(directory.token(matching: secret) == record)
        #expect(directory.token(matching: otherSecret) == other)
        #expect(directory.token(matching: "rpt_nope") == nil)

        #expect(throws: AccountError.duplicateTokenName("central")) {
            try directory.addToken(APIToken.generate(name: "central", now: t0).record)
        }
        var sameID = APIToken.generate(name: "third", now: t0).record
        sameID.id = record.id
        #expect(throws: AccountError.duplicateTokenID(record.id)) { try directory.addToken(sameID) }
        #expect(throws: AccountError.emptyTokenName) {
            try directory.addToken(APIToken.generate(name: "  ", now: t0).record)
        }

        try directory.removeToken(id: record.id)
        #expect(directory.token(matching: secret) == nil)
        #expect(directory.tokens == [other])
        #expect(throws: AccountError.unknownToken(id: record.id)) { try directory.removeToken(id: record.id) }
    }

    @Test func theDirectoryRoundTripsThroughJSON() throws {
        var directory = try initial()
        try directory.setLanguage(.russian, for: "admin")
        try change(&directory, from: "Initial-Pass-1", to: "New-Password-2")
        try directory.addToken(APIToken.generate(name: "central", now: t0).record)
        directory.setPolicy(.high)
        let json = try JSONEncoder().encode(directory)
        #expect(try JSONDecoder().decode(AccountDirectory.self, from: json) == directory)
        #expect(String(decoding: json, as: UTF8.self).contains("$pbkdf2-sha256$1000$"))
    }

    @Test func olderDocumentsDecodeWithDefaults() throws {
        let hash = try Fixture.cheapHash("Initial-Pass-1")
        let json = """
            {"users": [{"name": "admin", "passwordHash": "\(hash.encoded)", "mustChangePassword": true,
                        "created": 0}]}
            """
        let directory = try JSONDecoder().decode(AccountDirectory.self, from: Data(json.utf8))
        #expect(directory.policy == .medium)
        #expect(directory.tokens.isEmpty)
        let admin = try #require(directory.user(named: "admin"))
        #expect(admin.language == .english)
        #expect(admin.previousPasswordHashes.isEmpty)
        #expect(admin.passwordChanged == admin.created)
        #expect(directory.authenticate(user: "admin", password: "Initial-Pass-1") != nil)
    }

    @Test func aDamagedHashMakesTheDocumentUnreadable() {
        let json = #"{"users": [{"name": "admin", "passwordHash": "admin", "mustChangePassword": true, "created": 0}]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(AccountDirectory.self, from: Data(json.utf8)) }
    }

    @Test func theRandomInitialPasswordSatisfiesTheHighPolicy() throws {
        let common = try Fixture.shippedCommonPasswords()
        let alphabet = Set(AccountDirectory.initialPasswordAlphabets.joined())
        var seen = Set<String>()
        for _ in 0..<200 {
            let password = AccountDirectory.randomInitialPassword()
            #expect(password.count == 20)
            #expect(password.allSatisfy(alphabet.contains))
            #expect(PasswordPolicy.CharacterClass.used(in: password).count == 4)
            #expect(
                PasswordPolicy.Level.high.violations(
                    password: password, userName: "admin", previousHashes: [], commonPasswords: common
                ).isEmpty, "\(password)")
            seen.insert(password)
        }
        #expect(seen.count == 200)
        #expect(!alphabet.contains("l") && !alphabet.contains("O") && !alphabet.contains("0"))
    }

    @Test func aSeededGeneratorGivesARepeatableInitialPassword() {
        var first = SeededGenerator(seed: 11)
        var second = SeededGenerator(seed: 11)
        #expect(
            AccountDirectory.randomInitialPassword(using: &first)
                == AccountDirectory.randomInitialPassword(using: &second))
    }

    @Test func errorsReadInBothLanguages() {
        let errors: [AccountError] = [
            .unknownUser("root"), .wrongCurrentPassword, .sameAsCurrent, .policyViolated([.minimumLength(10)]),
            .emptyTokenName, .duplicateTokenName("n"), .duplicateTokenID("ab"), .unknownToken(id: "ab"),
            .hashingFailed("x"),
        ]
        for error in errors {
            #expect(error.description == error.message(in: .english))
            #expect(error.message(in: .english) != error.message(in: .russian))
        }
        #expect(AccountError.policyViolated([.minimumLength(10)]).description.contains("At least 10 characters"))
        #expect(
            AccountError.policyViolated([.minimumLength(10)]).message(in: .russian).contains("Не менее 10 символов"))
    }

    @Test func languagesAreStoredAsTheirCodes() throws {
        let json = try JSONEncoder().encode(Language.allCases)
        #expect(String(decoding: json, as: UTF8.self) == #"["en","ru"]"#)
    }
}
