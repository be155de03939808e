import Foundation
import Testing

@testable import Events

@Suite struct ForwarderStatusTests {
    /// The API and the dashboard read these names.
    @Test func encodesTheNamesTheAPIDocuments() throws {
        let status = ForwarderStatus(enabled: true, connected: false, sent: 3, buffered: 2, dropped: 1, lastError: "x")
        let object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any])
        #expect(Set(object.keys) == ["enabled", "connected", "sent", "buffered", "dropped", "lastError"])
    }
}
