import Events
import Foundation
import Logging
import Synchronization
import Testing
import _CryptoExtras

@testable import Forwarders

/// The outages a forwarder reported, in order.
private final class OutageLog: Sendable {
    private let entries = Mutex<[PushOutage]>([])

    func record(_ outage: PushOutage) { entries.withLock { $0.append(outage) } }

    var all: [PushOutage] { entries.withLock { $0 } }
}

@Suite(.timeLimit(.minutes(1))) struct PushForwarderTests {
    private static let eventTopic = "Device-1_AuthServer_LoginError"
    private static let offered = [
        EventEntity.authServer: ["LoginError", "LoginSuccess"], EventEntity.broker: ["InspectionDrop"],
    ]

    private func event(_ title: String, entity: String = EventEntity.authServer, type: String = "LoginError")
        -> SecurityEvent
    {
        SecurityEvent(
            stream: .network, severity: .warning, entity: entity, type: type, title: title,
            fields: [EventField(EventField.sourceAddress, "10.0.0.5")])
    }

    private func configuration(
        _ receiver: PushReceiverForTests, _ delivery: PushConfiguration.Delivery
    ) -> PushConfiguration {
        PushConfiguration(
            deviceName: "Device-1", delivery: delivery, endpoint: receiver.baseURL, offered: Self.offered,
            announceInterval: .milliseconds(200), additionalTrustRootsPEM: receiver.caPEM,
            initialRetryDelay: .milliseconds(100), maximumRetryDelay: .milliseconds(400))
    }

    private func v1(_ receiver: PushReceiverForTests) throws -> PushConfiguration.Delivery {
        .fcmV1(
            serviceAccount: try ServiceAccountKey(json: receiver.serviceAccountJSON()), projectID: nil,
            tokenEndpoint: nil)
    }

    private static let legacy = PushConfiguration.Delivery.legacy(serverKey: PushReceiverForTests.serverKey)

    /// Runs `body` with a receiver, then closes it.
    private func withReceiver(_ body: (PushReceiverForTests) async throws -> Void) async throws {
        let receiver = try await PushReceiverForTests.start()
        do {
            try await body(receiver)
        } catch {
            await receiver.close()
            throw error
        }
        await receiver.close()
    }

    /// Runs `body` with a forwarder (running unless `running` is false), then stops it and shuts it down.
    private func withForwarder(
        _ configuration: PushConfiguration, running: Bool = true,
        _ body: (PushForwarder, OutageLog) async throws -> Void
    ) async throws {
        let outages = OutageLog()
        let forwarder = try PushForwarder(
            configuration: configuration, logger: Logger(label: "push-test"), onOutage: { outages.record($0) })
        let runner = running ? Task { await forwarder.run() } : nil
        func stop() async {
            runner?.cancel()
            await runner?.value
            await forwarder.shutdown()
        }
        do {
            try await body(forwarder, outages)
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    private func eventually(_ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    // MARK: Delivery

    @Test func v1DeliversAnnouncesAndEventsOnTheirTopics() async throws {
        try await withReceiver { receiver in
            try await withForwarder(configuration(receiver, try v1(receiver))) { forwarder, outages in
                let started = ContinuousClock.now
                await forwarder.enqueue(event("e1"))
                await forwarder.enqueue(event("e2", entity: EventEntity.broker, type: "InspectionDrop"))
                await forwarder.enqueue(event("e3"))
                #expect(
                    await receiver.wait { state in
                        state.messages(topic: PushTopic.devicesAndTopics).count >= 4 && state.messages.count >= 7
                    })
                let state = receiver.snapshot()
                let elapsed = ContinuousClock.now - started

                let announces = state.messages(topic: PushTopic.devicesAndTopics)
                #expect(
                    announces.first?.data == [
                        "Device": "Device-1", "AuthServer": "LoginError, LoginSuccess", "MQTTBroker": "InspectionDrop",
                    ])
                // One announce per interval, not one per turn of the loop (the first may precede `started`).
                #expect(announces.count <= Int(elapsed / .milliseconds(200)) + 2)

                let logins = state.messages(topic: Self.eventTopic)
                #expect(logins.map { $0.data["data"] } == ["e1", "e3"])
                #expect(logins.first?.data["entity"] == "Auth server")
                #expect(logins.first?.data["type"] == "LoginError")
                #expect(logins.first?.data["severity"] == "warning")
                #expect(logins.first?.data["src"] == "10.0.0.5")
                #expect(state.messages(topic: "Device-1_MQTTBroker_InspectionDrop").map { $0.data["data"] } == ["e2"])
                #expect(state.messages.allSatisfy { $0.path == "/v1/projects/rampart-test/messages:send" })
                // One token for every message: it is kept until shortly before it expires.
                #expect(state.tokenRequests == 1)
                #expect(state.refusedAssertions == 0)

                let status = await forwarder.status()
                #expect(status.sent == 3)
                #expect(status.buffered == 0)
                #expect(status.dropped == 0)
                #expect(status.connected)
                #expect(status.lastError == nil)
                #expect(outages.all.isEmpty)
            }
        }
    }

    @Test func legacyDeliversWithTheServerKey() async throws {
        try await withReceiver { receiver in
            try await withForwarder(configuration(receiver, Self.legacy)) { forwarder, _ in
                await forwarder.enqueue(event("e1"))
                #expect(
                    await receiver.wait { state in
                        !state.messages(topic: PushTopic.devicesAndTopics).isEmpty
                            && !state.messages(topic: Self.eventTopic).isEmpty
                    })
                let state = receiver.snapshot()
                #expect(state.messages.allSatisfy { $0.path == "/fcm/send" })
                #expect(state.messages(topic: Self.eventTopic).map { $0.data["data"] } == ["e1"])
                #expect(state.tokenRequests == 0)
            }
        }
    }

    // MARK: Failures

    @Test func anUnavailableReceiverIsRetriedThenGetsEveryEventInOrder() async throws {
        try await withReceiver { receiver in
            receiver.update { $0.unavailable = true }
            try await withForwarder(configuration(receiver, Self.legacy)) { forwarder, outages in
                for index in 1...5 { await forwarder.enqueue(event("e\(index)")) }
                // The first event is tried again and again, and no other overtakes it.
                #expect(await receiver.wait { $0.attempts(topic: Self.eventTopic).count >= 3 })
                let during = await forwarder.status()
                #expect(during.buffered == 5)
                #expect(during.sent == 0)
                #expect(!during.connected)
                #expect(during.lastError?.contains("503") == true)
                guard case .began(let reason) = outages.all.first, outages.all.count == 1 else {
                    Issue.record("outages while down: \(outages.all)")
                    return
                }
                #expect(reason.contains("503"))

                receiver.update { $0.unavailable = false }
                #expect(await receiver.wait { $0.messages(topic: Self.eventTopic).count >= 5 })
                // A few more announces, to see that recovery is reported once.
                let announces = receiver.snapshot().messages(topic: PushTopic.devicesAndTopics).count
                #expect(await receiver.wait { $0.messages(topic: PushTopic.devicesAndTopics).count >= announces + 2 })

                let titles = receiver.snapshot().messages(topic: Self.eventTopic).map { $0.data["data"] ?? "" }
                #expect(titles == ["e1", "e2", "e3", "e4", "e5"])
                #expect(outages.all.count == 2)
                #expect(outages.all.last == .ended(lost: 0))
                let after = await forwarder.status()
                #expect(after.sent == 5)
                #expect(after.buffered == 0)
                #expect(after.connected)
            }
        }
    }

    @Test func aRefusedMessageIsDroppedNotRetried() async throws {
        try await withReceiver { receiver in
            receiver.update { $0.refusedTopics = ["Device-1_Store_Bad"] }
            try await withForwarder(configuration(receiver, Self.legacy)) { forwarder, outages in
                await forwarder.enqueue(event("bad", entity: EventEntity.store, type: "Bad"))
                await forwarder.enqueue(event("good"))
                #expect(await receiver.wait { !$0.messages(topic: Self.eventTopic).isEmpty })
                #expect(await eventually { outages.all.count >= 2 })
                // Two more announces: time enough for a retry, had there been one.
                let announces = receiver.snapshot().messages(topic: PushTopic.devicesAndTopics).count
                #expect(await receiver.wait { $0.messages(topic: PushTopic.devicesAndTopics).count >= announces + 2 })

                #expect(receiver.snapshot().attempts(topic: "Device-1_Store_Bad") == [400])
                let status = await forwarder.status()
                #expect(status.dropped == 1)
                #expect(status.sent == 1)
                guard case .began(let reason) = outages.all.first else {
                    Issue.record("outages: \(outages.all)")
                    return
                }
                #expect(reason.contains("400"))
                #expect(outages.all.dropFirst() == [.ended(lost: 1)])
            }
        }
    }

    @Test func aFullQueueDropsTheOldest() async throws {
        try await withReceiver { receiver in
            var configuration = configuration(receiver, Self.legacy)
            configuration.queueCapacity = 2
            try await withForwarder(configuration, running: false) { forwarder, _ in
                for index in 1...5 { await forwarder.enqueue(event("e\(index)")) }
                let status = await forwarder.status()
                #expect(status.buffered == 2)
                #expect(status.dropped == 3)

                let runner = Task { await forwarder.run() }
                #expect(await receiver.wait { $0.messages(topic: Self.eventTopic).count >= 2 })
                runner.cancel()
                await runner.value
                #expect(receiver.snapshot().messages(topic: Self.eventTopic).map { $0.data["data"] } == ["e4", "e5"])
                #expect(await forwarder.status().sent == 2)
            }
        }
    }

    /// Cancelling `run` ends it even while it waits for work.
    @Test func runEndsWhenCancelled() async throws {
        try await withReceiver { receiver in
            try await withForwarder(configuration(receiver, Self.legacy), running: false) { forwarder, outages in
                let runner = Task { await forwarder.run() }
                #expect(await receiver.wait { !$0.messages(topic: PushTopic.devicesAndTopics).isEmpty })
                await forwarder.enqueue(event("e1"))
                runner.cancel()
                await runner.value
                // Whether or not the cancellation cut a send short, stopping is no outage.
                #expect(outages.all.isEmpty)
            }
        }
    }

    // MARK: Test button and tokens

    @Test func sendTestReportsTheOutcome() async throws {
        try await withReceiver { receiver in
            try await withForwarder(configuration(receiver, Self.legacy), running: false) { forwarder, _ in
                guard case .success(let outcome) = await forwarder.sendTest() else {
                    Issue.record("the test message was not delivered")
                    return
                }
                #expect(outcome.contains("200"))
                #expect(receiver.snapshot().messages(topic: PushTopic.devicesAndTopics).count == 1)
            }
            let wrongKey = configuration(receiver, .legacy(serverKey: "wrong"))
            try await withForwarder(wrongKey, running: false) { forwarder, _ in
                guard case .failure(.rejected(_, 401, _)) = await forwarder.sendTest() else {
                    Issue.record("a wrong server key is not reported as a 401")
                    return
                }
            }
        }
    }

    @Test func anAssertionSignedWithAnotherKeyGetsNoToken() async throws {
        try await withReceiver { receiver in
            let stranger = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            let account = try ServiceAccountKey(
                json: PushServiceAccountKeyTests.keyFile(stranger, tokenURI: "\(receiver.baseURL)/token"))
            let delivery = PushConfiguration.Delivery.fcmV1(serviceAccount: account, projectID: "p", tokenEndpoint: nil)
            try await withForwarder(configuration(receiver, delivery), running: false) { forwarder, _ in
                guard case .failure(.authorization(let reason)) = await forwarder.sendTest() else {
                    Issue.record("a refused assertion is not reported as an authorization failure")
                    return
                }
                #expect(reason.contains("400"))
                let state = receiver.snapshot()
                #expect(state.refusedAssertions == 1)
                #expect(state.sendAttempts.isEmpty)
            }
        }
    }

    @Test func aTokenIsRenewedWhenItIsAboutToExpireOrRefused() async throws {
        try await withReceiver { receiver in
            try await withForwarder(configuration(receiver, try v1(receiver)), running: false) { forwarder, _ in
                _ = await forwarder.sendTest()
                _ = await forwarder.sendTest()
                #expect(receiver.snapshot().tokenRequests == 1)
                // A token the receiver no longer accepts: that send fails, the next gets a new token.
                receiver.update { $0.issuedTokens = [] }
                guard case .failure(.rejected(_, 401, _)) = await forwarder.sendTest() else {
                    Issue.record("a revoked token is not reported")
                    return
                }
                guard case .success = await forwarder.sendTest() else {
                    Issue.record("no new token after a 401")
                    return
                }
                #expect(receiver.snapshot().tokenRequests == 2)
            }
            // Tokens that live less than the renewal margin are fetched for every message.
            receiver.update { $0.tokenLifetime = 30 }
            try await withForwarder(configuration(receiver, try v1(receiver)), running: false) { forwarder, _ in
                let before = receiver.snapshot().tokenRequests
                _ = await forwarder.sendTest()
                _ = await forwarder.sendTest()
                #expect(receiver.snapshot().tokenRequests == before + 2)
            }
        }
    }

    /// The token endpoint can differ from the key's `token_uri`, which stays the assertion's audience.
    @Test func theTokenEndpointCanBeOverridden() async throws {
        try await withReceiver { receiver in
            let audience = "https://oauth2.example.test/token"
            receiver.update { $0.tokenURL = audience }
            let account = try ServiceAccountKey(
                json: PushServiceAccountKeyTests.keyFile(receiver.accountKey, tokenURI: audience))
            let delivery = PushConfiguration.Delivery.fcmV1(
                serviceAccount: account, projectID: "other-project", tokenEndpoint: "\(receiver.baseURL)/token")
            try await withForwarder(configuration(receiver, delivery), running: false) { forwarder, _ in
                guard case .success = await forwarder.sendTest() else {
                    Issue.record("the overridden token endpoint was not used")
                    return
                }
                #expect(receiver.snapshot().messages.first?.path == "/v1/projects/other-project/messages:send")
            }
        }
    }

    @Test func unusableTrustRootsOrEndpointAreRefused() async throws {
        let base = PushConfiguration(deviceName: "d", delivery: .legacy(serverKey: "k"))
        var badRoots = base
        badRoots.additionalTrustRootsPEM = "not a certificate"
        var badEndpoint = base
        badEndpoint.endpoint = "fcm endpoint"
        for configuration in [badRoots, badEndpoint] {
            do {
                let forwarder = try PushForwarder(
                    configuration: configuration, logger: Logger(label: "t"), onOutage: { _ in })
                await forwarder.shutdown()
                Issue.record("accepted: \(configuration.endpoint), \(configuration.additionalTrustRootsPEM ?? "")")
            } catch {
                guard case .configuration = error else {
                    Issue.record("unexpected error \(error)")
                    continue
                }
            }
        }
    }
}
