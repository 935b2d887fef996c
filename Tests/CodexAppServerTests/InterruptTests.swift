import CodexAppServer
import Foundation
import TestSupport
import Testing

/// An interrupt asked for as a turn starts (Ctrl-C while Codex is starting): Codex answers `turn/start` before the
/// turn runs, and refuses to interrupt it until then. The turn is interrupted all the same, and reported: it was
/// lost, the run failing on the refusal.
struct InterruptTests {
    /// A server that answers `turn/start`, refuses the first interrupt as Codex does while the turn is not yet
    /// running, and only then starts the turn; an interrupt of a running turn ends it `interrupted`.
    static let server = #"""
        #!/usr/bin/env python3
        import json, sys
        def send(message):
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()
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
                started = True
                send({"method": "turn/started", "params": {"threadId": "th", "turn": {"id": "tu"}}})
            elif method == "turn/interrupt":
                send({"id": id, "result": {}})
                send({"method": "turn/completed",
                      "params": {"threadId": "th", "turn": {"id": "tu", "status": "interrupted"}}})
        """#

    @Test func anInterruptRefusedBeforeTheTurnRunsIsSentAgainOnceItDoes() async throws {
        let path = try TestTools.makeTemporaryDirectory("starting").appendingPathComponent("codex")
        try Data(Self.server.utf8).write(to: path)
        chmod(path.path, 0o755)
        let end = try await AppServerClient.withClient(AppServerConfiguration(executable: path.path)) { client in
            let turn = try await client.startTurn(threadID: "th", text: "\(TestTools.contentMarker) hello")
            try await client.interruptTurn(threadID: "th", turnID: turn)
            return try await client.waitForTurnEnd(threadID: "th", turnID: turn)
        }
        #expect(end.turn.status == .interrupted)
    }
}
