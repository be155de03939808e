/// Value parsing. Each function reports its own problem and returns nil, so the caller just skips the line and the
/// parse goes on to find the next problem.
extension ConfigurationParser {
    /// The rest of the line, as Mosquitto's string options take it.
    mutating func string(_ line: OptionLine) -> String? {
        guard !line.rest.isEmpty else {
            error(line.location, "\(line.name): missing value")
            return nil
        }
        if line.rest.contains(" #") || line.rest.contains("\t#") {
            warning(
                line.location,
                "\(line.name): the value \"\(line.rest)\" contains \"#\"; Mosquitto has no "
                    + "trailing comments, the whole rest of the line is the value")
        }
        return String(line.rest)
    }

    /// The first word; warns about further words, which Mosquitto ignores (a trailing `# comment` is fine).
    mutating func word(_ line: OptionLine) -> Substring? {
        guard let first = line.words.first else {
            error(line.location, "\(line.name): missing value")
            return nil
        }
        extraWords(line, after: 1)
        return first
    }

    mutating func extraWords(_ line: OptionLine, after count: Int) {
        let extra = line.words.dropFirst(count)
        if let first = extra.first, !first.hasPrefix("#") {
            warning(
                line.location,
                "\(line.name): extra text \"\(extra.joined(separator: " "))\" after the value is "
                    + "ignored")
        }
    }

    /// `true`/`false`, and `1`/`0` which Mosquitto also accepts.
    mutating func bool(_ line: OptionLine) -> Bool? {
        guard let value = word(line) else { return nil }
        switch value {
        case "true", "1": return true
        case "false", "0": return false
        default:
            error(line.location, "\(line.name): \"\(value)\" is not a boolean; use true or false")
            return nil
        }
    }

    mutating func integer(_ text: Substring, _ line: OptionLine, _ range: ClosedRange<Int>, _ hint: String = "")
        -> Int?
    {
        guard let value = Int(text) else {
            error(line.location, "\(line.name): \"\(text)\" is not a number")
            return nil
        }
        guard range.contains(value) else {
            let bounds =
                range.lowerBound <= Int(Int32.min)
                ? "at most \(range.upperBound)"
                : range.upperBound == Int.max
                    ? "at least \(range.lowerBound)"
                    : "\(range.lowerBound) to \(range.upperBound)"
            error(line.location, "\(line.name): \(value) is out of range (\(bounds))\(hint)")
            return nil
        }
        return value
    }

    mutating func integer(_ line: OptionLine, _ range: ClosedRange<Int>, _ hint: String = "") -> Int? {
        guard let text = word(line) else { return nil }
        return integer(text, line, range, hint)
    }

    /// One of a fixed set of words.
    mutating func choice<Value: RawRepresentable>(_ line: OptionLine, _ values: [Value]) -> Value?
    where Value.RawValue == String {
        guard let text = word(line) else { return nil }
        if let value = values.first(where: { $0.rawValue == text }) { return value }
        let names = values.map(\.rawValue).joined(separator: ", ")
        error(line.location, "\(line.name): \"\(text)\" is not one of \(names)")
        return nil
    }

    /// `tls_version`/`bridge_tls_version`: TLS 1.2 or 1.3; older versions refused with the reason.
    mutating func tlsVersion(_ line: OptionLine) -> TLSVersion? {
        guard let text = word(line) else { return nil }
        if let version = TLSVersion(rawValue: String(text)) { return version }
        if text == "tlsv1.1" || text == "tlsv1" || text == "tlsv1.0" {
            error(
                line.location,
                "\(line.name): \"\(text)\" is refused: TLS 1.0 and 1.1 are insecure (RFC 8996); "
                    + "use tlsv1.2 or tlsv1.3")
        } else {
            error(line.location, "\(line.name): \"\(text)\" is not one of tlsv1.2, tlsv1.3")
        }
        return nil
    }

    /// A topic name without wildcards (mount points, prefixes, notification and `kos_*` topics).
    mutating func topicName(_ value: String, _ line: OptionLine, what: String = "") -> Bool {
        if value.contains("+") || value.contains("#") {
            error(
                line.location,
                "\(line.name): \(what)\"\(value)\" contains a wildcard (+ or #), which a topic "
                    + "name cannot")
            return false
        }
        if value.utf8.count > 65535 || value.contains("\u{0}") {
            error(line.location, "\(line.name): \(what)\"\(value)\" is not a valid topic name")
            return false
        }
        return true
    }

    /// `persistent_client_expiration`: `<n>h|d|w|m|y`.
    mutating func expiration(_ line: OptionLine) -> ExpirationDuration? {
        guard let text = word(line) else { return nil }
        guard let last = text.last, let unit = ExpirationDuration.Unit(rawValue: last),
            let count = Int(text.dropLast()), count > 0
        else {
            error(
                line.location,
                "\(line.name): \"\(text)\" is not a duration; write a positive number followed by "
                    + "h, d, w, m or y (hours, days, weeks, months, years), e.g. 14d")
            return nil
        }
        return ExpirationDuration(count: count, unit: unit)
    }

    /// Records a string option on a target that Mosquitto refuses to set twice.
    ///
    /// Returns false (after an error) when it was already set in the same scope.
    mutating func firstSetting(
        _ line: OptionLine, canonical: String, in setAt: WritableKeyPath<Self, [String: SourceLocation]>
    ) -> Bool {
        if let first = self[keyPath: setAt][canonical] {
            error(
                line.location,
                "duplicate \(line.name) (first set at \(first)); Mosquitto refuses a second value, "
                    + "remove one")
            return false
        }
        self[keyPath: setAt][canonical] = line.location
        return true
    }
}
