import MQTTCodec

/// Reads `inspection.conf` (SPEC BRK-5) into `InspectionRules`, reporting every problem at once.
///
/// The format follows mosquitto.conf where it can, so one habit serves both files: one keyword per line followed by
/// its values, a line whose first non-blank character is `#` is a comment. Unlike mosquitto.conf, a comment may
/// also follow the values (`max_payload 4096  # 4 KiB`): every keyword takes a known number of values, so a `#`
/// after them cannot be part of one, while `topic #` still means the filter `#`.
///
/// ```
/// rule telemetry                 # starts a rule; the options below belong to it
/// listener 1883                  # only messages arriving on this listener port
/// topic sensors/#                # only these topic filters (repeatable)
/// max_payload 4096               # bytes
/// payload json                   # utf8 | json
/// deny_pattern "DROP TABLE"      # quoted; \" \\ \n \r \t \xHH escapes (repeatable)
/// deny_pattern_hex 00ff13        # raw bytes (repeatable)
/// rate 10/s burst 20             # per client; N/s or N/m
/// ```
package enum InspectionRulesLoader {
    /// The largest `max_payload`: the largest payload an MQTT packet can carry (remaining length 268,435,455).
    package static let maximumPayloadLimit = 268_435_455
    /// The largest `rate` count and `burst`: beyond it the limit would not limit anything a broker can carry.
    package static let maximumRate = 1_000_000

    /// The rules, nil when any diagnostic is an error so that a half-understood file is never run; and every
    /// problem in line order.
    package typealias Outcome = (rules: InspectionRules?, diagnostics: [ConfigurationDiagnostic])

    /// Parses the text of an `inspection.conf`.
    ///
    /// - Parameter file: the name diagnostics carry, as the loader of mosquitto.conf names files.
    package static func parse(_ text: String, file: String) -> Outcome {
        var parser = InspectionRulesParser(file: file)
        parser.parse(text)
        return parser.result()
    }

    /// Reads the rules of the broker profile in `profileDirectory` (the folder of its `mosquitto.conf`).
    ///
    /// A profile without `inspection.conf` has no rules: the file is optional and its absence is not a problem.
    package static func load(profileDirectory: String, source: any ConfigurationSource) -> Outcome {
        let name = InspectionRules.fileName
        let path = profileDirectory.hasSuffix("/") ? profileDirectory + name : profileDirectory + "/" + name
        let listed = (try? source.list(directory: profileDirectory))?.contains(name)
        if listed == false { return (InspectionRules(), []) }
        guard let text = try? source.read(path) else {
            // A folder that cannot be listed is reported by the load of mosquitto.conf; here it only means we
            // cannot tell whether the optional file is there.
            if listed == nil { return (InspectionRules(), []) }
            return (nil, [ConfigurationDiagnostic(.error, file: path, line: 0, "cannot read the inspection rules")])
        }
        return parse(text, file: path)
    }

    /// Checks the rules against the profile's mosquitto.conf: a rule for a listener port that no listener has never
    /// applies, which is almost certainly a mistake (a port changed in one file and not the other).
    ///
    /// Warnings only: the rules stay valid, as a listener may be added later.
    package static func validate(
        _ rules: InspectionRules, file: String, against configuration: MosquittoConfiguration
    ) -> [ConfigurationDiagnostic] {
        let ports = Set(configuration.listeners.map(\.port))
        return rules.rules.compactMap { rule in
            guard let port = rule.listenerPort, !ports.contains(port) else { return nil }
            let known = ports.sorted().map(String.init).joined(separator: ", ")
            return ConfigurationDiagnostic(
                .warning, file: file, line: rule.line,
                "rule \(rule.name): no listener of mosquitto.conf has port \(port) (listening on \(known)); the rule "
                    + "never applies")
        }
    }
}

/// The keywords of the file, in the order the documentation lists them.
private enum Keyword: String, CaseIterable {
    case rule
    case listener
    case topic
    case maxPayload = "max_payload"
    case payload
    case denyPattern = "deny_pattern"
    case denyPatternHex = "deny_pattern_hex"
    case rate
}

/// One value of a line: a bare word, or a quoted string with its escapes decoded.
private struct Token {
    /// As written; for a quoted string, without the quotes and escapes undecoded.
    var text: Substring
    /// The decoded bytes of a quoted string; nil for a bare word.
    var quoted: [UInt8]?

