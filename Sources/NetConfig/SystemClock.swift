import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The system's real-time clock.
package enum SystemClock {
    /// Sets CLOCK_REALTIME (needs CAP_SYS_TIME).
    /// - Throws: `SystemCommandError` with errno's text when the kernel refuses.
    package static func set(_ date: Date) throws {
        let seconds = date.timeIntervalSince1970
        var spec = timespec(
            tv_sec: Int(seconds.rounded(.down)), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1_000_000_000))
        guard clock_settime(CLOCK_REALTIME, &spec) == 0 else {
            throw SystemCommandError(command: "clock_settime", status: errno, output: String(cString: strerror(errno)))
        }
    }
}
