/// One configuration document of the gateway (network, time, password policy, web-server profiles …): the unit the
/// web UI, the REST API, `rampart ctl` and the central server edit, stored as JSON with a version number.
package protocol ConfigurationDocument: Codable, Sendable, Equatable {
    /// The document's name in the store; stable across releases.
    static var documentName: String { get }
    /// The document before anyone saved it (the gateway's embedded defaults).
    static var initial: Self { get }
}

/// A document with the version it was read at. Saving it back names that version, so that a change made meanwhile
/// by someone else is refused instead of silently overwritten (optimistic concurrency).
package struct Versioned<Document: ConfigurationDocument>: Sendable {
    package var document: Document
    /// 0 while the document has never been saved; each save adds 1.
    package var version: Int

    package init(document: Document, version: Int) {
        self.document = document
        self.version = version
    }
}
