import Foundation
import RampartModel

/// Facts about the machine for the dashboard and the About page.
package struct SystemIdentity: Codable, Sendable, Equatable {
    package var hostName: String
    /// The machine id (`/etc/machine-id`), shown as the serial.
    package var serial: String
    package var version: String
    package var buildCommit: String
    package var uptimeSeconds: Int
    package var gatewayUptimeSeconds: Int

    package init(
        hostName: String, serial: String, version: String, buildCommit: String, uptimeSeconds: Int,
        gatewayUptimeSeconds: Int
    ) {
        self.hostName = hostName
        self.serial = serial
        self.version = version
        self.buildCommit = buildCommit
        self.uptimeSeconds = uptimeSeconds
        self.gatewayUptimeSeconds = gatewayUptimeSeconds
    }
}

/// The machine below the gateway, reached through the system's tools by an adapter of the application.
package protocol SystemService: Sendable {
    func identity() async -> SystemIdentity
    func interfaces() async throws -> [InterfaceInfo]
    func routes() async throws -> [RouteInfo]
    /// Sets the system clock (UTC) when permitted.
    func setClock(_ date: Date) async -> ApplyOutcome
}
