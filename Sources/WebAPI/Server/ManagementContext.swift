import Accounts
import Events
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Who is making a request: a browser session or a script with an API token.
package enum Principal: Sendable {
    case session(WebSession)
    case token(APITokenRecord)

    /// The name the change log records.
    package var actor: String {
        switch self {
        case .session(let session): session.user
        case .token(let token): "token:" + token.name
        }
    }
}

/// Request context of the management plane: the client's address (for throttling and the change log) and, once
/// authenticated, the principal.
package struct ManagementContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    package var principal: Principal?
    /// The client's IP address as text, or "unknown".
    package let source: String
    /// The gateway's address the request arrived at, when known.
    package let local: String?
    /// What a route adds to the change log's record of this request (a firewall change's diff).
    package let notes = ChangeNotes()

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.source = source.channel.remoteAddress?.ipAddress ?? "unknown"
        self.local = source.channel.localAddress?.ipAddress
    }

    /// Uploads (profile files) are at most 131,072 bytes; JSON documents are far smaller. Leaves room for JSON
    /// encoding of a file.
    package var maxUploadSize: Int { 512 * 1024 }

    package var requestDecoder: JSONDecoder { APIJSON.decoder() }
    package var responseEncoder: JSONEncoder { APIJSON.encoder() }

    /// The authenticated principal, or 401.
    func requirePrincipal() throws(APIError) -> Principal {
        guard let principal else { throw APIError.unauthenticated }
        return principal
    }

    /// The user the principal acts for.
    func requireUser() throws(APIError) -> String {
        switch try requirePrincipal() {
        case .session(let session): session.user
        case .token: AccountDirectory.administratorName
        }
    }
}

/// Fields a route handler adds to the audit record of its request; shared by reference, so the authentication
/// middleware that writes the record sees what the handler added.
package final class ChangeNotes: Sendable {
    private let fields = Mutex<[EventField]>([])

    package init() {}

    package func add(_ field: EventField) { fields.withLock { $0.append(field) } }
    package var all: [EventField] { fields.withLock { $0 } }
}
