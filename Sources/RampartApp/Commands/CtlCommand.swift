import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// `rampart ctl`: the REST API from a shell. Authenticates with an API token (`--token`, `RAMPART_TOKEN`, or the
/// console token the gateway leaves in its data directory for root) or a user name and password.
struct CtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Manage a running gateway through its REST API.",
        subcommands: [
            Status.self, Profiles.self, WebProfiles.self, Settings.self, Users.self, Tokens.self, Sessions.self,
            Events.self, Audit.self, Firewall.self,
        ]
    )

    struct Connection: ParsableArguments {
        @Option(help: "The gateway's API base URL.")
        var url: String = "https://127.0.0.1:8443"

        @Option(help: "API token (default: $RAMPART_TOKEN, else the console token in --data-dir).")
        var token: String?

        @Option(help: "Data directory of a local gateway (for its console token and certificate).")
        var dataDir: String = RunCommand.defaultDataDirectory

        @Option(help: "Log in as this user instead of using a token (the password is read from --password-file).")
        var user: String?

        @Option(help: "File holding the password for --user.")
        var passwordFile: String?

        @Option(help: "PEM file of the CA (or the certificate itself) to trust for the gateway's HTTPS.")
        var cacert: String?

        @Flag(help: "Do not verify the gateway's certificate (only for a first contact on a trusted network).")
        var insecure = false
    }

    // MARK: Subcommands

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The dashboard's facts as JSON.")
        @OptionGroup var connection: Connection
        func run() async throws { try await APIClient.with(connection) { try await $0.print(.GET, "/status") } }
    }

    struct Profiles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "profiles", abstract: "MQTT broker profiles.",
            subcommands: [
                ProfileList<BrokerKind>.self, ProfileCreate<BrokerKind>.self, ProfileUpload<BrokerKind>.self,
                ProfileActivate<BrokerKind>.self, ProfileDelete<BrokerKind>.self,
            ])
    }

    struct WebProfiles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "web-profiles", abstract: "Web-server profiles.",
            subcommands: [
                ProfileList<WebKind>.self, ProfileCreate<WebKind>.self, ProfileUpload<WebKind>.self,
                ProfileActivate<WebKind>.self, ProfileDelete<WebKind>.self,
            ])
    }

    /// Which profiles a profile command acts on: the same commands serve broker and web-server profiles.
    protocol ProfileKind { static var path: String { get } }
    enum BrokerKind: ProfileKind { static var path: String { "/broker/profiles" } }
    enum WebKind: ProfileKind { static var path: String { "/web/profiles" } }

    struct ProfileList<Kind: ProfileKind>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "list", abstract: "List profiles.")
        }
        @OptionGroup var connection: Connection
        func run() async throws {
            try await APIClient.with(connection) { client in
                let page = try await client.json(.GET, Kind.path)
                for item in (page["items"] as? [[String: Any]]) ?? [] {
                    let name = item["name"] as? String ?? "?"
                    let active = (item["active"] as? Bool ?? false) ? "*" : " "
                    let readOnly = (item["readOnly"] as? Bool ?? false) ? " (read-only)" : ""
                    Swift.print("\(active) \(name)\(readOnly)")
                }
            }
        }
    }

    struct ProfileCreate<Kind: ProfileKind>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "create", abstract: "Create a profile.")
        }
        @OptionGroup var connection: Connection
        @Option(help: "Copy this profile instead of starting empty.") var template: String?
        @Argument var name: String
        func run() async throws {
            var body: [String: Any] = ["name": name]
            if let template { body["template"] = template }
            try await APIClient.with(connection) { try await $0.print(.POST, Kind.path, json: body) }
        }
    }

    struct ProfileUpload<Kind: ProfileKind>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                commandName: "upload", abstract: "Add or replace a file of a profile; prints its diagnostics.")
        }
        @OptionGroup var connection: Connection
        @Option(name: .customLong("as"), help: "Name of the file in the profile (default: the file's name).")
        var fileName: String?
        @Argument var profile: String
        @Argument var file: String
        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            let name = fileName ?? (file as NSString).lastPathComponent
            try await APIClient.with(connection) {
                try await $0.print(.PUT, "\(Kind.path)/\(profile)/files/\(name)", raw: data)
            }
        }
    }

    struct ProfileActivate<Kind: ProfileKind>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "activate", abstract: "Set a profile active.")
        }
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await APIClient.with(connection) {
                try await $0.print(.POST, "\(Kind.path)/\(name)/activate")
            }
        }
    }

    struct ProfileDelete<Kind: ProfileKind>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "delete", abstract: "Delete a profile.")
        }
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            try await APIClient.with(connection) { try await $0.print(.DELETE, "\(Kind.path)/\(name)") }
        }
    }

    struct Settings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Settings documents: network, central-server, device, password-policy.",
            subcommands: [Get.self, Set.self])

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print a settings document as JSON.")
            @OptionGroup var connection: Connection
            @Argument var name: String
            func run() async throws {
                try await APIClient.with(connection) { try await $0.print(.GET, "/settings/\(name)") }
            }
        }

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replace a settings document with JSON from a file or standard input (as `get` prints it).")
            @OptionGroup var connection: Connection
            @Argument var name: String
            @Option(help: "JSON file; - or absent: standard input.") var file: String?
            func run() async throws {
                let data =
                    file == nil || file == "-"
                    ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file ?? "")
                guard let data else { throw ValidationError("cannot read \(file ?? "standard input")") }
                try await APIClient.with(connection) {
                    try await $0.print(.PUT, "/settings/\(name)", raw: data, json: true)
                }
            }
        }
    }

    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Users.", subcommands: [List.self, Password.self])

        struct List: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            func run() async throws { try await APIClient.with(connection) { try await $0.print(.GET, "/users") } }
        }

        struct Password: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Change the password of the logged-in user (--user); passwords are read from files.")
            @OptionGroup var connection: Connection
            @Option(help: "File with the new password.") var newPasswordFile: String
            func run() async throws {
                guard let current = connection.passwordFile.flatMap(APIClient.readSecret),
                    let new = APIClient.readSecret(newPasswordFile)
                else { throw ValidationError("give --user, --password-file and a readable --new-password-file") }
                try await APIClient.with(connection) {
                    try await $0.print(.POST, "/account/password", json: ["current": current, "new": new])
                }
            }
        }
    }

    struct Tokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "API tokens.", subcommands: [List.self, Create.self, Delete.self])

        struct List: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            func run() async throws { try await APIClient.with(connection) { try await $0.print(.GET, "/tokens") } }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a token; prints its secret once.")
            @OptionGroup var connection: Connection
            @Argument var name: String
            func run() async throws {
                try await APIClient.with(connection) { client in
                    let answer = try await client.json(.POST, "/tokens", json: ["name": name])
                    Swift.print(answer["secret"] as? String ?? "")
                }
            }
        }

        struct Delete: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Argument var id: String
            func run() async throws {
                try await APIClient.with(connection) { try await $0.print(.DELETE, "/tokens/\(id)") }
            }
        }
    }

    struct Sessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Web sessions.", subcommands: [Revoke.self])

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "End the active web session.")
            @OptionGroup var connection: Connection
            func run() async throws {
                try await APIClient.with(connection) { try await $0.print(.DELETE, "/sessions") }
            }
        }
    }
}

