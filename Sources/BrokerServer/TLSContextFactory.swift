import Foundation
import NIOSSL
import X509

/// Builds the TLS server context of a listener from its files, with errors that name the file at fault.
enum TLSContextFactory {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func makeContext(_ tls: ListenerConfiguration.TLS) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tls.certificateFile)
        } catch {
            throw Failure(description: "certfile \(tls.certificateFile): cannot read a PEM certificate: \(error)")
        }
        guard !chain.isEmpty else {
            throw Failure(description: "certfile \(tls.certificateFile): no certificate in the file")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)
        } catch {
            throw Failure(description: "keyfile \(tls.keyFile): cannot read a PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = tls.minimumVersion == .tls13 ? .tlsv13 : .tlsv12
        if let ciphers = tls.ciphers { configuration.cipherSuites = ciphers }
        var roots: [NIOSSLCertificate] = []
        if let caFile = tls.caFile {
            do {
                roots += try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw Failure(description: "cafile \(caFile): cannot read PEM certificates: \(error)")
            }
        }
        if let directory = tls.caDirectory {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names.sorted() where name.hasSuffix(".pem") || name.hasSuffix(".crt") {
                let path = directory + "/" + name
                do {
                    roots += try NIOSSLCertificate.fromPEMFile(path)
                } catch {
                    throw Failure(description: "capath \(directory): cannot read \(name): \(error)")
                }
            }
        }
        if !roots.isEmpty { configuration.trustRoots = .certificates(roots) }
        configuration.certificateVerification = tls.requireCertificate ? .noHostnameVerification : .none
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(
                description: "TLS settings of \(tls.certificateFile): \(error) (does keyfile match certfile?)"
            )
        }
    }

    /// The username a client certificate stands for: its subject's CN, or the whole subject (RFC 4514 form).
    static func identity(of certificate: NIOSSLCertificate, wholeSubject: Bool) -> String? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return nil
        }
        if wholeSubject { return parsed.subject.description }
        for relativeName in parsed.subject {
            for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                return String(describing: attribute.value)
            }
        }
        return nil
    }
}
