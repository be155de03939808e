import Foundation
import NetConfig

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

    /// Runs `executable` and returns its standard output; throws with its standard error when it fails.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) async throws -> Data {
        try await SystemCommand.run(executable, arguments)
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
