/// Where the loader gets file contents and directory listings from.
///
/// The module is pure: it never touches the file system itself, so the same parser serves the daemon (which passes
/// an adapter over the real file system), the profile editor and tests (which pass an in-memory tree). Paths reach
/// the source exactly as the loader resolved them (see `ConfigurationLoader.load(mainFile:source:workingDirectory:)`).
package protocol ConfigurationSource: Sendable {
    /// The whole text of a file; throws when it does not exist or cannot be read.
    func read(_ path: String) throws -> String
    /// Names (not paths) of the entries of a directory; throws when it does not exist or cannot be read.
    func list(directory: String) throws -> [String]
    /// Whether a file the configuration refers to (password file, certificate…) can be read.
    ///
    /// The default reads the file; an adapter over the file system can answer with `access(2)` instead.
    func isReadable(_ path: String) -> Bool
    /// Whether a directory the configuration refers to (`capath`, `bridge_capath`) can be listed.
    func isListable(directory: String) -> Bool
}

extension ConfigurationSource {
    package func isReadable(_ path: String) -> Bool {
        (try? read(path)) != nil
    }

    package func isListable(directory: String) -> Bool {
        (try? list(directory: directory)) != nil
    }
}

/// One problem found in a configuration, located at the line that caused it.
package struct ConfigurationDiagnostic: Sendable, Hashable, CustomStringConvertible {
    package enum Severity: String, Sendable, Hashable {
        /// The configuration is refused: the gateway would not do what the file asks.
        case error
        /// The configuration is accepted, but something in it behaves differently from Mosquitto or has no effect.
        case warning
    }

    package var severity: Severity
    /// The file as the loader named it: the main file as passed, included files as `directory/name`.
    package var file: String
    /// 1-based; 0 when the problem concerns the file as a whole (it cannot be read).
    package var line: Int
    package var message: String

    package init(_ severity: Severity, file: String, line: Int, _ message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`, the form compilers use, so editors and CI logs link to the line.
    package var description: String {
        line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)"
    }
}

/// What `ConfigurationLoader.load` found.
package struct ConfigurationResult: Sendable, Hashable {
    /// The configuration; nil when any diagnostic is an error, so a half-understood file is never run.
    package var configuration: MosquittoConfiguration?
    /// Every problem, in reading order (files in the order read, then by line), errors and warnings mixed.
    package var diagnostics: [ConfigurationDiagnostic]

    package var errors: [ConfigurationDiagnostic] { diagnostics.filter { $0.severity == .error } }
    package var warnings: [ConfigurationDiagnostic] { diagnostics.filter { $0.severity == .warning } }
}