extension CtlCommand {
    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Network security events, newest first (JSON).")
        @OptionGroup var connection: Connection
        @Option(help: "Only events of this entity (repeatable).") var entity: [String] = []
        @Option(help: "At most this many events.") var limit = 100
        func run() async throws {
            let query = (entity.map { "entity=\(Self.escape($0))" } + ["limit=\(limit)"]).joined(separator: "&")
            try await APIClient.with(connection) { try await $0.print(.GET, "/events?" + query) }
        }

        static func escape(_ value: String) -> String {
            value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The audit log.", subcommands: [List.self, Verify.self, Export.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Audit entries, newest first (JSON).")
            @OptionGroup var connection: Connection
            @Option(help: "all, day, week or month.") var period = "all"
            @Option(help: "At most this many entries.") var limit = 100
            func run() async throws {
                try await APIClient.with(connection) {
                    try await $0.print(.GET, "/audit?period=\(Events.escape(period))&limit=\(limit)")
                }
            }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check the audit log's hash chain; exits with 1 and names the first broken entry if any.")
            @OptionGroup var connection: Connection
            func run() async throws {
                var intact = true
                try await APIClient.with(connection) { client in
                    let result = try await client.json(.GET, "/audit/verify")
                    let checked = result["checked"] as? Int ?? 0
                    if let broken = result["firstBroken"] as? Int {
                        intact = false
                        Swift.print(
                            "BROKEN at entry \(broken) (\(checked) checked): \(result["reason"] as? String ?? "")")
                    } else {
                        Swift.print("intact: \(checked) entries checked")
                    }
                }
                if !intact { throw ExitCode(1) }
            }
        }

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Download the audit log as CSV; the exported entries are deleted from the gateway.")
            @OptionGroup var connection: Connection
            @Option(help: "Where to write the CSV.") var output = "audit.csv"
            func run() async throws {
                try await APIClient.with(connection) { client in
                    let data = try await client.raw(.POST, "/audit/export")
                    try data.write(to: URL(fileURLWithPath: output))
                    Swift.print("wrote \(data.count) bytes to \(output)")
                }
            }
        }
    }
}

