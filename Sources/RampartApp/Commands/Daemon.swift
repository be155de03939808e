import Foundation

/// Runs the current command again in the background, detached from the terminal (`-d`), and returns in the
/// parent. A new process is spawned rather than forked: forking a process that already runs threads is unsafe.
enum Daemon {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func detach(droppingArguments dropped: Set<String>) throws {
        let arguments = CommandLine.arguments.dropFirst().filter { !dropped.contains($0) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = Array(arguments)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.currentDirectoryURL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        do {
            try process.run()
        } catch {
            throw Failure(description: "cannot start the broker in the background: \(error)")
        }
    }
}
