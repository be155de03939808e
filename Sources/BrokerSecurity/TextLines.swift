/// Line handling shared by the password file and ACL file readers.
///
/// Lines are split on the UTF-8 byte `\n` rather than on `Character`s: Swift treats `"\r\n"` as one grapheme, so a
/// `Character` split would not cut CRLF files into lines.
enum TextLines {
    private static let newline = UInt8(ascii: "\n")
    private static let byteOrderMark: Character = "\u{FEFF}"

    /// Calls `body` with each line (without its `\n`) and its 1-based number. A leading UTF-8 byte order mark is
    /// dropped because editors add it invisibly and it would otherwise become part of the first username or
    /// keyword.
    static func forEachLine<E: Error>(
        in contents: String, _ body: (Substring, Int) throws(E) -> Void
    ) throws(E) {
        var text = Substring(contents)
        if text.first == byteOrderMark {
            text = text.dropFirst()
        }
        var number = 0
        for lineBytes in text.utf8.split(separator: newline, omittingEmptySubsequences: false) {
            number += 1
            try body(Substring(lineBytes), number)
        }
    }

    /// Decodes file bytes as UTF-8, naming the first line that is not valid UTF-8.
    static func decode(_ bytes: some Collection<UInt8>, fileName: String) throws(SecurityFileError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) {
            return text
        }
        var number = 0
        for lineBytes in bytes.split(separator: newline, omittingEmptySubsequences: false) {
            number += 1
            if String(validating: lineBytes, as: UTF8.self) == nil {
                throw SecurityFileError(file: fileName, line: number, message: "line is not valid UTF-8")
            }
        }
        // Unreachable in practice: invalid UTF-8 must sit on some line. Report line 1 rather than trap.
        throw SecurityFileError(file: fileName, line: 1, message: "file is not valid UTF-8")
    }

    /// C `isspace` in the "C" locale, which is what Mosquitto trims with.
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// `text` without leading and trailing `isSpace` characters (Mosquitto's `misc__trimblanks`). Works on
    /// Unicode scalars: the spaces are ASCII, and no multi-byte scalar is a space, so this equals a byte trim.
    static func trimmed(_ text: Substring) -> Substring {
        trimmedTrailing(trimmedLeading(text))
    }

    /// `text` without leading `isSpace` characters.
    static func trimmedLeading(_ text: Substring) -> Substring {
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        while start < scalars.endIndex, isSpace(scalars[start]) {
            start = scalars.index(after: start)
        }
        return text[start...]
    }

    /// `text` without trailing `isSpace` characters.
    static func trimmedTrailing(_ text: Substring) -> Substring {
        let scalars = text.unicodeScalars
        var end = scalars.endIndex
        while end > scalars.startIndex {
            let previous = scalars.index(before: end)
            guard isSpace(scalars[previous]) else { break }
            end = previous
        }
        return text[..<end]
    }

    private static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && isSpace(UInt8(truncatingIfNeeded: scalar.value))
    }
}
