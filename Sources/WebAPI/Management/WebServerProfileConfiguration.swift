/// The configuration file of a web-server profile: one setting, `ssl_certificate <file>`, naming the profile's PEM
/// file with the certificate (+ chain) and key. Anything else is refused with file:line, so that an operator who
/// expects another web server's options learns at once that they do nothing here.
package struct WebServerProfileConfiguration: Sendable, Equatable {
    package static let fileName = "webserver.conf"

    package var certificateFile: String

    /// The configuration, or every problem found (nothing half-read is used).
    package static func parse(_ text: String, files: Set<String>) -> Result<Self, DiagnosticList> {
        var diagnostics: [LineDiagnostic] = []
        var certificate: (file: String, line: Int)?
        func problem(_ line: Int, _ message: String) {
            diagnostics.append(LineDiagnostic(severity: "error", file: fileName, line: line, message: message))
        }
        // `\r\n` is one Character in Swift: splitting on newlines handles CRLF files too.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            let words = line.split(whereSeparator: \.isWhitespace)
            guard let key = words.first, !key.hasPrefix("#") else { continue }
            guard key == "ssl_certificate" else {
                problem(number, "unsupported setting '\(key)': only ssl_certificate is supported")
                continue
            }
            guard words.count == 2 else {
                problem(number, "ssl_certificate takes one value, the name of a PEM file of this profile")
                continue
            }
            if let earlier = certificate {
                problem(number, "ssl_certificate is already set on line \(earlier.line)")
                continue
            }
            let file = String(words[1])
            if !files.contains(file) {
                problem(number, "'\(file)' is not a file of this profile; upload it first")
            }
            certificate = (file, number)
        }
        if certificate == nil && diagnostics.isEmpty {
            problem(0, "ssl_certificate is missing: name the profile's PEM file with the certificate and key")
        }
        guard diagnostics.isEmpty, let certificate else { return .failure(DiagnosticList(diagnostics)) }
        return .success(WebServerProfileConfiguration(certificateFile: certificate.file))
    }
}

/// Diagnostics as an error.
package struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    package var diagnostics: [LineDiagnostic]
    package init(_ diagnostics: [LineDiagnostic]) { self.diagnostics = diagnostics }
    package var description: String {
        diagnostics.map { "\($0.file):\($0.line): \($0.message)" }.joined(separator: "\n")
    }
}
