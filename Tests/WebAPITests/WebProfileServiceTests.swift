import Foundation
import NIOSSL
import PKI
import Testing

@testable import WebAPI

@Suite("Web-server profiles")
struct WebProfileServiceTests {
    @Test("an uploaded key is stored sealed: the database file never holds it in clear")
    func keySealed() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let web = plane.services.webProfiles
        try await web.create("mine", template: nil)
        let bundle = try SelfSignedCertificate.make(
            commonName: "sealed-test", dnsNames: ["sealed.example"], ipAddresses: [], now: Date())
        let pem = bundle.certificateChainPEM + bundle.privateKeyPEM
        _ = try await web.put(Data(pem.utf8), as: "server.pem", in: "mine")
        _ = try await web.put(Data("ssl_certificate server.pem\n".utf8), as: "webserver.conf", in: "mine")
        let outcome = try await web.activate("mine")
        #expect(outcome.applied)
        let leaf = try #require(web.certificateSwitch.credentials.chain.first)
        let expected = try #require(try NIOSSLCertificate.fromPEMBytes(Array(bundle.certificateChainPEM.utf8)).first)
        #expect(try leaf.toDERBytes() == expected.toDERBytes(), "the switch presents the new certificate")
        let body = bundle.privateKeyPEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        for suffix in ["", "-wal", "-shm"] {
            let bytes = FileManager.default.contents(atPath: plane.folder + "/rampart.db" + suffix) ?? Data()
            #expect(bytes.range(of: Data(body.utf8)) == nil, "key in clear in rampart.db\(suffix)")
            #expect(bytes.range(of: Data("PRIVATE KEY".utf8)) == nil)
        }
        let info = try await web.profile("mine")
        #expect(info.files.contains { $0.name == "server.pem" && $0.certificate?.subject == "CN=sealed-test" })
    }

    @Test("the certificate of the active profile cannot be deleted")
    func activeCertificateKept() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let web = plane.services.webProfiles
        try await web.create("copy", template: WebProfileService.predefined)
        _ = try await web.activate("copy")
        #expect(await code { try await web.remove("server.pem", from: "copy") } == "conflict")
        #expect(try await web.profile("copy").files.contains { $0.name == "server.pem" })
        _ = try await web.activate(WebProfileService.predefined)
        #expect(await code { try await web.remove("server.pem", from: "copy") } == nil)
    }

    @Test("a read-only profile refuses changes; a bad PEM is refused with the reason")
    func refusals() async throws {
        let plane = try TestPlane()
        defer { plane.remove() }
        let web = plane.services.webProfiles
        #expect(
            await code { _ = try await web.put(Data("x".utf8), as: "webserver.conf", in: "default") } == "read_only")
        try await web.create("bad", template: nil)
        do {
            _ = try await web.put(Data("not a pem".utf8), as: "server.pem", in: "bad")
            Issue.record("garbage accepted")
        } catch {
            #expect(error.code == "bad_certificate")
            #expect(error.message.hasPrefix("server.pem: "))
        }
        #expect(await code { _ = try await web.activate("bad") } == "invalid_profile")
    }

    /// The API error code `body` throws, or nil.
    private func code(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch {
            return (error as? APIError)?.code ?? "\(error)"
        }
    }
}
