import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import ServiceLifecycle

/// The gateway's HTTPS server: the REST API, the web UI and its static files, on one TLS listener whose
/// certificate comes from the active web-server profile.
package struct WebServer: Service {
    package struct Configuration: Sendable {
        package var host: String = "0.0.0.0"
        package var port: Int = 8443
        package init() {}
    }

    private let application: Application<RouterResponder<ManagementContext>>
    package let catalog: RouteCatalog

    package init(
        configuration: Configuration, services: ManagementServices, onRunning: @escaping @Sendable (Int) async -> Void,
        logger: Logger
    ) throws {
        let router = Router(context: ManagementContext.self)
        router.add(middleware: SecurityHeadersMiddleware())
        let catalog = RouteCatalog()
        ManagementAPI(services: services).register(on: router, catalog: catalog)
        WebUI(services: services).register(on: router)
        self.catalog = catalog
        self.application = Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: services.webProfiles.certificateSwitch.serverConfiguration()),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    package func run() async throws {
        try await application.run()
    }
}
