/// A list of passwords too common to allow (the High policy's `notCommon` rule), compared case-insensitively:
/// "Password" is as guessable as "password".
///
/// The module reads no files: the web layer reads `Resources/common-passwords/10k-most-common.txt` (or another
/// list) and passes its text to `init(text:)`. Building the set from 10,000 lines takes milliseconds; build it
/// once and share it (it is an immutable value).
package struct CommonPasswords: Sendable, Equatable {
    private let entries: Set<String>

    /// An empty list: nothing counts as common.
    package static let none = CommonPasswords([String]())

    /// One password per line. Lines whose first non-blank character is `#` are comments; blank lines are skipped;
    /// spaces and tabs around an entry and CR line endings are dropped.
    package init(text: String) {
        var entries = Set<String>()
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let entry = line.trimmingBlanks
            guard !entry.isEmpty, !entry.hasPrefix("#") else { continue }
            entries.insert(entry.lowercased())
        }
        self.entries = entries
    }

    /// The given passwords, as they are (no comment handling).
    package init(_ passwords: some Sequence<String>) {
        entries = Set(passwords.map { $0.lowercased() })
    }

    /// How many distinct (case-insensitive) entries the list holds.
    package var count: Int { entries.count }

    /// Whether `password` is on the list, ignoring case.
    package func contains(_ password: String) -> Bool {
        entries.contains(password.lowercased())
    }
}

extension Substring {
    /// The text without leading and trailing spaces, tabs and carriage returns (`\r\n` splits as one newline
    /// `Character`, but a file with stray CRs should still parse).
    fileprivate var trimmingBlanks: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
