import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Takes SIGINT and SIGTERM from their default action (ending the process at once) and calls `handler` for each
/// that comes, on a queue of its own; cancelling the sources stops it. What a stop means is the caller's: `exec`
/// interrupts the running turn, `watch` finishes what it holds.
func handleStopSignals(_ handler: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
    let queue = DispatchQueue(label: "codex-telemetry.stop-signals")
    return [SIGINT, SIGTERM].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }
}
