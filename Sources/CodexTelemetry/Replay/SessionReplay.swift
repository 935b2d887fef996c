package import CodexAppServer
import JSON
package import JSONRPC

/// Replays a raw capture of `codex app-server` stdout (one JSON-RPC message per line), a recording made with
/// `--record`, or a Codex rollout file, into telemetry events.
///
/// Feed it a file's bytes in chunks of any size (`consume(_:)`), then `finishFile()`; another file may follow. It
/// streams: each line is handled and dropped, so memory does not grow with the file. Lines are never fatal: a
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
        /// Rollout records of a kind the vocabulary does not declare (a kind a newer Codex added): read whole, and
        /// standing for nothing until it is declared. Counted among those passed over too.
        public var unknownKinds = 0
        /// Lines that are not JSON or not a JSON-RPC message, or a followed message missing what we need.
        public var malformed = 0
        /// Lines longer than the line limit.
        public var oversized = 0
        /// A last line with no newline that could not be read: a capture cut off mid-write.
        public var truncated = 0
        /// Messages that carried no time, from a file that had none before them (Codex 0.118 and older put no time
        /// in their messages): dated at the file's modification time.
        public var datedByFile = 0

        public init() {}

        /// Lines skipped as unreadable, whatever the reason.
        public var skipped: Int { malformed + oversized + truncated }
    }

    public var counts: Counts {
        var counts = lineCounts
        counts.oversized += framer.oversizedLineCount
        counts.datedByFile = telemetry.messagesDatedByFile
        return counts
    }
    /// Values the replayed sessions sent that were not believed, and turns closed early to bound memory.
    public var discards: SessionTelemetry.Discards { telemetry.discards }
    private var lineCounts = Counts()
    private var framer: LineFramer
    private var telemetry: SessionTelemetry
    private var rollout = RolloutTranslator()
    /// The messages of the record being applied.
    private var translated: [(message: AppServerMessage, time: Int64)] = []
    /// Whether every line is parsed, even those whose first bytes show they are passed over: the full path, which
    /// the tests hold the fast one to.
    package var readsEveryLine = false

    /// Creates a replay that prices model calls with `prices` and skips (and counts) lines longer than
    /// `maximumLineLength` bytes (by default 64 MiB, the limit of every mode).
    public init(prices: PriceTable = .bundled, maximumLineLength: Int? = nil) {
        telemetry = SessionTelemetry(prices: prices)
        framer = LineFramer(maximumLineLength: maximumLineLength ?? LineFramer.defaultMaximumLineLength)
    }

    /// Starts a file last modified at `modifiedAt` (Unix nanoseconds): the time given to its messages if it has
    /// none of its own, so that no event of an untimed capture is dated 1970. Optional for files that carry times.
    public mutating func startFile(modifiedAt: UInt64) {
        telemetry.fileTime = SessionLimits.nanoseconds(fromUnixNanoseconds: Int64(clamping: modifiedAt))
    }

    /// Takes the next bytes of the current file, and returns the events the lines they complete give.
    public mutating func consume(_ chunk: UnsafeRawBufferPointer) -> [TelemetryEvent] {
        var events: [TelemetryEvent] = []
        let readsEveryLine = readsEveryLine
        // Taken out while it calls back into the replay, and put back.
        var framer = self.framer
        self.framer = LineFramer()
        framer.append(chunk) { line in events.take(apply(Self.read(line, everyLine: readsEveryLine))) }
        self.framer = framer
        return events
    }

    /// Replays `bytes` as one whole file: `startFile`, `consume` and `finishFile` in one.
    public mutating func replay(file bytes: UnsafeRawBufferPointer, modifiedAt: UInt64? = nil) -> [TelemetryEvent] {
        if let modifiedAt { startFile(modifiedAt: modifiedAt) }
        return consume(bytes) + finishFile()
    }

    /// A line of a session file as read on its own: what it is and, for the few lines that count, what they say.
    /// Reading needs nothing of the lines before, so a reader may read lines on one core (`read`) while the session
    /// takes them in order on another (`apply`).
    package enum Line: Sendable {
        case passedOver
        case malformed
        /// A last line cut off before its end.
        case truncated
        /// A message of a capture, or of a recording with the time it was received.
        indirect case message(AppServerMessage, JSONRPCMessage, recordedAt: Int64?)
        /// A rollout record, as translation reads it: held in place, as most lines of a rollout that are read are
        /// these, and a box would be made and freed for each.
        case rolloutRecord(RolloutRecord)
        /// A rollout record passed over by its first bytes, with its time.
        case rolloutRecordPassedOver(time: Int64)
    }

    /// Reads one line (without its newline). With `everyLine`, no line is passed over by its first bytes: every one
    /// is parsed, the full path the fast one is held to.
    package static func read(_ line: UnsafeRawBufferPointer, everyLine: Bool = false) -> Line {
        if LeadingBytes.startsWith(line, SessionRecording.entryPrefix) { return readRecordingEntry(line) }
        if LeadingBytes.startsWith(line, Self.rolloutPrefix) {
            if !everyLine {
                if let passedOver = passedOverRolloutRecord(line) { return passedOver }
                if let record = RolloutRecord(scanning: line) { return .rolloutRecord(record) }
            }
            if let record = RolloutRecord(parsing: line) { return .rolloutRecord(record) }
            // A record whose first bytes name a kind not read is passed over whatever follows them, as the fast
            // path passes it over without looking further.
            return passedOverRolloutRecord(line) ?? .malformed
        }
        if LeadingBytes.startsWith(line, SessionRecording.headerPrefix) { return .passedOver }
        if !everyLine, !AppServerMessage.mayBeFollowed(line) { return .passedOver }
        let message: JSONRPCMessage
        do {
            message = try JSONRPCMessage(
                decoding: line,
                selecting: AppServerMessage.selection,
                maximumValues: AppServerMessage.maximumSelectedValues
            )
        } catch .notAMessage {
            return readLaidOutOtherwise(line)
        } catch {
            return .malformed
        }
        let typed = AppServerMessage(message)
        guard case .other = typed else { return .message(typed, message, recordedAt: nil) }
        // A followed method that does not decode lacks what we need.
        if let method = message.method, AppServerMessage.followedMethods.contains(method) { return .malformed }
        return .passedOver
    }

    /// A rollout record passed over by its first bytes, with the time they give; `nil` for any other, and for one
    /// whose time cannot be read there (the parser says what it is).
    private static func passedOverRolloutRecord(_ line: UnsafeRawBufferPointer) -> Line? {
        guard let stamp = RolloutTranslator.unreadRecordTime(line), let time = unixNanoseconds(iso8601: stamp) else {
            return nil
        }
        return .rolloutRecordPassedOver(time: time)
    }

    /// The session a file holds, as its first line (without its newline) names it: a rollout's `session_meta` id,
    /// or `""` when the line names none (a capture, a recording) or an id longer than any Codex writes.
    package static func session(namedBy firstLine: UnsafeRawBufferPointer) -> String {
        guard let record = RolloutRecord(parsing: firstLine), record.type == "session_meta", let id = record.id,
            (1...SessionLimits.maximumNameLength).contains(id.utf8.count)
        else { return "" }
        return id
    }

    /// Reads the last line of a file, which had no newline: a line if it is a whole document, else `truncated`.
    package static func readUnterminated(_ line: UnsafeRawBufferPointer, everyLine: Bool = false) -> Line {
        // Whether it is a whole document: checked, nothing of it built.
        Self.parse(line, .members([:])) == nil ? .truncated : read(line, everyLine: everyLine)
    }

    /// A JSON object that is not a message and does not begin as Codex and we write our lines: a rollout record or
    /// a recording's line with other whitespace or member order, as a script that rewrites a file writes them.
    private static func readLaidOutOtherwise(_ line: UnsafeRawBufferPointer) -> Line {
        if let record = RolloutRecord(parsing: line) { return .rolloutRecord(record) }
        if Self.parse(line, Self.headerSelection)?["codexTelemetryRecording"] != nil { return .passedOver }
        return readRecordingEntry(line)
    }

    private static let headerSelection = JSONSelection.members(["codexTelemetryRecording": .everything])

    private static func readRecordingEntry(_ line: UnsafeRawBufferPointer) -> Line {
        guard let entry = Self.parse(line, Self.recordingSelection).flatMap(SessionRecording.read),
            let message = try? JSONRPCMessage(entry.message)
        else { return .malformed }
        let typed = AppServerMessage(message)
        // Of the client's lines, only its answers to approval requests tell anything.
        let isAnswer = if case .approvalAnswered = typed { true } else { false }
        guard entry.origin == .server || isAnswer, typed != .other else { return .passedOver }
        return .message(typed, message, recordedAt: entry.at)
    }

    /// Counts lines a reader found `passedOver` and kept for itself rather than handing each one over: most lines
    /// of a capture are.
    package mutating func passOver(lines count: Int) {
        lineCounts.lines += count
        lineCounts.passedOver += count
    }

    /// Takes one line, read, in the order of the file, and returns the events it completes.
    package mutating func apply(_ line: consuming Line) -> [TelemetryEvent] {
        lineCounts.lines += 1
        // Consumed, so that a record is moved out of its line rather than copied, string by string.
        switch consume line {
        case .passedOver:
            lineCounts.passedOver += 1
        case .malformed:
            lineCounts.malformed += 1
        case .truncated:
            lineCounts.truncated += 1
        case .message(let typed, let message, let recordedAt):
            lineCounts.followed += 1
            let receivedAt = recordedAt.flatMap { telemetry.believableTime(unixNanoseconds: $0) }
            return telemetry.receive(typed, from: message, receivedAt: receivedAt)
        case .rolloutRecordPassedOver(let time):
            lineCounts.passedOver += 1
            rollout.passedOver(at: time)
        case .rolloutRecord(let record):
            if record.reading == nil { lineCounts.unknownKinds += 1 }
            // Gathered in a list kept from record to record (no list is made for each), and taken out of it in
            // order, each moved rather than copied: reversed, then popped.
            var messages = translated
            translated = []
            defer { translated = messages }
            rollout.translate(record) { messages.append(($0, $1)) }
            guard !messages.isEmpty else {
                lineCounts.passedOver += 1
                return []
            }
            lineCounts.followed += 1
            var events: [TelemetryEvent] = []
            messages.reverse()
            while let (message, time) = messages.popLast() { events.take(receive(message, at: time)) }
            return events
        }
        return []
    }

    private static let rolloutPrefix: StaticString = #"{"timestamp":""#

    private static let recordingSelection = SessionRecording.selection(message: AppServerMessage.selection)

    /// Parses a line of a recording or a rollout, building only what `selection` wants.
    private static func parse(_ line: UnsafeRawBufferPointer, _ selection: JSONSelection) -> JSONValue? {
        try? JSONValue(
            parsing: line,
            selecting: selection,
            maximumValues: AppServerMessage.maximumSelectedValues
        )
    }

    private mutating func receive(_ message: AppServerMessage, at time: Int64) -> [TelemetryEvent] {
        if let believed = telemetry.believableTime(unixNanoseconds: time) {
            return telemetry.receive(message, at: believed)
        }
        return telemetry.receiveUntimed(message)
    }

    /// The events of an unmarked turn still running, which the end of its file ends.
    private mutating func finishRollout() -> [TelemetryEvent] {
        rollout.finish().map { receive($0.message, at: $0.time) } ?? []
    }

    /// Ends the current file: a last line without a newline is used if it is a whole message, else counted as
    /// truncated; turns still running are closed as `incomplete`. Another file may follow: each is a session of its
    /// own, but turns already seen complete (copied into a fork's rollout) are not counted again.
    public mutating func finishFile() -> [TelemetryEvent] {
        let unterminated = framer.finish()
        let readsEveryLine = readsEveryLine
        return finishFile(
            lastLine: unterminated.map { $0.withUnsafeBytes { Self.readUnterminated($0, everyLine: readsEveryLine) } },
            oversizedLines: 0
        )
    }

    /// Whether a turn of the current file is still running: a follower that stops here must come back to it.
    package var hasOpenTurns: Bool { telemetry.hasOpenTurns || rollout.hasOpenTurn }

    /// Which thread spawned which, as the files replayed so far say. A reader that replays files one by one, each
    /// in a replay of its own, hands one tree from replay to replay, so that a sub-agent's turns have the lineage
    /// its parent's file gives, as in one replay of all the files.
    package var agents: AgentTree {
        get { telemetry.agents }
        set { telemetry.agents = newValue }
    }

    /// Closes the turns still running as `incomplete`, as the end of a file does, and goes on with the same file:
    /// for a follower that has judged a session over, though its file may yet grow (a session resumed later).
    package mutating func closeOpenTurns() -> [TelemetryEvent] {
        finishRollout() + telemetry.finish()
    }

    /// A replay for one file on its own, knowing nothing of the files before it, which `merge` takes back into this
    /// replay in their order: so that several files of a replay can be replayed at once, each on a core of its own.
    /// It takes it that the files before it completed none of its turns and spawned none of its threads, and keeps
    /// what it took for granted, for `merge` to check.
    package func detached() -> SessionReplay {
        var file = SessionReplay(prices: telemetry.prices, maximumLineLength: framer.maximumLineLength)
        file.readsEveryLine = readsEveryLine
        file.telemetry = SessionTelemetry(detachedFrom: telemetry)
        file.rollout = .detached()
        return file
    }

    /// Takes in a `detached()` replay that has read its file to the end (`finishFile`), if what it assumed of the
    /// files before holds here: this replay is then as if it had read the file itself, the file's events being those
    /// the detached replay gave. `false`, and nothing changed, when the file depends on the files before it (a fork's
    /// copied turns, a sub-agent's lineage, a session read twice): it must then be replayed here.
    package mutating func merge(_ file: SessionReplay) -> Bool {
        guard telemetry.canMerge(file.telemetry), rollout.completedTurns.agrees(with: file.rollout.completedTurns)
        else { return false }
        let counts = file.counts
        lineCounts.lines += counts.lines
        lineCounts.followed += counts.followed
        lineCounts.passedOver += counts.passedOver
        lineCounts.unknownKinds += counts.unknownKinds
        lineCounts.malformed += counts.malformed
        lineCounts.oversized += counts.oversized
        lineCounts.truncated += counts.truncated
        telemetry.merge(file.telemetry)
        rollout.completedTurns.insert(contentsOf: file.rollout.completedTurns)
        return true
    }

    /// Ends the current file for a reader that framed and read its lines itself: its last line without a newline,
    /// read with `readUnterminated`, and how many lines it found too long to read.
    package mutating func finishFile(lastLine: Line?, oversizedLines: Int) -> [TelemetryEvent] {
        lineCounts.oversized += oversizedLines
        var events = lastLine.map { apply($0) } ?? []
        events += finishRollout()
        events += telemetry.finish()
        telemetry = SessionTelemetry(continuing: telemetry)
        rollout = RolloutTranslator(continuing: rollout)
        return events
    }
}

extension Array where Element == TelemetryEvent {
    /// Appends `more`, taking its storage whole when nothing is here yet: most lines give no event or one, and
    /// appending them to an empty array would allocate and copy each time.
    mutating func take(_ more: [TelemetryEvent]) {
        if isEmpty { self = more } else { append(contentsOf: more) }
    }
}
