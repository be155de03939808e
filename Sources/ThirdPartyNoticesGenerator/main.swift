import Foundation

// Writes `ThirdPartyNotices.swift` for the `ThirdPartyNotices` build tool plugin: one `ThirdPartyComponent` per
// package of the graph, with the licence recognised from its text, so that nobody types the notices by hand.
//
// Usage: ThirdPartyNoticesGenerator --output FILE [--component JSON]...

/// One dependency as the plugin describes it (the plugin has its own copy of this shape).
struct ComponentArgument: Codable {
    var name: String
    var version: String
    var url: String
    var licencePath: String?
    var noticePath: String?
    var vendoredManifestPaths: [String]
}

/// A component ready to be written out.
struct Notice {
    var name: String
    var version: String
    var url: String
    var licence: String
    var licenceText: String
}

/// What `licence` says when no identifier matched, so that readers look at the text instead of guessing.
let unrecognisedLicence = "see licence text"

/// Recognises the SPDX identifier of a licence by phrases only that licence contains (whitespace and case folded),
/// since licence files carry no machine-readable identifier and their layout varies from one project to the next.
func spdxIdentifier(of text: String) -> String {
    let folded = text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    func has(_ phrases: String...) -> Bool { phrases.allSatisfy { folded.contains($0) } }

    if has("apache license", "version 2.0") || has("licensed under the apache license, version 2.0") {
        // Swift's own licence: Apache-2.0 plus the runtime library exception, which SPDX names Swift-exception.
        return has("runtime library exception") ? "Apache-2.0 WITH Swift-exception" : "Apache-2.0"
    }
    if has("mozilla public license version 2.0") || has("mozilla public license, v. 2.0") { return "MPL-2.0" }
    if has("gnu lesser general public license") {
        return has("version 3") ? "LGPL-3.0" : has("version 2.1") ? "LGPL-2.1" : unrecognisedLicence
    }
    if has("gnu general public license") {
        return has("version 3") ? "GPL-3.0" : has("version 2") ? "GPL-2.0" : unrecognisedLicence
    }
    if has("boost software license - version 1.0") { return "BSL-1.0" }
    if has("this is free and unencumbered software released into the public domain") { return "Unlicense" }
    if has("permission is hereby granted, free of charge", "the above copyright notice and this permission notice") {
        return "MIT"
    }
    if has("redistribution and use in source and binary forms") {
        if has("neither the name") || has("may be used to endorse or promote products") { return "BSD-3-Clause" }
        return "BSD-2-Clause"
    }
    if has("permission to use, copy, modify") && has("for any purpose with or without fee is hereby granted") {
        // ISC asks that the notice be kept; 0BSD is the same grant without that condition.
        return has("above copyright notice and this permission notice appear in all copies") ? "ISC" : "0BSD"
    }
    if has("altered source versions must be plainly marked", "provided 'as-is'") { return "Zlib" }
    if has("openssl license") { return "OpenSSL" }
    return unrecognisedLicence
}

func read(_ path: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var text = String(decoding: data, as: UTF8.self)
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
    // Blank lines around the text go, but not the first line's indentation (Apache's title is centred).
    var lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(
        separator: "\n", omittingEmptySubsequences: false)
    while let first = lines.first, first.allSatisfy(\.isWhitespace) { lines.removeFirst() }
    while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
    return lines.joined(separator: "\n")
}

/// The comment block a source file starts with, without its comment markers: where vendored code states its licence.
func leadingComment(of text: Substring) -> String {
    var lines: [Substring] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(60) {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("//") || trimmed.hasPrefix("/*") || trimmed.hasPrefix("*") || trimmed.isEmpty else {
            break
        }
        lines.append(Substring(trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "/* "))))
    }
    return lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The project a target vendors, from the `hash.txt` Apple's vendoring scripts leave next to it ("This directory is
/// derived from BoringSSL cloned from URL at revision REV"), with the licence its own sources declare: the NOTICE
/// of swift-nio-ssl still calls BoringSSL "ISC and OpenSSL", which is no longer what the vendored files say.
func vendoredNotice(manifestPath: String, within component: ComponentArgument, fallbackText: String) throws -> Notice? {
    let manifest = try read(manifestPath)
    let words = manifest.split(whereSeparator: \.isWhitespace).map(String.init)
    guard let derived = words.firstIndex(of: "from"), derived + 1 < words.count,
        let cloned = words.firstIndex(of: "cloned"), cloned + 2 < words.count, words[cloned + 1] == "from",
        let revision = words.firstIndex(of: "revision"), revision + 1 < words.count
    else { return nil }
    let project = words[derived + 1]
    let url = words[cloned + 2]

    // The licence stated by most of the first source files, read in a stable order.
    let directory = URL(fileURLWithPath: manifestPath).deletingLastPathComponent()
    let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
    let sources = (enumerator?.allObjects as? [URL] ?? [])
        .filter { ["c", "cc", "h"].contains($0.pathExtension) }
        .map { $0.path(percentEncoded: false) }.sorted().prefix(40)
    var votes: [String: (count: Int, header: String)] = [:]
    for source in sources {
        guard let text = try? read(source) else { continue }
        let header = leadingComment(of: text[...])
        let licence = spdxIdentifier(of: header)
        guard licence != unrecognisedLicence else { continue }
        votes[licence, default: (0, header)].count += 1
    }
    // Most votes first, ties broken by name so that the output does not depend on dictionary order.
    guard let (licence, vote) = votes.sorted(by: { ($1.value.count, $0.key) < ($0.value.count, $1.key) }).first
    else { return nil }
    // The header only points at the licence; the full text is the one its host package ships, when it is the same.
    let hostLicence = spdxIdentifier(of: fallbackText)
    let text = hostLicence.hasPrefix(licence) ? vote.header + "\n\n" + fallbackText : vote.header
    return Notice(
        name: "\(project) (vendored in \(component.name))",
        version: String(words[revision + 1].prefix(12)),
        url: url,
        licence: licence,
        licenceText: text
    )
}

