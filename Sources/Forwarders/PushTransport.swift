import AsyncHTTPClient
import Events
import Foundation
import NIOCore
import NIOSSL

/// Sends one push message over HTTPS and says what became of it; keeps the one `HTTPClient` and, for HTTP v1,
/// the access token until shortly before it expires.
actor PushTransport {
    private static let connectTimeout = TimeAmount.seconds(5)
    private static let requestTimeout = TimeAmount.seconds(10)
    /// Answers are read only to report errors and tokens: anything longer is cut.
    private static let maximumResponseBytes = 64 * 1024
    /// A token is renewed this long before it expires, so that no request carries one about to lapse.
    private static let tokenRenewalMargin = Duration.seconds(60)
    private static let grantType = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"

    private struct AccessToken {
        var value: String
        var renewAt: ContinuousClock.Instant
    }

    private let delivery: PushConfiguration.Delivery
    private let sendURL: String
    private let client: HTTPClient
    private var token: AccessToken?
    /// The exchange in progress, shared by the sends that need a token meanwhile.
    private var tokenExchange: Task<AccessToken, any Error>?

    init(configuration: PushConfiguration) throws(PushError) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let pem = configuration.additionalTrustRootsPEM,
            !pem.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        {
            do {
                let certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
                guard !certificates.isEmpty else { throw PushError.configuration("no certificate in the PEM text") }
                tls.additionalTrustRoots = [.certificates(certificates)]
            } catch {
                throw .configuration("additional trust roots: not PEM certificates (\(error))")
            }
        }
        var base = configuration.endpoint.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), ["https", "http"].contains(scheme),
            url.host != nil
        else {
            throw .configuration("endpoint \"\(configuration.endpoint)\" is not an http(s) URL")
        }
        switch configuration.delivery {
        case .fcmV1(let account, let projectID, _):
            let project = projectID.flatMap { $0.isEmpty ? nil : $0 } ?? account.projectID
            let path = project.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? project
            self.sendURL = "\(base)/v1/projects/\(path)/messages:send"
        case .legacy:
            self.sendURL = "\(base)/fcm/send"
        }
        self.delivery = configuration.delivery
        // Redirects are not followed: they would carry the credentials to another address.
        let clientConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: HTTPClient.Configuration.Timeout(connect: Self.connectTimeout, read: Self.requestTimeout),
            connectionPool: HTTPClient.Configuration.ConnectionPool())
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    /// Posts `message` and returns a line for the operator ("HTTP 200 from …").
    func send(_ message: PushMessage) async throws(PushError) -> String {
        var request = HTTPClientRequest(url: sendURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        switch delivery {
        case .fcmV1:
            request.headers.add(name: "Authorization", value: "Bearer \(try await accessToken())")
            request.body = .bytes(ByteBuffer(bytes: message.v1Body()))
        case .legacy(let serverKey):
            request.headers.add(name: "Authorization", value: "key=\(serverKey)")
            request.body = .bytes(ByteBuffer(bytes: message.legacyBody()))
        }
        let (status, _) = try await execute(request)
        return "HTTP \(status) from \(sendURL)"
    }

    /// Shuts the HTTP client down; sends fail afterwards.
    func shutdown() async {
        tokenExchange?.cancel()
        try? await client.shutdown()
    }

    /// Runs `request` and returns the status and body of a 2xx answer.
    /// - Throws: `PushError.unreachable` without an answer, `.rejected` for any other status. A 401 from the send
    ///   endpoint also forgets the access token, so that the next attempt gets a new one.
    private func execute(_ request: HTTPClientRequest) async throws(PushError) -> (Int, ByteBuffer) {
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: Self.requestTimeout)
        } catch {
            throw .unreachable(url: request.url, reason: Self.describe(error))
        }
        let status = Int(response.status.code)
        // An answer cut short or too long still has its status: that decides, the body only explains.
        let body = (try? await response.body.collect(upTo: Self.maximumResponseBytes)) ?? ByteBuffer()
        guard (200..<300).contains(status) else {
            if status == 401, request.url == sendURL { token = nil }
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .rejected(url: request.url, status: status, body: String(text.prefix(300)))
        }
        return (status, body)
    }

    private func accessToken() async throws(PushError) -> String {
        if let token, ContinuousClock.now < token.renewAt { return token.value }
        let exchange: Task<AccessToken, any Error>
        if let tokenExchange {
            exchange = tokenExchange
        } else {
            exchange = Task { try await self.exchangeAssertion() }
            tokenExchange = exchange
        }
        defer { if tokenExchange == exchange { tokenExchange = nil } }
        do {
            let fresh = try await exchange.value
            token = fresh
            return fresh.value
        } catch let error as PushError {
            throw .authorization(error.description)
        } catch {
            throw .authorization("\(error)")
        }
    }

    /// The JWT bearer grant: a signed assertion posted to the token endpoint, answered with an access token.
    private func exchangeAssertion() async throws -> AccessToken {
        guard case .fcmV1(let account, _, let tokenEndpoint) = delivery else {
            throw PushError.configuration("no service account for HTTP v1")
        }
        let endpoint = tokenEndpoint.flatMap { $0.isEmpty ? nil : $0 } ?? account.tokenURI
        let assertion = try account.signedAssertion(audience: account.tokenURI, now: Date())
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "grant_type=\(Self.grantType)&assertion=\(assertion)"))
        let requested = ContinuousClock.now
        let (_, body) = try await execute(request)
        guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(body.readableBytesView)),
            !answer.accessToken.isEmpty
        else {
            throw PushError.authorization("\(endpoint): the answer has no access_token")
        }
        let lifetime = answer.expiresIn ?? 3600
        return AccessToken(value: answer.accessToken, renewAt: requested + .seconds(lifetime) - Self.tokenRenewalMargin)
    }

    private static func describe(_ error: any Error) -> String { String(describing: error) }

    /// The token endpoint's answer (RFC 6749 §5.1).
    private struct TokenAnswer: Decodable {
        var accessToken: String
        var expiresIn: Int?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case expiresIn = "expires_in"
        }
    }
}
