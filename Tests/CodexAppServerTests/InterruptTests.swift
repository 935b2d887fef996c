import CodexAppServer
import Foundation
import TestSupport
import Testing

/// An interrupt asked for as a turn starts (Ctrl-C while Codex is starting): Codex answers `turn/start` before the
/// turn runs, and refuses to interrupt it until then. The turn is interrupted all the same, and reported: it was
/// lost, the run failing on the refusal.
struct InterruptTests {
    /// A server that answers `turn/start`, refuses an interrupt as Codex does while the turn is not yet running
    /// (noting it in `refusals` in its working directory), and starts the turn right after its first refusal, or,
    /// with `-c start_on=archive`, only once asked to archive a thread; an interrupt of a running turn ends it
    /// `interrupted`.
    static let server = #"""
        #!/usr/bin/env python3
        import json, sys
        on_archive = "start_on=archive" in sys.argv
        def send(message):
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()
        def start():
            global started
            started = True
            send({"method": "turn/started", "params": {"threadId": "th", "turn": {"id": "tu"}}})
        started = False
        for line in sys.stdin:
            request = json.loads(line)
            method, id = request.get("method"), request.get("id")
            if method == "initialize":
                send({"id": id, "result": {"userAgent": "fake/0"}})
            elif method == "turn/start":
                send({"id": id, "result": {"turn": {"id": "tu", "status": "inProgress"}}})
            elif method == "turn/interrupt" and not started:
                send({"id": id, "error": {"code": -32600, "message": "no active turn to interrupt"}})
                with open("refusals", "a") as refusals:
                    refusals.write("refused\n")
                if not on_archive:
                    start()
            elif method == "thread/archive":
                send({"id": id, "result": {}})
                start()
            elif method == "turn/interrupt":
                send({"id": id, "result": {}})
                send({"method": "turn/completed",
                      "params": {"threadId": "th", "turn": {"id": "tu", "status": "interrupted"}}})
        """#

    /// The server, started by a client: its folder holds what it noted.
    func withServer<T: Sendable>(
        startingOnArchive: Bool,
        _ body: @Sendable (AppServerClient, URL) async throws -> T
    ) async throws -> T {
        let folder = try TestTools.makeTemporaryDirectory("starting")
        let path = folder.appendingPathComponent("codex")
        try Data(Self.server.utf8).write(to: path)
        chmod(path.path, 0o755)
        let configuration = AppServerConfiguration(
            executable: path.path,
            configOverrides: startingOnArchive ? ["start_on=archive"] : [],
            workingDirectory: folder.path
        )
        return try await AppServerClient.withClient(configuration) { try await body($0, folder) }
    }

    @Test func anInterruptRefusedBeforeTheTurnRunsIsSentAgainOnceItDoes() async throws {
        let end = try await withServer(startingOnArchive: false) { client, _ in
            let turn = try await client.startTurn(threadID: "th", text: "\(TestTools.contentMarker) hello")
            try await client.interruptTurn(threadID: "th", turnID: turn)
            return try await client.waitForTurnEnd(threadID: "th", turnID: turn)
        }
        #expect(end.turn.status == .interrupted)
    }

    /// Sent again before the turn runs, the interrupt would be refused again, and the run fail: it waits for the
    /// turn to start, however long that takes (here, until the client has asked for something else).
    @Test func aRefusedInterruptWaitsForTheTurnToRun() async throws {
        let (end, refusals) = try await withServer(startingOnArchive: true) { client, folder in
            let turn = try await client.startTurn(threadID: "th", text: "\(TestTools.contentMarker) hello")
            let interrupt = Task { try await client.interruptTurn(threadID: "th", turnID: turn) }
            let refusals = folder.appendingPathComponent("refusals")
            try await TestTools.eventually { FileManager.default.fileExists(atPath: refusals.path) }
            try await client.archiveThread("th")
            try await interrupt.value
            return (try await client.waitForTurnEnd(threadID: "th", turnID: turn), refusals)
        }
        #expect(end.turn.status == .interrupted)
        #expect(try String(contentsOf: refusals, encoding: .utf8) == "refused\n", "refused once")
    }
}
