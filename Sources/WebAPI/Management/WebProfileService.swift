import Foundation
import Logging
import PKI
import RampartModel
import Store

/// The web-server profiles as stored: configuration text and certificate chains in the document, private keys as
/// secrets (AES-GCM under the master key), so that the database alone reveals no key (SPEC PKI-3).
struct WebProfilesDocument: ConfigurationDocument {
    static let documentName = "web-profiles"
    static let initial = WebProfilesDocument(active: WebProfileService.predefined, profiles: [:])

    var active: String
    var profiles: [String: WebProfile]
}

struct WebProfile: Codable, Sendable, Equatable {
    var readOnly: Bool
    var modified: Date
    var configuration: String
    var files: [String: WebProfileFile]
}

struct WebProfileFile: Codable, Sendable, Equatable {
    var size: Int
    var modified: Date
    var chainPEM: String
    var certificate: CertificateSummary
}

/// A web-server profile as the API shows it; never with a private key.
package struct WebProfileInfo: Codable, Sendable, Equatable {
    package struct File: Codable, Sendable, Equatable {
        package var name: String
        package var size: Int
        package var modified: Date
        /// nil for the configuration file.
        package var certificate: CertificateSummary?
        package var hasPrivateKey: Bool
    }

    package var name: String
    package var active: Bool
    package var readOnly: Bool
    package var modified: Date
    package var configuration: String
    package var files: [File]
    package var diagnostics: [LineDiagnostic]
}

