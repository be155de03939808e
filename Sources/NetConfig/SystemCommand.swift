import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a system tool (`ip`, `nft`, `sysctl`) and returns what it printed on stdout.
///
/// The tool runs on a dispatch thread, never on a task's thread: waiting for a process blocks, and the cooperative
/// pool has only as many threads as cores. Its stdout and stderr are drained at the same time, so a tool that writes
/// a lot to one of them while we read the other cannot fill a pipe and stall.
package struct SystemCommand {
    /// - Parameters:
    ///   - executable: absolute path of the tool.
    ///   - input: given to the tool on stdin. It is handed over as an unlinked temporary file rather than a pipe: the
    ///     tool reads it at its own pace, and a tool that exits without reading it cannot raise SIGPIPE in us.
    /// - Returns: the tool's stdout.
    /// - Throws: `SystemCommandError` with the tool's stderr when it cannot be started or exits with a non-zero
    ///   status.
    package static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil
    ) async throws(SystemCommandError) -> Data {
        let command = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments).joined(separator: " ")
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: runBlocking(executable, arguments, input: input, command: command))
            }
        }
        switch result {
        case .success(let output): return output
        case .failure(let error): throw error
        }
    }

    private typealias Outcome = Result<Data, SystemCommandError>

    /// What one reader collected. Written by its work item before it leaves the group, read after the group is
    /// waited for: the group orders the accesses.
    private final class Collected: @unchecked Sendable {
        var data = Data()
    }

    private static func runBlocking(_ executable: String, _ arguments: [String], input: Data?, command: String)
        -> Outcome
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            process.standardInput = try input.map(stdinFile) ?? FileHandle.nullDevice
            try process.run()
        } catch {
            return .failure(
                SystemCommandError(command: command, status: 127, output: "cannot run \(executable): \(error)"))
        }
        let stderr = Collected()
        let readers = DispatchGroup()
        DispatchQueue.global().async(group: readers) {
            stderr.data = errors.fileHandleForReading.readDataToEndOfFile()
        }
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        readers.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(
                SystemCommandError(
                    command: command, status: process.terminationStatus,
                    output: String(decoding: stderr.data, as: UTF8.self)))
        }
        return .success(stdout)
    }

    /// `data` in a temporary file only we can read, already unlinked, opened at its start.
    private static func stdinFile(_ data: Data) throws -> FileHandle {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-stdin-\(UUID().uuidString)")
            .path
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SystemCommandError(command: "open \(path)", status: errno, output: String(cString: strerror(errno)))
        }
        unlink(path)
        let file = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try file.write(contentsOf: data)
        try file.seek(toOffset: 0)
        return file
    }
}
