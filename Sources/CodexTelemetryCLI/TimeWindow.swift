import CodexTelemetry

/// `--since` and `--until`: the events kept are those that start in `[since, until)`.
struct TimeWindow {
    /// Unix nanoseconds.
    var since: Int64?
    var until: Int64?

    init(since: String?, until: String?, usage: String) throws(UsageError) {
        self.since = try since.map { text throws(UsageError) in try Self.time(text, option: "--since", usage: usage) }
        self.until = try until.map { text throws(UsageError) in try Self.time(text, option: "--until", usage: usage) }
        if let from = self.since, let to = self.until, from >= to {
            throw UsageError("--since must come before --until", usage: usage)
        }
    }

    var isEverything: Bool { since == nil && until == nil }

    func contains(_ event: TelemetryEvent) -> Bool {
        let start = Int64(clamping: event.startTimeUnixNano)
        return start >= (since ?? .min) && start < (until ?? .max)
    }

    /// Whether a file last modified at `modified` may hold an event of the window: one last written before
    /// `since` cannot, and is not read.
    func mayHold(fileModifiedAt modified: Int64?) -> Bool {
        guard let since, let modified else { return true }
        return modified >= since
    }

    /// `2026-11-21` (midnight UTC) or `2026-11-21T08:00:00Z` (a fraction of a second and a `±HH:MM` offset
    /// allowed).
    private static func time(_ text: String, option: String, usage: String) throws(UsageError) -> Int64 {
        let full = text.utf8.count == 10 ? text + "T00:00:00Z" : text
        let bytes = Array(full.utf8)
        /// The number written at `range`, if it is all digits and within `bounds`.
        func number(_ range: Range<Int>, in bounds: ClosedRange<Int>) -> Bool {
            guard range.upperBound <= bytes.count, bytes[range].allSatisfy({ (48...57).contains($0) }) else {
                return false
            }
            return bounds.contains(bytes[range].reduce(0) { $0 * 10 + Int($1 - 48) })
        }
        let separators = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")].allSatisfy { position, separator in
            position < bytes.count && bytes[position] == separator.utf8.first
        }
        let zone =
            bytes.last == UInt8(ascii: "Z")
            || (bytes.count >= 6 && bytes[bytes.count - 3] == UInt8(ascii: ":")
                && (bytes[bytes.count - 6] == UInt8(ascii: "+") || bytes[bytes.count - 6] == UInt8(ascii: "-")))
        guard separators, zone, number(0..<4, in: 2000...2100), number(5..<7, in: 1...12), number(8..<10, in: 1...31),
            number(11..<13, in: 0...23), number(14..<16, in: 0...59), number(17..<19, in: 0...60),
            let time = unixNanoseconds(iso8601: full),
            (946_684_800_000_000_000...4_102_444_800_000_000_000).contains(time)
        else {
            throw UsageError(
                "\(option) must be a date (2026-11-21) or a time with its zone (2026-11-21T08:00:00Z), 2000 to 2100",
                usage: usage
            )
        }
        return time
    }
}
