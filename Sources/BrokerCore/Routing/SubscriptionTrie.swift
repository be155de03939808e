import MQTTCodec
import Synchronization

/// One subscription of one session as the router stores it.
package struct Subscriber: Sendable {
    package var session: Session
    package var options: SubscriptionOptions
    package var identifier: UInt32?
    /// Checked for every message before delivery, when the listener has an ACL; nil for no check.
    package var access: SubscriberAccess?

    package init(
        session: Session,
        options: SubscriptionOptions,
        identifier: UInt32? = nil,
        access: SubscriberAccess? = nil
    ) {
        self.session = session
        self.options = options
        self.identifier = identifier
        self.access = access
    }
}

/// The members of one shared subscription group (`$share/group/filter`, MQTT 5 §4.8.2) on one filter.
///
/// Members are chosen round-robin. The cursor is a reference shared by every copy of the trie, so that matching
/// can advance it outside the router's lock.
package struct SharedGroup: Sendable {
    package var members: [Subscriber] = []
    private let cursor = RoundRobinCursor()

    package init() {}

    /// Picks the next member, preferring one whose session is connected; nil when the group is empty.
    package func next() -> Subscriber? {
        guard !members.isEmpty else { return nil }
        let start = cursor.advance()
        for offset in 0..<members.count {
            let member = members[(start &+ offset) % members.count]
            if member.session.isConnected { return member }
        }
        return members[start % members.count]
    }
}

private final class RoundRobinCursor: Sendable {
    private let value = Atomic<Int>(0)

    func advance() -> Int {
        value.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
    }
}

/// A copy-on-write trie of topic filters, one level per node (MQTT 5 §4.7).
///
/// The router keeps one behind a lock and hands out copies; matching runs on a copy outside the lock, and a
/// subscribe that lands meanwhile copies only the nodes on its path.
package struct SubscriptionTrie: Sendable {
    private struct Node: Sendable {
        var children: [String: Node] = [:]
        var subscribers: [String: Subscriber] = [:]
        var shared: [String: SharedGroup] = [:]
        /// Whether `children` holds `+` / `#`: most nodes have neither, and matching skips two lookups there.
        var hasSingleLevelWildcard = false
        var hasMultiLevelWildcard = false

        var isEmpty: Bool { children.isEmpty && subscribers.isEmpty && shared.isEmpty }
    }

    private var root = Node()
    package private(set) var count = 0

    package init() {}

    /// Adds or replaces the subscription of `subscriber.session` on `filter` (which may be `$share/group/…`).
    /// - Returns: true when the session had no subscription on this filter before.
    @discardableResult
    package mutating func insert(filter: String, subscriber: Subscriber) -> Bool {
        let (group, levels) = Self.split(filter)
        let clientID = subscriber.session.clientID
        let isNew = Self.update(&root, levels: levels[...]) { node in
            if let group {
                var members = node.shared[group, default: SharedGroup()]
                let isNew: Bool
                if let index = members.members.firstIndex(where: { $0.session.clientID == clientID }) {
                    members.members[index] = subscriber
                    isNew = false
                } else {
                    members.members.append(subscriber)
                    isNew = true
                }
                node.shared[group] = members
                return isNew
            }
            return node.subscribers.updateValue(subscriber, forKey: clientID) == nil
        }
        if isNew { count += 1 }
        return isNew
    }

    /// Removes the subscription of `clientID` on `filter`.
    /// - Returns: true when there was one.
    @discardableResult
    package mutating func remove(filter: String, clientID: String) -> Bool {
        let (group, levels) = Self.split(filter)
        let removed = Self.update(&root, levels: levels[...]) { node in
            if let group {
                guard var members = node.shared[group],
                    let index = members.members.firstIndex(where: { $0.session.clientID == clientID })
                else { return false }
                members.members.remove(at: index)
                node.shared[group] = members.members.isEmpty ? nil : members
                return true
            }
            return node.subscribers.removeValue(forKey: clientID) != nil
        }
        if removed { count -= 1 }
        return removed
    }

    /// Calls `body` once for every subscription that matches `topic`: each matching plain subscription, and one
    /// chosen member per matching shared group.
    package func forEachMatch(topic: String, _ body: (Subscriber, _ shared: Bool) -> Void) {
        // Topics beginning with `$` are not matched by a leading wildcard (MQTT 5 §4.7.2).
        let isSystemTopic = topic.utf8.first == UInt8(ascii: "$")
        Self.match(root, rest: topic[...], isFirstLevel: true, isSystemTopic: isSystemTopic, body)
    }

    /// Matches the levels in `rest` (nil once every level is consumed) below `node`. Levels are split as they are
    /// reached, so a publish allocates no array of levels.
    private static func match(
        _ node: Node,
        rest: Substring?,
        isFirstLevel: Bool,
        isSystemTopic: Bool,
        _ body: (Subscriber, Bool) -> Void
    ) {
        guard let rest else {
            visit(node, body)
            // `a/#` also matches `a` (MQTT 5 §4.7.1.2).
            if node.hasMultiLevelWildcard, let multi = node.children["#"] { visit(multi, body) }
            return
        }
        let level: Substring
        let remainder: Substring?
        if let slash = rest.utf8.firstIndex(of: UInt8(ascii: "/")) {
            level = rest[..<slash]
            remainder = rest[rest.utf8.index(after: slash)...]
        } else {
            level = rest
            remainder = nil
        }
        if let exact = node.children[String(level)] {
            match(exact, rest: remainder, isFirstLevel: false, isSystemTopic: isSystemTopic, body)
        }
        if isFirstLevel && isSystemTopic { return }
        if node.hasSingleLevelWildcard, let single = node.children["+"] {
            match(single, rest: remainder, isFirstLevel: false, isSystemTopic: isSystemTopic, body)
        }
        if node.hasMultiLevelWildcard, let multi = node.children["#"] { visit(multi, body) }
    }

    private static func visit(_ node: Node, _ body: (Subscriber, Bool) -> Void) {
        for subscriber in node.subscribers.values { body(subscriber, false) }
        for group in node.shared.values {
            if let member = group.next() { body(member, true) }
        }
    }

    private static func update<Result>(
        _ node: inout Node,
        levels: ArraySlice<Substring>,
        _ body: (inout Node) -> Result
    ) -> Result {
        guard let level = levels.first else { return body(&node) }
        let key = String(level)
        var child = node.children.removeValue(forKey: key) ?? Node()
        let result = update(&child, levels: levels.dropFirst(), body)
        if !child.isEmpty { node.children[key] = child }
        node.hasSingleLevelWildcard = node.children["+"] != nil
        node.hasMultiLevelWildcard = node.children["#"] != nil
        return result
    }

    private static func split(_ filter: String) -> (group: String?, levels: [Substring]) {
        if let shared = Topic.sharedSubscription(filter) {
            return (String(shared.group), shared.filter.split(separator: "/", omittingEmptySubsequences: false))
        }
        return (nil, filter.split(separator: "/", omittingEmptySubsequences: false))
    }
}