func notices(for component: ComponentArgument) throws -> [Notice] {
    let licenceText = try component.licencePath.map(read) ?? ""
    var text = licenceText.isEmpty ? "No licence file was found in this package; see \(component.url)." : licenceText
    if let noticePath = component.noticePath {
        text += "\n\n" + String(repeating: "-", count: 79) + "\n\n" + (try read(noticePath))
    }
    let licence = licenceText.isEmpty ? unrecognisedLicence : spdxIdentifier(of: licenceText)
    var result = [
        Notice(
            name: component.name, version: component.version, url: component.url, licence: licence, licenceText: text)
    ]
    for manifest in component.vendoredManifestPaths {
        if let notice = try vendoredNotice(manifestPath: manifest, within: component, fallbackText: licenceText) {
            result.append(notice)
        }
    }
    return result
}

/// An ordinary string literal with every character that could end or alter it escaped.
func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": result += "\\\\"
        case "\"": result += "\\\""
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        default:
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                result += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}

/// A multi-line raw string literal holding `text` exactly, readable in the generated file.
///
/// It uses one `#` more than the longest run of `#` in the text, so that neither its closing delimiter nor an escape
/// (`\#…`) can occur in it; control characters other than newline and tab, which may not appear raw in Swift
/// source, are written as escapes (`\#u{…}`) of that same raw level.
func rawLiteral(_ text: String) -> String {
    var longestRun = 0
    var run = 0
    for character in text {
        run = character == "#" ? run + 1 : 0
        longestRun = max(longestRun, run)
    }
    let hashes = String(repeating: "#", count: longestRun + 1)
    var body = ""
    for scalar in text.unicodeScalars {
        let category = scalar.properties.generalCategory
        if scalar != "\n" && scalar != "\t" && (category == .control || category == .format) {
            body += "\\\(hashes)u{\(String(scalar.value, radix: 16))}"
        } else {
            body.unicodeScalars.append(scalar)
        }
    }
    return "\(hashes)\"\"\"\n\(body)\n\"\"\"\(hashes)"
}

func render(_ notices: [Notice]) -> String {
    var source = """
        // Generated by ThirdPartyNoticesGenerator (ThirdPartyNotices plugin) from the package graph. Do not edit.

        import RampartModel

        /// The third-party packages built into Rampart with their licences, for the About page and `rampart notices`.
        package let thirdPartyComponents: [ThirdPartyComponent] = [

        """
    for notice in notices {
        source += """
                ThirdPartyComponent(
                    name: \(quoted(notice.name)),
                    version: \(quoted(notice.version)),
                    url: \(quoted(notice.url)),
                    licence: \(quoted(notice.licence)),
                    licenceText: \(rawLiteral(notice.licenceText))
                ),

            """
    }
    return source + "]\n"
}

func main() throws {
    var output: String?
    var gitDirectory: String?
    var components: [ComponentArgument] = []
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let argument = arguments.next() {
        guard let value = arguments.next() else { throw GeneratorError("\(argument) needs a value") }
        switch argument {
        case "--output": output = value
        case "--git-dir": gitDirectory = value
        case "--component": components.append(try JSONDecoder().decode(ComponentArgument.self, from: Data(value.utf8)))
        default: throw GeneratorError("unknown argument \(argument)")
        }
    }
    guard let output else {
        throw GeneratorError("usage: ThirdPartyNoticesGenerator --output FILE [--component JSON]...")
    }
    let all = try components.flatMap(notices(for:))
        .sorted { ($0.name.lowercased(), $0.name) < ($1.name.lowercased(), $1.name) }
    let commit = gitDirectory.flatMap(headCommit(gitDirectory:)) ?? "unknown"
    let source =
        render(all)
        + "\n/// The commit the gateway was built from (read from .git at build time; `unknown` outside a clone).\n"
        + "package let buildCommit = \"\(commit)\"\n"
    try Data(source.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
}

/// The commit HEAD names, read from the files (a build must not depend on a `git` executable): a detached HEAD,
/// a loose ref, or a packed ref. Only hexadecimal digits are accepted, so nothing else reaches the source.
func headCommit(gitDirectory: String) -> String? {
    func read(_ path: String) -> String? {
        (try? String(contentsOfFile: gitDirectory + "/" + path, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
    guard let head = read("HEAD") else { return nil }
    var commit = head
    if head.hasPrefix("ref: ") {
        let ref = String(head.dropFirst("ref: ".count))
        if let loose = read(ref) {
            commit = loose
        } else if let packed = read("packed-refs") {
            commit =
                packed.split(separator: "\n").first { $0.hasSuffix(" " + ref) }.map { String($0.prefix(40)) } ?? ""
        }
    }
    let isHex = commit.count == 40 && commit.allSatisfy(\.isHexDigit)
    return isHex ? String(commit.prefix(12)) : nil
}

struct GeneratorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("ThirdPartyNoticesGenerator: error: \(error)\n".utf8))
    exit(1)
}
