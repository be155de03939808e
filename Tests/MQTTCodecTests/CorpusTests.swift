import Foundation
import MQTTCodec
import NIOCore
import Testing

/// Keeps the fuzzer's seed corpus (`Fuzz/corpus`, written by `Fuzz/make-corpus.py`) honest: valid seeds must decode
/// completely, broken ones must be refused, so that the fuzzer starts from the inputs it is meant to start from.
@Suite("Fuzz seed corpus")
struct CorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    static let seeds: [String] = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()) ?? []

    @Test("the corpus is present")
    func present() {
        #expect(Self.seeds.count >= 30, "no seeds found in \(Self.corpus.path)")
    }

    @Test("each seed decodes completely, or is refused when named broken-*", arguments: seeds)
    func seed(_ name: String) throws {
        let data = try Data(contentsOf: Self.corpus.appendingPathComponent(name))
        let version: ProtocolVersion? =
            if name.contains("-connect") || name.contains("-session") {
                nil
            } else if name.hasPrefix("v311-") {
                .v3_1_1
            } else if name.hasPrefix("v31-") {
                .v3_1
            } else {
                .v5
            }
        var decoder = MQTTPacketDecoder(protocolVersion: version)
        var buffer = ByteBuffer(bytes: data)
        if name.hasPrefix("broken-") {
            var refused = false
            do {
                while try decoder.decode(buffer: &buffer) != nil {}
            } catch {
                refused = true
            }
            #expect(refused || buffer.readableBytes > 0, "broken seed decoded completely")
        } else {
            var count = 0
            while try decoder.decode(buffer: &buffer) != nil { count += 1 }
            #expect(count > 0)
            #expect(buffer.readableBytes == 0, "\(buffer.readableBytes) bytes left")
        }
    }
}
