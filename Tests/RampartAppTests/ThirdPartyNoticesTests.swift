import RampartApp
import RampartModel
import Testing

/// The generated notices: they come from the package graph at build time, so these checks catch a plugin that
/// silently stopped finding packages or licence files rather than a list someone forgot to update.
@Suite struct ThirdPartyNoticesTests {
    @Test func listsSwiftNIOUnderApache() throws {
        let nio = try #require(RampartApp.thirdPartyComponents.first { $0.name == "swift-nio" })
        #expect(nio.licence == "Apache-2.0")
        #expect(nio.url.contains("apple/swift-nio"))
        #expect(nio.version.first?.isNumber == true)
    }

    @Test func namesAreUniqueAndSorted() {
        let names = RampartApp.thirdPartyComponents.map(\.name)
        #expect(Set(names).count == names.count)
        // The generator's order: case-insensitive, then by the exact name.
        #expect(names == names.sorted { ($0.lowercased(), $0) < ($1.lowercased(), $1) })
    }

    @Test func everyComponentHasALicence() {
        #expect(!RampartApp.thirdPartyComponents.isEmpty)
        for component in RampartApp.thirdPartyComponents {
            #expect(!component.licenceText.isEmpty, "\(component.name) has no licence text")
            #expect(component.licence != "see licence text", "\(component.name): licence not recognised")
        }
    }
}
