/// The records of one signal waiting for their batch, and when a batch of them is due: a pure state machine, the
/// time handed in, so the exporter's batcher only carries out what it decides.
///
/// A batch is due when the records fill one, when the oldest has waited the signal's schedule delay, or when
/// everything must go (the end of a run, a checkpoint).
package struct BatchQueue<Record> {
    package private(set) var records: [Record] = []
    /// When the oldest record waiting began to wait; `nil` when none waits, or none has been noted yet.
    private var since: ContinuousClock.Instant?

    package init() {}

    package var count: Int { records.count }

    package mutating func append(_ record: Record) {
        records.append(record)
    }

    /// Notes that the oldest record starts waiting at `now`, if none was waiting; returns whether it was so.
    package mutating func markStart(at now: ContinuousClock.Instant) -> Bool {
        guard since == nil, !records.isEmpty else { return false }
        since = now
        return true
    }

    /// Takes every record, in batches of `size`, if they fill a batch, have waited `delay` at `now`, or `all` must
    /// go; otherwise takes none, and shortens `wait` to when they will be due.
    package mutating func takeIfDue(
        at now: ContinuousClock.Instant,
        after delay: Duration,
        size: Int,
        all: Bool,
        wait: inout Duration?
    ) -> [[Record]] {
        guard let since else { return [] }
        let left = delay - (now - since)
        if all || left <= .zero || records.count >= size { return take(in: size) }
        wait = min(wait ?? left, left)
        return []
    }

    /// Takes every record, in batches of `size`.
    package mutating func take(in size: Int) -> [[Record]] {
        defer { self = BatchQueue() }
        return stride(from: 0, to: records.count, by: size).map {
            Array(records[$0..<min($0 + size, records.count)])
        }
    }

    /// Takes the oldest `size` records once `limit` or more wait: a producer far faster than the batcher hands a
    /// batch over itself, so memory stays bounded. The rest keep waiting as they were.
    package mutating func takeOverflow(beyond limit: Int, size: Int) -> [Record]? {
        guard records.count >= limit else { return nil }
        defer { records.removeFirst(size) }
        return Array(records.prefix(size))
    }
}
