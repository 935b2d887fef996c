public import CodexTelemetry
import Synchronization

/// Receives telemetry events as they complete: implement it to store events your own way (a database, a
/// metrics system, a test).
///
/// Called in order, one event at a time, on the path that reads Codex's output: return quickly, and hand slow
/// work to a queue of your own.
public protocol TelemetrySink: Sendable {
    func record(_ event: TelemetryEvent)
}

/// Keeps every event in memory, for tests and small harnesses.
public final class InMemorySink: TelemetrySink {
    private let stored = Mutex<[TelemetryEvent]>([])

    public init() {}

    public func record(_ event: TelemetryEvent) {
        stored.withLock { $0.append(event) }
    }

    /// The events so far, in order.
    public var events: [TelemetryEvent] { stored.withLock { $0 } }
}
