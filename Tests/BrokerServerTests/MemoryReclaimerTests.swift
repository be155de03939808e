import Testing

@testable import BrokerServer

@Suite("Memory reclaimer")
struct MemoryReclaimerTests {
    @Test func reclaimsOnceAfterAPersistentDropToHalf() {
        let reclaimer = MemoryReclaimer()
        #expect(!reclaimer.observe(connections: 10_000))
        #expect(!reclaimer.observe(connections: 6_000), "above half of the peak")
        #expect(!reclaimer.observe(connections: 4_000), "the first check that sees the drop waits")
        #expect(reclaimer.observe(connections: 3_000), "the drop held for a second check")
        #expect(!reclaimer.observe(connections: 3_000), "the peak is reset after a reclaim")
        #expect(!reclaimer.observe(connections: 0), "a drop of 3,000 waits for the second check again")
        #expect(reclaimer.observe(connections: 0))
    }

    @Test func smallDropsAndRecoveriesDoNotReclaim() {
        let reclaimer = MemoryReclaimer()
        #expect(!reclaimer.observe(connections: 600))
        #expect(!reclaimer.observe(connections: 200))
        #expect(!reclaimer.observe(connections: 200), "fewer than minimumDrop connections closed")
        #expect(!reclaimer.observe(connections: 5_000))
        #expect(!reclaimer.observe(connections: 1_000))
        #expect(!reclaimer.observe(connections: 4_000), "back above half: the drop did not hold")
        #expect(!reclaimer.observe(connections: 1_000))
        #expect(reclaimer.observe(connections: 1_000))
    }
}
