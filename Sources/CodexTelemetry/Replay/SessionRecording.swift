import JSON

/// The format of a session recording, one JSON document per line, written by `SessionRecorder` (CodexHarness) and
/// read back by `SessionReplay` to the same events:
/// - first line: `{"codexTelemetryRecording":1}`;
/// - then one line per message: `{"at":<Unix ns>,"from":"server"|"client","message":<the line, verbatim>}`.
///
/// The time each line was seen stands in for the time a server message does not give, as it did live.
public enum SessionRecording {
    /// Who wrote a recorded line: the server's make telemetry, and of the client's, its answers to approvals.
    public enum Origin: String, Sendable {
        case server, client
    }

    /// The first line, with its newline.
    public static let header: [UInt8] = Array(#"{"codexTelemetryRecording":1}"#.utf8) + [0x0A]

    /// The entry for one line (without its newline) seen at `unixNanoseconds`, with its newline.
    public static func entry(
        _ line: some Collection<UInt8>,
        from origin: Origin,
        at unixNanoseconds: UInt64
    ) -> [UInt8] {
        var entry = Array(#"{"at":\#(unixNanoseconds),"from":"\#(origin.rawValue)","message":"#.utf8)
        entry += line
        entry += Array("}\n".utf8)
        return entry
    }

    /// How the header line begins, whatever its version.
    static let headerPrefix: StaticString = #"{"codexTelemetryRecording":"#
    /// How an entry begins.
    static let entryPrefix: StaticString = #"{"at":"#

    /// What reading an entry builds: its time and origin, and of its message what `messageSelection` wants.
    static func selection(message messageSelection: JSONSelection) -> JSONSelection {
        .members(["at": .everything, "from": .everything, "message": messageSelection])
    }

    /// An entry's parts; `nil` when it lacks one of them.
    static func read(_ entry: JSONValue) -> (at: Int64, origin: Origin?, message: JSONValue)? {
        guard let at = entry["at"]?.int, let origin = entry["from"]?.string, let message = entry["message"] else {
            return nil
        }
        return (at, Origin(rawValue: origin), message)
    }
}
