import Foundation
import NetConfig

@testable import FirewallDriver

#if canImport(Glibc)
    import Glibc
#endif

/// The tests that change a kernel ruleset run only as root with nft and ip installed; elsewhere they are reported
/// as skipped, not passed. CI runs as root, with the tools installed by scripts/setup.
let canChangeFirewall =
    geteuid() == 0 && NFTablesDriver.isAvailable && FileManager.default.isExecutableFile(atPath: IPRoute2().executable)

/// A network namespace of its own for one test, so that tests run in parallel without seeing each other's tables
/// and never touch the host's firewall. Deleted when `body` ends, however it ends.
func withTestNamespace<T>(_ body: (String) async throws -> T) async throws -> T {
    let ip = IPRoute2().executable
    let name = "rampart-t-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    _ = try await SystemCommand.run(ip, ["netns", "add", name])
    do {
        let result = try await body(name)
        _ = try await SystemCommand.run(ip, ["netns", "delete", name])
        return result
    } catch {
        _ = try? await SystemCommand.run(ip, ["netns", "delete", name])
        throw error
    }
}

/// Runs `arguments` in `namespace` (`ip netns exec`); returns stdout.
@discardableResult
func inNamespace(_ namespace: String, _ arguments: [String], input: Data? = nil) async throws -> String {
    let data = try await SystemCommand.run(
        IPRoute2().executable, ["netns", "exec", namespace] + arguments, input: input)
    return String(decoding: data, as: UTF8.self)
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

/// A ruleset as the compiler writes one: the table is created (so that the deletion succeeds when it is not
/// there), deleted and defined again, in one transaction.
func ruleset(_ body: String) -> String {
    "table inet rampart\ndelete table inet rampart\ntable inet rampart {\n\(body)}\n"
}

/// A small but complete table: a named counter, two sets with timeouts, a base chain with commented rules and a
/// regular chain.
let sampleBody = """
        counter lan_drop {
        }
        counter pings {
        }
        set blocked4 {
            type ipv4_addr
            flags interval, timeout
        }
        set blocked6 {
            type ipv6_addr
            flags interval, timeout
        }
        chain forward {
            type filter hook forward priority 0; policy drop;
            ct state established,related accept comment "established"
            ip saddr @blocked4 counter name lan_drop drop comment "blocked v4 sources"
            ip6 saddr @blocked6 drop
            jump lan_out
        }
        chain lan_out {
            iifname "lan0" accept comment "lan out"
        }
        chain output {
            type filter hook output priority 0; policy accept;
            icmp type echo-request counter name pings comment "pings"
        }

    """

let sampleExpected = ExpectedTable(
    chains: ["forward": 4, "lan_out": 1, "output": 1], sets: ["blocked4", "blocked6"], counters: ["lan_drop", "pings"])
