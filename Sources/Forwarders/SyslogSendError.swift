import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a syslog message could not be delivered, worded for the operator: what failed, towards which receiver, why.
package struct SyslogSendError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Kind: Sendable, Hashable {
        /// The TLS settings cannot be used (unreadable PEM, key without certificate …).
        case tlsConfiguration
        /// TCP connect failed: refused, unreachable, timed out.
        case connectionFailed
        /// The TLS handshake failed: certificate not trusted, wrong name, protocol version …
        case tlsHandshakeFailed
        /// The connection broke or was closed by the receiver.
        case connectionLost
        /// Nothing conclusive happened within the time allowed.
        case timedOut
    }

    package let kind: Kind
    package let description: String

    package init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    static func timedOut(_ destination: SyslogDestination, after timeout: TimeAmount) -> SyslogSendError {
        let milliseconds = timeout.nanoseconds / 1_000_000
        return SyslogSendError(
            .timedOut,
            "syslog receiver \(destination.displayAddress) (\(destination.transportName)) did not complete the "
                + "connection and the write within \(milliseconds) ms")
    }

    static func closedByReceiver(_ destination: SyslogDestination) -> SyslogSendError {
        SyslogSendError(
            .connectionLost,
            "syslog receiver \(destination.displayAddress) (\(destination.transportName)) closed the connection")
    }

    /// Wraps what NIO or NIOSSL reported, naming the destination and, for TLS, the reason of the handshake failure.
    static func describing(_ error: any Error, destination: SyslogDestination) -> SyslogSendError {
        if let error = error as? SyslogSendError { return error }
        let target = "syslog receiver \(destination.displayAddress) (\(destination.transportName))"
        switch error {
        case let error as NIOConnectionError:
            let reason = error.connectionErrors.first.map { describeSystemError($0.error) } ?? "\(error)"
            return SyslogSendError(.connectionFailed, "cannot connect to \(target): \(reason)")
        case ChannelError.connectTimeout(let timeout):
            return SyslogSendError(
                .connectionFailed, "cannot connect to \(target): no answer within \(timeout.nanoseconds / 1_000_000) ms"
            )
        case let error as IOError:
            return SyslogSendError(.connectionLost, "connection to \(target) failed: \(describeSystemError(error))")
        case let error as NIOSSLError:
            return SyslogSendError(.tlsHandshakeFailed, "TLS with \(target) failed: \(describeTLSError(error))")
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return SyslogSendError(
                .tlsHandshakeFailed,
                "TLS handshake with \(target) failed: the receiver's certificate does not name the configured server "
                    + "name (\(error))")
        case let error as NIOSSLExtraError:
            return SyslogSendError(.tlsHandshakeFailed, "TLS handshake with \(target) failed: \(error)")
        case let error as BoringSSLError:
            // After our side of the handshake: TLS 1.3 receivers refuse a client certificate with an alert then.
            return SyslogSendError(.tlsHandshakeFailed, "\(target) refused the TLS session: \(describeAlert(error))")
        case ChannelError.eof, ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed:
            return closedByReceiver(destination)
        default:
            return SyslogSendError(.connectionLost, "\(target): \(error)")
        }
    }

    private static func describeSystemError(_ error: any Error) -> String {
        guard let error = error as? IOError else { return "\(error)" }
        switch error.errnoCode {
        case ECONNREFUSED: return "connection refused (nothing listens on that port)"
        case ECONNRESET: return "connection reset by the receiver"
        case EPIPE: return "the receiver closed the connection"
        case ETIMEDOUT: return "connection timed out"
        case EHOSTUNREACH: return "host unreachable"
        case ENETUNREACH: return "network unreachable"
        default: return String(cString: strerror(error.errnoCode))
        }
    }

    private static func describeTLSError(_ error: NIOSSLError) -> String {
        switch error {
        case .handshakeFailed(let reason):
            let text = "\(reason)"
            if text.contains("EOF during handshake") {
                return "the receiver closed the connection during the handshake (does it expect TLS on this port?)"
            }
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return "the receiver's certificate failed verification: it is not issued by the configured CA "
                    + "certificate, has expired or is not yet valid (CERTIFICATE_VERIFY_FAILED)"
            }
            let codes = boringSSLReasonCodes(in: text)
            return "handshake failed: " + (codes.isEmpty ? text : codes.joined(separator: ", "))
        case .uncleanShutdown:
            return "the receiver closed the connection without finishing TLS (does it expect TLS on this port?)"
        default:
            return "\(error)"
        }
    }

    private static func describeAlert(_ error: BoringSSLError) -> String {
        let text = "\(error)"
        let codes = boringSSLReasonCodes(in: text)
        if codes.contains(where: { $0.hasSuffix("CERTIFICATE_REQUIRED") }) {
            return "it requires a client certificate (\(codes.joined(separator: ", ")))"
        }
        if codes.contains(where: { $0.contains("BAD_CERTIFICATE") || $0.contains("UNKNOWN_CA") }) {
            return "it does not accept our client certificate (\(codes.joined(separator: ", ")))"
        }
        return codes.isEmpty ? text : codes.joined(separator: ", ")
    }

    /// The reason names in BoringSSL's error strings ("error:…:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER").
    private static func boringSSLReasonCodes(in text: String) -> [String] {
        text.split(separator: "OPENSSL_internal:").dropFirst().map { part in
            String(part.prefix(while: { $0.isUppercase || $0.isNumber || $0 == "_" }))
        }.filter { !$0.isEmpty }
    }
}
