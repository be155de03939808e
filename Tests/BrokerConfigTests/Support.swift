import BrokerConfig
import Foundation

/// An in-memory file tree: the tests' `ConfigurationSource`.
struct InMemorySource: ConfigurationSource {
    struct NotFound: Error {}

    var files: [String: String]
    /// Directories that exist even without files in them.
    var directories: Set<String> = []

    init(_ files: [String: String], directories: Set<String> = []) {
        self.files = files
        self.directories = directories
    }

    func read(_ path: String) throws -> String {
        guard let text = files[path] else { throw NotFound() }
        return text
    }

    func list(directory: String) throws -> [String] {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        var names = Set<String>()
        for path in files.keys where path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            names.insert(String(rest.prefix(while: { $0 != "/" })))
        }
        guard !names.isEmpty || directories.contains(directory) else { throw NotFound() }
        return names.sorted().shuffled()
    }
}

/// The fixture corpus next to this file (`#filePath`, symlinks resolved so a symlinked package works too).
enum Fixtures {
    static let testsDirectory = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
    static let directory = testsDirectory.appendingPathComponent("Fixtures")
    static let docs = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/mosquitto-options.md")

    /// Set `RAMPART_REGENERATE_FIXTURES=1` to rewrite `*.expected` and the docs table from the current output
    /// (then review the diff: the files are the specification).
    static let regenerate = ProcessInfo.processInfo.environment["RAMPART_REGENERATE_FIXTURES"] == "1"

    /// `Fixtures/root/X` as `/X`: the files the corpus refers to (certificates, password files, include dirs).
    static func rootTree() throws -> [String: String] {
        let root = directory.appendingPathComponent("root").resolvingSymlinksInPath()
        var files: [String: String] = [:]
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        else { return files }
        for case let url as URL in enumerator {
            let values = try url.resourceValues(forKeys: [.isRegularFileKey])
            guard values.isRegularFile == true else { continue }
            let relative = url.resolvingSymlinksInPath().path.dropFirst(root.path.count)
            files[String(relative)] = try String(contentsOf: url, encoding: .utf8)
        }
        return files
    }

    /// The `*.conf` files of `Fixtures/<group>`.
    static func configurations(_ group: String) -> [String] {
        let folder = directory.appendingPathComponent(group)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".conf") }.sorted()
    }

    static func text(_ group: String, _ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(group).appendingPathComponent(name), encoding: .utf8)
    }

    static func write(_ text: String, _ group: String, _ name: String) throws {
        try text.write(
            to: directory.appendingPathComponent(group).appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Loads a corpus file as main file `<name>` (so diagnostics read `name.conf:3: …`) over the root tree.
    static func load(_ group: String, _ name: String) throws -> ConfigurationResult {
        var files = try rootTree()
        files[name] = try text(group, name)
        return ConfigurationLoader.load(mainFile: name, source: InMemorySource(files))
    }

    /// Diagnostics as the `.expected` files list them: errors as `file:line: message`, warnings marked.
    static func lines(_ diagnostics: [ConfigurationDiagnostic]) -> [String] {
        diagnostics.map { diagnostic in
            switch diagnostic.severity {
            case .error: diagnostic.description
            case .warning: "warning: \(diagnostic.description)"
            }
        }
    }
}