    /// A bare word starting with `#`: the rest of the line is a comment.
    var isComment: Bool { quoted == nil && text.utf8.first == UInt8(ascii: "#") }
}

/// Splits one line into tokens on demand, so that a trailing comment is never tokenized (it may hold anything,
/// an unbalanced quote included).
private struct LineScanner {
    struct Failure: Error {
        var message: String
    }

    let line: Substring
    private var index: Substring.UTF8View.Index

    init(_ line: Substring) {
        self.line = line
        index = line.utf8.startIndex
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// The next token; nil at the end of the line.
    mutating func next() throws(Failure) -> Token? {
        let utf8 = line.utf8
        while index != utf8.endIndex, Self.isBlank(utf8[index]) { index = utf8.index(after: index) }
        guard index != utf8.endIndex else { return nil }
        let start = index
        guard utf8[index] == UInt8(ascii: "\"") else {
            while index != utf8.endIndex, !Self.isBlank(utf8[index]) { index = utf8.index(after: index) }
            return Token(text: line[start..<index], quoted: nil)
        }
        index = utf8.index(after: index)
        let contentStart = index
        var bytes: [UInt8] = []
        while true {
            guard index != utf8.endIndex else { throw Failure(message: "unterminated quoted string") }
            let byte = utf8[index]
            index = utf8.index(after: index)
            if byte == UInt8(ascii: "\"") { break }
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                continue
            }
            guard index != utf8.endIndex else { throw Failure(message: "unterminated quoted string") }
            let escape = utf8[index]
            index = utf8.index(after: index)
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(escape)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "x"):
                var value: UInt8 = 0
                for _ in 0..<2 {
                    guard index != utf8.endIndex, let digit = hexValue(utf8[index]) else {
                        throw Failure(message: "\"\\x\" must be followed by two hex digits")
                    }
                    value = value << 4 | digit
                    index = utf8.index(after: index)
                }
                bytes.append(value)
            default:
                // The escape is one character, which may take several bytes: show it whole.
                let from = utf8.index(before: index)
                let character = line[from...].prefix(1)
                throw Failure(message: "unknown escape \"\\\(character)\"; use \\\" \\\\ \\n \\r \\t or \\xHH")
            }
        }
        let text = line[contentStart..<utf8.index(before: index)]
        if index != utf8.endIndex, !Self.isBlank(utf8[index]) {
            throw Failure(message: "text right after the closing quote; separate values with blanks")
        }
        return Token(text: text, quoted: bytes)
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// The state of one parse: the rules so far and every problem found.
private struct InspectionRulesParser {
    let file: String
    var rules: [InspectionRule] = []
    var diagnostics: [ConfigurationDiagnostic] = []

    /// The rule being read; nil before the first `rule` line.
    var current: InspectionRule?
    /// Whether a line of the current rule (its `rule` line included) had an error: then "checks nothing" would
    /// only repeat that error, and is not said.
    var currentHadError = false
    /// Where each single-valued option of the current rule was set, to point a duplicate at the first one.
    var setAt: [Keyword: Int] = [:]
    /// Line of each rule name seen, valid or not kept.
    var names: [String: Int] = [:]

    init(file: String) {
        self.file = file
    }

    mutating func error(_ line: Int, _ message: String) {
        diagnostics.append(ConfigurationDiagnostic(.error, file: file, line: line, message))
        if current != nil { currentHadError = true }
    }

    func result() -> InspectionRulesLoader.Outcome {
        // Rule-level problems are found when the rule ends, after its lines: put them back in line order.
        let sorted = diagnostics.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map(\.element)
        let failed = sorted.contains { $0.severity == .error }
        return (failed ? nil : InspectionRules(rules: rules), sorted)
    }

