import BrokerConfig
import BrokerCore
import BrokerSecurity
import Foundation
import NIOCore

/// A `password_file` as the broker's authenticator.
struct PasswordFileAuthenticator: ClientAuthenticator {
    let file: PasswordFile

    func authenticate(username: String, password: ByteBuffer?) -> Bool {
        guard let password else { return false }
        return file.verify(username: username, password: password.readableBytesView)
    }
}

/// An `acl_file` as the broker's authorizer.
struct AccessControlListAuthorizer: TopicAuthorizer {
    let list: AccessControlList

    func isAllowed(_ access: TopicAccess, topic: String, clientID: String, username: String?) -> Bool {
        let kind: AccessControlList.Access
        switch access {
        case .read: kind = .read
        case .write: kind = .write
        case .subscribe: kind = .subscribe
        }
        return list.isAllowed(kind, topicOrFilter: topic, clientID: clientID, username: username)
    }
}

/// Reads the password and ACL files a listener's security names, reporting problems as `file:line: message`.
enum FileSecurityLoader {
    struct Failure: Error, CustomStringConvertible {
        var messages: [String]
        var description: String { messages.joined(separator: "\n") }
    }

    static func policy(for security: EffectiveSecurity) throws(Failure) -> SecurityPolicy {
        var messages: [String] = []
        var authenticator: (any ClientAuthenticator)?
        var authorizer: (any TopicAuthorizer)?
        if let path = security.passwordFile {
            switch contents(of: path) {
            case .text(let text):
                do {
                    authenticator = PasswordFileAuthenticator(file: try PasswordFile(contents: text, fileName: path))
                } catch {
                    messages += PasswordFile.diagnose(contents: text, fileName: path).map(\.description)
                    if messages.isEmpty { messages.append(error.description) }
                }
            case .unreadable(let message): messages.append(message)
            }
        }
        if let path = security.aclFile {
            switch contents(of: path) {
            case .text(let text):
                do {
                    authorizer = AccessControlListAuthorizer(
                        list: try AccessControlList(contents: text, fileName: path))
                } catch {
                    let found = AccessControlList.diagnose(contents: text, fileName: path).map(\.description)
                    messages += found.isEmpty ? [error.description] : found
                }
            case .unreadable(let message): messages.append(message)
            }
        }
        guard messages.isEmpty else { throw Failure(messages: messages) }
        return SecurityPolicy(
            allowAnonymous: security.allowAnonymous,
            authenticator: authenticator,
            authorizer: authorizer
        )
    }

    private enum FileText {
        case text(String)
        case unreadable(String)
    }

    private static func contents(of path: String) -> FileText {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .unreadable("\(path): cannot read file")
        }
        guard let text = String(data: data, encoding: .utf8) else { return .unreadable("\(path): not UTF-8 text") }
        return .text(text)
    }
}
