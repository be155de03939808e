/// Reads mosquitto.conf(5) files into a `MosquittoConfiguration`, reporting every problem at once.
///
/// The rules follow Mosquitto 2.0: a line whose first character is `#` is a comment; an option is a name followed
/// by its value; string values (paths, passwords, prefixes) are the rest of the line, so a `#` after a path is part
/// of the path; numbers and booleans are one word and Mosquitto ignores what follows. Listener options apply to the
/// most recent `listener` of the same file (before it, to the default listener); bridge options to the most recent
/// `connection` of the same file; `include_dir` is honoured in the main file only.
package enum ConfigurationLoader {
    /// Loads `mainFile` and the files its `include_dir` lines name.
    ///
    /// - Parameter workingDirectory: what relative paths are relative to. Mosquitto opens them as given, that is
    ///   relative to its working directory, not to the file that names them; pass the daemon's working directory to
    ///   have them resolved (the model then holds absolute paths). Nil leaves them as written, with a warning.
    package static func load(
        mainFile: String, source: any ConfigurationSource, workingDirectory: String? = nil
    ) -> ConfigurationResult {
        var parser = ConfigurationParser(source: source, workingDirectory: workingDirectory)
        return parser.run(mainFile: mainFile)
    }
}

/// A place in a configuration file.
struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    var file: String
    var line: Int

    var description: String { "\(file):\(line)" }
}

/// One option line, split the way Mosquitto splits it.
struct OptionLine {
    var location: SourceLocation
    var name: String
    /// Everything after the name, without surrounding blanks: the value of string options.
    var rest: Substring
    /// `rest` split at spaces and tabs: the value of word, number and boolean options.
    var words: [Substring]

    init?(_ text: Substring, location: SourceLocation) {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let trimmed = text.drop(while: isBlank)
        guard !trimmed.isEmpty else { return nil }
        let nameEnd = trimmed.firstIndex(where: isBlank) ?? trimmed.endIndex
        name = String(trimmed[..<nameEnd])
        var rest = trimmed[nameEnd...].drop(while: isBlank)
        while let last = rest.last, isBlank(last) { rest = rest.dropLast() }
        self.rest = rest
        words = rest.split(whereSeparator: isBlank)
        self.location = location
    }
}

/// Which listener and bridge the lines of one file apply to. Mosquitto keeps these per file: an included file
/// starts at the default listener and outside any bridge.
struct Cursor {
    enum Section { case none, listener, bridge }

    /// Index into the explicit listeners; nil for the default listener.
    var listener: Int?
    var bridge: Int?
    /// Which of the two was opened last, to warn when an option applies to the other one.
    var last: Section = .none
}

struct ListenerState {
    var listener: Listener
    /// The `listener` line, or the first line configuring the default listener.
    var location: SourceLocation?
    /// Where each option was last set, to point diagnostics at the right line.
    var setAt: [String: SourceLocation] = [:]
    /// False when the `listener` line itself was wrong; such a listener is not checked further.
    var valid = true
}

struct BridgeState {
    var bridge: Bridge
    var location: SourceLocation
    var setAt: [String: SourceLocation] = [:]
}

struct ConfigurationParser {
    let source: any ConfigurationSource
    let workingDirectory: String?

    var configuration = MosquittoConfiguration()
    var diagnostics: [ConfigurationDiagnostic] = []
    var globalSetAt: [String: SourceLocation] = [:]
    var defaultListener = ListenerState(listener: Listener(kind: .defaultListener, port: 1883))
    /// Whether an option that makes Mosquitto start the default listener was given for it.
    var defaultListenerConfigured = false
    /// `port` or `bind_address` (or `listener`) seen: Mosquitto no longer listens on loopback only.
    var portOrBindAddressSeen = false
    var explicitListeners: [ListenerState] = []
    var firstListenerLine: SourceLocation?
    /// The listeners as assembled (explicit, then default or local-only), with their locations.
    var checkedListeners: [ListenerState] = []
    var bridges: [BridgeState] = []
    /// The first security option, which `per_listener_settings true` must come before.
    var firstSecurityOption: SourceLocation?
    /// Security options that went to the default listener because `per_listener_settings` is true.
    var defaultListenerSecurity: [(SourceLocation, String)] = []
    var logTypesSet = false
    var logDestinationsSet = false
    var mainFile = ""

