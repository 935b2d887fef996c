import Dispatch

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
