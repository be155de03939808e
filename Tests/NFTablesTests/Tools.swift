import Foundation

/// The system tools the kernel tests run: `nft` and `ip`, as root.
enum Tools {
    static let nft = executable("nft")
    static let ip = executable("ip")

    /// Whether `nft` can check and load rulesets here: it talks to the kernel even in check mode (`-c` builds the
    /// transaction against the kernel's state), which needs root, and the binary must be installed.
    static var canRunNFT: Bool { getuid() == 0 && nft != nil }

    /// Whether a throwaway network namespace can be made as well.
    static var canUseNamespaces: Bool { canRunNFT && ip != nil }

    private static func executable(_ name: String) -> String? {
        ["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].map { $0 + name }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var command: String
        var status: Int32
        var message: String
        var description: String { "\(command) exited with \(status): \(message)" }
    }

    /// Runs `executable` and returns its standard output; throws with its standard error when it fails. The tools
    /// write little to standard error, so reading standard output to its end first cannot stall on a full pipe.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                command: ([executable] + arguments).joined(separator: " "), status: process.terminationStatus,
                message: String(decoding: message, as: UTF8.self))
        }
        return data
    }

    /// A file in a fresh temporary folder holding `text`; the caller removes the folder.
    static func temporaryFile(_ text: String, name: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appending(path: "rampart-nft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appending(path: name)
        try Data(text.utf8).write(to: file)
        return file
    }
}
