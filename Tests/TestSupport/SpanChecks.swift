public import CodexTelemetry
public import Testing

/// What every stream of events must hold, whatever the Codex release: each `codex.duration_ms` is its span's
/// length, and each call lies within its turn's span (a turn being its thread and its id, as old releases number
/// turns alike in every thread). A call without its turn is an error too; an event of no turn (a thread's hook)
/// has none to lie in.
public func expectSpansNestInTheirTurns(
    _ events: [TelemetryEvent],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for event in events {
        #expect(
            event[.durationMilliseconds] == .int(Int64((event.endTimeUnixNano - event.startTimeUnixNano) / 1_000_000)),
            "\(event.name)",
            sourceLocation: sourceLocation
        )
        guard event.name != .turn, event[.turnID] != nil else { continue }
        let turn = events.first {
            $0.name == .turn && $0[.turnID] == event[.turnID] && $0[.conversationID] == event[.conversationID]
        }
        #expect(
            turn.map { $0.startTimeUnixNano <= event.startTimeUnixNano && event.endTimeUnixNano <= $0.endTimeUnixNano }
                == true,
            "\(event.name) outside its turn",
            sourceLocation: sourceLocation
        )
    }
}
