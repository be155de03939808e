import ArgumentParser
import Foundation

extension CtlCommand {
    /// `rampart ctl firewall …`: the Firewall page from a shell.
    struct Firewall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The firewall: policy, rules, lists, port forwards, packet tracer.",
            subcommands: [
                Show.self, Ruleset.self, Rules.self, List.self, Emergency.self, Masquerade.self, DeviceType.self,
                Protocols.self, NAT.self, Explain.self, Confirm.self, Counters.self,
            ])

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The policy, its state and lint findings.")
            @OptionGroup var connection: Connection
            func run() async throws { try await APIClient.with(connection) { try await $0.print(.GET, "/firewall") } }
        }

        struct Ruleset: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print the nftables ruleset the policy compiles to (or, with --applied, the kernel's).")
            @OptionGroup var connection: Connection
            @Flag(help: "The ruleset as the kernel lists it.") var applied = false
            func run() async throws {
                try await APIClient.with(connection) { client in
                    let answer = try await client.json(.GET, "/firewall/ruleset")
                    let text = answer[applied ? "applied" : "compiled"] as? String
                    guard let text else { throw ValidationError("no ruleset is applied: \(answer["state"] ?? "")") }
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            }
        }

        struct Rules: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Custom rules.", subcommands: [Add.self, Delete.self, Move.self])

            struct Add: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Add a rule; prints its id.")
                @OptionGroup var connection: Connection
                @Option(help: "allow or deny.") var action: String
                @Option(help: "lan or wan: where the traffic comes from.") var zone: String
                @Option(help: "any, tcp, udp or icmp.") var `protocol` = "any"
                @Option(help: "Address, CIDR or first-last range.") var source: String?
                @Option(help: "Port or range.") var sourcePort: String?
                @Option(help: "Address, CIDR or first-last range.") var destination: String?
                @Option(help: "Port or range.") var destinationPort: String?
                @Option var comment: String?
                @Option(help: "0 = first; the end when absent.") var position: Int?
                @Flag(help: "Add it as disabled.") var disabled = false
                @Flag(help: "Apply even if it blocks your own address from the web UI.") var force = false
                func run() async throws {
                    var body: [String: Any] = [
                        "action": action, "zone": zone, "protocol": `protocol`, "enabled": !disabled, "force": force,
                    ]
                    body["source"] = source
                    body["sourcePort"] = sourcePort
                    body["destination"] = destination
                    body["destinationPort"] = destinationPort
                    body["comment"] = comment
                    body["position"] = position
                    try await APIClient.with(connection) { try await $0.print(.POST, "/firewall/rules", json: body) }
                }
            }

            struct Delete: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Delete a rule by id.")
                @OptionGroup var connection: Connection
                @Argument var id: Int
                @Flag var force = false
                func run() async throws {
                    try await APIClient.with(connection) {
                        try await $0.print(.DELETE, "/firewall/rules/\(id)" + (force ? "?force=true" : ""))
                    }
                }
            }

            struct Move: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Move a rule up, down or to a position.")
                @OptionGroup var connection: Connection
                @Argument var id: Int
                @Flag(help: "One place up.") var up = false
                @Flag(help: "One place down.") var down = false
                @Option(help: "0 = first.") var to: Int?
                func validate() throws {
                    guard [up, down, to != nil].filter({ $0 }).count == 1 else {
                        throw ValidationError("give exactly one of --up, --down, --to")
                    }
                }
                func run() async throws {
                    var body: [String: Any] = [:]
                    if up { body["direction"] = "up" }
                    if down { body["direction"] = "down" }
                    body["position"] = to
                    try await APIClient.with(connection) {
                        try await $0.print(.POST, "/firewall/rules/\(id)/move", json: body)
                    }
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The allowlist and the denylist.", subcommands: [Add.self, Delete.self])

            struct Add: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Add an address, CIDR or range.")
                @OptionGroup var connection: Connection
                @Argument(help: "allowlist or denylist.") var list: String
                @Argument var address: String
                @Option(help: "Seconds until the entry expires.") var ttl: Int?
                @Option var comment: String?
                @Flag var force = false
                func run() async throws {
                    var body: [String: Any] = ["address": address, "force": force]
                    body["ttlSeconds"] = ttl
                    body["comment"] = comment
                    try await APIClient.with(connection) {
                        try await $0.print(.POST, "/firewall/lists/\(list)", json: body)
                    }
                }
            }

            struct Delete: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Remove an entry.")
                @OptionGroup var connection: Connection
                @Argument(help: "allowlist or denylist.") var list: String
                @Argument var address: String
                func run() async throws {
                    let query =
                        address.addingPercentEncoding(
                            withAllowedCharacters: .alphanumerics.union(.init(charactersIn: ".:")))
                        ?? address
                    try await APIClient.with(connection) {
                        try await $0.print(.DELETE, "/firewall/lists/\(list)?address=\(query)")
                    }
                }
            }
        }

        struct Emergency: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Emergency mode: block everything but the management path.")
            @OptionGroup var connection: Connection
            @Argument(help: "on or off.") var state: OnOff
            @Flag var force = false
            func run() async throws {
                try await APIClient.with(connection) {
                    try await $0.print(.PUT, "/firewall/emergency", json: ["enabled": state == .on, "force": force])
                }
            }
        }

        struct Masquerade: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Masquerade traffic leaving through the WAN.")
            @OptionGroup var connection: Connection
            @Argument(help: "on or off.") var state: OnOff
            func run() async throws {
                try await APIClient.with(connection) {
                    try await $0.print(.PUT, "/firewall/masquerade", json: ["enabled": state == .on])
                }
            }
        }

        struct DeviceType: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "device-type", abstract: "Change the device type (router or unidirectional).")
            @OptionGroup var connection: Connection
            @Argument var deviceType: String
            @Flag var force = false
            func run() async throws {
                try await APIClient.with(connection) {
                    try await $0.print(.PUT, "/firewall/device-type", json: ["deviceType": deviceType, "force": force])
                }
            }
        }

        struct Protocols: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Set the denied application protocols (catalogue ids, comma-separated; empty for none).")
            @OptionGroup var connection: Connection
            @Argument var blocked: String
            func run() async throws {
                let ids = blocked.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                try await APIClient.with(connection) {
                    try await $0.print(.PUT, "/firewall/protocols", json: ["blocked": ids])
                }
            }
        }

        struct NAT: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "nat", abstract: "Port forwards.", subcommands: [Add.self, Delete.self])

            struct Add: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Forward a WAN port to a LAN service.")
                @OptionGroup var connection: Connection
                @Option(help: "tcp or udp.") var `protocol` = "tcp"
                @Option var wanPort: String
                @Option var lanAddress: String
                @Option(help: "Empty: the WAN port.") var lanPort: String?
                @Option var comment: String?
                func run() async throws {
                    var body: [String: Any] = ["protocol": `protocol`, "wanPort": wanPort, "lanAddress": lanAddress]
                    body["lanPort"] = lanPort
                    body["comment"] = comment
                    try await APIClient.with(connection) { try await $0.print(.POST, "/firewall/nat", json: body) }
                }
            }

            struct Delete: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Delete a port forward by id.")
                @OptionGroup var connection: Connection
                @Argument var id: Int
                func run() async throws {
                    try await APIClient.with(connection) { try await $0.print(.DELETE, "/firewall/nat/\(id)") }
                }
            }
        }

        struct Explain: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Trace a packet: the verdict, the deciding stage and rule, the stages passed.")
            @OptionGroup var connection: Connection
            @Option(help: "lan, wan, loopback or an interface name.") var ingress: String
            @Option(help: "gateway, lan or wan.") var egress = "gateway"
            @Option var source: String
            @Option var destination: String
            @Option(help: "tcp, udp, icmp, icmpv6 or vrrp.") var `protocol`: String
            @Option var sourcePort: Int?
            @Option var destinationPort: Int?
            @Option(help: "ICMP type name (echo-request …).") var icmpType: String?
            @Option(help: "new, established, related or invalid.") var state = "new"
            func run() async throws {
                var body: [String: Any] = [
                    "ingress": ingress, "egress": egress, "source": source, "destination": destination,
                    "protocol": `protocol`, "state": state,
                ]
                body["sourcePort"] = sourcePort
                body["destinationPort"] = destinationPort
                body["icmpType"] = icmpType
                try await APIClient.with(connection) { try await $0.print(.POST, "/firewall/explain", json: body) }
            }
        }

        struct Confirm: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Keep the change that waits for confirmation.")
            @OptionGroup var connection: Connection
            func run() async throws {
                try await APIClient.with(connection) { try await $0.print(.POST, "/firewall/confirm") }
            }
        }

        struct Counters: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Hit counters of the custom rules.")
            @OptionGroup var connection: Connection
            func run() async throws {
                try await APIClient.with(connection) { try await $0.print(.GET, "/firewall/counters") }
            }
        }

        enum OnOff: String, ExpressibleByArgument {
            case on
            case off
        }
    }
}
