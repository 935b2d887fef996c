import CodexAppServer
import CodexTelemetry
import Foundation
import TestSupport
import Testing

/// What happens when Codex itself goes wrong: every wait ends with a clear error, and no telemetry is lost.
struct CodexFailureTests {
    @Test func codexKilledMidTurnFailsTheWaitAndTheTurnIsIncomplete() async throws {
        let codex = try TestTools.codex()
        let server = try await StandInModelServer.start()
        defer { Task { await server.stop() } }
        let session = try ScenarioSession()
        await #expect {
            try await session.run(codex: codex, server: server) { client in
                let thread = try await session.startThread(client)
                let turn = try await client.startTurn(
                    threadID: thread,
                    text: "\(TestTools.contentMarker) scenario:hang"
                )
                try await Task.sleep(for: .milliseconds(500))
                kill(client.processID, SIGKILL)
                _ = try await client.waitForTurnEnd(threadID: thread, turnID: turn)
            }
        } throws: { error in
            let failure = error as? AppServerError
            return failure?.code == .serverExited && failure!.message.contains("killed by signal 9")
        }
        let events = session.liveEvents()
        #expect(events.map(\.name) == [.turn])
        #expect(events.first?[.turnStatus] == .string("incomplete"))
    }

    /// A server that never answers `initialize`: the handshake fails on its own timeout, with an error that says
    /// so, and the server is stopped. Should the timeout not fire, the test kills the server itself after five
    /// minutes (a margin no loaded machine needs), and the error is then another.
    @Test func aServerThatNeverAnswersTheHandshakeTimesOut() async throws {
        let folder = try TestTools.makeTemporaryDirectory("silent")
        let silent = folder.appendingPathComponent("codex")
        let pidFile = folder.appendingPathComponent("pid")
        try Data("#!/bin/sh\necho $$ > '\(pidFile.path)'\nexec sleep 3600\n".utf8).write(to: silent)
        chmod(silent.path, 0o755)
        let watchdog = Task {
            try await Task.sleep(for: .seconds(300))
            if let pid = Int32((try? String(contentsOf: pidFile, encoding: .utf8))?.dropLast() ?? "") {
                kill(pid, SIGKILL)
            }
        }
        defer { watchdog.cancel() }
        await #expect {
            try await AppServerClient.withClient(
                AppServerConfiguration(executable: silent.path, handshakeTimeout: .milliseconds(300))
            ) { _ in }
        } throws: { error in
            let failure = error as? AppServerError
            return failure?.code == .handshakeFailed && failure!.message.contains("no answer within 0.3 seconds")
        }
        let pid = try #require(Int32(String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .newlines)))
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "the server still runs")
    }

    @Test func aConfigurationCodexRejectsIsAClearErrorNotAHang() async throws {
        let codex = try TestTools.codex()
        let home = try TestTools.makeTemporaryDirectory("codex-home")
        var environment = ProcessInfo.processInfo.environment
        environment["CODEX_HOME"] = home.path
        let configuration = AppServerConfiguration(
            executable: codex,
            configOverrides: ["model_provider=\"no-such-provider\""],
            environment: environment
        )
        await #expect {
            try await AppServerClient.withClient(configuration) { client in
                _ = try await client.startThread()
            }
        } throws: { error in
            guard let failure = error as? AppServerError else { return false }
            return [.handshakeFailed, .requestFailed, .serverExited].contains(failure.code) && !failure.message.isEmpty
        }
    }

    @Test func aGrandchildHoldingCodexsOutputDoesNotHoldUsUp() async throws {
        let folder = try TestTools.makeTemporaryDirectory("grandchild")
        let server = folder.appendingPathComponent("codex")
        let pidFile = folder.appendingPathComponent("grandchild.pid")
        let script = """
            #!/usr/bin/env python3
            import json, subprocess, sys
            request = json.loads(sys.stdin.readline())
            grandchild = subprocess.Popen(["sleep", "120"])  # inherits our stdout and outlives us
            with open("\(pidFile.path)", "w") as pid:
                pid.write(str(grandchild.pid))
            print(json.dumps({"id": request["id"], "result": {"userAgent": "fake/0"}}), flush=True)
            sys.stdin.read()
            """
        try Data(script.utf8).write(to: server)
        chmod(server.path, 0o755)
        let userAgent = try await AppServerClient.withClient(AppServerConfiguration(executable: server.path)) {
            client in
            client.userAgent
        }
        #expect(userAgent == "fake/0")
        // We are done while the grandchild still holds the pipe: we did not wait for it.
        let grandchild = try #require(pid_t(try String(contentsOf: pidFile, encoding: .utf8)))
        #expect(kill(grandchild, 0) == 0, "the grandchild had exited: we may have waited for it")
        kill(grandchild, SIGKILL)
    }
}
