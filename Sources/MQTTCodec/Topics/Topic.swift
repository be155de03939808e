/// Topic name and topic filter rules (MQTT 5 §4.7, §4.8.2; MQTT 3.1.1 §4.7).
///
/// Everything here works on the UTF-8 bytes of the strings: `/`, `+`, `#` and `$` are ASCII, so they never occur
/// inside a multi-byte UTF-8 sequence and a byte comparison is exact. Matching allocates nothing because it runs
/// for every subscription a message is routed through.
package enum Topic {
    private static let slash = UInt8(ascii: "/")
    private static let plus = UInt8(ascii: "+")
    private static let hash = UInt8(ascii: "#")
    private static let dollar = UInt8(ascii: "$")
    /// The prefix of a shared subscription filter (MQTT 5 §4.8.2).
    private static let sharePrefix: StaticString = "$share/"

    /// Non-empty, ≤ 65535 UTF-8 bytes, no `+`/`#`, no U+0000.  (MQTT 5 §4.7)
    ///
    /// [MQTT-4.7.3-1] all topic names are at least one character long; [MQTT-4.7.0-1] wildcards must not be used in
    /// a topic name; [MQTT-4.7.3-2] no U+0000; [MQTT-4.7.3-3] at most 65535 bytes.
    package static func validateName(_ name: String) throws(MQTTCodecError) {
        let utf8 = name.utf8
        guard !utf8.isEmpty else {
            throw MQTTCodecError(.topicNameInvalid, "topic name is empty [MQTT-4.7.3-1]")
        }
        guard utf8.count <= 65535 else {
            throw MQTTCodecError(.topicNameInvalid, "topic name longer than 65535 bytes [MQTT-4.7.3-3]")
        }
        for byte in utf8 {
            switch byte {
            case plus, hash:
                throw MQTTCodecError(.topicNameInvalid, "topic name contains a wildcard [MQTT-4.7.0-1]")
            case 0:
                throw MQTTCodecError(.topicNameInvalid, "topic name contains U+0000 [MQTT-4.7.3-2]")
            default:
                continue
            }
        }
    }

    /// Non-empty; `#` only as the whole last level; `+` only as a whole level. `$share/{group}/{filter}`: group
    /// non-empty without `+`,`#`,`/`; filter non-empty and valid. (MQTT 5 §4.7.1, §4.8.2)
    package static func validateFilter(_ filter: String) throws(MQTTCodecError) {
        let utf8 = filter.utf8
        guard !utf8.isEmpty else {
            throw MQTTCodecError(.topicFilterInvalid, "topic filter is empty [MQTT-4.7.3-1]")
        }
        guard utf8.count <= 65535 else {
            throw MQTTCodecError(.topicFilterInvalid, "topic filter longer than 65535 bytes [MQTT-4.7.3-3]")
        }
        if hasSharePrefix(utf8) {
            // [MQTT-4.8.2-1] the ShareName must be at least one character long and must not contain "/", "+" or "#";
            // [MQTT-4.8.2-2] it must be followed by "/" and a topic filter.
            let rest = utf8.dropFirst(sharePrefix.utf8CodeUnitCount)
            guard let slashIndex = rest.firstIndex(of: slash) else {
                throw MQTTCodecError(.topicFilterInvalid, "shared subscription lacks a topic filter [MQTT-4.8.2-2]")
            }
            let group = rest[..<slashIndex]
            guard !group.isEmpty else {
                throw MQTTCodecError(.topicFilterInvalid, "shared subscription group is empty [MQTT-4.8.2-1]")
            }
            guard !group.contains(where: { $0 == plus || $0 == hash }) else {
                throw MQTTCodecError(
                    .topicFilterInvalid, "shared subscription group contains a wildcard [MQTT-4.8.2-2]")
            }
            let inner = rest[rest.index(after: slashIndex)...]
            guard !inner.isEmpty else {
                throw MQTTCodecError(.topicFilterInvalid, "shared subscription topic filter is empty [MQTT-4.8.2-2]")
            }
            try validateFilterLevels(inner)
        } else {
            try validateFilterLevels(utf8[...])
        }
    }

    /// Splits `$share/group/filter` into (group, filter); nil when not a shared subscription.
    ///
    /// A filter that starts with `$share/` but has no second `/` is not split (it is invalid, see `validateFilter`).
    package static func sharedSubscription(_ filter: String) -> (group: Substring, filter: Substring)? {
        let utf8 = filter.utf8
        guard hasSharePrefix(utf8) else { return nil }
        let groupStart = utf8.index(utf8.startIndex, offsetBy: sharePrefix.utf8CodeUnitCount)
        guard let slashIndex = utf8[groupStart...].firstIndex(of: slash) else { return nil }
        let filterStart = utf8.index(after: slashIndex)
        // The indices sit on ASCII bytes, hence on character boundaries of the String.
        return (filter[groupStart..<slashIndex], filter[filterStart...])
    }

    /// Whether `filter` (not shared) matches `topic`. Topics beginning with `$` are not matched by a filter whose
    /// first level is `+` or `#` (MQTT 5 §4.7.2). `a/#` matches `a`. Works on UTF-8 bytes, no allocation.
    package static func matches(filter: some StringProtocol, topic: some StringProtocol) -> Bool {
        // Native strings store contiguous UTF-8: compare raw bytes then; fall back to the views otherwise.
        let fast: Bool?? = filter.utf8.withContiguousStorageIfAvailable { filterBytes in
            topic.utf8.withContiguousStorageIfAvailable { topicBytes in
                matchBytes(filter: filterBytes, topic: topicBytes)
            }
        }
        if let outer = fast, let result = outer {
            return result
        }
        return matchBytes(filter: filter.utf8, topic: topic.utf8)
    }

    // MARK: - Private

    private static func hasSharePrefix(_ utf8: String.UTF8View) -> Bool {
        sharePrefix.withUTF8Buffer { prefix in utf8.starts(with: prefix) }
    }

    /// [MQTT-4.7.1-1] `#` must be the whole last level; [MQTT-4.7.1-2] `+` must occupy a whole level.
    private static func validateFilterLevels(_ bytes: Substring.UTF8View) throws(MQTTCodecError) {
        var index = bytes.startIndex
        var levelStart = true
        while index != bytes.endIndex {
            let byte = bytes[index]
            let next = bytes.index(after: index)
            let levelEnds = next == bytes.endIndex || bytes[next] == slash
            switch byte {
            case hash:
                guard levelStart && next == bytes.endIndex else {
                    throw MQTTCodecError(
                        .topicFilterInvalid, "'#' must be the whole last level of a topic filter [MQTT-4.7.1-1]")
                }
            case plus:
                guard levelStart && levelEnds else {
                    throw MQTTCodecError(
                        .topicFilterInvalid, "'+' must occupy a whole level of a topic filter [MQTT-4.7.1-2]")
                }
            case 0:
                throw MQTTCodecError(.topicFilterInvalid, "topic filter contains U+0000 [MQTT-4.7.3-2]")
            default:
                break
            }
            levelStart = byte == slash
            index = next
        }
    }

    /// Level-by-level match of filter bytes against topic bytes. Both cursors always sit at the start of a level
    /// at the top of the loop.
    private static func matchBytes<F: Collection<UInt8>, T: Collection<UInt8>>(filter: F, topic: T) -> Bool {
        var f = filter.startIndex
        var t = topic.startIndex
        // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with '$'.
        if t != topic.endIndex, topic[t] == dollar, f != filter.endIndex, filter[f] == plus || filter[f] == hash {
            return false
        }
        while true {
            if f != filter.endIndex, filter[f] == hash {
                // Multi-level wildcard: matches this level and everything below, including nothing.
                return true
            }
            let filterNext = f != filter.endIndex ? filter.index(after: f) : f
            if f != filter.endIndex, filter[f] == plus, filterNext == filter.endIndex || filter[filterNext] == slash {
                // Single-level wildcard: skip one topic level, possibly empty.
                while t != topic.endIndex, topic[t] != slash { t = topic.index(after: t) }
                f = filterNext
            } else {
                while f != filter.endIndex, filter[f] != slash {
                    guard t != topic.endIndex, topic[t] == filter[f] else { return false }
                    f = filter.index(after: f)
                    t = topic.index(after: t)
                }
                if t != topic.endIndex, topic[t] != slash { return false }
            }
            // Both cursors are now at the end of their level.
            switch (f == filter.endIndex, t == topic.endIndex) {
            case (true, true):
                return true
            case (true, false):
                return false
            case (false, true):
                // `a/#` also matches `a` (MQTT 5 §4.7.1.2): the rest of the filter must be exactly "/#".
                let afterSlash = filter.index(after: f)
                return afterSlash != filter.endIndex && filter[afterSlash] == hash
                    && filter.index(after: afterSlash) == filter.endIndex
            case (false, false):
                f = filter.index(after: f)
                t = topic.index(after: t)
            }
        }
    }
}
