import Foundation
import Synchronization

/// One logged-in browser: the cookie value `id`, the token that every state-changing request must also carry
/// (`csrfToken`, sent in a header or form field, which a cross-site page cannot read), and whose session it is.
package struct WebSession: Sendable, Equatable, CustomStringConvertible {
    /// 32 random bytes, base64url without padding (43 characters): the session cookie.
    package let id: String
    /// 32 random bytes, base64url without padding: the anti-CSRF token of this session.
    package let csrfToken: String
    package let user: String
    package let created: Date
    /// The last request of this session; it ends `idleTimeout` after that.
    package internal(set) var lastSeen: Date

    /// Without the id and the token, so that logging a session cannot leak them.
    package var description: String {
        "WebSession(user: \(user), created: \(created.formatted(.iso8601)), lastSeen: \(lastSeen.formatted(.iso8601)))"
    }

    /// Whether `token` is this session's CSRF token, compared without a timing leak.
    package func csrfMatches(_ token: String) -> Bool {
        Secrets.constantTimeEqual(token, csrfToken)
    }
}

/// Why a log-in did not get a session.
package enum SessionRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another web session is active; only one may be at a time. It ends by logging out, or by itself when it
    /// stays idle until `until` (later if it is used meanwhile).
    case activeElsewhere(user: String, until: Date)

    package var description: String {
        switch self {
        case .activeElsewhere(let user, let until):
            "another web session (user \(user)) is active; only one is allowed at a time. It ends when it logs out,"
                + " or by itself if it stays idle until \(until.formatted(.iso8601))"
        }
    }
}

/// The gateway's web sessions: at most ONE active at a time, so two operators never edit the configuration at
/// once and a stolen password cannot be used unnoticed alongside the owner's session.
///
/// Kept in memory only: a restart logs everyone out. Safe to share between tasks and threads (a `Mutex` guards
/// the state). Call `logIn` only after the password was checked: its refusal names the user of the active session.
package final class WebSessionTable: Sendable {
    /// A session unused for longer than this ends by itself.
    package let idleTimeout: Duration
    private let current: Mutex<WebSession?>

    /// Bytes of randomness in session ids and CSRF tokens (256 bits: not guessable, no collisions).
    package static let randomByteCount = 32

    package init(idleTimeout: Duration = .seconds(10 * 60)) {
        self.idleTimeout = idleTimeout
        self.current = Mutex(nil)
    }

    /// Starts a session for `user`, who has just given the right password.
    ///
    /// Refused with `.activeElsewhere` while another session is active, unless the browser presents that very
    /// session's id (the same operator logging in again, e.g. as another user). A new session always gets a new
    /// id and CSRF token and replaces the old one: an id planted in the browser before log-in (session fixation)
    /// is never promoted to a logged-in session.
    package func logIn(user: String, presentedSessionID: String?, now: Date) -> Result<WebSession, SessionRefusal> {
        var generator = SystemRandomNumberGenerator()
        return logIn(user: user, presentedSessionID: presentedSessionID, now: now, using: &generator)
    }

    /// `logIn` with the randomness drawn from `generator` (cryptographically secure outside tests).
    package func logIn(
        user: String,
        presentedSessionID: String?,
        now: Date,
        using generator: inout some RandomNumberGenerator
    ) -> Result<WebSession, SessionRefusal> {
        let fresh = WebSession(
            id: Secrets.base64URL(Secrets.randomBytes(Self.randomByteCount, using: &generator)),
            csrfToken: Secrets.base64URL(Secrets.randomBytes(Self.randomByteCount, using: &generator)),
            user: user, created: now, lastSeen: now)
        return current.withLock { current in
            if let active = current, !isIdle(active, now: now) {
                let presentedIt = presentedSessionID.map { Secrets.constantTimeEqual($0, active.id) } ?? false
                guard presentedIt else {
                    return .failure(.activeElsewhere(user: active.user, until: active.lastSeen.adding(idleTimeout)))
                }
            }
            current = fresh
            return .success(fresh)
        }
    }

    /// The session with this id, its `lastSeen` moved to `now`; nil when there is none, or when it was idle longer
    /// than `idleTimeout` (it is then ended). Call on every request that carries a session cookie.
    package func touch(id: String, now: Date) -> WebSession? {
        current.withLock { current in
            guard let session = current, Secrets.constantTimeEqual(id, session.id) else { return nil }
            guard !isIdle(session, now: now) else {
                current = nil
                return nil
            }
            var touched = session
            touched.lastSeen = max(session.lastSeen, now)
            current = touched
            return touched
        }
    }

    /// Ends the session with this id; returns whether there was one.
    @discardableResult
    package func logOut(id: String) -> Bool {
        current.withLock { current in
            guard let session = current, Secrets.constantTimeEqual(id, session.id) else { return false }
            current = nil
            return true
        }
    }

    /// Ends every session (after a password change by another path, a restore, or on the operator's request);
    /// returns how many there were (0 or 1).
    @discardableResult
    package func revokeAll() -> Int {
        current.withLock { current in
            defer { current = nil }
            return current == nil ? 0 : 1
        }
    }

    /// The active session, if any, without touching it; an idle-expired one is ended and not returned.
    package func active(now: Date) -> WebSession? {
        current.withLock { current in
            guard let session = current else { return nil }
            guard !isIdle(session, now: now) else {
                current = nil
                return nil
            }
            return session
        }
    }

    /// Idle for longer than `idleTimeout`: at exactly `lastSeen + idleTimeout` the session is still alive.
    private func isIdle(_ session: WebSession, now: Date) -> Bool {
        now > session.lastSeen.adding(idleTimeout)
    }
}
