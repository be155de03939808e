import NIOCore
import NIOPosix
import Testing

@testable import Forwarders

@Suite struct SyslogLinkTests {
    #if os(Linux)
        /// The resend protection relies on reading the receiver's acknowledgements right: the count must match the
        /// bytes handed to the socket exactly once all arrived (not one more for the SYN, not a neighbouring field).
        @Test(arguments: [false, true])
        func acknowledgedBytesMatchTheBytesWrittenOnceReceived(overTLS: Bool) async throws {
            let material = try SyslogTestCertificates()
            let receiver = try await TestSyslogReceiver.tcp(tls: overTLS ? material.serverContext() : nil)
            let transport: SyslogDestination.Transport =
                overTLS ? .tls(SyslogTLS(caCertificatesPEM: material.caPEM)) : .tcp
            let destination = SyslogDestination(host: "127.0.0.1", port: receiver.port, transport: transport)
            let tls =
                try overTLS ? SyslogTLSContext(SyslogTLS(caCertificatesPEM: material.caPEM), host: "127.0.0.1") : nil
            let link = try await SyslogLink.open(
                to: destination, tls: tls, on: MultiThreadedEventLoopGroup.singleton.next(), timeout: .seconds(30),
                onError: { _ in }, onWritable: {}
            ).get()

            let messages = (0..<100).map(SyslogSenderTests.message)
            try await link.write(messages).last?.get()
            let written = link.wireBytes.value
            let framed = messages.map { SyslogFraming.octetCounted($0).readableBytes }.reduce(0, +)
            if overTLS {
                #expect(written > framed)  // records and the handshake
            } else {
                #expect(written == framed)
            }
            _ = try await receiver.waitFor { $0.count == messages.count }

            let deadline = ContinuousClock.now + .seconds(10)
            var acknowledged = try #require(try await link.acknowledgedWireBytes().get())
            while acknowledged < written, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
                acknowledged = try #require(try await link.acknowledgedWireBytes().get())
            }
            #expect(acknowledged == written)
            try await link.channel.close()
            await receiver.stop()
        }
    #endif

    @Test func datagramLinksCannotReadAcknowledgements() async throws {
        let receiver = try await TestSyslogReceiver.udp()
        let link = try await SyslogLink.open(
            to: SyslogDestination(host: "127.0.0.1", port: receiver.port, transport: .udp), tls: nil,
            on: MultiThreadedEventLoopGroup.singleton.next(), timeout: .seconds(30), onError: { _ in }, onWritable: {}
        ).get()
        #expect(try await link.acknowledgedWireBytes().get() == nil)
        try await link.channel.close()
        await receiver.stop()
    }
}
