import Foundation
import Hummingbird
import RampartModel

struct ProfileRequest: Decodable {
    var name: String
    /// The profile to copy; absent for an empty profile.
    var template: String?
}

struct BrokerProfileDetail: Encodable, Sendable {
    var profile: BrokerProfileInfo
    var diagnostics: [LineDiagnostic]
}

struct FileContent: Encodable, Sendable {
    var name: String
    var content: String
}

struct SaveResult: Encodable, Sendable {
    var saved: Bool
    var diagnostics: [LineDiagnostic]
}

extension ManagementAPI {
    func registerBrokerProfiles(_ routes: CatalogedRoutes) {
        let broker = services.brokerProfiles
        routes.on(.get, "/broker/state") { _, _ in JSONResponse(await broker.state()) }
        routes.on(.get, "/broker/profiles") { request, _ in
            JSONResponse(try Page.of(try await broker.profiles(), request: request, name: \.name))
        }
        routes.on(.post, "/broker/profiles") { request, context in
            let body = try await request.decodeJSON(ProfileRequest.self, context: context)
            try await broker.create(body.name, template: body.template)
            return JSONResponse(Empty(), status: .created)
        }
        routes.on(.get, "/broker/profiles/:name") { request, context in
            let name = try request.parameter("name", context: context)
            guard let profile = try await broker.profiles().first(where: { $0.name == name }) else {
                throw APIError.notFound("broker profile '\(name)'")
            }
            return JSONResponse(BrokerProfileDetail(profile: profile, diagnostics: try await broker.validate(name)))
        }
        routes.on(.post, "/broker/profiles/:name/activate") { request, context in
            JSONResponse(try await broker.activate(try request.parameter("name", context: context)))
        }
        routes.on(.delete, "/broker/profiles/:name") { request, context in
            try await broker.delete(try request.parameter("name", context: context))
            return JSONResponse(Empty())
        }
        routes.on(.get, "/broker/profiles/:name/files/:file") { request, context in
            let name = try request.parameter("name", context: context)
            let file = try request.parameter("file", context: context)
            let data = try await broker.read(file, of: name)
            guard let text = String(data: data, encoding: .utf8) else {
                throw APIError(
                    status: .unprocessableContent, code: "binary_file",
                    message: "\(file) is not UTF-8 text and cannot be shown")
            }
            // PKI-3: no API returns a private key.
            guard !Self.containsPrivateKey(text) else {
                throw APIError(
                    status: .forbidden, code: "private_key",
                    message: "\(file) holds a private key, which the gateway never sends back; replace it by uploading")
            }
            return JSONResponse(FileContent(name: file, content: text))
        }
        routes.on(.put, "/broker/profiles/:name/files/:file") { request, context in
            let name = try request.parameter("name", context: context)
            let file = try request.parameter("file", context: context)
            let data = try await request.bodyBytes(context: context, limit: ProfileNaming.maximumFileSize)
            return JSONResponse(SaveResult(saved: true, diagnostics: try await broker.write(data, as: file, in: name)))
        }
        routes.on(.delete, "/broker/profiles/:name/files/:file") { request, context in
            try await broker.remove(
                try request.parameter("file", context: context), from: try request.parameter("name", context: context))
            return JSONResponse(Empty())
        }
    }

    func registerWebProfiles(_ routes: CatalogedRoutes) {
        let web = services.webProfiles
        routes.on(.get, "/web/profiles") { request, _ in
            JSONResponse(try Page.of(await web.profiles(), request: request, name: \.name))
        }
        routes.on(.post, "/web/profiles") { request, context in
            let body = try await request.decodeJSON(ProfileRequest.self, context: context)
            try await web.create(body.name, template: body.template)
            return JSONResponse(Empty(), status: .created)
        }
        routes.on(.get, "/web/profiles/:name") { request, context in
            JSONResponse(try await web.profile(try request.parameter("name", context: context)))
        }
        routes.on(.post, "/web/profiles/:name/activate") { request, context in
            JSONResponse(try await web.activate(try request.parameter("name", context: context)))
        }
        routes.on(.delete, "/web/profiles/:name") { request, context in
            try await web.delete(try request.parameter("name", context: context))
            return JSONResponse(Empty())
        }
        routes.on(.put, "/web/profiles/:name/files/:file") { request, context in
            let name = try request.parameter("name", context: context)
            let file = try request.parameter("file", context: context)
            let data = try await request.bodyBytes(context: context, limit: ProfileNaming.maximumFileSize)
            return JSONResponse(SaveResult(saved: true, diagnostics: try await web.put(data, as: file, in: name)))
        }
        routes.on(.delete, "/web/profiles/:name/files/:file") { request, context in
            try await web.remove(
                try request.parameter("file", context: context), from: try request.parameter("name", context: context))
            return JSONResponse(Empty())
        }
    }

    static func containsPrivateKey(_ text: String) -> Bool {
        text.contains("PRIVATE KEY-----")
    }
}
