import ArgumentParser
import RampartModel

/// `rampart notices`: the third-party packages built into this binary with their versions and licences, as the
/// About page shows them, so that an operator can answer a licence or vulnerability question from a shell.
struct NoticesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notices",
        abstract: "List the third-party components with their versions and licences.",
        discussion: "One line per component: name, version, SPDX licence, source URL."
    )

    @Flag(help: "Also print each component's licence text and notices.")
    var text = false

    func run() {
        for component in thirdPartyComponents {
            print("\(component.name) \(component.version) \(component.licence) \(component.url)")
            if text { print("\n\(component.licenceText)\n") }
        }
    }
}
