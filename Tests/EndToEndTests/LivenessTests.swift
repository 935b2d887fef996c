import Foundation
import JSONRPC
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A Codex that misbehaves, and a proxy whose peers stop reading: every run still ends, in bounded time and memory.
@Suite(.serialized)
struct LivenessTests {
    /// A fake `codex app-server`: answers the handshake, a thread and a turn, then does what `MODE` says:
    /// `close-stdout` closes its output and lives on, ignoring SIGTERM; `deaf` never answers again.
    static let fakeCodex = #"""
        #!/usr/bin/env python3
        import json, os, signal, sys, time
        mode = os.environ["FAKE_CODEX_MODE"]
        def send(message):
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()
        for line in sys.stdin:
            request = json.loads(line)
            method, id = request.get("method"), request.get("id")
            if method == "initialize":
                send({"id": id, "result": {"userAgent": "fake/0"}})
            elif method == "thread/start":
                send({"id": id, "result": {"thread": {"id": "th"}, "model": "gpt-5.5", "modelProvider": "fake"}})
            elif method == "turn/start":
                send({"id": id, "result": {"turn": {"id": "tu", "status": "inProgress"}}})
                send({"method": "turn/started", "params": {"threadId": "th", "turn": {"id": "tu"}}})
                if mode == "close-stdout":
                    os.close(1)
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    time.sleep(300)
        """#

    static func fake(_ mode: String) throws -> (path: String, environment: [String: String]) {
        let path = try TestTools.makeTemporaryDirectory("fake-codex").appendingPathComponent("codex")
        try Data(Self.fakeCodex.utf8).write(to: path)
        chmod(path.path, 0o755)
        return (path.path, ["FAKE_CODEX_MODE": mode])
    }

    /// Codex closes its stdout and lives on, deaf to SIGTERM: exec sees the end of the stream, waits the exit
    /// grace (5 s), stops Codex in steps (close stdin, SIGTERM, SIGKILL: 3 s each) and reports the turn.
    @Test func execEndsWhenCodexClosesItsOutputAndLivesOn() async throws {
        let (codex, environment) = try Self.fake("close-stdout")
        // The fake lives on until killed: a run that waited for it would be killed by the test instead, and fail.
        let outcome = try await TestTools.runCLI(
            ["exec", "--codex", codex, "--quiet", "hello"],
            environment: environment,
            within: TestTools.patience
        )
        #expect(outcome.status == .exited(3))
        #expect(outcome.stderr.contains("closed its output but did not exit"))
    }

    /// Codex never answers the interrupt a timeout sends: the timeout still bounds the run (plus the ten-second
    /// interrupt grace), and the exit says it timed out.
    @Test func aTimeoutBoundsTheRunWhenCodexIgnoresTheInterrupt() async throws {
        let (codex, environment) = try Self.fake("deaf")
        let outcome = try await TestTools.runCLI(
            ["exec", "--codex", codex, "--quiet", "--timeout", "1", "hello"],
            environment: environment,
            within: TestTools.patience
        )
        #expect(outcome.status == .exited(124))
        #expect(outcome.stderr.contains("did not end the turn within 10"))
    }

    /// The proxy between a client that writes without end and a server that never reads: the client is held back,
    /// and the proxy's memory stays small (it used to buffer everything).
    @Test func aProxyHoldsBackAClientWhenTheServerStopsReading() async throws {
        let script = """
            import subprocess, sys, threading, time
            proxy = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            written = [0]
            def feed():
                chunk = b"x" * 65536
                try:
                    while written[0] < 400_000_000:
                        proxy.stdin.write(chunk)
                        written[0] += len(chunk)
                except Exception:
                    pass
            threading.Thread(target=feed, daemon=True).start()
            time.sleep(3)
            peak = [line.split()[1] for line in open(f"/proc/{proxy.pid}/status") if line.startswith("VmHWM")][0]
            print(written[0] >> 20, int(peak) >> 10)
            proxy.kill()
            """
        let (_, stdout) = try await TestTools.output(
            of: "python3",
            ["-c", script, try TestTools.cli(), "proxy", "--", "sleep", "30"]
        )
        let figures = stdout.split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(figures.count == 2)
        let (writtenMiB, peakMiB) = (figures.first ?? .max, figures.last ?? .max)
        #expect(writtenMiB < 64, "the client wrote \(writtenMiB) MiB into a server that reads nothing")
        #expect(peakMiB < 100, "the proxy's peak resident memory: \(peakMiB) MiB")
    }

    /// A server that writes lines faster than telemetry reads them: the proxy reads at the pace it can, and its
    /// memory stays bounded.
    @Test func aProxyHoldsBackAServerFasterThanItsTelemetry() async throws {
        let script = """
            import subprocess, sys, time
            proxy = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
            end = time.time() + 3
            read = 0
            while time.time() < end:
                read += len(proxy.stdout.read1(1 << 20))
            peak = [line.split()[1] for line in open(f"/proc/{proxy.pid}/status") if line.startswith("VmHWM")][0]
            print(read >> 20, int(peak) >> 10)
            proxy.kill()
            """
        let (_, stdout) = try await TestTools.output(
            of: "python3",
            ["-c", script, try TestTools.cli(), "proxy", "--", "yes", #"{"method":"turn/started","params":{}}"#]
        )
        let figures = stdout.split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(figures.count == 2)
        #expect((figures.first ?? 0) > 0, "the client read nothing")
        #expect((figures.last ?? .max) < 100, "the proxy's peak resident memory: \(figures.last ?? -1) MiB")
    }
}
