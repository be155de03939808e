import Foundation
import Testing

@testable import Accounts

@Suite("Common passwords")
struct CommonPasswordsTests {
    @Test func textIsOnePasswordPerLineWithCommentsAndBlanksIgnored() {
        let list = CommonPasswords(
            text: "# a comment\r\npassword\r\n\r\n  letmein  \n\t# indented comment\nQwerty\nabc#123")
        #expect(list.count == 4)
        #expect(list.contains("password"))
        #expect(list.contains("letmein"))
        #expect(list.contains("abc#123"))  // a '#' inside an entry is not a comment
        #expect(!list.contains("# a comment"))
        #expect(!list.contains("a comment"))
        #expect(!list.contains(""))
    }

    @Test func comparisonIgnoresCase() {
        let list = CommonPasswords(text: "Qwerty\nпароль\n")
        #expect(list.contains("qwerty"))
        #expect(list.contains("QWERTY"))
        #expect(list.contains("ПАРОЛЬ"))
        #expect(!list.contains("qwerty1"))
        #expect(list.count == CommonPasswords(["QWERTY", "qwerty", "Пароль"]).count)
    }

    @Test func theEmptyListHoldsNothing() {
        #expect(CommonPasswords.none.count == 0)
        #expect(!CommonPasswords.none.contains("password"))
        #expect(CommonPasswords(text: "").count == 0)
    }

    @Test func theShippedListHoldsTenThousandPasswords() throws {
        let text = try String(contentsOf: Fixture.shippedCommonPasswordsURL, encoding: .utf8)
        #expect(text.split(separator: "\n", omittingEmptySubsequences: false).count == 10_001)  // final newline
        let list = CommonPasswords(text: text)
        #expect(list.count == 10_000)
        for password in ["password", "123456", "qwerty", "letmein", "trustno1", "PASSWORD"] {
            #expect(list.contains(password), "\(password)")
        }
        #expect(!list.contains("Correct-Horse7Battery"))
    }

    @Test func theShippedListMakesHighRefuseCommonPasswords() throws {
        let list = try Fixture.shippedCommonPasswords()
        for password in ["password", "123456"] {
            let violations = PasswordPolicy.Level.high.violations(
                password: password, userName: "admin", previousHashes: [], commonPasswords: list)
            #expect(violations.contains(.notCommon), "\(password)")
        }
        #expect(
            PasswordPolicy.Level.high.violations(
                password: "Correct-Horse7Battery", userName: "admin", previousHashes: [], commonPasswords: list
            ).isEmpty)
    }

    @Test func theShippedListComesWithItsLicence() throws {
        let folder = Fixture.shippedCommonPasswordsURL.deletingLastPathComponent()
        let licence = try String(contentsOf: folder.appendingPathComponent("LICENSE"), encoding: .utf8)
        #expect(licence.contains("MIT License"))
        #expect(licence.contains("Daniel Miessler"))
        let readme = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("danielmiessler/SecLists"))
    }
}
