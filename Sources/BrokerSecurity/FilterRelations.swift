/// Relations between two MQTT topic filters, used to decide SUBSCRIBE requests against ACL entries.
///
/// Both functions compare levels (the text between `/`) of the UTF-8 bytes and allocate nothing. They assume valid,
/// non-shared filters (`#` only as a whole last level, `+` only as a whole level): `AccessControlList` validates
/// entries when it reads the file and the requested filter before calling.
///
/// The `$` rule of MQTT 5 §4.7.2 is applied: a filter whose first level is `+` or `#` matches no topic starting with
/// `$`, so such a filter does not cover a filter whose first level is a literal starting with `$`.
enum FilterRelations {
    private static let slash = UInt8(ascii: "/")
    private static let plus = UInt8(ascii: "+")
    private static let hash = UInt8(ascii: "#")
    private static let dollar = UInt8(ascii: "$")

    /// Whether every topic that `inner` matches is also matched by `outer`.
    ///
    /// Examples: `a/#` covers `a/b/#`, `a/+` and `a`; `a/+/#` covers `a/+`; `+/#` covers `#`; `+/x` covers `a/x`
    /// but not `$SYS/x`;
    /// `a/b/#` does not cover `a/#` (which also matches `a/c`), and `a/+` does not cover `a/#` (which matches `a`
    /// and `a/b/c`).
    static func covers(_ outer: some StringProtocol, _ inner: some StringProtocol) -> Bool {
        let outerLevels = LevelCursor(outer.utf8)
        let innerLevels = LevelCursor(inner.utf8)
        if innerLevels.firstLevelIsDollarLiteral && outerLevels.firstLevelIsWildcard {
            return false
        }
        var outerCursor = outerLevels
        var innerCursor = innerLevels
        var atFirstLevel = true
        while true {
            let outerLevel = outerCursor.next()
            let innerLevel = innerCursor.next()
            defer { atFirstLevel = false }
            guard let outerLevel else {
                // `outer` is exhausted: covered only if `inner` is too.
                return innerLevel == nil
            }
            if isHash(outerLevel, in: outer.utf8) {
                // `#` matches the parent level and everything below (so `a/#` covers `a`).
                return true
            }
            guard let innerLevel else { return false }
            if isHash(innerLevel, in: inner.utf8) {
                // `inner` matches the parent and topics of any depth below; only a `#` in `outer` covers that.
                // Exception: a leading `#` has no parent (topics have at least one level), so there `+/#` is
                // equivalent to `#`.
                guard atFirstLevel, isPlus(outerLevel, in: outer.utf8), let rest = outerCursor.next() else {
                    return false
                }
                return isHash(rest, in: outer.utf8)
            }
            if isPlus(outerLevel, in: outer.utf8) {
                continue
            }
            if isPlus(innerLevel, in: inner.utf8) {
                return false
            }
            if !outer.utf8[outerLevel].elementsEqual(inner.utf8[innerLevel]) {
                return false
            }
        }
    }

    private static func isHash<V: Collection<UInt8>>(_ level: Range<V.Index>, in bytes: V) -> Bool {
        isSingle(level, hash, in: bytes)
    }

    private static func isPlus<V: Collection<UInt8>>(_ level: Range<V.Index>, in bytes: V) -> Bool {
        isSingle(level, plus, in: bytes)
    }

    private static func isSingle<V: Collection<UInt8>>(_ level: Range<V.Index>, _ byte: UInt8, in bytes: V) -> Bool {
        !level.isEmpty && bytes[level.lowerBound] == byte && bytes.index(after: level.lowerBound) == level.upperBound
    }

    /// Iterates the levels of a filter as index ranges: `a/b` → `a`, `b`; `a/` → `a`, ``; `` → ``.
    private struct LevelCursor<V: Collection<UInt8>> {
        let bytes: V
        private var position: V.Index
        private var finished = false

        init(_ bytes: V) {
            self.bytes = bytes
            self.position = bytes.startIndex
        }

        /// The first level is exactly `+` or `#`.
        var firstLevelIsWildcard: Bool {
            var copy = self
            guard let level = copy.next() else { return false }
            return FilterRelations.isPlus(level, in: bytes) || FilterRelations.isHash(level, in: bytes)
        }

        /// The first level is literal text starting with `$` (so the filter only matches `$` topics).
        var firstLevelIsDollarLiteral: Bool {
            bytes.first == FilterRelations.dollar
        }

        mutating func next() -> Range<V.Index>? {
            guard !finished else { return nil }
            let start = position
            if let slashIndex = bytes[start...].firstIndex(of: FilterRelations.slash) {
                position = bytes.index(after: slashIndex)
                return start..<slashIndex
            }
            finished = true
            position = bytes.endIndex
            return start..<bytes.endIndex
        }
    }
}
