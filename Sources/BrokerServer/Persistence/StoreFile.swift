import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed system call of the durable store, with the file it concerned.
package struct StoreFileError: Error, CustomStringConvertible {
    package var operation: String
    package var path: String
    package var errorNumber: Int32

    package var description: String {
        "\(operation) \(path): \(String(cString: strerror(errorNumber))) (errno \(errorNumber))"
    }
}

/// The few POSIX file operations the store needs, called directly so that the order of writes, syncs and
/// renames (on which crash safety rests) is exactly the one written in `DurableStore`.
package enum StoreFile {
    package static func openForAppending(_ path: String, create: Bool) throws(StoreFileError) -> Int32 {
        let flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0)
        let descriptor = retryingInterrupts { open(path, flags, 0o600) }
        guard descriptor >= 0 else { throw StoreFileError(operation: "open", path: path, errorNumber: errno) }
        return descriptor
    }

    package static func close(_ descriptor: Int32) {
        _ = closeDescriptor(descriptor)
    }

    /// Writes every readable byte of `buffer` (a short write is continued, EINTR retried).
    package static func write(_ buffer: ByteBuffer, to descriptor: Int32, path: String) throws(StoreFileError) {
        let failure: Int32? = buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = systemWrite(descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure { throw StoreFileError(operation: "write", path: path, errorNumber: failure) }
    }

    /// Makes the data written to `descriptor` durable. `fdatasync` on Linux (the file size is part of what it
    /// flushes, other metadata such as mtime is not needed); `F_FULLFSYNC` on Darwin, where plain `fsync` does not
    /// flush the drive's cache.
    package static func sync(_ descriptor: Int32, path: String) throws(StoreFileError) {
        #if canImport(Darwin)
            let result = retryingInterrupts { fcntl(descriptor, F_FULLFSYNC) }
        #else
            let result = retryingInterrupts { fdatasync(descriptor) }
        #endif
        guard result == 0 else { throw StoreFileError(operation: "fdatasync", path: path, errorNumber: errno) }
    }

    /// Makes a rename or creation in `directory` durable (the directory entry itself must be synced on Linux).
    package static func syncDirectory(_ directory: String) throws(StoreFileError) {
        let descriptor = retryingInterrupts { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard descriptor >= 0 else { throw StoreFileError(operation: "open", path: directory, errorNumber: errno) }
        defer { close(descriptor) }
        guard retryingInterrupts({ fsync(descriptor) }) == 0 else {
            throw StoreFileError(operation: "fsync", path: directory, errorNumber: errno)
        }
    }

    package static func rename(_ source: String, to destination: String) throws(StoreFileError) {
        guard systemRename(source, destination) == 0 else {
            throw StoreFileError(operation: "rename to \(destination)", path: source, errorNumber: errno)
        }
    }

    package static func truncate(_ descriptor: Int32, to length: Int, path: String) throws(StoreFileError) {
        guard retryingInterrupts({ ftruncate(descriptor, off_t(length)) }) == 0 else {
            throw StoreFileError(operation: "ftruncate", path: path, errorNumber: errno)
        }
    }

    /// Removes a file; a file that does not exist is not an error.
    package static func remove(_ path: String) throws(StoreFileError) {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw StoreFileError(operation: "unlink", path: path, errorNumber: errno)
        }
    }

    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Creates `directory` (and missing parents); an existing directory is fine.
    package static func makeDirectory(_ directory: String) throws(StoreFileError) {
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw StoreFileError(operation: "mkdir", path: prefix, errorNumber: errno)
            }
        }
    }

    /// The whole file, or nil when it does not exist.
    package static func read(_ path: String) throws(StoreFileError) -> ByteBuffer? {
        let descriptor = retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw StoreFileError(operation: "open", path: path, errorNumber: errno)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw StoreFileError(operation: "fstat", path: path, errorNumber: errno)
        }
        var buffer = ByteBufferAllocator().buffer(capacity: max(Int(status.st_size), 4096))
        while true {
            if buffer.writableBytes == 0 { buffer.reserveCapacity(minimumWritableBytes: buffer.capacity) }
            var failure: Int32?
            let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { bytes in
                while true {
                    let count = systemRead(descriptor, bytes.baseAddress, bytes.count)
                    if count >= 0 { return count }
                    if errno == EINTR { continue }
                    failure = errno
                    return 0
                }
            }
            if let failure { throw StoreFileError(operation: "read", path: path, errorNumber: failure) }
            if count == 0 { return buffer }
        }
    }

    /// Nanoseconds since the Unix epoch (`CLOCK_REALTIME`).
    package static func wallClockNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    private static func retryingInterrupts(_ call: () -> Int32) -> Int32 {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}

// Unambiguous names for the C functions that `StoreFile`'s own methods shadow.
private func closeDescriptor(_ descriptor: Int32) -> Int32 { close(descriptor) }
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
private func systemRead(_ descriptor: Int32, _ bytes: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, bytes, count)
}
private func systemRename(_ source: String, _ destination: String) -> Int32 { rename(source, destination) }
