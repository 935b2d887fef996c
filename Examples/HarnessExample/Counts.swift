import CodexTelemetry
import Synchronization

/// Event counts by name, safe to update from the reading path.
final class Counts: Sendable {
    private let byName = Mutex<[String: Int]>([:])

    func add(_ name: TelemetryEvent.Name) {
        byName.withLock { $0[name.rawValue, default: 0] += 1 }
    }

    var summary: String {
        byName.withLock { counts in counts.keys.sorted().map { "\($0)=\(counts[$0]!)" }.joined(separator: " ") }
    }
}
