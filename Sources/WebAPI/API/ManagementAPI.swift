import Accounts
import Foundation
import Hummingbird
import RampartModel
import Store

/// Everything the management plane acts on, handed in by the application.
package struct ManagementServices: Sendable {
    package var store: GatewayStore
    package var accounts: AccountService
    package var webProfiles: WebProfileService
    package var brokerProfiles: any BrokerProfileService
    package var system: any SystemService
    package var network: SettingsEndpoint<NetworkSettings>
    package var centralServer: SettingsEndpoint<CentralServerSettings>
    package var device: SettingsEndpoint<DeviceSettings>
    package var recorder: any ChangeRecorder
    package var events: EventServices
    package var firewall: FirewallService
    package var thirdPartyComponents: [ThirdPartyComponent]

    package init(
        store: GatewayStore, accounts: AccountService, webProfiles: WebProfileService,
        brokerProfiles: any BrokerProfileService, system: any SystemService,
        network: SettingsEndpoint<NetworkSettings>, centralServer: SettingsEndpoint<CentralServerSettings>,
        device: SettingsEndpoint<DeviceSettings>, recorder: any ChangeRecorder, events: EventServices,
        firewall: FirewallService, thirdPartyComponents: [ThirdPartyComponent]
    ) {
        self.store = store
        self.accounts = accounts
        self.webProfiles = webProfiles
        self.brokerProfiles = brokerProfiles
        self.system = system
        self.network = network
        self.centralServer = centralServer
        self.device = device
        self.recorder = recorder
        self.events = events
        self.firewall = firewall
        self.thirdPartyComponents = thirdPartyComponents
    }
}

/// The REST API `/api/v1` (SPEC WEB-4): the web UI, `rampart ctl` and scripts use only it.
package struct ManagementAPI: Sendable {
    package static let prefix = "/api/v1"
    let services: ManagementServices

    package init(services: ManagementServices) {
        self.services = services
    }

    /// Adds the API's routes to `router` and records them in `catalog`.
    func register(on router: Router<ManagementContext>, catalog: RouteCatalog) {
        let open = CatalogedRoutes(group: router.group(RouterPath(Self.prefix)), prefix: Self.prefix, catalog: catalog)
        let protected = CatalogedRoutes(
            group: router.group(RouterPath(Self.prefix)).add(
                middleware: AuthenticationMiddleware(accounts: services.accounts, recorder: services.recorder)),
            prefix: Self.prefix, catalog: catalog)
        registerOpenAPI(open)
        registerSession(open: open, protected: protected)
        registerAccount(protected)
        registerSettings(protected)
        registerBrokerProfiles(protected)
        registerWebProfiles(protected)
        registerSystem(protected)
        registerEvents(protected)
        registerFirewall(protected)
    }

    private func registerOpenAPI(_ routes: CatalogedRoutes) {
        routes.on(.get, "/openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json)))
        }
    }
}
