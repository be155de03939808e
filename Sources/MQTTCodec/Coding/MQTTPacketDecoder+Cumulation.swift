import NIOCore

extension MQTTPacketDecoder {
    /// Appends received bytes to a cumulation buffer, taking the bytes as they are when nothing is buffered.
    package static func append(_ bytes: inout ByteBuffer, to cumulation: inout ByteBuffer?) {
        guard var buffered = cumulation else {
            cumulation = bytes
            return
        }
        cumulation = nil  // keep the buffer uniquely referenced, so the append does not copy it
        buffered.writeBuffer(&bytes)
        cumulation = buffered
    }

    /// Decodes the next packet from the cumulation buffer; nil when no complete packet is buffered.
    ///
    /// The buffer stays uniquely referenced while decoding (no copy-on-write of received bytes), is dropped once
    /// empty, and is compacted when more than 4 KiB of it has been consumed. After a thrown error the cumulation
    /// is nil: the connection is to be closed.
    package mutating func next(from cumulation: inout ByteBuffer?) throws(MQTTCodecError) -> MQTTPacket? {
        guard var buffer = cumulation else { return nil }
        cumulation = nil
        let packet = try decode(buffer: &buffer)
        guard buffer.readableBytes > 0 else { return packet }
        if packet == nil && buffer.readerIndex > 4096 { buffer.discardReadBytes() }
        cumulation = buffer
        return packet
    }
}
