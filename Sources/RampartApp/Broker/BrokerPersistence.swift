import BrokerCore
import BrokerServer
import Logging
import NIOCore

/// Opens the durable store a configuration asks for (`persistence true`) and restores what it holds.
enum BrokerPersistence {
    /// The store lives in its own folder under `persistence_location`, so it never meets a Mosquitto database
    /// kept there.
    static let folderName = "rampart-store"

    /// - Returns: the store, or nil when persistence is off.
    static func open(_ assembly: BrokerAssembly, logger: Logger) throws -> (DurableStore, RecoveredState)? {
        guard let location = assembly.persistenceDirectory else { return nil }
        var configuration = DurableStore.Configuration(directory: location + "/" + folderName)
        if assembly.autosaveInterval > 0 {
            configuration.autosaveInterval = .seconds(Int64(assembly.autosaveInterval))
        }
        let (store, state) = try DurableStore.open(configuration: configuration, logger: logger)
        logger.info(
            "persistence on",
            metadata: [
                "directory": "\(configuration.directory)", "sessions": "\(state.sessions.count)",
                "retained": "\(state.retained.count)",
            ]
        )
        return (store, state)
    }
}
