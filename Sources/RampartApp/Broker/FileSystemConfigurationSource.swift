import BrokerConfig
import Foundation

/// Gives the configuration loader the real file system.
struct FileSystemConfigurationSource: ConfigurationSource {
    struct Unreadable: Error, CustomStringConvertible {
        var description: String
    }

    func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Unreadable(description: "cannot read \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Unreadable(description: "\(path) is not UTF-8 text")
        }
        return text
    }

    func list(directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
    }

    func isReadable(_ path: String) -> Bool {
        access(path, R_OK) == 0
    }

    func isListable(directory: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue
            && access(directory, R_OK | X_OK) == 0
    }
}