/// A failed API call, printed as the API's message.
struct APICallError: Error, CustomStringConvertible {
    var status: UInt
    var message: String
    var description: String { "error \(status): \(message)" }
}

/// The HTTP side of `rampart ctl`.
struct APIClient {
    let client: HTTPClient
    let base: String
    var headers: HTTPHeaders

    static func with(_ connection: CtlCommand.Connection, _ body: (APIClient) async throws -> Void) async throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if connection.insecure {
            tls.certificateVerification = .none
        } else if let cacert = connection.cacert {
            tls.trustRoots = .file(cacert)
        } else if let url = URL(string: connection.url), ["127.0.0.1", "localhost", "::1"].contains(url.host ?? ""),
            FileManager.default.fileExists(atPath: connection.dataDir + "/web-certificate.pem")
        {
            // On the gateway itself: trust exactly the certificate the gateway says it presents (pinned, so the
            // host name does not matter).
            tls.trustRoots = .file(connection.dataDir + "/web-certificate.pem")
            tls.certificateVerification = .noHostnameVerification
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        do {
            var api = APIClient(client: client, base: connection.url + "/api/v1", headers: [:])
            try await api.authenticate(connection)
            try await body(api)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    static func readSecret(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private mutating func authenticate(_ connection: CtlCommand.Connection) async throws {
        if let user = connection.user {
            guard let password = connection.passwordFile.flatMap(Self.readSecret) else {
                throw ValidationError("--user needs --password-file")
            }
            var request = HTTPClientRequest(url: base + "/session")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(try JSONSerialization.data(withJSONObject: ["user": user, "password": password]))
            let response = try await client.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
            guard response.status == .ok else {
                throw APICallError(
                    status: response.status.code, message: object["message"] as? String ?? "\(response.status)")
            }
            if let cookie = response.headers["Set-Cookie"].first?.split(separator: ";").first {
                headers.add(name: "Cookie", value: String(cookie))
            }
            headers.add(name: "X-CSRF-Token", value: object["csrfToken"] as? String ?? "")
            return
        }
        let token =
            connection.token ?? ProcessInfo.processInfo.environment["RAMPART_TOKEN"]
            ?? Self.readSecret(connection.dataDir + "/console-token")
        guard let token else {
            throw ValidationError(
                "no API token: give --token, set RAMPART_TOKEN, run as root on the gateway, or log in with --user")
        }
        headers.add(name: "Authorization", value: "Bearer \(token)")
    }

    /// Calls the API and returns the decoded JSON object; throws the API's message on an error status.
    @discardableResult
    func json(
        _ method: HTTPMethod, _ path: String, json body: [String: Any]? = nil, raw: Data? = nil, rawIsJSON: Bool = false
    )
        async throws -> [String: Any]
    {
        let data = try await call(method, path, json: body, raw: raw, rawIsJSON: rawIsJSON)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// Calls the API and returns the body as it came (CSV downloads).
    func raw(_ method: HTTPMethod, _ path: String) async throws -> Data {
        try await call(method, path, json: nil, raw: nil, rawIsJSON: false)
    }

    func print(_ method: HTTPMethod, _ path: String, json body: [String: Any]? = nil) async throws {
        let data = try await call(method, path, json: body, raw: nil, rawIsJSON: false)
        Self.printJSON(data)
    }

    func print(_ method: HTTPMethod, _ path: String, raw: Data, json: Bool = false) async throws {
        Self.printJSON(try await call(method, path, json: nil, raw: raw, rawIsJSON: json))
    }

    private static func printJSON(_ data: Data) {
        if let object = try? JSONSerialization.jsonObject(with: data),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        {
            Swift.print(String(decoding: pretty, as: UTF8.self))
        } else {
            Swift.print(String(decoding: data, as: UTF8.self))
        }
    }

    private func call(_ method: HTTPMethod, _ path: String, json body: [String: Any]?, raw: Data?, rawIsJSON: Bool)
        async throws -> Data
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers = headers
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(try JSONSerialization.data(withJSONObject: body))
        } else if let raw {
            request.headers.add(
                name: "Content-Type", value: rawIsJSON ? "application/json" : "application/octet-stream")
            request.body = .bytes(raw)
        }
        let response = try await client.execute(request, timeout: .seconds(60))
        let data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
        guard (200..<300).contains(response.status.code) else {
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            throw APICallError(
                status: response.status.code,
                message: object?["message"] as? String ?? String(decoding: data, as: UTF8.self))
        }
        return data
    }
}