    init(source: any ConfigurationSource, workingDirectory: String?) {
        self.source = source
        self.workingDirectory = workingDirectory
    }

    // MARK: Driving

    mutating func run(mainFile rawMainFile: String) -> ConfigurationResult {
        mainFile = resolve(rawMainFile)
        guard let text = try? source.read(mainFile) else {
            diagnostics.append(.init(.error, file: mainFile, line: 0, "cannot read the configuration file"))
            return ConfigurationResult(configuration: nil, diagnostics: diagnostics)
        }
        configuration.files.append(mainFile)
        parse(text: text, file: mainFile, isMain: true)
        assemble()
        validate()
        let failed = diagnostics.contains { $0.severity == .error }
        return ConfigurationResult(configuration: failed ? nil : configuration, diagnostics: sortedDiagnostics())
    }

    /// Diagnostics in reading order (files as read, then lines); checks of the whole configuration are made after
    /// reading, so without this they would trail the line-by-line ones.
    func sortedDiagnostics() -> [ConfigurationDiagnostic] {
        let order = Dictionary(
            configuration.files.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        return diagnostics.enumerated().sorted { lhs, rhs in
            let left = (order[lhs.element.file] ?? 0, lhs.element.line, lhs.offset)
            let right = (order[rhs.element.file] ?? 0, rhs.element.line, rhs.offset)
            return left < right
        }.map(\.element)
    }

    mutating func parse(text: String, file: String, isMain: Bool) {
        var cursor = Cursor()
        var number = 0
        // "\r\n" is one Character in Swift: split on it too, or a file with Windows line ends is one long line.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            var line = rawLine[...]
            if line.last == "\r" { line = line.dropLast() }
            let location = SourceLocation(file: file, line: number)
            if line.first == "#" { continue }
            guard let option = OptionLine(line, location: location) else { continue }
            if option.name.hasPrefix("#") {
                warning(
                    location,
                    "comment does not start the line; Mosquitto treats only a \"#\" in the first column "
                        + "as a comment and would refuse this line")
                continue
            }
            handle(option, cursor: &cursor, isMain: isMain)
        }
    }

    // MARK: Diagnostics

    mutating func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(.init(.error, file: location.file, line: location.line, message))
    }

    mutating func warning(_ location: SourceLocation, _ message: String) {
        diagnostics.append(.init(.warning, file: location.file, line: location.line, message))
    }

    // MARK: Paths

    func isAbsolute(_ path: String) -> Bool { path.hasPrefix("/") }

    func resolve(_ path: String) -> String {
        guard !isAbsolute(path), let workingDirectory else { return path }
        return workingDirectory.hasSuffix("/") ? workingDirectory + path : workingDirectory + "/" + path
    }

    /// Resolves a path the configuration names, warning when it is relative and cannot be resolved here.
    mutating func path(_ value: String, _ line: OptionLine) -> String {
        if !isAbsolute(value) && workingDirectory == nil {
            warning(
                line.location,
                "\(line.name): relative path \"\(value)\" is relative to the gateway's working "
                    + "directory, not to this file (as in Mosquitto); prefer an absolute path")
        }
        return resolve(value)
    }

    enum FileCheck { case none, readableFile, listableDirectory }

    mutating func check(_ path: String, _ kind: FileCheck, _ line: OptionLine) {
        switch kind {
        case .none:
            return
        case .readableFile:
            if !source.isReadable(path) {
                error(line.location, "\(line.name): file not found: \"\(path)\" does not exist or cannot be read")
            }
        case .listableDirectory:
            if !source.isListable(directory: path) {
                error(
                    line.location,
                    "\(line.name): file not found: directory \"\(path)\" does not exist or cannot "
                        + "be read")
            }
        }
    }
}