    mutating func parse(_ text: String) {
        var number = 0
        // "\r\n" is one Character in Swift, so splitting at "\n" alone would not split Windows line endings.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            var line = rawLine[...]
            if line.last == "\r" { line = line.dropLast() }
            parseLine(line, number: number)
        }
        closeRule()
    }

    mutating func parseLine(_ line: Substring, number: Int) {
        var scanner = LineScanner(line)
        let first: Token
        do {
            guard let token = try scanner.next() else { return }
            first = token
        } catch {
            self.error(number, error.message)
            return
        }
        if first.isComment { return }
        guard first.quoted == nil, let keyword = Keyword(rawValue: String(first.text)) else {
            let known = Keyword.allCases.map(\.rawValue)
            error(
                number,
                "unknown keyword \"\(first.text)\"; expected \(known.dropLast().joined(separator: ", ")) or "
                    + "\(known.last ?? "")")
            return
        }
        var context = LineContext(keyword: keyword, number: number, scanner: scanner)
        do {
            try handle(&context)
        } catch {
            self.error(number, "\(keyword.rawValue): \(error.message)")
        }
    }

    // MARK: Keywords

    /// What a keyword handler reads its values from; a handler reports its problem by throwing.
    struct LineContext {
        let keyword: Keyword
        let number: Int
        var scanner: LineScanner

        /// The next value, which must be there.
        mutating func value() throws(LineScanner.Failure) -> Token {
            guard let token = try scanner.next(), !token.isComment else {
                throw LineScanner.Failure(message: "missing value")
            }
            return token
        }

        /// The next value as a bare word.
        mutating func word() throws(LineScanner.Failure) -> Substring {
            let token = try value()
            guard token.quoted == nil else { throw LineScanner.Failure(message: "the value must not be quoted") }
            return token.text
        }

        /// Nothing but a comment may follow the values.
        mutating func end() throws(LineScanner.Failure) {
            guard let token = try scanner.next(), !token.isComment else { return }
            let shown = token.quoted == nil ? token.text : "\"\(token.text)\""
            throw LineScanner.Failure(
                message: "unexpected \"\(shown)\" after the value; a comment after a value starts with \"#\"")
        }

        func integer(_ text: Substring, _ range: ClosedRange<Int>, _ what: String = "a number") throws(LineScanner
            .Failure)
            -> Int
        {
            guard let value = Int(text) else { throw LineScanner.Failure(message: "\"\(text)\" is not \(what)") }
            guard range.contains(value) else {
                throw LineScanner.Failure(
                    message: "\(value) is out of range (\(range.lowerBound) to \(range.upperBound))")
            }
            return value
        }
    }

    mutating func handle(_ context: inout LineContext) throws(LineScanner.Failure) {
        if context.keyword == .rule {
            let name: Substring
            do {
                name = try context.word()
            } catch {
                // Still a rule: its options are checked, and not reported as outside a rule.
                openRule(nil, number: context.number)
                throw error
            }
            openRule(String(name), number: context.number)
            try context.end()
            return
        }
        guard current != nil else {
            throw LineScanner.Failure(message: "outside a rule; start one with \"rule NAME\" first")
        }
        switch context.keyword {
        case .rule:
            return
        case .listener:
            let port = try context.integer(context.word(), 1...65535, "a port number")
            try context.end()
            try once(context)
            current?.listenerPort = port
        case .topic:
            // The one value that may start with "#": `topic #` is the filter of every topic, not a comment.
            guard let token = try context.scanner.next() else { throw LineScanner.Failure(message: "missing value") }
            let filter = try topicFilter(token)
            try context.end()
            current?.topicFilters.append(filter)
        case .maxPayload:
            let limit = try context.integer(context.word(), 0...InspectionRulesLoader.maximumPayloadLimit)
            try context.end()
            try once(context)
            current?.maxPayload = limit
        case .payload:
            let word = try context.word()
            guard let format = InspectionRule.PayloadFormat(rawValue: String(word)) else {
                let names = InspectionRule.PayloadFormat.allCases.map(\.rawValue).joined(separator: ", ")
                throw LineScanner.Failure(message: "\"\(word)\" is not one of \(names)")
            }
            try context.end()
            try once(context)
            current?.payloadFormat = format
        case .denyPattern:
            let token = try context.value()
            guard let bytes = token.quoted else {
                throw LineScanner.Failure(
                    message: "the pattern must be quoted, e.g. deny_pattern \"\(token.text)\"")
            }
            guard !bytes.isEmpty else {
                throw LineScanner.Failure(message: "empty pattern; it would match every message")
            }
            try context.end()
            current?.denyPatterns.append(bytes)
        case .denyPatternHex:
            let bytes = try hexBytes(context.word())
            try context.end()
            current?.denyPatterns.append(bytes)
        case .rate:
            let rate = try self.rate(&context)
            try once(context)
            current?.rate = rate
        }
    }

    /// Refuses a second value for an option that takes one per rule.
    mutating func once(_ context: LineContext) throws(LineScanner.Failure) {
        if let first = setAt[context.keyword] {
            throw LineScanner.Failure(
                message: "duplicate in rule \(current?.name ?? "") (first set at line \(first)); remove one")
        }
        setAt[context.keyword] = context.number
    }

    /// Starts a rule; nil for a `rule` line without a usable name (the line's error is reported by the caller).
    mutating func openRule(_ name: String?, number: Int) {
        closeRule()
        current = InspectionRule(name: name ?? "", line: number)
        currentHadError = name == nil
        setAt = [:]
        guard let name else { return }
        if let problem = Self.nameProblem(name) {
            error(number, "rule: \(problem)")
        } else if let first = names[name] {
            error(number, "duplicate rule name \"\(name)\" (first at line \(first))")
        } else {
            names[name] = number
        }
    }

    mutating func closeRule() {
        guard let rule = current else { return }
        if !rule.hasCheck && !currentHadError {
            error(
                rule.line,
                "rule \(rule.name) checks nothing; add max_payload, payload, deny_pattern, deny_pattern_hex or rate")
        }
        current = nil
        // A file with an error yields no rules at all, so a rule with one need not be kept apart.
        rules.append(rule)
    }

    // MARK: Values

    static func nameProblem(_ name: String) -> String? {
        guard name.utf8.count <= 64 else { return "name \"\(name)\" is longer than 64 characters" }
        let allowed = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
        return allowed ? nil : "name \"\(name)\" may only contain letters, digits, '.', '_' and '-'"
    }

    func topicFilter(_ token: Token) throws(LineScanner.Failure) -> String {
        let filter: String
        if let bytes = token.quoted {
            guard let decoded = String(validating: bytes, as: UTF8.self) else {
                throw LineScanner.Failure(message: "\"\(token.text)\" is not valid UTF-8")
            }
            filter = decoded
        } else {
            filter = String(token.text)
        }
        if Topic.sharedSubscription(filter) != nil {
            throw LineScanner.Failure(
                message: "\"\(filter)\" is a shared subscription filter; messages are published to topics, write "
                    + "the filter without $share/GROUP/")
        }
        do {
            try Topic.validateFilter(filter)
        } catch {
            throw LineScanner.Failure(message: "\"\(filter)\" is not a valid topic filter: \(error.message)")
        }
        return filter
    }

    func hexBytes(_ text: Substring) throws(LineScanner.Failure) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for byte in text.utf8 {
            guard let digit = hexValue(byte) else {
                throw LineScanner.Failure(message: "\"\(text)\" is not hexadecimal (two digits 0-9a-f per byte)")
            }
            if let value = high {
                bytes.append(value << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        guard high == nil else {
            throw LineScanner.Failure(message: "\"\(text)\" has an odd number of hex digits (two per byte)")
        }
        return bytes
    }

    /// `N/s` or `N/m`, then optionally `burst B`.
    func rate(_ context: inout LineContext) throws(LineScanner.Failure) -> InspectionRule.Rate {
        let text = try context.word()
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let unit = InspectionRule.Rate.Unit(rawValue: String(parts[1])), Int(parts[0]) != nil
        else {
            throw LineScanner.Failure(
                message: "\"\(text)\" is not a rate; write N/s or N/m (messages per second or per minute), "
                    + "e.g. 10/s")
        }
        let messages = try context.integer(parts[0], 1...InspectionRulesLoader.maximumRate)
        var burst: Int?
        if let next = try context.scanner.next(), !next.isComment {
            guard next.quoted == nil, next.text == "burst" else {
                throw LineScanner.Failure(
                    message: "unexpected \"\(next.text)\" after the rate; write rate N/s burst B")
            }
            let value = try context.value()
            guard value.quoted == nil, let count = Int(value.text) else {
                throw LineScanner.Failure(message: "burst \"\(value.text)\" is not a number")
            }
            guard (1...InspectionRulesLoader.maximumRate).contains(count) else {
                throw LineScanner.Failure(
                    message: "burst \(count) is out of range (1 to \(InspectionRulesLoader.maximumRate))")
            }
            burst = count
            try context.end()
        }
        return InspectionRule.Rate(messages: messages, per: unit, burst: burst)
    }
}
