/// Byte-level payload checks: UTF-8, JSON and fixed byte patterns.
///
/// They run on every inspected PUBLISH, on the payload's own bytes (no copy, no decoding into Swift strings or
/// Foundation objects): each is one forward pass that allocates nothing and holds no state beyond a few integers,
/// so a payload cannot make the broker build a large structure or recurse deeply.
package enum PayloadValidation {
    /// Deepest nesting of arrays and objects `validateJSON` follows: the containers are tracked in the bits of one
    /// `UInt64`, which is what keeps the validator free of allocation.
    package static let maximumJSONDepth = 64

    /// The offset of the first ill-formed UTF-8 sequence, nil when every byte is part of a well-formed one.
    ///
    /// Well-formed as Unicode table 3-7 defines it: no overlong forms (C0, C1, E0 80–9F, F0 80–8F), no surrogates
    /// (ED A0–BF), nothing above U+10FFFF (F4 90–BF, F5–FF), no truncated sequence, no stray continuation byte.
    package static func firstInvalidUTF8(in bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        var index = 0
        while index < count {
            // ASCII runs eight bytes at a time: the usual payload is mostly ASCII.
            while index + 8 <= count,
                bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                index += 8
            }
            guard index < count else { return nil }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            let second: ClosedRange<UInt8>
            switch lead {
            case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
            case 0xE0: (length, second) = (3, 0xA0...0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
            case 0xED: (length, second) = (3, 0x80...0x9F)
            case 0xF0: (length, second) = (4, 0x90...0xBF)
            case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
            case 0xF4: (length, second) = (4, 0x80...0x8F)
            default: return index
            }
            guard index + length <= count, second.contains(bytes[index + 1]) else { return index }
            for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 {
                return index
            }
            index += length
        }
        return nil
    }

    /// Checks that the bytes are one JSON value (RFC 8259 §2) with optional white space around it.
    ///
    /// Grammar only: the bytes must already be well-formed UTF-8 (`firstInvalidUTF8`), which is what lets strings
    /// pass bytes ≥ 0x80 through unexamined. Beyond the grammar, `\u` escapes of unpaired surrogates are refused
    /// (see `JSONSyntaxError.unpairedSurrogate`) and so is a byte order mark (RFC 8259 §8.1).
    /// - Parameter maximumDepth: 1 to `maximumJSONDepth`; `[[1]]` has depth 2.
    /// - Returns: where and why the grammar broke; nil for valid JSON.
    package static func validateJSON(
        _ bytes: UnsafeRawBufferPointer, maximumDepth: Int = maximumJSONDepth
    ) -> (offset: Int, error: JSONSyntaxError)? {
        var scanner = JSONScanner(bytes: bytes, maximumDepth: min(max(maximumDepth, 1), maximumJSONDepth))
        return scanner.run()
    }
}

/// The iterative JSON grammar of `PayloadValidation.validateJSON`.
private struct JSONScanner {
    private enum State {
        /// A value must come: at the top, after `[`, `:` or a `,` in an array.
        case value
        /// A string key must come: after a `,` in an object.
        case key
        /// A value ended: the end (at the top), `,` or the container's closing bracket must come.
        case afterValue
    }

    let bytes: UnsafeRawBufferPointer
    let maximumDepth: Int
    private var index = 0
    private var depth = 0
    /// Bit `n` is set when the container at depth `n + 1` is an object, clear for an array.
    private var objects: UInt64 = 0

