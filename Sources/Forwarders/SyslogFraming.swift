import NIOCore

/// How formatted syslog messages go on the wire.
package enum SyslogFraming {
    /// Longest UDP payload we send. RFC 5426 §3.2 requires receivers to accept 480 (IPv4) or 1180 (IPv6) octets and
    /// recommends 2048; common receivers take 8 KiB, and longer datagrams fragment badly.
    package static let maximumDatagramSize = 8192

    /// RFC 6587 §3.4.1 octet counting (also RFC 5425 §4.3): `MSG-LEN SP SYSLOG-MSG`, where MSG-LEN counts the bytes
    /// of the UTF-8 message, not its characters. No trailer: a message may contain newlines.
    package static func octetCounted(_ message: String, allocator: ByteBufferAllocator = .init()) -> ByteBuffer {
        let length = message.utf8.count
        var buffer = allocator.buffer(capacity: length + 8)
        buffer.writeString(String(length))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(message)
        return buffer
    }

    /// One datagram (RFC 5426 §3.1: one message per datagram, no framing), cut to `maximumDatagramSize` bytes. The
    /// cut falls on a character boundary so that the receiver still gets valid UTF-8.
    package static func datagram(_ message: String, allocator: ByteBufferAllocator = .init()) -> ByteBuffer {
        let utf8 = message.utf8
        guard utf8.count > maximumDatagramSize else {
            var buffer = allocator.buffer(capacity: utf8.count)
            buffer.writeString(message)
            return buffer
        }
        var end = utf8.index(utf8.startIndex, offsetBy: maximumDatagramSize)
        // Back off continuation bytes (10xxxxxx) to the start of the character that does not fit.
        while end > utf8.startIndex, utf8[end] & 0b1100_0000 == 0b1000_0000 {
            end = utf8.index(before: end)
        }
        var buffer = allocator.buffer(capacity: maximumDatagramSize)
        buffer.writeBytes(utf8[utf8.startIndex..<end])
        return buffer
    }
}
