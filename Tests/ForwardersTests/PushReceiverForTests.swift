import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwiftASN1
import Synchronization
import X509
import _CryptoExtras

/// An HTTPS push receiver on 127.0.0.1 for the forwarder's tests: the token endpoint (`/token`, which verifies the
/// assertion's RS256 signature with the service account's public key) and both send endpoints
/// (`/v1/projects/<project>/messages:send` with a Bearer token it issued, `/fcm/send` with `key=<serverKey>`).
/// Its certificate is issued by a CA made for it (`caPEM`), which the forwarder is told to trust.
final class PushReceiverForTests: Sendable {
    struct Message: Sendable, Hashable {
        var topic: String
        var data: [String: String]
        /// The send path it came by.
        var path: String
    }

    struct State: Sendable {
        var messages: [Message] = []
        /// Every request to a send endpoint: its path, the message's topic and the status answered.
        var sendAttempts: [(path: String, topic: String?, status: Int)] = []
        var tokenRequests = 0
        var refusedAssertions = 0
        var issuedTokens: [String] = []
        /// Send endpoints answer 503 while set.
        var unavailable = false
        /// Messages to these topics are refused with 400.
        var refusedTopics: Set<String> = []
        /// The `expires_in` of the tokens issued.
        var tokenLifetime = 3600
        /// The token endpoint's own URL, the assertion's expected audience.
        var tokenURL = ""

        func messages(topic: String) -> [Message] { messages.filter { $0.topic == topic } }

        func attempts(topic: String) -> [Int] { sendAttempts.filter { $0.topic == topic }.map(\.status) }
    }

    static let serverKey = "legacy-server-key"
    static let clientEmail = "push@rampart-test.example.test"

    let caPEM: String
    let port: Int
    /// The service account whose assertions the token endpoint accepts.
    let accountKey: _RSA.Signing.PrivateKey
    private let ledger: Ledger
    private let channel: any Channel

    var baseURL: String { "https://127.0.0.1:\(port)" }

    private init(caPEM: String, port: Int, accountKey: _RSA.Signing.PrivateKey, ledger: Ledger, channel: any Channel) {
        self.caPEM = caPEM
        self.port = port
        self.accountKey = accountKey
        self.ledger = ledger
        self.channel = channel
    }

    static func start() async throws -> PushReceiverForTests {
        let (caPEM, certificatePEM, keyPEM) = try makeCertificates()
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        let context = try NIOSSLContext(configuration: tls)
        let accountKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let ledger = Ledger(accountPublicKey: accountKey.publicKey)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(ledger: ledger))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try await channel.close()
            throw ReceiverError.noPort
        }
        ledger.update { $0.tokenURL = "https://127.0.0.1:\(port)/token" }
        return PushReceiverForTests(caPEM: caPEM, port: port, accountKey: accountKey, ledger: ledger, channel: channel)
    }

    enum ReceiverError: Error { case noPort }

    /// The service-account key file a user would upload, pointing at this receiver's token endpoint.
    func serviceAccountJSON(projectID: String = "rampart-test") throws -> Data {
        let object: [String: String] = [
            "type": "service_account", "project_id": projectID, "private_key_id": "receiver-key",
            "private_key": accountKey.pkcs8PEMRepresentation, "client_email": Self.clientEmail,
            "token_uri": "\(baseURL)/token",
        ]
        return try JSONSerialization.data(withJSONObject: object)
    }

    func snapshot() -> State { ledger.update { $0 } }

    func update<Result>(_ body: (inout State) -> Result) -> Result { ledger.update(body) }

    /// Polls until `predicate` holds for the receiver's state, for at most `timeout`.
    func wait(timeout: Duration = .seconds(15), until predicate: (State) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(snapshot()) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return predicate(snapshot())
    }

    func close() async {
        try? await channel.close()
    }

    // MARK: Certificates

    private static func makeCertificates() throws -> (ca: String, certificate: String, key: String) {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("Push receiver test CA") }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86400),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
        let serverKey = P256.Signing.PrivateKey()
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(serverKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86400),
            issuer: caName, subject: try DistinguishedName { CommonName("127.0.0.1") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([
                    .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])), .dnsName("localhost"),
                ])
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
        return (try ca.serializeAsPEM().pemString, try server.serializeAsPEM().pemString, serverKey.pemRepresentation)
    }
}

