import Foundation
import PackagePlugin

/// Generates `ThirdPartyNotices.swift` (the `thirdPartyComponents` list of the About page) from the package graph,
/// so that the notices name exactly the packages and versions that are built, never a hand-typed list.
///
/// A build tool plugin may not write files itself, so it only gathers what the graph knows (names, versions, URLs,
/// where the licence and NOTICE files are) and hands it to `ThirdPartyNoticesGenerator` as arguments; the files it
/// will read are declared as inputs, so the list is regenerated whenever a dependency changes.
@main
struct ThirdPartyNotices: BuildToolPlugin {
    /// One dependency as the generator receives it, JSON-encoded in a `--component` argument (the generator has its
    /// own copy of this shape: a plugin cannot share code with the targets it builds).
    struct Component: Codable {
        var name: String
        var version: String
        var url: String
        var licencePath: String?
        var noticePath: String?
        /// `hash.txt` files of targets that vendor another project (BoringSSL in swift-crypto and swift-nio-ssl).
        var vendoredManifestPaths: [String]
    }

    /// The names licence files go by, in the order we prefer them.
    static let licenceFileNames = ["LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "License.txt"]
    static let noticeFileNames = ["NOTICE", "NOTICE.txt", "NOTICE.md"]

    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let components = Self.dependencies(of: context.package).map(Self.component(for:))
        let output = context.pluginWorkDirectoryURL.appending(path: "ThirdPartyNotices.swift")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var arguments = ["--output", output.path(percentEncoded: false)]
        for component in components {
            arguments += ["--component", String(decoding: try encoder.encode(component), as: UTF8.self)]
        }
        var inputs = components.flatMap {
            [$0.licencePath, $0.noticePath].compactMap { $0 } + $0.vendoredManifestPaths
        }
        // The build commit: HEAD and the ref it names are inputs, so a new commit regenerates the file.
        let git = context.package.directoryURL.appending(path: ".git").path(percentEncoded: false)
        if FileManager.default.fileExists(atPath: git + "/HEAD") {
            arguments += ["--git-dir", git]
            inputs.append(git + "/HEAD")
            if let head = try? String(contentsOfFile: git + "/HEAD", encoding: .utf8), head.hasPrefix("ref: ") {
                let ref = head.dropFirst("ref: ".count).trimmingCharacters(in: .whitespacesAndNewlines)
                for path in [git + "/" + ref, git + "/packed-refs"] where FileManager.default.fileExists(atPath: path) {
                    inputs.append(path)
                }
            }
        }
        return [
            .buildCommand(
                displayName: "Generating third-party notices for \(target.name) (\(components.count) packages)",
                executable: try context.tool(named: "ThirdPartyNoticesGenerator").url,
                arguments: arguments,
                inputFiles: inputs.map { URL(fileURLWithPath: $0) },
                outputFiles: [output]
            )
        ]
    }

    /// Every package `root` depends on, directly or not, once each, in a stable order.
    static func dependencies(of root: Package) -> [Package] {
        var seen: Set<Package.ID> = [root.id]
        var found: [Package] = []
        var pending = root.dependencies.map(\.package)
        while let package = pending.popLast() {
            guard seen.insert(package.id).inserted else { continue }
            found.append(package)
            pending += package.dependencies.map(\.package)
        }
        return found.sorted { $0.id < $1.id }
    }

    static func component(for package: Package) -> Component {
        let directory = package.directoryURL
        let name: String
        let version: String
        let url: String
        switch package.origin {
        case .repository(let repository, let displayVersion, _):
            // The repository's name rather than the manifest's: hdrhistogram-swift's manifest calls itself
            // "package-histogram", and the repository name is what an operator would search for.
            name = Self.repositoryName(repository) ?? package.displayName
            version = displayVersion
            url = repository
        case .registry(let identity, let displayVersion):
            name = package.displayName
            version = displayVersion
            url = identity
        case .local(let path):
            name = package.displayName
            version = "local"
            url = path
        case .root:
            name = package.displayName
            version = "local"
            url = directory.path(percentEncoded: false)
        @unknown default:
            name = package.displayName
            version = "unknown"
            url = directory.path(percentEncoded: false)
        }
        let vendored = package.targets.map { $0.directoryURL.appending(path: "hash.txt") }
            .filter { FileManager.default.fileExists(atPath: $0.path(percentEncoded: false)) }
        return Component(
            name: name,
            version: version,
            url: url,
            licencePath: Self.firstExisting(licenceFileNames, in: directory),
            noticePath: Self.firstExisting(noticeFileNames, in: directory),
            vendoredManifestPaths: vendored.map { $0.path(percentEncoded: false) }.sorted()
        )
    }

    /// `GRDB.swift` for `https://github.com/groue/GRDB.swift.git`.
    static func repositoryName(_ repository: String) -> String? {
        var last = repository.split(separator: "/").last.map(String.init) ?? ""
        if last.hasSuffix(".git") { last.removeLast(4) }
        return last.isEmpty ? nil : last
    }

    static func firstExisting(_ names: [String], in directory: URL) -> String? {
        names.lazy.map { directory.appending(path: $0).path(percentEncoded: false) }
            .first { FileManager.default.fileExists(atPath: $0) }
    }
}
