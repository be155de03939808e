import BrokerConfig
import Foundation
import RampartModel

/// The broker profiles on disk (SPEC BRK-4): `ROOT/profiles/NAME/` holds a profile's `mosquitto.conf`, included
/// files, certificates and keys; `ROOT/active` names the active profile. Relative paths inside a profile's
/// configuration resolve against the profile's folder, so a profile carries its own certificates.
///
/// The predefined profile is read-only: its files cannot be changed, only copied (as a template) or deleted.
/// It is written once, when the library is first set up; deleting every profile leaves the broker off.
package struct BrokerProfileLibrary: Sendable {
    package struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        package var description: String
    }

    package struct Summary: Sendable, Hashable {
        package var name: String
        package var isReadOnly: Bool
        package var isActive: Bool
        package var modified: Date
        package var files: [String]
    }

    package let root: String

    package init(root: String) {
        self.root = root
    }

    private var profilesDirectory: String { root + "/profiles" }
    private var activeFile: String { root + "/active" }
    private var setUpMarker: String { root + "/.initialized" }

    /// The folder of a profile.
    package func directory(of profile: String) -> String { profilesDirectory + "/" + profile }

    /// Creates the library with its predefined profile the first time. Later calls rewrite the predefined
    /// profile's configuration (it is generated, never edited) if it still exists; an operator's deletion sticks.
    package func setUp(predefinedConfiguration: String) throws {
        let manager = FileManager.default
        let main = directory(of: ProfileRules.predefinedProfile) + "/" + ProfileRules.mainFile
        guard !manager.fileExists(atPath: setUpMarker) else {
            if manager.fileExists(atPath: directory(of: ProfileRules.predefinedProfile)) {
                try Data(predefinedConfiguration.utf8).write(to: URL(fileURLWithPath: main), options: .atomic)
            }
            return
        }
        try manager.createDirectory(atPath: profilesDirectory, withIntermediateDirectories: true)
        let folder = directory(of: ProfileRules.predefinedProfile)
        try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(predefinedConfiguration.utf8).write(to: URL(fileURLWithPath: folder + "/" + ProfileRules.mainFile))
        try setActive(ProfileRules.predefinedProfile)
        try Data().write(to: URL(fileURLWithPath: setUpMarker))
    }

    /// Every profile, sorted by name.
    package func list() throws -> [Summary] {
        let manager = FileManager.default
        let names = ((try? manager.contentsOfDirectory(atPath: profilesDirectory)) ?? []).sorted()
        let active = self.active()
        return try names.filter { (try? ProfileNaming.checkName($0, of: "profile")) != nil }.map { name in
            let attributes = try manager.attributesOfItem(atPath: directory(of: name))
            return Summary(
                name: name,
                isReadOnly: name == ProfileRules.predefinedProfile,
                isActive: name == active,
                modified: attributes[.modificationDate] as? Date ?? Date(timeIntervalSince1970: 0),
                files: try files(of: name)
            )
        }
    }

    /// Creates a profile, empty (one empty `mosquitto.conf`) or as a copy of `template`.
    package func create(_ name: String, from template: String? = nil) throws {
        try check(name, of: "profile")
        let folder = directory(of: name)
        guard !FileManager.default.fileExists(atPath: folder) else {
            throw Failure(description: "profile \"\(name)\" already exists")
        }
        if let template {
            try check(template, of: "profile")
            guard FileManager.default.fileExists(atPath: directory(of: template)) else {
                throw Failure(description: "template profile \"\(template)\" does not exist")
            }
            try FileManager.default.copyItem(atPath: directory(of: template), toPath: folder)
        } else {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: folder + "/" + ProfileRules.mainFile))
        }
    }

    /// The files of a profile, sorted.
    package func files(of profile: String) throws -> [String] {
        try existing(profile)
        return try FileManager.default.contentsOfDirectory(atPath: directory(of: profile)).sorted()
    }

    package func read(_ file: String, of profile: String) throws -> Data {
        try existing(profile)
        try check(file, of: "file")
        guard let data = FileManager.default.contents(atPath: directory(of: profile) + "/" + file) else {
            throw Failure(description: "profile \"\(profile)\" has no file \"\(file)\"")
        }
        return data
    }

    /// Adds or replaces a file (at most 131 KB), atomically.
    package func write(_ contents: Data, as file: String, in profile: String) throws {
        try writable(profile)
        try check(file, of: "file")
        do {
            try ProfileNaming.checkSize(contents.count, file: file)
        } catch {
            throw Failure(description: error.description)
        }
        try contents.write(to: URL(fileURLWithPath: directory(of: profile) + "/" + file), options: .atomic)
    }

    /// Deletes a file; the main configuration file cannot be deleted.
    package func remove(_ file: String, from profile: String) throws {
        try writable(profile)
        try check(file, of: "file")
        guard file != ProfileRules.mainFile else {
            throw Failure(description: "\(ProfileRules.mainFile) is the profile's main file and cannot be deleted")
        }
        try FileManager.default.removeItem(atPath: directory(of: profile) + "/" + file)
    }

    /// Validates a profile: its `mosquitto.conf` and, when present, its `inspection.conf`. Relative paths resolve
    /// in the profile's folder. Any error in either file leaves `configuration` nil.
    package func validate(_ profile: String) throws -> ConfigurationResult {
        try existing(profile)
        let folder = directory(of: profile)
        let source = FileSystemConfigurationSource()
        var result = ConfigurationLoader.load(
            mainFile: folder + "/" + ProfileRules.mainFile,
            source: source,
            workingDirectory: folder
        )
        let inspection = InspectionRulesLoader.load(profileDirectory: folder, source: source)
        result.diagnostics += inspection.diagnostics
        if let rules = inspection.rules, let configuration = result.configuration {
            result.diagnostics += InspectionRulesLoader.validate(
                rules,
                file: folder + "/" + InspectionRules.fileName,
                against: configuration
            )
        }
        if inspection.rules == nil { result.configuration = nil }
        return result
    }

    /// The active profile's name; nil when none is active or it no longer exists.
    package func active() -> String? {
        guard let data = FileManager.default.contents(atPath: activeFile),
            let name = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
            (try? ProfileNaming.checkName(name, of: "profile")) != nil,
            FileManager.default.fileExists(atPath: directory(of: name))
        else { return nil }
        return name
    }

    /// Records the active profile (nil: none). Validation and applying are the runtime's job.
    package func setActive(_ profile: String?) throws {
        guard let profile else {
            try? FileManager.default.removeItem(atPath: activeFile)
            return
        }
        try existing(profile)
        try Data((profile + "\n").utf8).write(to: URL(fileURLWithPath: activeFile), options: .atomic)
    }

    /// Deletes a profile; deleting the active one leaves no profile active.
    package func delete(_ profile: String) throws {
        try existing(profile)
        if active() == profile { try setActive(nil) }
        try FileManager.default.removeItem(atPath: directory(of: profile))
    }

    private func check(_ name: String, of kind: String) throws {
        do {
            try ProfileNaming.checkName(name, of: kind)
        } catch {
            throw Failure(description: error.description)
        }
    }

    private func existing(_ profile: String) throws {
        try check(profile, of: "profile")
        guard FileManager.default.fileExists(atPath: directory(of: profile)) else {
            throw Failure(description: "profile \"\(profile)\" does not exist")
        }
    }

    private func writable(_ profile: String) throws {
        try existing(profile)
        guard profile != ProfileRules.predefinedProfile else {
            throw Failure(description: "profile \"\(profile)\" is predefined and read-only; create a copy to change it")
        }
    }
}
