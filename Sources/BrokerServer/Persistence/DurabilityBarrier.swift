import NIOCore

/// Tells when everything recorded so far is on disk; the channel handler holds acknowledgements until then.
package protocol DurabilityBarrier: Sendable {
    /// Completes on `eventLoop` once every record appended before the call is synced.
    func whenDurable(on eventLoop: any EventLoop) -> EventLoopFuture<Void>
}

extension DurableStore: DurabilityBarrier {}
