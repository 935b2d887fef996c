import Foundation
import JSON
import JSONRPC
import TestSupport
import Testing

/// A model call's span, and so `gen_ai.client.operation.duration`, ends where the model stopped (the start of the
/// first tool it asked for), not where its usage came (after the tools ran): held to the stand-in server's own
/// response times, live and in replay alike.
struct ModelCallTimingLiveTests {
    @Test func aModelCallLastsWhatTheModelTook() async throws {
        let folder = try TestTools.makeTemporaryDirectory("call-timing")
        let timings = folder.appendingPathComponent("timings.jsonl")
        let recording = folder.appendingPathComponent("session.jsonl")
        let server = try await StandInModelServer.start(timings: timings)
        let outcome = try await TestTools.runCLI(
            [
                "exec", "--sandbox", "danger-full-access", "--cwd", try TestTools.makeTemporaryDirectory("work").path,
                "--record", recording.path,
            ] + server.codexOverrides.flatMap { ["-c", $0] } + ["scenario:command latency:300"],
            environment: [
                "CODEX_HOME": try TestTools.makeTemporaryDirectory("codex-home").path,
                "CODEX_BIN": try TestTools.codex(),
            ]
        )
        await server.stop()
        #expect(outcome.status == .exited(0), "\(outcome.stderr)")
        let replayed = try await TestTools.runCLI(["replay", recording.path, "--format", "json"])
        let calls = try replayed.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
            .filter { $0["name"]?.string == "codex.llm_call" }
        let ours = calls.compactMap { call -> ClosedRange<Int64>? in
            guard let start = call["startTimeUnixNano"]?.int, let end = call["endTimeUnixNano"]?.int else { return nil }
            return start / 1_000_000...end / 1_000_000
        }.sorted { $0.lowerBound < $1.lowerBound }
        let model = try String(contentsOf: timings, encoding: .utf8).split(separator: "\n")
            .map { try JSONValue(parsing: String($0)) }
            .compactMap { response -> ClosedRange<Int64>? in
                guard let start = response["start"]?.int, let end = response["end"]?.int else { return nil }
                return start / 1_000_000...end / 1_000_000
            }.sorted { $0.lowerBound < $1.lowerBound }
        try #require(ours.count == 2 && model.count == 2, "\(ours) against \(model)")
        for (mine, theirs) in zip(ours, model) {
            // It ended as the model's response did: 1 or 2 ms apart here, and room is left for a loaded machine, where
            // Codex reads the stream late; ended where the usage came, the first call would be a tool's run late.
            // And it began no later than its request reached the model (Codex prepares it first).
            #expect(
                abs(mine.upperBound - theirs.upperBound) <= 60,
                "a call ending \(mine.upperBound - theirs.upperBound) ms from the response"
            )
            #expect(mine.lowerBound <= theirs.lowerBound + 5, "a call starting after its request")
        }
    }
}
