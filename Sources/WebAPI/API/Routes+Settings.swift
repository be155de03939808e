import Events
import Foundation
import Hummingbird
import RampartModel
import Store

/// A settings document with its version: what `GET /settings/…` answers and `PUT` takes. `version` in a `PUT` is
/// the version the client read: a change saved meanwhile by someone else is refused (409) instead of overwritten.
struct VersionedSettings<Settings: Codable & Sendable>: Codable, Sendable {
    var version: Int?
    var settings: Settings
}

struct ClockChange: Decodable {
    var utc: Date
}

struct ClockInfo: Encodable, Sendable {
    var utc: Date
    var lastRequest: Date?
}

struct StatusInfo: Encodable, Sendable {
    var device: DeviceSettings
    var system: SystemIdentity
    var broker: BrokerState
    var components: [ComponentSupervisor.Component]
    var events: EventsSummary
    var audit: AuditSummary?
}

struct EventsSummary: Encodable, Sendable {
    var held: Int
    var registered: Int
    var byEntity: [String: Int]
    /// Each subscriber of the event bus with what it received and what it lost to a full queue.
    var subscribers: [EventBus.SubscriberStatistics]
    var dropped: Int
}

struct AboutInfo: Encodable, Sendable {
    var product: String
    var version: String
    var buildCommit: String
    var thirdPartyComponents: [ThirdPartyComponent]
}

extension ManagementAPI {
    func registerSettings(_ routes: CatalogedRoutes) {
        registerDocument(routes, "/settings/network", services.network)
        registerDocument(routes, "/settings/central-server", services.centralServer)
        registerDocument(routes, "/settings/device", services.device)
        let store = services.store
        let system = services.system
        routes.on(.get, "/system/time") { _, _ in
            let request = try? store.document(ClockRequest.self)
            return JSONResponse(ClockInfo(utc: Date(), lastRequest: request?.document.requested))
        }
        routes.on(.put, "/system/time") { request, context in
            let body = try await request.decodeJSON(ClockChange.self, context: context)
            let saved = try APIError.storing {
                try store.save(
                    ClockRequest(requested: body.utc, requestedAt: Date()),
                    expectedVersion: try store.document(ClockRequest.self).version)
            }
            return JSONResponse(ChangeReport(version: saved.version, outcome: await system.setClock(body.utc)))
        }
    }

    private func registerDocument<Document: ConfigurationDocument>(
        _ routes: CatalogedRoutes, _ path: String, _ endpoint: SettingsEndpoint<Document>
    ) {
        routes.on(.get, path) { _, _ in
            let stored = try endpoint.read()
            return JSONResponse(VersionedSettings(version: stored.version, settings: stored.document))
        }
        routes.on(.put, path) { request, context in
            let body = try await request.decodeJSON(VersionedSettings<Document>.self, context: context)
            return JSONResponse(try await endpoint.write(body.settings, expectedVersion: body.version))
        }
    }

    func registerSystem(_ routes: CatalogedRoutes) {
        let services = self.services
        routes.on(.get, "/status") { _, _ in
            JSONResponse(await Self.status(services))
        }
        routes.on(.get, "/about") { _, _ in
            let identity = await services.system.identity()
            return JSONResponse(
                AboutInfo(
                    product: ProductInfo.name, version: identity.version, buildCommit: identity.buildCommit,
                    thirdPartyComponents: services.thirdPartyComponents))
        }
        routes.on(.get, "/troubleshooting/interfaces") { request, _ in
            JSONResponse(try Page.of(try await services.system.interfaces(), request: request, name: \.name))
        }
        routes.on(.get, "/troubleshooting/routes") { request, _ in
            JSONResponse(try Page.of(try await services.system.routes(), request: request, name: \.destination))
        }
    }

    static func status(_ services: ManagementServices) async -> StatusInfo {
        let broker = await services.brokerProfiles.state()
        // Reading a document is the store's health check: it fails when the database cannot be read.
        let stored = Result { () throws(APIError) in try services.device.read().document }
        let events = services.events
        return StatusInfo(
            device: (try? stored.get()) ?? .defaults, system: await services.system.identity(), broker: broker,
            components: events.supervisor.components(),
            events: EventsSummary(
                held: events.ring.count, registered: events.ring.totalCount,
                byEntity: events.ring.countsByEntity(), subscribers: events.trail.bus.statistics(),
                dropped: events.trail.bus.droppedCount),
            audit: try? await auditSummary(events.trail))
    }
}