/// Web-server profiles (SPEC WEB-1): create from a template or empty, upload and delete PEM files, edit the
/// configuration, set active — the HTTPS listener presents the new certificate to the next connection.
package actor WebProfileService {
    package static let predefined = "default"
    static let secretPrefix = "web-profile/"
    static let emptyConfiguration = """
        # Web-server profile. One setting: the PEM file of this profile holding the certificate (+ chain) and key.
        # ssl_certificate server.pem

        """

    private let store: GatewayStore
    private let certificates: CertificateSwitch
    private let logger: Logger
    private var stored: Versioned<WebProfilesDocument>

    /// Opens the profiles, creating the predefined one with a certificate for `hostName` and `addresses` on the
    /// first start, and returns the service with the active profile's credentials loaded.
    /// - Parameter publishedCertificate: a file where the active profile's certificate chain is written (public
    ///   data), so that local tools such as `rampart ctl` can pin it.
    package static func open(
        store: GatewayStore, hostName: String, addresses: [String], publishedCertificate: String?, logger: Logger
    ) throws -> WebProfileService {
        var stored = try store.document(WebProfilesDocument.self)
        if stored.document.profiles[predefined] == nil {
            let now = Date()
            let bundle = try SelfSignedCertificate.make(
                commonName: hostName, dnsNames: Array(Set([hostName, "localhost"])).sorted(),
                ipAddresses: addresses, now: now)
            let file = "server.pem"
            try store.setSecret(Array(bundle.privateKeyPEM.utf8), named: secretName(predefined, file))
            var document = stored.document
            document.profiles[predefined] = WebProfile(
                readOnly: true, modified: now,
                configuration: "# Predefined profile: a certificate generated on the first start.\n"
                    + "ssl_certificate \(file)\n",
                files: [
                    file: WebProfileFile(
                        size: bundle.certificateChainPEM.utf8.count + bundle.privateKeyPEM.utf8.count, modified: now,
                        chainPEM: bundle.certificateChainPEM, certificate: bundle.summary)
                ])
            stored = try store.save(document, expectedVersion: stored.version)
            logger.notice(
                "generated the web server's certificate",
                metadata: ["fingerprint": "\(bundle.summary.sha256Fingerprint)", "names": "\(addresses)"])
        }
        var credentials: CertificateSwitch.Credentials
        var presented = stored.document.active
        do {
            credentials = try loadCredentials(stored.document, profile: stored.document.active, store: store)
        } catch {
            presented = predefined
            logger.error(
                "the active web-server profile cannot be used; presenting the predefined profile",
                metadata: ["profile": "\(stored.document.active)", "error": "\(error)"])
            credentials = try loadCredentials(stored.document, profile: predefined, store: store)
        }
        let service = WebProfileService(
            store: store, certificates: CertificateSwitch(credentials), stored: stored,
            publishedCertificate: publishedCertificate, logger: logger)
        service.publish(stored.document, profile: presented)
        return service
    }

    private let publishedCertificate: String?

    private init(
        store: GatewayStore, certificates: CertificateSwitch, stored: Versioned<WebProfilesDocument>,
        publishedCertificate: String?, logger: Logger
    ) {
        self.store = store
        self.certificates = certificates
        self.stored = stored
        self.publishedCertificate = publishedCertificate
        self.logger = logger
    }

    private nonisolated func publish(_ document: WebProfilesDocument, profile: String) {
        guard let publishedCertificate, let profile = document.profiles[profile],
            case .success(let configuration) = Self.parse(profile),
            let file = profile.files[configuration.certificateFile]
        else { return }
        do {
            try Data(file.chainPEM.utf8).write(to: URL(fileURLWithPath: publishedCertificate), options: .atomic)
        } catch {
            logger.warning(
                "cannot write the certificate file", metadata: ["file": "\(publishedCertificate)", "error": "\(error)"])
        }
    }

    /// The switch the HTTPS listener takes its certificate from.
    package nonisolated var certificateSwitch: CertificateSwitch { certificates }

    // MARK: Reading

    package func profiles() -> [WebProfileInfo] {
        stored.document.profiles.keys.sorted().compactMap { info($0) }
    }

    package func profile(_ name: String) throws(APIError) -> WebProfileInfo {
        guard let info = info(name) else { throw APIError.notFound("web-server profile '\(name)'") }
        return info
    }

    private func info(_ name: String) -> WebProfileInfo? {
        guard let profile = stored.document.profiles[name] else { return nil }
        var files = [
            WebProfileInfo.File(
                name: WebServerProfileConfiguration.fileName, size: profile.configuration.utf8.count,
                modified: profile.modified, certificate: nil, hasPrivateKey: false)
        ]
        files += profile.files.keys.sorted().compactMap { fileName in
            profile.files[fileName].map {
                WebProfileInfo.File(
                    name: fileName, size: $0.size, modified: $0.modified, certificate: $0.certificate,
                    hasPrivateKey: true)
            }
        }
        let diagnostics: [LineDiagnostic]
        switch WebServerProfileConfiguration.parse(profile.configuration, files: Set(profile.files.keys)) {
        case .success: diagnostics = []
        case .failure(let list): diagnostics = list.diagnostics
        }
        return WebProfileInfo(
            name: name, active: stored.document.active == name, readOnly: profile.readOnly, modified: profile.modified,
            configuration: profile.configuration, files: files, diagnostics: diagnostics)
    }

    // MARK: Changing

    package func create(_ name: String, template: String?) throws(APIError) {
        try Self.checkName(name, field: "name")
        var document = stored.document
        guard document.profiles[name] == nil else { throw APIError.conflict("web-server profile '\(name)' exists") }
        let now = Date()
        if let template {
            guard var copy = document.profiles[template] else {
                throw APIError.notFound("template profile '\(template)'")
            }
            for file in copy.files.keys {
                let key = try secret(Self.secretName(template, file))
                try storeSecret(key, named: Self.secretName(name, file))
            }
            copy.readOnly = false
            copy.modified = now
            document.profiles[name] = copy
        } else {
            document.profiles[name] = WebProfile(
                readOnly: false, modified: now, configuration: Self.emptyConfiguration, files: [:])
        }
        try save(document)
    }

    /// Uploads `webserver.conf` (text) or a PEM file with certificate (+ chain) and key. A bad PEM file is refused
    /// with the reason; a configuration file is saved and its diagnostics returned.
    package func put(_ contents: Data, as file: String, in name: String) throws(APIError) -> [LineDiagnostic] {
        var profile = try writable(name)
        let now = Date()
        do { try ProfileNaming.checkSize(contents.count, file: file) } catch {
            throw APIError(status: .contentTooLarge, code: "too_large", message: error.description)
        }
        if file == WebServerProfileConfiguration.fileName {
            guard let text = String(data: contents, encoding: .utf8) else {
                throw APIError.badRequest("\(file) is not UTF-8 text")
            }
            profile.configuration = text
        } else {
            try Self.checkName(file, field: "file")
            let bundle: CertificateKeyBundle
            do {
                bundle = try CertificateKeyBundle.parse(pem: Array(contents))
            } catch {
                throw APIError(
                    status: .unprocessableContent, code: "bad_certificate", message: "\(file): \(error)", field: "file")
            }
            try storeSecret(Array(bundle.privateKeyPEM.utf8), named: Self.secretName(name, file))
            profile.files[file] = WebProfileFile(
                size: contents.count, modified: now, chainPEM: bundle.certificateChainPEM, certificate: bundle.summary)
        }
        profile.modified = now
        var document = stored.document
        document.profiles[name] = profile
        try save(document)
        return info(name)?.diagnostics ?? []
    }

    package func remove(_ file: String, from name: String) throws(APIError) {
        var profile = try writable(name)
        guard file != WebServerProfileConfiguration.fileName else {
            throw APIError.badRequest("the configuration file cannot be deleted; edit it instead")
        }
        // Asked before the file goes: without it the configuration no longer parses.
        if stored.document.active == name, case .success(let configuration) = Self.parse(profile),
            configuration.certificateFile == file
        {
            throw APIError.conflict("'\(file)' is the certificate of the active profile; activate another first")
        }
        guard profile.files.removeValue(forKey: file) != nil else { throw APIError.notFound("file '\(file)'") }
        profile.modified = Date()
        var document = stored.document
        document.profiles[name] = profile
        try save(document)
        _ = try? store.removeSecret(named: Self.secretName(name, file))
    }

    /// Validates the profile and makes it the one the HTTPS listener presents to new connections.
    package func activate(_ name: String) throws(APIError) -> ApplyOutcome {
        guard stored.document.profiles[name] != nil else { throw APIError.notFound("web-server profile '\(name)'") }
        let credentials: CertificateSwitch.Credentials
        do {
            credentials = try Self.loadCredentials(stored.document, profile: name, store: store)
        } catch let error as DiagnosticList {
            throw APIError(
                status: .unprocessableContent, code: "invalid_profile", message: error.description,
                details: error.diagnostics.map { .init(field: "\($0.file):\($0.line)", message: $0.message) })
        } catch {
            throw APIError(status: .unprocessableContent, code: "invalid_profile", message: "\(error)")
        }
        var document = stored.document
        document.active = name
        try save(document)
        certificates.replace(with: credentials)
        publish(document, profile: name)
        logger.notice("web-server profile active", metadata: ["profile": "\(name)"])
        return .applied("new connections use the certificate of '\(name)'")
    }

    package func delete(_ name: String) throws(APIError) {
        let profile = try writable(name)
        guard stored.document.active != name else {
            throw APIError.conflict("'\(name)' is the active profile; activate another one first")
        }
        var document = stored.document
        document.profiles[name] = nil
        try save(document)
        for file in profile.files.keys { _ = try? store.removeSecret(named: Self.secretName(name, file)) }
    }

    // MARK: Helpers

    private func writable(_ name: String) throws(APIError) -> WebProfile {
        guard let profile = stored.document.profiles[name] else {
            throw APIError.notFound("web-server profile '\(name)'")
        }
        guard !profile.readOnly else {
            throw APIError(
                status: .forbidden, code: "read_only",
                message: "'\(name)' is predefined and read-only; create a profile from it as a template")
        }
        return profile
    }

    private func save(_ document: WebProfilesDocument) throws(APIError) {
        stored = try APIError.storing { try store.save(document, expectedVersion: stored.version) }
    }

    private func secret(_ name: String) throws(APIError) -> [UInt8] {
        try APIError.storing {
            guard let data = try store.secret(named: name) else { throw APIError.notFound("key \(name)") }
            return data
        }
    }

    private func storeSecret(_ data: [UInt8], named name: String) throws(APIError) {
        try APIError.storing { try store.setSecret(data, named: name) }
    }

    static func secretName(_ profile: String, _ file: String) -> String { secretPrefix + profile + "/" + file }

    private static func parse(_ profile: WebProfile) -> Result<WebServerProfileConfiguration, DiagnosticList> {
        WebServerProfileConfiguration.parse(profile.configuration, files: Set(profile.files.keys))
    }

    private static func loadCredentials(_ document: WebProfilesDocument, profile name: String, store: GatewayStore)
        throws -> CertificateSwitch.Credentials
    {
        guard let profile = document.profiles[name] else { throw APIError.notFound("web-server profile '\(name)'") }
        let configuration = try parse(profile).get()
        guard let file = profile.files[configuration.certificateFile],
            let key = try store.secret(named: secretName(name, configuration.certificateFile))
        else {
            throw APIError.notFound("the key of '\(configuration.certificateFile)'")
        }
        return try CertificateSwitch.Credentials(chainPEM: file.chainPEM, keyPEM: String(decoding: key, as: UTF8.self))
    }

    static func checkName(_ name: String, field: String) throws(APIError) {
        do { try ProfileNaming.checkName(name, of: field) } catch {
            throw APIError.badRequest(error.description, field: field)
        }
    }
}
