/// A third-party package built into Rampart, with the licence under which we redistribute it.
///
/// The list of these (`RampartApp.thirdPartyComponents`) is generated from the package graph at build time by the
/// `ThirdPartyNotices` plugin, so the About page and `rampart notices` cannot drift from what is actually linked.
package struct ThirdPartyComponent: Sendable, Hashable, Codable {
    /// The name people know the project by: its repository's name (e.g. `swift-nio`, `GRDB.swift`).
    package var name: String
    /// The resolved version (a tag), a revision for vendored code, or `local` for a package from a path.
    package var version: String
    /// Where the source comes from, so that an operator can fetch exactly what was built.
    package var url: String
    /// The SPDX identifier recognised from the licence text (e.g. `Apache-2.0`), or `see licence text`.
    package var licence: String
    /// The licence text as shipped with the package (followed by its NOTICE, which Apache-2.0 asks us to pass on).
    package var licenceText: String

    package init(name: String, version: String, url: String, licence: String, licenceText: String) {
        self.name = name
        self.version = version
        self.url = url
        self.licence = licence
        self.licenceText = licenceText
    }
}
