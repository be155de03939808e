import ArgumentParser
import NetConfig

/// `rampart lab`: a LAN, a gateway and a WAN as network namespaces on this machine, to run the gateway between real
/// interfaces without touching the host's network (see `Lab`).
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Create, inspect or remove the lab network (namespaces rampart-lan, rampart-gw, rampart-wan).",
        discussion: "Needs root. Only documentation addresses are used, and nothing is created outside the lab's "
            + "namespaces.",
        subcommands: [Up.self, Down.self, Status.self]
    )

    /// A lab command that cannot run here.
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    static func lab() throws -> Lab {
        let lab = Lab()
        if let reason = lab.unavailableReason { throw Unavailable(description: "rampart lab: \(reason)") }
        return lab
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the lab; a complete lab is left alone, a partial one is rebuilt.")

        func run() async throws {
            let lab = try LabCommand.lab()
            switch try await lab.up() {
            case .alreadyUp: print("The lab is already up.")
            case .created: print("The lab is up.")
            case .rebuilt(let problems):
                print("The lab was partial (\(problems.joined(separator: "; "))) and was rebuilt.")
            }
            LabCommand.printSummary()
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the lab's namespaces and, with them, its interfaces.")

        func run() async throws {
            let deleted = try await LabCommand.lab().down()
            print(deleted.isEmpty ? "The lab was not there." : "Deleted \(deleted.joined(separator: ", ")).")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the lab's namespaces, interfaces and addresses.",
            discussion: "Exits with 0 when the lab is complete, 1 when it is down or partial.")

        func run() async throws {
            let status = try await LabCommand.lab().status()
            for namespace in status.namespaces {
                guard namespace.exists else {
                    print("\(namespace.name): missing")
                    continue
                }
                print("\(namespace.name):")
                for interface in namespace.interfaces {
                    let state = interface.isUp ? "up" : "down"
                    print("  \(interface.name) \(state) \(interface.addresses.joined(separator: " "))")
                }
            }
            switch status.state {
            case .complete:
                print("The lab is complete.")
            case .down:
                print("The lab is down.")
                throw ExitCode(1)
            case .partial:
                print("The lab is partial:")
                for problem in status.problems { print("  \(problem)") }
                throw ExitCode(1)
            }
        }
    }

    static func printSummary() {
        print("Namespaces: \(Lab.namespaces.joined(separator: ", "))")
        for interface in Lab.interfaces {
            print("  \(interface.namespace) \(interface.name): \(interface.addresses.joined(separator: " "))")
        }
        print(
            """
            \(Lab.gatewayNamespace) forwards IPv4 and IPv6; \(Lab.lanNamespace) routes via 192.0.2.1 and \
            2001:db8:1::1, \(Lab.wanNamespace) reaches the LAN via 198.51.100.2 and 2001:db8:2::2.
            Run the gateway: ip netns exec \(Lab.gatewayNamespace) rampart run ...
            A shell on the LAN: ip netns exec \(Lab.lanNamespace) bash
            Remove the lab: rampart lab down
            """)
    }
}
