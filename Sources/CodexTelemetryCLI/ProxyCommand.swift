import CodexAppServer
import CodexHarness
import CodexTelemetry
import DescriptorIO
import Dispatch
import FoundationEssentials
import JSONRPC
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `codex-telemetry proxy -- codex app-server …`: sits between an app-server client and the real server, passes
/// every byte through unchanged, and produces the telemetry of what it sees.
struct ProxyCommand {
    static let usage = """
        USAGE: codex-telemetry proxy [options] -- CODEX [ARGUMENTS…]

        Runs CODEX ARGUMENTS (normally `codex app-server …`) and connects it to this process's stdin and stdout:
        bytes pass through unchanged in both directions, its stderr is ours, and its exit status is ours (74 instead
        of 0 if telemetry was lost). What the server says is observed to produce the same telemetry as `exec` and
        `replay`. Telemetry never alters the stream, and an unreachable collector only fills the spool. Memory is
        bounded both ways: a side that stops reading holds the other back, as a pipe would.

        For a client that lets you choose the codex executable, point it at a wrapper script:
            #!/bin/sh
            exec codex-telemetry proxy -- /usr/local/bin/codex "$@"

        OPTIONS:
          --record FILE          Record the session (it holds content: created 0600) for `replay`.
          --prices FILE          USD prices per million tokens over the bundled table.

        \(ExportOptions.help)
        """

    var command: [String]
    var recordingPath: String?
    var prices: PriceTable
    var export: ExportOptions

    init(
        parsing arguments: inout ArgumentList,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let parsed = try arguments.parse(
            options: ExportOptions.names.union(["--record", "--prices"]),
            flags: ExportOptions.flags,
            usage: Self.usage
        )
        guard let executable = parsed.positionals.first else {
            throw UsageError("proxy needs the server to run, after --: proxy -- codex app-server", usage: Self.usage)
        }
        command = [executable] + parsed.positionals.dropFirst()
        recordingPath = parsed["--record"]
        prices = try PriceTable.from(parsed, environment: environment, usage: Self.usage)
        export = try ExportOptions(parsed, environment: environment, usage: Self.usage, scrapeable: true)
    }

    func run() async throws -> Int32 {
        let recorder = try recordingPath.map { try SessionRecorder(path: $0) }
        var configuration = ChildProcess.Configuration(executable: command[0], arguments: Array(command.dropFirst()))
        configuration.inheritsStderr = true
        // As it arrives, before any framing. If our reader has gone, the rest is dropped: there is no one to give
        // it to, and the server notices when its stdin closes.
        configuration.rawOutput = { writeAll($0, to: STDOUT_FILENO) }
        let server: ChildProcess
        do {
            server = try ChildProcess(configuration)
        } catch {
            printError("error: \(error.message)")
            return 127
        }
        let handoff = TurnTraceHandoff()
        let answers = ClientAnswers()
        forwardStandardInput(to: server, recorder: recorder, handoff: handoff, answers: answers)
        let stopping = Stopping()
        let signals = StopSignals([SIGINT, SIGTERM, SIGHUP]) { signal in
            // Codex ends as its client asked, its output closes, and what was observed is flushed in time.
            kill(server.pid, signal)
            stopping.stop()
        }
        defer { signals.cancel() }

        var telemetry = SessionTelemetry(prices: prices)
        let observe: (TelemetryExport?) async -> Void = { export in
            if let export {
                stopping.onStop { export.limitFlush(to: Self.flushGrace) }
                handoff.start(export)
            }
            for await line in server.lines {
                let now = Date()
                let receivedAt = UInt64(saturating: now.timeIntervalSince1970 * 1e9)
                // The client's answers come before what the server says of them.
                for answer in answers.taken() {
                    for event in telemetry.receive(answer, receivedAt: receivedAt) { export?.record(event) }
                }
                recorder?.record(line, from: .server, at: now)
                guard
                    let message = try? JSONRPCMessage(
                        decoding: line,
                        selecting: AppServerMessage.selection,
                        maximumValues: AppServerMessage.maximumSelectedValues
                    )
                else { continue }
                if case .response(let response) = message { handoff.answered(response) }
                for event in telemetry.receive(message, receivedAt: receivedAt) { export?.record(event) }
            }
            for event in telemetry.finish() { export?.record(event) }
        }
        var lost = false
        do {
            lost = try await export.withExport { await observe($0) }
        } catch {
            // Telemetry must never break the stream: without an export, the stream still flows.
            printError("codex-telemetry: not exporting: \(error)")
            await observe(nil)
        }
        // The server's status is ours; a clean exit that lost telemetry says so.
        switch await server.waitForExit() {
        case .exited(0) where lost: return ExitStatus.ioError
        case .exited(let status): return status
        case .signalled(let signal): return 128 + signal
        }
    }