/// The receiver's state and its answers, shared by every connection.
private final class Ledger: Sendable {
    private let state = Mutex(PushReceiverForTests.State())
    private let accountPublicKey: _RSA.Signing.PublicKey

    init(accountPublicKey: _RSA.Signing.PublicKey) {
        self.accountPublicKey = accountPublicKey
    }

    func update<Result>(_ body: (inout PushReceiverForTests.State) -> Result) -> Result {
        state.withLock { body(&$0) }
    }

    /// The status and JSON body answering one request.
    func answer(method: HTTPMethod, path: String, headers: HTTPHeaders, body: Data) -> (Int, String) {
        guard method == .POST else { return (405, #"{"error":"method"}"#) }
        if path == "/token" { return token(body) }
        let authorization = headers.first(name: "authorization") ?? ""
        if path == "/fcm/send" {
            return send(path: path, authorized: authorization == "key=\(PushReceiverForTests.serverKey)", body: body) {
                object in
                (object["to"] as? String).map { String($0.dropFirst("/topics/".count)) }
            }
        }
        if path.hasPrefix("/v1/projects/"), path.hasSuffix("/messages:send") {
            let issued = state.withLock { $0.issuedTokens }
            let authorized = authorization.hasPrefix("Bearer ") && issued.contains(String(authorization.dropFirst(7)))
            return send(path: path, authorized: authorized, body: body) { object in
                (object["message"] as? [String: Any])?["topic"] as? String
            }
        }
        return (404, #"{"error":"not found"}"#)
    }

    private func send(
        path: String, authorized: Bool, body: Data, topic: ([String: Any]) -> String?
    ) -> (Int, String) {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        let data =
            (object["data"] as? [String: String])
            ?? ((object["message"] as? [String: Any])?["data"] as? [String: String])
        let topic = topic(object)
        return state.withLock { state in
            let status: Int
            if !authorized {
                status = 401
            } else if state.unavailable {
                status = 503
            } else if let topic, let data {
                if state.refusedTopics.contains(topic) {
                    status = 400
                } else {
                    state.messages.append(PushReceiverForTests.Message(topic: topic, data: data, path: path))
                    status = 200
                }
            } else {
                status = 400
            }
            state.sendAttempts.append((path, topic, status))
            return (status, status == 200 ? #"{"name":"projects/p/messages/\#(state.messages.count)"}"# : "{}")
        }
    }

    private func token(_ body: Data) -> (Int, String) {
        var form: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        let audience = state.withLock { $0.tokenURL }
        let claims = form["assertion"].flatMap { try? PushServiceAccountKeyTests.verify($0, with: accountPublicKey) }
        let now = Date().timeIntervalSince1970
        let valid =
            form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            && claims?["aud"] as? String == audience && claims?["iss"] as? String == PushReceiverForTests.clientEmail
            && claims?["scope"] as? String == "https://www.googleapis.com/auth/firebase.messaging"
            && ((claims?["exp"] as? NSNumber)?.doubleValue ?? 0) > now
        return state.withLock { state in
            state.tokenRequests += 1
            guard valid else {
                state.refusedAssertions += 1
                return (400, #"{"error":"invalid_grant"}"#)
            }
            let token = "token-\(state.tokenRequests)"
            state.issuedTokens.append(token)
            return (200, #"{"access_token":"\#(token)","expires_in":\#(state.tokenLifetime),"token_type":"Bearer"}"#)
        }
    }
}

private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let ledger: Ledger
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(ledger: Ledger) {
        self.ledger = ledger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            guard let head else { return }
            let (status, answer) = ledger.answer(
                method: head.method, path: head.uri, headers: head.headers, body: Data(body.readableBytesView))
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(answer.utf8.count)")
            let responseHead = HTTPResponseHead(
                version: head.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
            context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: answer)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
