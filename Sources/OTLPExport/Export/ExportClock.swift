package import FoundationEssentials

/// Time as the exporter waits on it: backoff, `Retry-After` and the flush deadline. Injected, so tests run those
/// waits without waiting.
package protocol ExportClock: Sendable {
    /// Wall-clock time, to read `Retry-After` dates.
    var date: Date { get }
    /// Sleeps for `duration`; returns early if the calling task is cancelled.
    func sleep(for duration: Duration) async
}

/// The system's clocks.
package struct SystemExportClock: ExportClock {
    package init() {}

    package var date: Date { Date() }

    package func sleep(for duration: Duration) async {
        try? await Task.sleep(for: duration)
    }
}