    /// How long the flush may take once a client has asked the proxy to stop: clients kill it soon after (the
    /// official Python SDK, two seconds after SIGTERM). What is not sent by then stays in the spool.
    static let flushGrace = Duration.seconds(1)

    /// Copies our stdin to the server's, line by line as each one ends, on a thread of its own: each line passes
    /// through `handoff` (a `turn/start` gains a trace), and one longer than it reads goes on as it comes. Records
    /// what the client sent, line by line; closes the server's stdin when ours ends.
    private func forwardStandardInput(
        to server: ChildProcess,
        recorder: SessionRecorder?,
        handoff: TurnTraceHandoff,
        answers: ClientAnswers
    ) {
        detachThread {
            var framer = LineFramer()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
            defer { buffer.deallocate() }
            // The line begun and not yet passed on, unless it is too long to look at and goes on as it comes.
            var line: [UInt8] = []
            var passingThrough = false
            while true {
                let count = readSome(STDIN_FILENO, into: buffer.baseAddress, count: buffer.count)
                guard count > 0 else { break }
                var rest = UnsafeRawBufferPointer(rebasing: buffer[..<count])[...]
                if let recorder {
                    framer.append(UnsafeRawBufferPointer(rebasing: rest)) {
                        recorder.record(Array($0), from: .client, at: Date())
                    }
                }
                while let newline = rest.firstIndex(of: 0x0A) {
                    if passingThrough {
                        server.write(bytes: Array(rest[...newline]))
                        passingThrough = false
                    } else {
                        line += rest[..<newline]
                        answers.read(line)
                        server.write(bytes: handoff.forward(line[...]) + [0x0A])
                        line.removeAll(keepingCapacity: true)
                    }
                    rest = rest[(newline + 1)...]
                }
                if passingThrough {
                    server.write(bytes: Array(rest))
                } else {
                    line += rest
                    if line.count > TurnTraceHandoff.maximumInspectedLength {
                        server.write(bytes: line)
                        line = []
                        passingThrough = true
                    }
                }
            }
            if !line.isEmpty { server.write(bytes: line) }
            if let recorder, let last = framer.finish() { recorder.record(last, from: .client, at: Date()) }
            server.closeStdin()
        }
    }
}

/// The client's answers to approval requests, read as they pass to the server and taken by the reader of the
/// server's lines: how an edit was decided (accepted for the session, say) is only in the client's answer.
private final class ClientAnswers: Sendable {
    private let answers = Mutex<[JSONRPCMessage]>([])

    /// Keeps `line` if it is an answer to an approval request: a response with a `decision`, which is all that is
    /// built of it.
    func read(_ line: [UInt8]) {
        guard line.count < 4096, line.firstRange(of: Array(#""decision""#.utf8)) != nil,
            let message = try? JSONRPCMessage(
                decoding: line,
                selecting: AppServerMessage.selection,
                maximumValues: AppServerMessage.maximumSelectedValues
            ), case .approvalAnswered = AppServerMessage(message)
        else { return }
        answers.withLock { answers in
            if answers.count < 1024 { answers.append(message) }
        }
    }

    /// The answers read since the last time, in order.
    func taken() -> [JSONRPCMessage] {
        answers.withLock { answers in
            defer { answers = [] }
            return answers
        }
    }
}

/// Whether a stop signal came, and what to do when it does, whichever comes first.
private final class Stopping: Sendable {
    private struct State {
        var stopped = false
        var action: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func stop() {
        state.withLock { state -> (@Sendable () -> Void)? in
            state.stopped = true
            return state.action
        }?()
    }

    func onStop(_ action: @escaping @Sendable () -> Void) {
        let stopped = state.withLock { state in
            state.action = action
            return state.stopped
        }
        if stopped { action() }
    }
}
