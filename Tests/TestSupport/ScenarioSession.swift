public import CodexAppServer
public import CodexTelemetry
public import Foundation
public import JSONRPC
import Synchronization

/// A real `codex app-server` against the stand-in model server, with every stdout line captured.
public final class ScenarioSession: Sendable {
    /// Codex's working directory for the threads; its name carries the content marker.
    public let workDirectory: URL
    /// Codex's home, where it writes rollout files under `sessions/`.
    public let codexHome: URL
    /// The raw capture of Codex's stdout so far: exactly the bytes it wrote, a newline after each line.
    public var capture: [UInt8] { captured.withLock { $0 } }
    /// Every inbound message with the time it was received, in order.
    public var messages: [(message: JSONRPCMessage, receivedAt: Date)] { received.withLock { $0 } }

    private let captured = Mutex<[UInt8]>([])
    private let received = Mutex<[(message: JSONRPCMessage, receivedAt: Date)]>([])
    private let hookTrust: String

    /// A session in fresh folders; with `hooks`, Codex runs a trusted `preToolUse` hook before each command and a
    /// `stop` hook at the end of each turn (Codex 0.163: the trust is that release's hash of each handler).
    public init(hooks: Bool = false) throws {
        workDirectory = try TestTools.makeTemporaryDirectory("work")
        codexHome = try TestTools.makeTemporaryDirectory("codex-home")
        guard hooks else {
            hookTrust = ""
            return
        }
        let marker = TestTools.contentMarker
        let file = codexHome.appendingPathComponent("hooks.json")
        let command =
            #"{"matcher": "Bash", "hooks": [{"type": "command", "command": "true \#(marker)_hook_pre_tool_use"}]}"#
        let stop = #"{"hooks": [{"type": "command", "command": "true \#(marker)_hook_stop"}]}"#
        try Data(#"{"hooks": {"PreToolUse": [\#(command)], "Stop": [\#(stop)]}}"#.utf8).write(to: file)
        // What `hooks/list` reports as each handler's `key` and `currentHash`: a hook runs once its hash is trusted.
        hookTrust = [
            ("pre_tool_use", "955f67f9fc60678866f357fcf20458e6dc16d7a392b54e3b753128f78203c0ef"),
            ("stop", "3baace9068a60dbfeabaa1e2402edf5b2762b65ec838cc9b1673c052e66ebe77"),
        ].map { event, hash in "\n[hooks.state.\"\(file.path):\(event):0:0\"]\ntrusted_hash = \"sha256:\(hash)\"\n" }
            .joined()
    }

    /// Runs `body` with a client connected to a Codex (with this session's `CODEX_HOME`) that uses `server`, with
    /// `overrides` (`-c` settings) on top, and `environment` over ours.
    public func run<Result: Sendable>(
        codex: String,
        server: StandInModelServer,
        policy: ServerRequestPolicy = .declineApprovals,
        overrides: [String] = [],
        environment extra: [String: String] = [:],
        _ body: (AppServerClient) async throws -> Result
    ) async throws -> Result {
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        environment["CODEX_HOME"] = codexHome.path
        try Data((server.codexConfigFile + hookTrust).utf8).write(to: codexHome.appendingPathComponent("config.toml"))
        let configuration = AppServerConfiguration(
            executable: codex,
            configOverrides: server.codexOverrides + overrides,
            workingDirectory: workDirectory.path,
            environment: environment,
            serverRequestPolicy: policy,
            observer: { [self] line in
                captured.withLock { $0 += line.bytes + [0x0A] }
                if let message = line.message { received.withLock { $0.append((message, line.receivedAt)) } }
            }
        )
        return try await AppServerClient.withClient(configuration, body)
    }

    /// With `RECORD_FIXTURES=1`, keeps this session for the tests of what reads sessions: its capture as
    /// `protocol/sessions/codex-VERSION-NAME.jsonl`, and the rollouts Codex wrote for it in
    /// `protocol/rollouts/codex-VERSION` followed by `rollouts` (the release, from the user agent, which reads
    /// `codex-telemetry/VERSION (…)`).
    public func recordFixtures(_ name: String, rollouts suffix: String, userAgent: String) throws {
        guard ProcessInfo.processInfo.environment["RECORD_FIXTURES"] == "1" else { return }
        let version = userAgent.split(separator: "/").dropFirst().first?.split(separator: " ").first ?? "unknown"
        let protocolFolder = TestTools.packageRoot.appendingPathComponent("protocol")
        try Data(capture).write(to: protocolFolder.appendingPathComponent("sessions/codex-\(version)-\(name).jsonl"))
        let rollouts = protocolFolder.appendingPathComponent("rollouts/codex-\(version)\(suffix)")
        try? FileManager.default.removeItem(at: rollouts)
        try FileManager.default.createDirectory(at: rollouts, withIntermediateDirectories: true)
        let sessions = codexHome.appendingPathComponent("sessions")
        for file in try FileManager.default.subpathsOfDirectory(atPath: sessions.path) where file.hasSuffix(".jsonl") {
            try FileManager.default.copyItem(
                at: sessions.appendingPathComponent(file),
                to: rollouts.appendingPathComponent(URL(fileURLWithPath: file).lastPathComponent)
            )
        }
    }

    /// The events of everything received so far, fed to the telemetry as a live consumer would, then finished.
    public func liveEvents() -> [TelemetryEvent] {
        var telemetry = SessionTelemetry()
        var events: [TelemetryEvent] = []
        for (message, receivedAt) in messages {
            events += telemetry.receive(message, receivedAt: UInt64(receivedAt.timeIntervalSince1970 * 1e9))
        }
        return events + telemetry.finish()
    }

    /// Starts a thread in the work directory with `approvalPolicy`, full access, and returns its id.
    public func startThread(_ client: AppServerClient, approvalPolicy: String = "never") async throws -> String {
        try await client.startThread(
            ThreadOptions(
                workingDirectory: workDirectory.path,
                approvalPolicy: approvalPolicy,
                sandbox: "danger-full-access"
            )
        ).id
    }

    /// Runs one turn whose prompt selects `scenario` on the stand-in server, and waits for its end.
    @discardableResult
    public func runTurn(_ client: AppServerClient, thread: String, scenario: String) async throws -> TurnInfo {
        let turn = try await client.startTurn(
            threadID: thread,
            text: "\(TestTools.contentMarker)_prompt_\(scenario) scenario:\(scenario)"
        )
        return try await client.waitForTurnEnd(threadID: thread, turnID: turn).turn
    }
}
