import DescriptorIO
import Dispatch
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Signals that ask the process to stop (SIGINT and SIGTERM unless told), taken from their default action (ending
/// the process at once) and handed to `handler` on a queue of their own, for as long as this lives or until
/// `cancel`. What a stop means is the caller's: `exec` interrupts the running turn, `proxy` passes the signal on to
/// Codex, `watch` commits what it read.
final class StopSignals: Sendable {
    /// Dispatch sources are thread-safe to cancel; they are set once, as this is made.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    init(_ numbers: [Int32] = [SIGINT, SIGTERM], handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "codex-telemetry.stop-signals")
        sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// SIGINT and SIGTERM, as a flag and a descriptor that a `poll(2)` wakes on.
final class StopSignal: Sendable {
    private let wake: Int32
    private let received = Mutex(false)
    /// Kept for as long as this is, which is as long as the signals are handled; set once, as it is made.
    nonisolated(unsafe) private var signals: StopSignals?

    init() {
        var ends: [Int32] = [-1, -1]
        pipe(&ends)
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        wake = ends[0]
        let ring = ends[1]
        signals = StopSignals { [weak self] _ in
            self?.received.withLock { $0 = true }
            var one: UInt8 = 1
            _ = Glibc.write(ring, &one, 1)
        }
    }

    /// Whether a stop signal came.
    var stopped: Bool { received.withLock { $0 } }

    /// Waits until `descriptor` is readable, `limit` has passed, or a stop signal came; returns whether one did.
    func wait(descriptor: Int32?, upTo limit: Duration) -> Bool {
        var descriptors = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        if let descriptor { descriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&descriptors, nfds_t(descriptors.count), Int32(clamping: limit.wholeMilliseconds))
        return stopped
    }
}

/// Runs blocking work on a thread of its own, so the exporter's tasks keep the cooperative pool.
func onThreadOfItsOwn<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        detachThread { continuation.resume(returning: body()) }
    }
}
