import Foundation
import Synchronization
import Testing

@testable import NetConfig

@Suite("running system tools")
struct SystemCommandTests {
    @Test("stdout is returned; stdin is handed over")
    func output() async throws {
        let input = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0) })
        #expect(try await SystemCommand.run("/bin/cat", [], input: input) == input)
        #expect(try await SystemCommand.run("/bin/sh", ["-c", "printf out"]) == Data("out".utf8))
    }

    @Test("a tool that writes a lot to stderr and to stdout does not stall")
    func bothPipesDrained() async throws {
        // Far more than a pipe holds (64 KiB) on each: read one after the other, the tool would block on stderr while
        // stdout is read to its end.
        let script = "head -c 1000000 /dev/zero >&2; head -c 1000000 /dev/zero; echo done >&2"
        // Bounded: a stalled tool cannot be cancelled, so the test stops waiting for it instead.
        let finished = await firstOf(
            { try? await SystemCommand.run("/bin/sh", ["-c", script]) },
            {
                try? await Task.sleep(for: .seconds(60))
                return nil
            })
        #expect(finished?.count == 1_000_000)
    }

    @Test("a failing tool's status and stderr are in the error")
    func failure() async {
        do throws(SystemCommandError) {
            _ = try await SystemCommand.run("/bin/sh", ["-c", "echo oops >&2; exit 3"])
            Issue.record("a failing command succeeded")
        } catch {
            #expect(error.status == 3)
            #expect(error.output == "oops\n")
            #expect(error.command == "sh -c echo oops >&2; exit 3")
        }
        do throws(SystemCommandError) {
            _ = try await SystemCommand.run("/nonexistent/tool", ["x"])
            Issue.record("a missing tool ran")
        } catch {
            #expect(error.status == 127)
            #expect(error.description.contains("/nonexistent/tool"))
        }
    }

    /// The result of whichever of `first` and `second` finishes first, without waiting for the other.
    private func firstOf(
        _ first: @escaping @Sendable () async -> Data?, _ second: @escaping @Sendable () async -> Data?
    ) async -> Data? {
        let waiter = Waiter()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Data?, Never>) in
            waiter.continuation.withLock { $0 = continuation }
            for body in [first, second] {
                Task {
                    let result = await body()
                    waiter.continuation.withLock { waiting in
                        waiting?.resume(returning: result)
                        waiting = nil
                    }
                }
            }
        }
    }

    private final class Waiter: Sendable {
        let continuation = Mutex<CheckedContinuation<Data?, Never>?>(nil)
    }
}
