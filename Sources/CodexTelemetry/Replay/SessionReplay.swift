import CodexAppServer
import JSON
import JSONRPC

/// Replays a raw capture of `codex app-server` stdout (one JSON-RPC message per line), a recording made with
/// `--record`, or a Codex rollout file, into telemetry events.
///
/// It streams: each line is handled and dropped, so memory does not grow with the file. Lines are never fatal: a
/// line that is not JSON, not a message, or a followed message of an unexpected shape is counted and skipped, and
/// so is everything the telemetry does not follow. Content-streaming notifications are recognised by their leading
/// method name and passed over without being parsed.
public struct SessionReplay: Sendable {
    /// What the replay read and what it skipped.
    public struct Counts: Sendable, Hashable {
        /// Lines read.
        public var lines = 0
        /// Messages that fed the telemetry.
        public var followed = 0
        /// Well-formed messages the telemetry does not follow: deltas, other notifications, requests, responses.
        public var passedOver = 0
        /// Lines that are not JSON or not a JSON-RPC message, or a followed message missing what we need.
        public var malformed = 0
        /// Lines longer than the line limit.
        public var oversized = 0
        /// A last line with no newline that could not be read: a capture cut off mid-write.
        public var truncated = 0

        public init() {}

        /// Lines skipped as unreadable, whatever the reason.
        public var skipped: Int { malformed + oversized + truncated }
    }

    public private(set) var counts = Counts()
    /// Values the replayed sessions sent that were not believed, and turns closed early to bound memory.
    public var discards: SessionTelemetry.Discards { telemetry.discards }
    private var telemetry: SessionTelemetry
    private var rollout = RolloutTranslator()

    /// Creates a replay that prices model calls with `prices`.
    public init(prices: PriceTable = .bundled) {
        telemetry = SessionTelemetry(prices: prices)
    }

    /// Takes one line (without its newline) and returns the events it completes.
    public mutating func consume(line: UnsafeRawBufferPointer) -> [TelemetryEvent] {
        counts.lines += 1
        if line.starts(with: Self.recordingEntryPrefix.utf8) { return consumeRecordingEntry(line) }
        if line.starts(with: Self.rolloutPrefix.utf8) { return consumeRolloutRecord(line) }
        if line.starts(with: Self.recordingHeaderPrefix.utf8) {
            counts.passedOver += 1
            return []
        }
        if let method = AppServerMessage.leadingMethod(of: line),
            !AppServerMessage.followedNotifications.contains(method)
        {
            counts.passedOver += 1
            return []
        }
        guard
            let message = try? JSONRPCMessage(
                decoding: line,
                selecting: AppServerMessage.selection,
                maximumValues: AppServerMessage.maximumSelectedValues
            )
        else {
            counts.malformed += 1
            return []
        }
        let typed = AppServerMessage(message)
        if case .other = typed {
            if case .notification(let notification) = message,
                AppServerMessage.followedNotifications.contains(notification.method)
            {
                counts.malformed += 1
            } else {
                counts.passedOver += 1
            }
            return []
        }
        counts.followed += 1
        return telemetry.receive(typed, from: message, receivedAt: nil)
    }

    // A recording by `--record` (see `SessionRecorder` in CodexHarness): a header line, then
    // `{"at":<Unix ns>,"from":"server"|"client","message":<line>}`. Only the server's lines make telemetry; the time
    // each was received stands in for the time the server did not give, as it did live.
    private static let recordingHeaderPrefix = #"{"codexTelemetryRecording":"#
    private static let recordingEntryPrefix = #"{"at":"#

    private static let rolloutPrefix = #"{"timestamp":""#

    private static let recordingSelection = JSONSelection.members([
        "at": .everything, "from": .everything, "message": AppServerMessage.selection,
    ])

    /// Parses a line of a recording or a rollout, building only what `selection` wants.
    private static func parse(_ line: UnsafeRawBufferPointer, _ selection: JSONSelection) -> JSONValue? {
        try? JSONValue(
            parsing: line,
            selecting: selection,
            maximumValues: AppServerMessage.maximumSelectedValues
        )
    }

    private mutating func consumeRolloutRecord(_ line: UnsafeRawBufferPointer) -> [TelemetryEvent] {
        guard let record = Self.parse(line, RolloutTranslator.selection),
            let (messages, time) = rollout.translate(record)
        else {
            counts.malformed += 1
            return []
        }
        guard !messages.isEmpty else {
            counts.passedOver += 1
            return []
        }
        counts.followed += 1
        let believed = telemetry.believableTime(unixNanoseconds: time) ?? telemetry.latestTime
        return messages.flatMap { telemetry.receive($0, at: believed) }
    }

    private mutating func consumeRecordingEntry(_ line: UnsafeRawBufferPointer) -> [TelemetryEvent] {
        guard let entry = Self.parse(line, Self.recordingSelection), let at = entry["at"]?.int,
            let origin = entry["from"]?.string,
            let body = entry["message"], let message = try? JSONRPCMessage(body)
        else {
            counts.malformed += 1
            return []
        }
        let typed = AppServerMessage(message)
        guard origin == "server", typed != .other else {
            counts.passedOver += 1
            return []
        }
        counts.followed += 1
        return telemetry.receive(typed, from: message, receivedAt: telemetry.believableTime(unixNanoseconds: at))
    }

    /// Ends the current file. `unterminatedLine` is what followed its last newline, if anything: a complete
    /// message is used, a cut-off one counted as truncated. `oversizedLines` is the framer's count of lines over
    /// the limit. Turns still running are closed as `incomplete`. The replay can go on with another file: each is
    /// a session of its own, but turns already seen complete (copied into a fork's rollout) are not counted again.
    public mutating func finish(unterminatedLine: [UInt8]?, oversizedLines: Int) -> [TelemetryEvent] {
        counts.oversized += oversizedLines
        var events: [TelemetryEvent] = []
        if let unterminatedLine {
            // Whether it is a whole document: checked, nothing of it built.
            if unterminatedLine.withUnsafeBytes({ Self.parse($0, .members([:])) }) != nil {
                events = unterminatedLine.withUnsafeBytes { consume(line: $0) }
            } else {
                counts.lines += 1
                counts.truncated += 1
            }
        }
        events += telemetry.finish()
        telemetry = SessionTelemetry(continuing: telemetry)
        rollout = RolloutTranslator(continuing: rollout)
        return events
    }
}
