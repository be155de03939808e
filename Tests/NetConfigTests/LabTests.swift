import Foundation
import Testing

@testable import NetConfig

#if canImport(Glibc)
    import Glibc
#endif

/// The lab's namespaces have fixed names, so these tests run one after the other under the lab lock
/// (/tmp/rampart-lab.lock, which every lab user takes), and remove the lab when they end, however they end.
// Root with ip, sysctl and ping only: CI runs as root with iproute2, procps and iputils-ping installed by
// scripts/setup; elsewhere these tests show as skipped.
@Suite(
    "rampart lab", .serialized,
    .enabled(
        if: geteuid() == 0 && Lab().unavailableReason == nil
            && ["/usr/bin/ping", "/bin/ping"].contains(where: FileManager.default.isExecutableFile),
        "needs root, ip, sysctl and ping"))
struct LabTests {
    let lab = Lab()

    @Test("up: complete, forwarding between LAN and WAN; up again changes nothing; down leaves nothing")
    func upStatusDown() async throws {
        try await withLab {
            #expect(try await lab.up() == .created)
            let status = try await lab.status()
            #expect(status.state == .complete, "\(status.problems)")
            #expect(status.namespaces.map(\.name) == Lab.namespaces)
            let lan = try #require(status.namespaces.first { $0.name == Lab.lanNamespace })
            #expect(lan.interfaces.first { $0.name == "eth0" }?.addresses.contains("192.0.2.11/24") == true)

            #expect(try await ping(from: Lab.lanNamespace, "192.0.2.1"))
            #expect(try await ping(from: Lab.wanNamespace, "192.0.2.10", source: "198.51.100.10"))
            #expect(try await ping(from: Lab.wanNamespace, "2001:db8:1::10", source: "2001:db8:2::10"))
            #expect(try await ping(from: Lab.lanNamespace, "198.51.100.1"))

            #expect(try await lab.up() == .alreadyUp)

            #expect(Set(try await lab.down()) == Set(Lab.namespaces))
            try await expectNothingLeft()
            #expect(try await lab.status().state == .down)
            #expect(try await lab.down().isEmpty)
        }
    }

    @Test("a partial lab is reported as such and rebuilt by up")
    func partialIsRepaired() async throws {
        try await withLab {
            _ = try await lab.up()
            _ = try await SystemCommand.run(lab.ip, ["netns", "delete", Lab.wanNamespace])
            let partial = try await lab.status()
            #expect(partial.state == .partial)
            #expect(partial.problems.contains("namespace \(Lab.wanNamespace) is missing"))

            // The kernel removes the gateway's end of the veth pair in the background, so what else `up` finds
            // missing depends on timing.
            guard case .rebuilt(let problems) = try await lab.up() else {
                Issue.record("a partial lab was not rebuilt")
                return
            }
            #expect(problems.contains("namespace \(Lab.wanNamespace) is missing"))
            #expect(try await lab.status().state == .complete)
            #expect(try await ping(from: Lab.wanNamespace, "192.0.2.10", source: "198.51.100.10"))
        }
    }

    @Test("a changed lab (an address removed) is partial too")
    func changedIsPartial() async throws {
        try await withLab {
            _ = try await lab.up()
            _ = try await SystemCommand.run(
                lab.ip, ["-n", Lab.gatewayNamespace, "address", "del", "192.0.2.1/24", "dev", "lan0"])
            let status = try await lab.status()
            #expect(status.state == .partial)
            #expect(status.problems == ["\(Lab.gatewayNamespace): lan0 lacks 192.0.2.1/24"])
        }
    }

    /// Runs `body` on a lab that is down first, and takes the lab down afterwards even when `body` fails.
    /// Holds the lab lock the e2e tests and `scripts/bench-firewall` take too, so no two lab users meet.
    private func withLab(_ body: () async throws -> Void) async throws {
        let lock = open("/tmp/rampart-lab.lock", O_CREAT | O_RDWR, 0o644)
        if lock >= 0 { _ = flock(lock, LOCK_EX) }
        defer { if lock >= 0 { close(lock) } }
        _ = try await lab.down()
        do {
            try await body()
        } catch {
            _ = try? await lab.down()
            throw error
        }
        _ = try await lab.down()
    }

    /// Pings until one answer or a deadline: the first packet may wait for neighbour discovery.
    private func ping(from namespace: String, _ address: String, source: String? = nil) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            let arguments =
                ["netns", "exec", namespace, "ping", "-c", "1", "-W", "1"] + (source.map { ["-I", $0] } ?? [])
            if (try? await SystemCommand.run(lab.ip, arguments + [address])) != nil { return true }
        } while ContinuousClock.now < deadline
        return false
    }

    private func expectNothingLeft() async throws {
        let namespaces = String(decoding: try await SystemCommand.run(lab.ip, ["netns", "list"]), as: UTF8.self)
        for name in Lab.namespaces {
            #expect(!namespaces.contains(name))
        }
        let links = String(decoding: try await SystemCommand.run(lab.ip, ["-o", "link", "show"]), as: UTF8.self)
        let names = links.split(separator: "\n").compactMap { $0.split(separator: ":").dropFirst().first }
            .map { $0.trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init) ?? "" }
        #expect(!names.contains("lan0") && !names.contains("wan0"))
    }
}
