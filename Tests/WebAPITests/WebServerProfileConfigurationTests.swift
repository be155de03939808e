import Testing

@testable import WebAPI

@Suite("Web-server profile configuration")
struct WebServerProfileConfigurationTests {
    @Test("ssl_certificate naming a file of the profile is the configuration")
    func valid() throws {
        let text = "# comment\n\n  ssl_certificate   server.pem  \r\n"
        let configuration = try WebServerProfileConfiguration.parse(text, files: ["server.pem"]).get()
        #expect(configuration.certificateFile == "server.pem")
    }

    @Test(
        "problems are reported with file:line",
        arguments: [
            ("listen 443\nssl_certificate a.pem\n", 1, "unsupported setting 'listen'"),
            ("ssl_certificate a.pem\nssl_certificate a.pem\n", 2, "already set on line 1"),
            ("ssl_certificate\n", 1, "takes one value"),
            ("ssl_certificate missing.pem\n", 1, "not a file of this profile"),
            ("# nothing\n", 0, "ssl_certificate is missing"),
        ])
    func problems(text: String, line: Int, message: String) {
        guard case .failure(let list) = WebServerProfileConfiguration.parse(text, files: ["a.pem"]) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(list.diagnostics.contains { $0.line == line && $0.message.contains(message) }, "\(list.diagnostics)")
        #expect(list.diagnostics.allSatisfy { $0.file == WebServerProfileConfiguration.fileName })
    }
}
