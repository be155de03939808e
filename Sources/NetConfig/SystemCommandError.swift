/// A system tool or call that failed: what was run, its status and what it said.
package struct SystemCommandError: Error, Sendable, CustomStringConvertible {
    package var command: String
    package var status: Int32
    package var output: String

    package init(command: String, status: Int32, output: String) {
        self.command = command
        self.status = status
        self.output = output
    }

    package var description: String {
        "\(command) failed (\(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}
