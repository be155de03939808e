import Foundation
import Testing

@testable import Accounts

@Suite("Web sessions")
struct WebSessionTableTests {
    private let t0 = Fixture.now

    private func logIn(
        _ table: WebSessionTable, user: String = "admin", presenting id: String? = nil, at now: Date
    ) throws -> WebSession {
        try table.logIn(user: user, presentedSessionID: id, now: now).get()
    }

    private func isBase64URL32Bytes(_ text: String) -> Bool {
        text.count == 43
            && text.unicodeScalars.allSatisfy {
                ($0.isASCII && $0.properties.isAlphabetic) || "0123456789-_".unicodeScalars.contains($0)
            }
    }

    @Test func aLogInStartsASessionWithRandomIDAndToken() throws {
        let table = WebSessionTable()
        let session = try logIn(table, at: t0)
        #expect(isBase64URL32Bytes(session.id))
        #expect(isBase64URL32Bytes(session.csrfToken))
        #expect(session.id != session.csrfToken)
        #expect(session.user == "admin")
        #expect(session.created == t0 && session.lastSeen == t0)
        #expect(table.active(now: t0) == session)
        #expect(table.idleTimeout == .seconds(600))
    }

    @Test func aSecondBrowserIsRefusedUntilTheActiveSessionWouldExpire() throws {
        let table = WebSessionTable()
        let session = try logIn(table, user: "admin", at: t0)
        let refusal = SessionRefusal.activeElsewhere(user: "admin", until: t0.plus(600))
        #expect(table.logIn(user: "operator", presentedSessionID: nil, now: t0.plus(1)) == .failure(refusal))
        #expect(table.logIn(user: "admin", presentedSessionID: "forged", now: t0.plus(1)) == .failure(refusal))
        #expect(table.logIn(user: "admin", presentedSessionID: session.csrfToken, now: t0.plus(1)) == .failure(refusal))
        #expect(table.logIn(user: "admin", presentedSessionID: nil, now: t0.plus(600)) == .failure(refusal))
        #expect(table.active(now: t0.plus(2)) == session)  // the refused attempts changed nothing
        #expect(refusal.description.contains("user admin"))
    }

    @Test func usingTheSessionMovesTheRefusalDeadline() throws {
        let table = WebSessionTable()
        let session = try logIn(table, at: t0)
        #expect(table.touch(id: session.id, now: t0.plus(300))?.lastSeen == t0.plus(300))
        #expect(
            table.logIn(user: "x", presentedSessionID: nil, now: t0.plus(700))
                == .failure(.activeElsewhere(user: "admin", until: t0.plus(900))))
    }

    @Test func theSameBrowserLoggingInAgainGetsAFreshSession() throws {
        let table = WebSessionTable()
        let first = try logIn(table, user: "admin", at: t0)
        let second = try logIn(table, user: "operator", presenting: first.id, at: t0.plus(5))
        #expect(second.id != first.id)
        #expect(second.csrfToken != first.csrfToken)
        #expect(second.user == "operator" && second.created == t0.plus(5))
        #expect(table.touch(id: first.id, now: t0.plus(6)) == nil)
        #expect(table.touch(id: second.id, now: t0.plus(6))?.user == "operator")
    }

    @Test func aSessionIdleLongerThanTheTimeoutEnds() throws {
        let table = WebSessionTable()
        let session = try logIn(table, at: t0)
        #expect(table.touch(id: session.id, now: t0.plus(600)) != nil)  // exactly the timeout: still alive
        #expect(table.touch(id: session.id, now: t0.plus(1_200.001)) == nil)
        #expect(table.active(now: t0.plus(1_200.001)) == nil)
        #expect(table.touch(id: session.id, now: t0.plus(1_200.002)) == nil)  // removed, not just refused
    }

    @Test func anotherBrowserMayLogInOnceTheSessionIsIdle() throws {
        let table = WebSessionTable(idleTimeout: .seconds(60))
        let first = try logIn(table, at: t0)
        let second = try logIn(table, user: "operator", at: t0.plus(60.5))
        #expect(second.id != first.id)
        #expect(table.touch(id: first.id, now: t0.plus(61)) == nil)
        #expect(table.active(now: t0.plus(61)) == second)
    }

    @Test func activeReportsButDoesNotTouch() throws {
        let table = WebSessionTable(idleTimeout: .seconds(60))
        let session = try logIn(table, at: t0)
        #expect(table.active(now: t0.plus(50))?.lastSeen == t0)
        #expect(table.active(now: t0.plus(61)) == nil)
        #expect(table.touch(id: session.id, now: t0.plus(50)) == nil)  // active(now:) ended it
    }

    @Test func touchWithAnUnknownIDFindsNothingAndChangesNothing() throws {
        let table = WebSessionTable()
        let session = try logIn(table, at: t0)
        #expect(table.touch(id: "", now: t0.plus(1)) == nil)
        let altered = String(session.id.dropLast()) + (session.id.hasSuffix("A") ? "B" : "A")
        #expect(table.touch(id: altered, now: t0.plus(1)) == nil)
        #expect(table.touch(id: String(session.id.dropLast()), now: t0.plus(1)) == nil)
        #expect(table.active(now: t0.plus(1))?.lastSeen == t0)
    }

    @Test func logOutEndsOnlyTheNamedSession() throws {
        let table = WebSessionTable()
        let session = try logIn(table, at: t0)
        #expect(!table.logOut(id: "not-it"))
        #expect(table.active(now: t0) == session)
        #expect(table.logOut(id: session.id))
        #expect(table.active(now: t0) == nil)
        #expect(table.touch(id: session.id, now: t0) == nil)
        #expect(!table.logOut(id: session.id))
        #expect((try? logIn(table, user: "operator", at: t0.plus(1))) != nil)
    }

    @Test func revokeAllEndsTheSessionAndCountsIt() throws {
        let table = WebSessionTable()
        #expect(table.revokeAll() == 0)
        let session = try logIn(table, at: t0)
        #expect(table.revokeAll() == 1)
        #expect(table.revokeAll() == 0)
        #expect(table.touch(id: session.id, now: t0) == nil)
    }

    @Test func theCSRFTokenIsCheckedExactly() throws {
        let session = try logIn(WebSessionTable(), at: t0)
        #expect(session.csrfMatches(session.csrfToken))
        #expect(!session.csrfMatches(session.id))
        #expect(!session.csrfMatches(""))
        #expect(!session.csrfMatches(String(session.csrfToken.dropLast())))
    }

    @Test func theDescriptionLeaksNeitherIDNorToken() throws {
        let session = try logIn(WebSessionTable(), at: t0)
        #expect(session.description.contains("admin"))
        #expect(!session.description.contains(session.id))
        #expect(!session.description.contains(session.csrfToken))
    }

    @Test func idsDoNotRepeat() throws {
        let table = WebSessionTable()
        var ids = Set<String>()
        var current: String?
        for step in 0..<200 {
            let session = try logIn(table, presenting: current, at: t0.plus(Double(step)))
            ids.insert(session.id)
            ids.insert(session.csrfToken)
            current = session.id
        }
        #expect(ids.count == 400)
    }

    @Test func anInjectedGeneratorMakesIDsRepeatable() throws {
        var first = SeededGenerator(seed: 7)
        var second = SeededGenerator(seed: 7)
        let one = try WebSessionTable().logIn(user: "a", presentedSessionID: nil, now: t0, using: &first).get()
        let two = try WebSessionTable().logIn(user: "a", presentedSessionID: nil, now: t0, using: &second).get()
        #expect(one == two)
    }
}
