import MQTTCodec

/// The rules of a Mosquitto `acl_file`, and the decisions Rampart takes with them.
///
/// ## File format (as Mosquitto 2.0 reads it)
///
/// - A line whose first character is `#` is a comment; blank lines are ignored; trailing whitespace is dropped.
///   Fields are separated by spaces (not tabs), and keywords are lowercase.
/// - `user <username>` starts the section of that user (the rest of the line, trimmed: usernames may contain
///   spaces). Sections with the same name are merged. `topic` lines before the first `user` line form the
///   anonymous section, which applies to clients that sent no username.
/// - `topic [read|write|readwrite|deny] <filter>` adds an entry to the current section. Without an access word the
///   entry is `readwrite`; a filter containing spaces needs the access word, and is the rest of the line, trimmed.
/// - `pattern [read|write|readwrite|deny] <filter>` adds an entry for every client, wherever it appears.
///   `%c` is replaced by the client id and `%u` by the username; a pattern using `%u` does not apply to clients
///   without a username.
/// - Filters are MQTT topic filters (`+`, `#`), checked when the file is read.
///
/// A client with a username gets its own section (if any) plus the patterns; it never gets the anonymous section.
///
/// ## Decisions
///
/// - PUBLISH is checked with `.write` against the topic name, delivery of each message with `.read`.
/// - Any matching `deny` entry (of the client's section or a pattern) refuses, whatever grants exist. Otherwise a
///   matching grant of the right kind allows. Otherwise the request is refused: no entry, no access.
/// - SUBSCRIBE (which Mosquitto's acl_file does not check at all) is checked with `.subscribe` against the filter:
///   see `decide(_:topicOrFilter:clientID:username:)`.
/// - If the client id or the username contains `+` or `#`, no pattern applies to the client, grant or deny alike
///   (Mosquitto 2.0's rule, with the same outcomes). Substituting would turn the identity into wildcards and hand the
///   client other clients' topics; and skipping a deny pattern loses nothing, because the topics it names for such a
///   client contain a wildcard character and are therefore not valid topic names.
///
/// ## Differences from Mosquitto 2.0
///
/// - A matching deny pattern refuses even when the client's section grants the topic; Mosquitto stops at the
///   section's grant. (Observed: with `topic readwrite #` for admin and `pattern deny devices/%c/locked`, Mosquitto
///   lets admin publish to `devices/<its id>/locked`.)
/// - SUBSCRIBE is checked (see `decide`); Mosquitto accepts every subscription and filters delivery only.
/// - `topic read` (an access word and no topic) is an error; Mosquitto grants readwrite on a topic named "read".
/// - `$share/...` filters in the file are errors; in Mosquitto they can never match a message topic.
package struct AccessControlList: Sendable {
    /// What the client wants to do.
    package enum Access: Sendable, Hashable {
        /// Receive a message published to the given topic name.
        case read
        /// Publish to the given topic name.
        case write
        /// Subscribe to the given topic filter (possibly `$share/<group>/<filter>`).
        case subscribe
    }

    /// The outcome of a check, with the line responsible so that the broker can log why.
    package enum Decision: Sendable, Hashable {
        /// The grant on this line allows the request.
        case allowed(line: Int)
        /// The deny entry on this line matches the topic (or, for SUBSCRIBE, may match a topic of the filter).
        case deniedByRule(line: Int)
        /// No entry grants the request.
        case notGranted
        /// The topic name or filter is not valid MQTT (wildcards in a topic name, a malformed filter, empty).
        case invalidTopic
    }

    /// What a `topic` or `pattern` line grants.
    package enum Permission: String, Sendable, Hashable {
        case read, write, readwrite, deny
    }

    /// One meaningful line of an ACL file.
    package enum Line: Sendable, Hashable {
        case user(String)
        case topic(Permission, filter: String)
        case pattern(Permission, filter: String)
    }

    private struct TopicRule: Sendable {
        var filter: String
        var line: Int
    }

    private struct RuleSet: Sendable {
        var denies: [TopicRule] = []
        /// `read` and `readwrite` entries.
        var reads: [TopicRule] = []
        /// `write` and `readwrite` entries.
        var writes: [TopicRule] = []

        mutating func add(_ permission: Permission, _ rule: TopicRule) {
            switch permission {
            case .deny: denies.append(rule)
            case .read: reads.append(rule)
            case .write: writes.append(rule)
            case .readwrite:
                reads.append(rule)
                writes.append(rule)
            }
        }
    }

    /// A pattern split at its `%c` / `%u` markers, so substitution is a concatenation.
    private struct PatternRule: Sendable {
        enum Piece: Sendable {
            case literal(Substring)
            case clientID
            case username
        }

        var template: String
        var pieces: [Piece]
        var usesClientID: Bool
        var usesUsername: Bool
        var line: Int

        init(template: String, line: Int) {
            self.template = template
            self.line = line
            // Same scan as Mosquitto: left to right, a '%' followed by 'c' or 'u' is a marker, anything else is text.
            var pieces: [Piece] = []
            var literalStart = template.startIndex
            var index = template.startIndex
            var usesClientID = false
            var usesUsername = false
            while index < template.endIndex {
                let next = template.index(after: index)
                if template[index] == "%", next < template.endIndex, template[next] == "c" || template[next] == "u" {
                    if literalStart < index {
                        pieces.append(.literal(template[literalStart..<index]))
                    }
                    if template[next] == "c" {
                        pieces.append(.clientID)
                        usesClientID = true
                    } else {
                        pieces.append(.username)
                        usesUsername = true
                    }
                    index = template.index(after: next)
                    literalStart = index
                } else {
                    index = next
                }
            }
            if literalStart < template.endIndex {
                pieces.append(.literal(template[literalStart...]))
            }
            self.pieces = pieces
            self.usesClientID = usesClientID
            self.usesUsername = usesUsername
        }
    }

    private struct PatternSet: Sendable {
        var denies: [PatternRule] = []
        var reads: [PatternRule] = []
        var writes: [PatternRule] = []

        var isEmpty: Bool { denies.isEmpty && reads.isEmpty && writes.isEmpty }

        mutating func add(_ permission: Permission, _ rule: PatternRule) {
            switch permission {
            case .deny: denies.append(rule)
            case .read: reads.append(rule)
            case .write: writes.append(rule)
            case .readwrite:
                reads.append(rule)
                writes.append(rule)
            }
        }
    }

    /// The client's identity as seen by patterns, with the wildcard check done once per decision.
    private struct Identity {
        var clientID: String
        var username: String?
        /// False when the client id or username contains `+` or `#`: then no pattern applies.
        var patternsApply: Bool

        init(clientID: String, username: String?) {
            self.clientID = clientID
            self.username = username
            self.patternsApply =
                !Identity.containsWildcard(clientID) && !(username.map(Identity.containsWildcard) ?? false)
        }

        static func containsWildcard(_ text: String) -> Bool {
            text.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }
        }
    }

    private let anonymous: RuleSet
    private let users: [String: RuleSet]
    private let patterns: PatternSet
    /// Usernames that have a `user` section, in file order.
    package let sectionUsernames: [String]
    /// Lines that are valid but probably not what was meant; the caller should log them. Currently: patterns
    /// without `%c` or `%u` (Mosquitto warns about these too).
    package let warnings: [SecurityFileError]

    /// Parses a whole ACL file. Throws the first malformed line; `diagnose` lists them all.
    package init(contents: String, fileName: String) throws(SecurityFileError) {
        var anonymous = RuleSet()
        var users: [String: RuleSet] = [:]
        var sectionUsernames: [String] = []
        var patterns = PatternSet()
        var warnings: [SecurityFileError] = []
        var currentUser: String?
        try TextLines.forEachLine(in: contents) { (text, number) throws(SecurityFileError) in
            guard let line = try Self.parseLine(text, lineNumber: number, fileName: fileName) else { return }
            switch line {
            case .user(let name):
                currentUser = name
                if users[name] == nil {
                    users[name] = RuleSet()
                    sectionUsernames.append(name)
                }
            case .topic(let permission, let filter):
                let rule = TopicRule(filter: filter, line: number)
                if let currentUser {
                    users[currentUser, default: RuleSet()].add(permission, rule)
                } else {
                    anonymous.add(permission, rule)
                }
            case .pattern(let permission, let filter):
                let rule = PatternRule(template: filter, line: number)
                if !rule.usesClientID && !rule.usesUsername {
                    warnings.append(
                        SecurityFileError(
                            file: fileName, line: number,
                            message: "pattern '\(filter)' contains neither %c nor %u; it applies to every client"))
                }
                patterns.add(permission, rule)
            }
        }
        self.anonymous = anonymous
        self.users = users
        self.sectionUsernames = sectionUsernames
        self.patterns = patterns
        self.warnings = warnings
    }

    /// Parses file bytes, refusing invalid UTF-8 with the line it occurs on.
    package init(contents: some Collection<UInt8>, fileName: String) throws(SecurityFileError) {
        try self.init(contents: TextLines.decode(contents, fileName: fileName), fileName: fileName)
    }

    /// Every malformed line, in order (empty when `init` would succeed).
    package static func diagnose(contents: String, fileName: String) -> [SecurityFileError] {
        var errors: [SecurityFileError] = []
        TextLines.forEachLine(in: contents) { text, number in
            do throws(SecurityFileError) {
                _ = try parseLine(text, lineNumber: number, fileName: fileName)
            } catch {
                errors.append(error)
            }
        }
        return errors
    }

    // MARK: - Decisions

    /// Whether the client may perform `access`; see `decide` for the rules.
    package func isAllowed(_ access: Access, topicOrFilter: String, clientID: String, username: String?) -> Bool {
        if case .allowed = decide(access, topicOrFilter: topicOrFilter, clientID: clientID, username: username) {
            return true
        }
        return false
    }

    /// Decides a request and says which line decided it.
    ///
    /// `.read` and `.write` take a topic name, `.subscribe` a topic filter. `username` is nil for a client that
    /// sent no username (it then gets the anonymous section).
    ///
    /// ## SUBSCRIBE rule
    ///
    /// For a shared subscription `$share/<group>/<filter>` the rule applies to `<filter>`. The subscription is
    /// allowed if and only if
    /// 1. no `deny` entry that applies to the client *covers* the filter (matches every topic the filter
    ///    matches), and
    /// 2. a single `read` or `readwrite` entry that applies to the client *covers* the filter.
    ///
    /// So with `topic read a/b/#`, `a/b/#`, `a/b/+/c` and `a/b` may be subscribed but `a/#` may not, because `a/#`
    /// would also match `a/c`, which nothing grants. With `topic readwrite a/#` plus `topic deny a/private/#` —
    /// the usual way to carve a private corner out of a tree — `a/#` is granted and `a/private/#` refused; the
    /// messages under `a/private/` are then filtered out one by one, since delivery is always checked per message
    /// with `.read`. (Refusing `a/#` there, as an earlier version did, left such configurations unusable.)
    /// Coverage by the union of several entries (`a/b` and `a/c` for `a/+`) is not considered; subscribe to each
    /// topic instead.
    /// The MQTT `$` rule holds throughout: `topic read #` does not cover `$SYS/#`.
    package func decide(_ access: Access, topicOrFilter: String, clientID: String, username: String?) -> Decision {
        let rules = ruleSet(for: username)
        switch access {
        case .read, .write:
            guard Self.isValidTopicName(topicOrFilter) else { return .invalidTopic }
            return decideTopic(
                topicOrFilter, isRead: access == .read, rules: rules, clientID: clientID, username: username)
        case .subscribe:
            do throws(MQTTCodecError) {
                try Topic.validateFilter(topicOrFilter)
            } catch {
                return .invalidTopic
            }
            let filter = Topic.sharedSubscription(topicOrFilter)?.filter ?? Substring(topicOrFilter)
            return decideSubscription(filter, rules: rules, clientID: clientID, username: username)
        }
    }

    private func ruleSet(for username: String?) -> RuleSet? {
        guard let username else { return anonymous }
        return users[username]
    }

    private func decideTopic(
        _ topic: String, isRead: Bool, rules: RuleSet?, clientID: String, username: String?
    ) -> Decision {
        if let rules {
            for rule in rules.denies where Topic.matches(filter: rule.filter, topic: topic) {
                return .deniedByRule(line: rule.line)
            }
        }
        let identity = patterns.isEmpty ? nil : Identity(clientID: clientID, username: username)
        if let identity {
            for rule in patterns.denies {
                if let filter = Self.substitute(rule, identity), Topic.matches(filter: filter, topic: topic) {
                    return .deniedByRule(line: rule.line)
                }
            }
        }
        if let rules {
            for rule in isRead ? rules.reads : rules.writes where Topic.matches(filter: rule.filter, topic: topic) {
                return .allowed(line: rule.line)
            }
        }
        if let identity {
            for rule in isRead ? patterns.reads : patterns.writes {
                if let filter = Self.substitute(rule, identity), Topic.matches(filter: filter, topic: topic) {
                    return .allowed(line: rule.line)
                }
            }
        }
        return .notGranted
    }

    private func decideSubscription(
        _ filter: Substring, rules: RuleSet?, clientID: String, username: String?
    ) -> Decision {
        if let rules {
            for rule in rules.denies where FilterRelations.covers(rule.filter, filter) {
                return .deniedByRule(line: rule.line)
            }
        }
        let identity = patterns.isEmpty ? nil : Identity(clientID: clientID, username: username)
        if let identity {
            for rule in patterns.denies {
                if let denied = Self.substitute(rule, identity), FilterRelations.covers(denied, filter) {
                    return .deniedByRule(line: rule.line)
                }
            }
        }
        if let rules {
            for rule in rules.reads where FilterRelations.covers(rule.filter, filter) {
                return .allowed(line: rule.line)
            }
        }
        if let identity {
            for rule in patterns.reads {
                if let granted = Self.substitute(rule, identity), FilterRelations.covers(granted, filter) {
                    return .allowed(line: rule.line)
                }
            }
        }
        return .notGranted
    }

    /// The pattern with `%c` and `%u` replaced, or nil when the pattern does not apply to this client: its client
    /// id or username contains `+` or `#`, or the pattern uses `%u` and the client has no username (both as in
    /// Mosquitto). Allocates one string per pattern that has markers; patterns without markers return their
    /// template.
    private static func substitute(_ rule: PatternRule, _ identity: Identity) -> String? {
        guard identity.patternsApply else { return nil }
        if rule.usesUsername && identity.username == nil { return nil }
        guard rule.usesClientID || rule.usesUsername else { return rule.template }
        var result = ""
        result.reserveCapacity(rule.template.utf8.count + identity.clientID.utf8.count)
        for piece in rule.pieces {
            switch piece {
            case .literal(let text): result += text
            case .clientID: result += identity.clientID
            case .username: result += identity.username ?? ""
            }
        }
        return result
    }

    /// Non-empty and free of wildcards. The codec validates PUBLISH topics already; this guards other callers,
    /// because a literal `+` in a "topic" would otherwise match an ACL `+` level.
    private static func isValidTopicName(_ topic: String) -> Bool {
        !topic.isEmpty && !topic.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }
    }

    // MARK: - Parsing

    /// Parses one line (without its newline). Returns nil for a blank line or a comment.
    package static func parseLine(
        _ line: Substring, lineNumber: Int, fileName: String
    ) throws(SecurityFileError) -> Line? {
        func failure(_ message: String) -> SecurityFileError {
            SecurityFileError(file: fileName, line: lineNumber, message: message)
        }
        let text = TextLines.trimmedTrailing(line)
        if text.utf8.first == UInt8(ascii: "#") { return nil }
        var rest = text.drop { $0 == " " }
        guard !rest.isEmpty else { return nil }
        let keyword = rest.prefix { $0 != " " }
        rest = rest[keyword.endIndex...]
        let tabHint = keyword.contains("\t") ? " (fields are separated by spaces, not tabs)" : ""
        switch keyword {
        case "user":
            let name = TextLines.trimmed(rest)
            guard !name.isEmpty else { throw failure("missing username after 'user'") }
            return .user(String(name))
        case "topic", "pattern":
            rest = rest.drop { $0 == " " }
            let first = rest.prefix { $0 != " " }
            guard !first.isEmpty else { throw failure("missing topic after '\(keyword)'") }
            let remainder = rest[first.endIndex...]
            let permission: Permission
            let filter: Substring
            if remainder.isEmpty {
                if let word = Permission(rawValue: String(first)) {
                    // Mosquitto would read `topic read` as readwrite access to a topic named "read"; that is
                    // almost certainly a line whose topic was forgotten.
                    throw failure(
                        "missing topic after '\(keyword) \(word.rawValue)' (for a topic named '\(word.rawValue)' "
                            + "write '\(keyword) readwrite \(word.rawValue)')")
                }
                permission = .readwrite
                filter = first
            } else {
                guard let word = Permission(rawValue: String(first)) else {
                    let hint = first.contains("\t") ? " (fields are separated by spaces, not tabs)" : ""
                    throw failure(
                        "invalid access type '\(first)' (expected read, write, readwrite or deny; "
                            + "a topic containing spaces needs an access type)\(hint)")
                }
                permission = word
                filter = TextLines.trimmed(remainder)
            }
            if filter.hasPrefix("$share/") {
                throw failure(
                    "'\(filter)' is a shared subscription; ACL entries name topics, drop the '$share/<group>/' prefix")
            }
            do throws(MQTTCodecError) {
                try Topic.validateFilter(String(filter))
            } catch {
                throw failure("invalid topic filter '\(filter)': \(error.message)")
            }
            return keyword == "topic"
                ? .topic(permission, filter: String(filter)) : .pattern(permission, filter: String(filter))
        default:
            if keyword.hasPrefix("#") {
                throw failure("comments must start with '#' in the first column")
            }
            throw failure("unknown keyword '\(keyword)' (expected user, topic or pattern)\(tabHint)")
        }
    }
}
