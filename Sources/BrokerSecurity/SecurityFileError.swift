/// A problem in a password or ACL file, located by file name and 1-based line number.
///
/// Rampart refuses a whole file when one line is wrong rather than skipping the line the way Mosquitto sometimes
/// does: a skipped `deny` line or a skipped user silently changes who may do what, which an operator must hear about
/// before the broker starts (or before a reload replaces the rules in force).
package struct SecurityFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name the caller gave for the file (usually its path); only used in messages.
    package var file: String
    /// 1-based line number of the offending line.
    package var line: Int
    /// What is wrong, in words an operator can act on.
    package var message: String

    package init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`, the form compilers use so editors can jump to the line.
    package var description: String { "\(file):\(line): \(message)" }
}
