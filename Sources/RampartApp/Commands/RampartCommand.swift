import ArgumentParser
import RampartModel

/// `rampart`: one executable with a subcommand per role.
package struct RampartCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "rampart",
        abstract: "IoT secure gateway: MQTT broker and more.",
        version: ProductInfo.version,
        subcommands: [
            RunCommand.self, BrokerCommand.self, ProfileCommand.self, CtlCommand.self, BenchCommand.self,
            NoticesCommand.self, LabCommand.self,
        ]
    )

    package init() {}
}
