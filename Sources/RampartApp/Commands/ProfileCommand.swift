import ArgumentParser
import BrokerConfig
import Foundation

/// `rampart profile …`: manages broker profiles in the data directory and asks the running gateway (by the PID
/// in `DATA/rampart.pid`) to apply the active one, as the management API will.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Manage MQTT broker profiles (list, create, put, remove, validate, activate, delete).",
        subcommands: [List.self, Create.self, Put.self, Remove.self, Validate.self, Activate.self, Delete.self]
    )

    struct Location: ParsableArguments {
        @Option(help: "Data directory of the gateway.")
        var dataDir: String = RunCommand.defaultDataDirectory

        var library: BrokerProfileLibrary { BrokerProfileLibrary(root: dataDir + "/broker") }

        /// Tells a running gateway to apply the active profile; says so when none runs.
        func notifyGateway() {
            guard let text = try? String(contentsOfFile: dataDir + "/rampart.pid", encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, SIGHUP) == 0
            else {
                print("no running gateway found in \(dataDir); the change applies at its next start")
                return
            }
            print("asked the gateway (pid \(pid)) to apply the active profile")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the profiles.")
        @OptionGroup var location: Location

        func run() throws {
            for profile in try location.library.list() {
                let marks = [profile.isActive ? "active" : nil, profile.isReadOnly ? "read-only" : nil]
                    .compactMap { $0 }.joined(separator: ", ")
                print("\(profile.name)\(marks.isEmpty ? "" : " (\(marks))"): \(profile.files.joined(separator: " "))")
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a profile, empty or from a template.")
        @OptionGroup var location: Location
        @Argument var name: String
        @Option(help: "Profile to copy.") var from: String?

        func run() throws { try location.library.create(name, from: from) }
    }

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or replace a file of a profile (≤ 131 KB).")
        @OptionGroup var location: Location
        @Argument var profile: String
        @Argument(help: "File to copy into the profile.") var file: String
        @Option(help: "Name in the profile (default: the file's name).") var `as`: String?

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            let name = `as` ?? URL(fileURLWithPath: file).lastPathComponent
            try location.library.write(data, as: name, in: profile)
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a file of a profile.")
        @OptionGroup var location: Location
        @Argument var profile: String
        @Argument var file: String

        func run() throws { try location.library.remove(file, from: profile) }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a profile; exit status 1 if invalid.")
        @OptionGroup var location: Location
        @Argument var profile: String

        func run() throws {
            let result = try location.library.validate(profile)
            for diagnostic in result.diagnostics { print("\(diagnostic.severity.rawValue): \(diagnostic)") }
            guard result.configuration != nil else { throw ExitCode(1) }
            print("\(profile): configured")
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a profile and make it the active one; an invalid profile is refused."
        )
        @OptionGroup var location: Location
        @Argument var profile: String

        func run() throws {
            let result = try location.library.validate(profile)
            guard result.configuration != nil else {
                for diagnostic in result.errors { print("error: \(diagnostic)") }
                print("\(profile): misconfigured; the active profile is unchanged")
                throw ExitCode(1)
            }
            try location.library.setActive(profile)
            location.notifyGateway()
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a profile; deleting the active one turns the broker off."
        )
        @OptionGroup var location: Location
        @Argument var profile: String

        func run() throws {
            let wasActive = location.library.active() == profile
            try location.library.delete(profile)
            if wasActive { location.notifyGateway() }
        }
    }
}
