/// The nft text the driver writes itself (set element updates) and reads from nft's text listings.
enum NFTablesText {
    /// nft refuses comments longer than this many bytes.
    static let maximumCommentBytes = 128

    /// `add element` (or `delete element`) for `elements`, one element per line so that nft's error names the
    /// offending element's line; one statement, so nft applies all of it or none.
    static func elementsCommand(verb: String, family: String, table: String, set: String, elements: [String])
        -> String
    {
        var text = "\(verb) element \(family) \(table) \(set) {\n"
        text.reserveCapacity(elements.count * 48)
        for (index, element) in elements.enumerated() {
            text += element
            text += index == elements.count - 1 ? "\n" : ",\n"
        }
        return text + "}\n"
    }

    /// One element as nft reads it: `192.0.2.5 timeout 5s comment "…"`.
    static func element(_ element: SetElement) -> String {
        var text = element.text
        if let timeout = element.timeout { text += " timeout " + Self.timeout(timeout) }
        if let comment = element.comment { text += " comment \"" + Self.comment(comment) + "\"" }
        return text
    }

    /// nft's time notation in milliseconds (`1500ms`), or seconds when whole (`5s`); at least 1 ms, since a zero
    /// timeout is not one nft accepts.
    static func timeout(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    /// `comment` made safe inside nft's double quotes, which have no escapes: double quotes become single quotes,
    /// control characters (a newline would end the statement) become spaces, and the text is cut to nft's limit
    /// without splitting a character.
    static func comment(_ comment: String) -> String {
        var safe = ""
        var bytes = 0
        for character in comment {
            let replaced: Character =
                character == "\""
                ? "'" : character.unicodeScalars.contains(where: \.properties.isControlOrFormat) ? " " : character
            let size = replaced.utf8.count
            guard bytes + size <= maximumCommentBytes else { break }
            safe.append(replaced)
            bytes += size
        }
        return safe
    }

    /// Whether `name` is an identifier nft reads as a name (of a set, a table), so that it cannot change the
    /// statement it is written into.
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" || first == "." else {
            return false
        }
        return name.unicodeScalars.allSatisfy {
            $0.isASCIILetter || $0.isASCIIDigit || "_./-".unicodeScalars.contains($0)
        }
    }

    /// Whether `text` is an address, a prefix, a range or a number (`192.0.2.5`, `2001:db8::/64`,
    /// `192.0.2.5-192.0.2.9`, `22`). Anything else is refused before it reaches nft: it could change the statement
    /// it is written into, and nft would resolve a host name through DNS.
    static func isElementValue(_ text: String) -> Bool {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 1 || bounds.count == 2 else { return false }
        return bounds.allSatisfy { bound in
            let parts = bound.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 1 || (parts.count == 2 && isNumber(parts[1])) else { return false }
            let address = parts[0].unicodeScalars
            // IPv4 and numbers are digits and dots; IPv6 has colons, which no host name has.
            return !address.isEmpty
                && (address.allSatisfy { $0.isASCIIDigit || $0 == "." }
                    || (address.contains(":")
                        && address.allSatisfy { $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." }))
        }
    }

    private static func isNumber(_ text: Substring) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy(\.isASCIIDigit)
    }

    /// The block `table <family> <table> { … }` in a text listing of the ruleset; nil when it is not there.
    static func tableBlock(in listing: String, family: String, table: String) -> String? {
        let lines = listing.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0 == "table \(family) \(table) {" }),
            let end = lines[start...].firstIndex(where: { $0 == "}" })
        else { return nil }
        return lines[start...end].joined(separator: "\n") + "\n"
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Unicode.Scalar.Properties {
    fileprivate var isControlOrFormat: Bool { generalCategory == .control || generalCategory == .format }
}