    init(bytes: UnsafeRawBufferPointer, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    private var isInObject: Bool { objects & (1 << UInt64(depth - 1)) != 0 }

    mutating func run() -> (offset: Int, error: JSONSyntaxError)? {
        guard !bytes.isEmpty else { return (0, .empty) }
        var state = State.value
        while true {
            skipWhitespace()
            switch state {
            case .value:
                guard index < bytes.count else { return (index, .unexpectedEnd) }
                switch bytes[index] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    let isObject = bytes[index] == UInt8(ascii: "{")
                    guard depth < maximumDepth else { return (index, .tooDeep) }
                    depth += 1
                    let bit: UInt64 = 1 << UInt64(depth - 1)
                    objects = isObject ? objects | bit : objects & ~bit
                    index += 1
                    skipWhitespace()
                    guard index < bytes.count else { return (index, .unexpectedEnd) }
                    if bytes[index] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        index += 1
                        depth -= 1
                        state = .afterValue
                    } else {
                        state = isObject ? .key : .value
                    }
                case Self.quote:
                    if let failure = string() { return failure }
                    state = .afterValue
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if let failure = number() { return failure }
                    state = .afterValue
                case UInt8(ascii: "t"):
                    if let failure = literal("true") { return failure }
                    state = .afterValue
                case UInt8(ascii: "f"):
                    if let failure = literal("false") { return failure }
                    state = .afterValue
                case UInt8(ascii: "n"):
                    if let failure = literal("null") { return failure }
                    state = .afterValue
                default:
                    return (index, .unexpectedByte)
                }
            case .key:
                guard index < bytes.count else { return (index, .unexpectedEnd) }
                guard bytes[index] == Self.quote else { return (index, .expectedKey) }
                if let failure = string() { return failure }
                skipWhitespace()
                guard index < bytes.count else { return (index, .unexpectedEnd) }
                guard bytes[index] == UInt8(ascii: ":") else { return (index, .expectedColon) }
                index += 1
                state = .value
            case .afterValue:
                if depth == 0 { return index == bytes.count ? nil : (index, .trailingData) }
                guard index < bytes.count else { return (index, .unexpectedEnd) }
                let isObject = isInObject
                switch bytes[index] {
                case UInt8(ascii: ","):
                    index += 1
                    state = isObject ? .key : .value
                case UInt8(ascii: "}") where isObject, UInt8(ascii: "]") where !isObject:
                    index += 1
                    depth -= 1
                default:
                    return (index, isObject ? .expectedCommaOrBrace : .expectedCommaOrBracket)
                }
            }
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// A string from its opening quote to after its closing quote.
    private mutating func string() -> (offset: Int, error: JSONSyntaxError)? {
        index += 1
        while true {
            guard index < bytes.count else { return (index, .unexpectedEnd) }
            let byte = bytes[index]
            if byte == Self.quote {
                index += 1
                return nil
            }
            if byte < 0x20 { return (index, .controlCharacter) }
            guard byte == Self.backslash else {
                index += 1
                continue
            }
            let escapeStart = index
            guard index + 1 < bytes.count else { return (index + 1, .unexpectedEnd) }
            switch bytes[index + 1] {
            case Self.quote, Self.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                index += 2
            case UInt8(ascii: "u"):
                guard let unit = hexUnit(at: index + 2) else { return (escapeStart, .invalidEscape) }
                index += 6
                switch unit {
                case 0xD800...0xDBFF:
                    // A high surrogate must be followed at once by the escape of a low one.
                    guard index + 1 < bytes.count, bytes[index] == Self.backslash,
                        bytes[index + 1] == UInt8(ascii: "u"), let low = hexUnit(at: index + 2),
                        (0xDC00...0xDFFF).contains(low)
                    else { return (escapeStart, .unpairedSurrogate) }
                    index += 6
                case 0xDC00...0xDFFF:
                    return (escapeStart, .unpairedSurrogate)
                default:
                    break
                }
            default:
                return (escapeStart, .invalidEscape)
            }
        }
    }

    /// The four hex digits of a `\u` escape starting at `start`; nil when they are not all there.
    private func hexUnit(at start: Int) -> UInt16? {
        guard start + 4 <= bytes.count else { return nil }
        var value: UInt16 = 0
        for offset in 0..<4 {
            let byte = bytes[start + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    private func isDigit(at position: Int) -> Bool {
        position < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position])
    }

    private mutating func skipDigits() {
        while isDigit(at: index) { index += 1 }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` (RFC 8259 §6); the failure points at the number's
    /// first byte, where a reader starts looking.
    private mutating func number() -> (offset: Int, error: JSONSyntaxError)? {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard isDigit(at: index) else { return (start, .invalidNumber) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            // No leading zeros: `01` is not a number (and not `0` followed by `1`).
            if isDigit(at: index) { return (start, .invalidNumber) }
        } else {
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(at: index) else { return (start, .invalidNumber) }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard isDigit(at: index) else { return (start, .invalidNumber) }
            skipDigits()
        }
        return nil
    }

    private mutating func literal(_ word: StaticString) -> (offset: Int, error: JSONSyntaxError)? {
        let length = word.utf8CodeUnitCount
        guard index + length <= bytes.count else { return (index, .invalidLiteral) }
        // Literals are ASCII string literals: their bytes are in the binary, no closure needed to reach them.
        let expected = word.utf8Start
        for offset in 0..<length where bytes[index + offset] != expected[offset] {
            return (index, .invalidLiteral)
        }
        index += length
        return nil
    }
}

/// A byte string to find in payloads, with its Boyer–Moore–Horspool shift table computed once per rule set.
package struct BytePattern: Sendable, Hashable {
    package let bytes: [UInt8]
    /// How far the window may move when its last byte is `b`: the distance from the last occurrence of `b` in the
    /// pattern (last position excluded) to the pattern's end, or the whole length.
    private let shifts: [Int]

    package init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var shifts = [Int](repeating: max(bytes.count, 1), count: 256)
        for (position, byte) in bytes.enumerated().dropLast() {
            shifts[Int(byte)] = bytes.count - 1 - position
        }
        self.shifts = shifts
    }

    /// Whether the pattern occurs anywhere in `haystack`. An empty pattern occurs everywhere.
    package func occurs(in haystack: UnsafeRawBufferPointer) -> Bool {
        let length = bytes.count
        guard length > 0 else { return true }
        guard length <= haystack.count else { return false }
        return bytes.withUnsafeBufferPointer { pattern in
            shifts.withUnsafeBufferPointer { shifts in
                let last = length - 1
                let lastByte = pattern[last]
                var position = 0
                while position <= haystack.count - length {
                    let byte = haystack[position + last]
                    if byte == lastByte {
                        var offset = last - 1
                        while offset >= 0, haystack[position + offset] == pattern[offset] { offset -= 1 }
                        if offset < 0 { return true }
                    }
                    position += shifts[Int(byte)]
                }
                return false
            }
        }
    }
}
