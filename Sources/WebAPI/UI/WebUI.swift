import Accounts
import Events
import FirewallPolicy
import Foundation
import Hummingbird
import Mustache
import RampartModel

/// The server-rendered web UI (SPEC WEB-3). Pages show state; every change is made by the page's script through
/// the REST API, so the UI can do nothing the API cannot.
struct WebUI: Sendable {
    let services: ManagementServices
    let templates: MustacheLibrary

    init(services: ManagementServices) {
        self.services = services
        self.templates = Self.loadTemplates()
    }

    static func loadTemplates() -> MustacheLibrary {
        var library = MustacheLibrary()
        let folder = WebResources.directory.appendingPathComponent("templates")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasSuffix(".mustache") {
            guard let text = try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8) else {
                continue
            }
            do {
                try library.register(text, named: String(name.dropLast(".mustache".count)))
            } catch {
                // A broken template is a build defect; the test that renders every page catches it.
                FileHandle.standardError.write(Data("template \(name): \(error)\n".utf8))
            }
        }
        return library
    }

    func register(on router: Router<ManagementContext>) {
        router.get("/static/:file") { request, context in try Self.staticFile(request, context) }
        router.get("/login") { request, context in
            if try await session(request) != nil { return Response.redirect(to: "/") }
            let language = Self.requestedLanguage(request)
            return try render(
                "login", language: language, session: nil, page: "login",
                ["languageSwitch": language == .russian ? "en" : "ru"])
        }
        page(router, "/") { session, language in
            let status = await ManagementAPI.status(services)
            let t = Strings.dictionary(language)
            return [
                "device": status.device.name, "serial": status.system.serial, "version": status.system.version,
                "buildCommit": status.system.buildCommit,
                "uptime": Self.duration(status.system.uptimeSeconds),
                "gatewayUptime": Self.duration(status.system.gatewayUptimeSeconds),
                "brokerStatus": status.broker.status,
                "brokerStatusText": t["state_" + status.broker.status] ?? status.broker.status,
                "brokerOK": status.broker.status == "configured",
                "brokerProblems": status.broker.problems, "hasBrokerProblems": !status.broker.problems.isEmpty,
                "activeProfile": status.broker.activeProfile ?? "—",
                "clients": status.broker.clientsConnected,
                "rate": String(format: "%.1f", status.broker.messagesPerSecond),
                "components": status.components.map {
                    [
                        "name": $0.name, "state": $0.state.rawValue, "ok": $0.state.isHealthy,
                        "stateText": t["state_" + $0.state.rawValue] ?? $0.state.rawValue, "detail": $0.detail,
                        "since": Self.timestamp($0.since),
                    ] as [String: Any]
                },
                "safe": status.components.allSatisfy(\.state.isHealthy),
                "eventsHeld": status.events.held,
                "eventsByEntity": status.events.byEntity.sorted { $0.key < $1.key }.map {
                    ["entity": $0.key, "count": $0.value] as [String: Any]
                },
                "auditIssues": status.audit?.issues ?? true,
                "auditBySeverity": Severity.allCases.map {
                    ["label": t[$0.rawValue] ?? $0.rawValue, "count": status.audit?.bySeverity[$0.rawValue] ?? 0]
                        as [String: Any]
                },
            ]
        }
        page(router, "/events") { _, _ in
            let ring = services.events.ring
            let counts = ring.countsByEntity()
            let entities = Set(counts.keys).union([EventEntity.authServer, EventEntity.broker]).sorted()
            return [
                "entities": entities.map { ["name": $0, "count": counts[$0] ?? 0] as [String: Any] },
                "held": ring.count, "capacity": ring.capacity,
            ]
        }
        page(router, "/audit") { _, language in
            let summary = try await ManagementAPI.auditSummary(services.events.trail)
            let t = Strings.dictionary(language)
            return [
                "count": summary.count, "capacity": summary.capacity, "policy": summary.policy,
                "policyText": t[summary.policy] ?? summary.policy, "circular": summary.policy == "circular",
                "full": summary.full && summary.policy == "limited", "lost": summary.lost,
                "severities": Severity.allCases.map {
                    ["value": $0.rawValue, "label": t[$0.rawValue] ?? $0.rawValue]
                },
            ]
        }
        page(router, "/settings/utilities") { _, language in
            let t = Strings.dictionary(language)
            let syslog = try services.events.syslog.read()
            let syslogStatus = await services.events.syslog.status()
            let push = try services.events.push.read()
            let pushStatus = await services.events.push.status()
            func options<Value: RawRepresentable<String>>(_ all: [Value], _ selected: Value, labels: [String])
                -> [[String: Any]]
            {
                zip(all, labels).map { ["value": $0.rawValue, "label": $1, "selected": $0 == selected] }
            }
            func state(_ status: ForwarderStatus) -> String {
                guard status.enabled else { return t["forwardingOff"] ?? "off" }
                return (status.connected ? t["connected"] ?? "connected" : t["notConnected"] ?? "not connected")
                    + " · \(t["sent"] ?? "sent") \(status.sent) · \(t["buffered"] ?? "buffered") \(status.buffered)"
                    + " · \(t["dropped"] ?? "lost") \(status.dropped)"
            }
            return [
                "syslog": Self.settingsValues(
                    syslog.settings.document, version: syslog.settings.version,
                    secretStored: syslog.secretStored),
                "syslogState": state(syslogStatus), "syslogConnected": syslogStatus.connected,
                "syslogModes": options(
                    SyslogSettings.Mode.allCases, syslog.settings.document.mode,
                    labels: ["UDP (RFC 5426)", "TCP (RFC 6587)", "TLS (RFC 5425)"]),
                "syslogFormats": options(
                    SyslogSettings.Format.allCases, syslog.settings.document.format,
                    labels: ["RFC 5424", "CEF"]),
                "push": Self.settingsValues(
                    push.settings.document, version: push.settings.version,
                    secretStored: push.secretStored),
                "pushState": state(pushStatus), "pushConnected": pushStatus.connected,
                "pushDeliveries": options(
                    PushSettings.Delivery.allCases, push.settings.document.delivery,
                    labels: ["Firebase Cloud Messaging HTTP v1", t["legacyFormat"] ?? "legacy"]),
            ]
        }
        page(router, "/broker") { _, _ in
            let profiles = try await services.brokerProfiles.profiles()
            return [
                "profiles": profiles.map { Self.profileRow($0.name, $0.active, $0.readOnly, $0.modified) },
                "templates": profiles.map(\.name),
            ]
        }
        page(router, "/broker/profiles/:name") { request, context, _, _ in
            let name = try request.parameter("name", context: context)
            guard let profile = try await services.brokerProfiles.profiles().first(where: { $0.name == name }) else {
                throw APIError.notFound("broker profile '\(name)'")
            }
            let diagnostics = try await services.brokerProfiles.validate(name)
            let configuration = try await services.brokerProfiles.read("mosquitto.conf", of: name)
            return [
                "name": name, "active": profile.active, "readOnly": profile.readOnly,
                "files": profile.files.map { ["file": $0] },
                "configuration": String(decoding: configuration, as: UTF8.self),
                "diagnostics": diagnostics.map(Self.diagnosticRow),
                "hasDiagnostics": !diagnostics.isEmpty,
            ]
        }
        page(router, "/firewall") { _, language in
            // The page builds its tables from GET /api/v1/firewall, so the server only hands it the words.
            let t = Strings.dictionary(language)
            return [
                "strings": Self.firewallStrings(language),
                "lists": [("allowlist", "fwAllowlist"), ("denylist", "fwDenylist")].map { name, key in
                    ["name": name, "title": t[key] ?? name, "note": t[key + "Note"] ?? ""]
                },
            ]
        }
        page(router, "/settings/security") { _, language in
            let users = await services.accounts.users
            let level = await services.accounts.policy
            return [
                "users": users.map {
                    [
                        "name": $0.name, "mustChange": $0.mustChangePassword,
                        "created": Self.timestamp($0.created),
                    ] as [String: Any]
                },
                "policies": PasswordPolicy.Level.allCases.map { candidate in
                    [
                        "level": candidate.rawValue, "selected": candidate == level,
                        "label": Strings.dictionary(language)["policy_" + candidate.rawValue] ?? candidate.rawValue,
                        "rules": candidate.rules.map { $0.text(in: language) },
                    ] as [String: Any]
                },
                "tokens": await services.accounts.tokens.map {
                    ["id": $0.id, "name": $0.name, "created": Self.timestamp($0.created)]
                },
            ]
        }
        page(router, "/settings/web") { _, _ in
            let profiles = await services.webProfiles.profiles()
            return [
                "profiles": profiles.map { Self.profileRow($0.name, $0.active, $0.readOnly, $0.modified) },
                "templates": profiles.map(\.name),
            ]
        }
        page(router, "/settings/web/:name") { request, context, _, _ in
            let profile = try await services.webProfiles.profile(try request.parameter("name", context: context))
            return [
                "name": profile.name, "active": profile.active, "readOnly": profile.readOnly,
                "configuration": profile.configuration,
                "diagnostics": profile.diagnostics.map(Self.diagnosticRow),
                "hasDiagnostics": !profile.diagnostics.isEmpty,
                "files": profile.files.map { file in
                    [
                        "file": file.name, "size": file.size, "isCertificate": file.certificate != nil,
                        "subject": file.certificate?.subject ?? "", "issuer": file.certificate?.issuer ?? "",
                        "validUntil": file.certificate.map { Self.timestamp($0.notValidAfter) } ?? "",
                        "fingerprint": file.certificate?.sha256Fingerprint ?? "",
                    ] as [String: Any]
                },
            ]
        }
        page(router, "/settings/general") { _, _ in
            let device = try services.device.read()
            let central = try services.centralServer.read()
            return [
                "now": Self.timestamp(Date()), "nowInput": Self.inputTimestamp(Date()),
                "deviceName": device.document.name, "deviceVersion": device.version,
                "centralAddress": central.document.address, "centralPort": central.document.port,
                "centralVersion": central.version,
            ]
        }
        page(router, "/settings/network") { _, _ in
            let stored = try services.network.read()
            let settings = stored.document
            let interfaces = (try? await services.system.interfaces()) ?? []
            func mac(_ name: String) -> String { interfaces.first { $0.name == name }?.mac ?? "—" }
            return [
                "version": stored.version,
                "lanInterface": settings.lan.interface, "lanAddress": settings.lan.address,
                "lanNetmask": settings.lan.netmask, "lanDNS": settings.lan.dns.joined(separator: ", "),
                "lanMAC": mac(settings.lan.interface), "dhcpServer": settings.lan.dhcpServer.enabled,
                "rangeStart": settings.lan.dhcpServer.rangeStart, "rangeEnd": settings.lan.dhcpServer.rangeEnd,
                "wanInterface": settings.wan.interface, "wanDHCP": settings.wan.dhcpClient,
                "wanAddress": settings.wan.address, "wanNetmask": settings.wan.netmask,
                "wanGateway": settings.wan.gateway, "wanDNS": settings.wan.dns.joined(separator: ", "),
                "wanMAC": mac(settings.wan.interface),
            ]
        }
        page(router, "/about") { _, _ in
            let identity = await services.system.identity()
            return [
                "version": identity.version, "buildCommit": identity.buildCommit,
                "components": services.thirdPartyComponents.enumerated().map { index, component in
                    [
                        "index": index, "name": component.name, "componentVersion": component.version,
                        "url": component.url, "licence": component.licence, "licenceText": component.licenceText,
                    ] as [String: Any]
                },
            ]
        }
        page(router, "/troubleshooting") { _, _ in
            let interfaces = (try? await services.system.interfaces()) ?? []
            let routes = (try? await services.system.routes()) ?? []
            return [
                "interfaces": interfaces.map {
                    [
                        "name": $0.name, "state": $0.state, "mac": $0.mac ?? "—",
                        "addresses": $0.addresses.joined(separator: ", "),
                    ]
                },
                "routes": routes.map {
                    [
                        "destination": $0.destination, "gateway": $0.gateway ?? "—", "device": $0.device ?? "—",
                        "source": $0.source ?? "—",
                    ]
                },
            ]
        }
        page(router, "/account/password", allowedBeforePasswordChange: true) { session, language in
            let level = await services.accounts.policy
            let account = await services.accounts.account(session.user)
            return [
                "mustChange": account?.mustChangePassword ?? false,
                "rules": level.rules.map { $0.text(in: language) },
            ]
        }
    }

    // MARK: Pages

    private func page(
        _ router: Router<ManagementContext>, _ path: String, allowedBeforePasswordChange: Bool = false,
        _ data: @escaping @Sendable (WebSession, Language) async throws -> [String: Any]
    ) {
        page(router, path, allowedBeforePasswordChange: allowedBeforePasswordChange) { _, _, session, language in
            try await data(session, language)
        }
    }

    /// A page for a logged-in user: no session → the log-in page; an initial password → the password page.
    private func page(
        _ router: Router<ManagementContext>, _ path: String, allowedBeforePasswordChange: Bool = false,
        _ data: @escaping @Sendable (Request, ManagementContext, WebSession, Language) async throws -> [String: Any]
    ) {
        let name = Self.templateName(path)
        router.get(RouterPath(path)) { request, context -> Response in
            guard let session = try await session(request) else { return Response.redirect(to: "/login") }
            let account = await services.accounts.account(session.user)
            if account?.mustChangePassword ?? false, !allowedBeforePasswordChange {
                return Response.redirect(to: "/account/password")
            }
            let language = account?.language ?? .english
            do {
                let values = try await data(request, context, session, language)
                return try render(name, language: language, session: session, page: name, values)
            } catch let error as APIError {
                var response = try render(
                    "error", language: language, session: session, page: name,
                    ["status": Int(error.status.code), "message": error.message])
                response.status = error.status
                return response
            }
        }
    }

    private func session(_ request: Request) async throws -> WebSession? {
        guard let id = request.cookies[AuthenticationMiddleware.sessionCookie]?.value else { return nil }
        return await services.accounts.session(id, now: Date())
    }

    private func render(
        _ template: String, language: Language, session: WebSession?, page: String, _ values: [String: Any]
    ) throws -> Response {
        var context = values
        context["t"] = Strings.dictionary(language)
        context["lang"] = language.rawValue
        context["otherLanguage"] = language == .russian ? "en" : "ru"
        context["otherLanguageName"] = language == .russian ? "English" : "Русский"
        context["page_" + page.replacingOccurrences(of: "/", with: "_")] = true
        if let session {
            context["session"] = ["user": session.user, "csrf": session.csrfToken]
        }
        guard let html = templates.render(context, withTemplate: template) else {
            throw APIError(status: .internalServerError, code: "template", message: "the page \(template) is missing")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func templateName(_ path: String) -> String {
        switch path {
        case "/": "dashboard"
        default:
            path.split(separator: "/").filter { !$0.hasPrefix(":") }.joined(separator: "-")
                + (path.hasSuffix(":name") ? "-detail" : "")
        }
    }

    // MARK: Static files

    private static let staticTypes = [
        "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "svg": "image/svg+xml",
    ]

    static func staticFile(_ request: Request, _ context: ManagementContext) throws -> Response {
        let file = try request.parameter("file", context: context)
        guard !file.contains("/"), !file.hasPrefix("."), let type = staticTypes[(file as NSString).pathExtension],
            let data = WebResources.data("static/" + file)
        else { throw APIError.notFound("/static/\(file)") }
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: Formatting

    /// The language of a request without a session: `?lang=`, the page's own language sent by the script
    /// (`X-Rampart-Language`), or the browser's first choice.
    static func requestedLanguage(_ request: Request) -> Language {
        if let header = request.headers[.rampartLanguage], let language = Language(rawValue: header) {
            return language
        }
        if let query = request.uri.queryParameters["lang"], let language = Language(rawValue: String(query)) {
            return language
        }
        let accepted = request.headers[.acceptLanguage] ?? ""
        return accepted.lowercased().hasPrefix("ru") ? .russian : .english
    }

    /// A settings document as template values (its JSON object), with its version and whether its secret is set.
    static func settingsValues(_ settings: some Encodable, version: Int, secretStored: Bool) -> [String: Any] {
        var values =
            (try? JSONSerialization.jsonObject(with: APIJSON.encoder().encode(settings))) as? [String: Any] ?? [:]
        values["version"] = version
        values["secretStored"] = secretStored
        return values
    }

    /// The words the Firewall page's script writes into what it builds, as JSON for a data attribute: the page's
    /// own strings, and every stage title (the API gives them in English) by stage name and by English title.
    static func firewallStrings(_ language: Language) -> String {
        let t = Strings.dictionary(language)
        var strings = t.filter { $0.key.hasPrefix("fw") }
        for key in ["edit", "delete", "save", "confirmDelete"] { strings[key] = t[key] }
        for stage in Stage.allCases {
            let title = language == .english ? stage.title : t["fwStage_" + stage.rawValue] ?? stage.title
            strings["stage:" + stage.rawValue] = title
            strings["title:" + stage.title] = title
        }
        let data = (try? JSONSerialization.data(withJSONObject: strings, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func profileRow(_ name: String, _ active: Bool, _ readOnly: Bool, _ modified: Date) -> [String: Any] {
        ["name": name, "active": active, "readOnly": readOnly, "modified": timestamp(modified)]
    }

    static func diagnosticRow(_ diagnostic: LineDiagnostic) -> [String: Any] {
        [
            "severity": diagnostic.severity, "file": diagnostic.file, "line": diagnostic.line,
            "message": diagnostic.message, "error": diagnostic.severity == "error",
        ]
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false)
                .timeSeparator(.colon).dateTimeSeparator(.space)) + " UTC"
    }

    static func inputTimestamp(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false)
                .timeSeparator(.colon))
    }

    static func duration(_ seconds: Int) -> String {
        let days = seconds / 86_400
        let hours = seconds % 86_400 / 3600
        let minutes = seconds % 3600 / 60
        return days > 0 ? "\(days) d \(hours) h \(minutes) min" : "\(hours) h \(minutes) min \(seconds % 60) s"
    }
}
