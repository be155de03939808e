import Foundation

/// A firewall change that did not happen, or did not happen as intended: at which step, what nft (or the
/// verification) said, and where in the submitted text the problem is when nft named a line.
package struct FirewallDriverError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Phase: String, Sendable {
        /// `nft -c` refused the ruleset; nothing was changed.
        case check
        /// The kernel refused the transaction; nft applies a file all-or-nothing, so nothing was changed.
        case apply
        /// Reading the table back failed.
        case readBack
        /// The table read back is not the one expected; the previous ruleset was put back.
        case verify
        /// Adding or deleting set elements failed; nothing was changed.
        case setUpdate
        /// nft cannot be run here (missing, or no CAP_NET_ADMIN).
        case unavailable
    }

    package var phase: Phase
    /// nft's stderr, trimmed, or the differences the verification found.
    package var message: String
    /// The line of the submitted text nft complained about (1-based).
    package var line: Int?
    /// The text of that line as it was submitted.
    package var lineText: String?

    package init(phase: Phase, message: String, line: Int? = nil, lineText: String? = nil) {
        self.phase = phase
        self.message = message
        self.line = line
        self.lineText = lineText
    }

    package var description: String {
        var text = "firewall \(phase.rawValue) failed"
        if let line {
            text += " at line \(line)"
            if let lineText { text += " (\(lineText.trimmingCharacters(in: .whitespaces)))" }
        }
        return text + ": " + message
    }

    /// Locates nft's first complaint about `file` in its stderr (`FILE:LINE:COL-COL: Error: …`) in the `submitted`
    /// text that was written to that file.
    static func located(phase: Phase, stderr: String, file: String, submitted: String) -> FirewallDriverError {
        let message = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let line = errorLine(in: stderr, file: file) else {
            return FirewallDriverError(phase: phase, message: message)
        }
        let lines = submitted.split(separator: "\n", omittingEmptySubsequences: false)
        let lineText = lines.indices.contains(line - 1) ? String(lines[line - 1]) : nil
        return FirewallDriverError(phase: phase, message: message, line: line, lineText: lineText)
    }

    /// The line number of the first `FILE:LINE:…: Error:` report about `file` (internal for tests).
    static func errorLine(in stderr: String, file: String) -> Int? {
        let prefix = file + ":"
        for reportLine in stderr.split(separator: "\n") where reportLine.hasPrefix(prefix) {
            let location = reportLine.dropFirst(prefix.count)
            guard location.contains(": Error:") else { continue }
            let digits = location.prefix(while: \.isNumber)
            if let number = Int(digits), number > 0, location.dropFirst(digits.count).first == ":" { return number }
        }
        return nil
    }
}
