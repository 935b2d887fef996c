public import Foundation
import JSONRPC

/// `scripts/stand-in-model-server.py` on a free loopback port: a Responses API that answers by scenario.
public final class StandInModelServer: Sendable {
    public let port: Int
    private let process: ChildProcess

    private init(port: Int, process: ChildProcess) {
        self.port = port
        self.process = process
    }

    /// Starts the server and waits until it listens; with `timings`, it appends each response's own time there.
    public static func start(timings: URL? = nil) async throws -> StandInModelServer {
        let script = TestTools.packageRoot.appendingPathComponent("scripts/stand-in-model-server.py").path
        var environment = ProcessInfo.processInfo.environment
        environment["STAND_IN_TIMINGS"] = timings?.path
        let process = try TestTools.launch(
            ChildProcess.Configuration(
                executable: "python3",
                arguments: [script, "--port", "0"],
                environment: environment
            )
        )
        let output = ToolOutput(readyLine: "listening ")
        process.keepOutput(in: output)
        try await process.waitUntilReady("the stand-in model server", output: output) { output.announced != nil }
        guard let port = output.announced.flatMap({ Int($0) }) else {
            throw ToolDidNotStart(description: "the stand-in model server announced no port: \(output.tail)")
        }
        return StandInModelServer(port: port, process: process)
    }

    /// Stops the server.
    public func stop() async {
        await process.terminate(grace: .milliseconds(200))
    }

    /// The same settings as a `config.toml`, for releases up to 0.77, whose app-server ignores `-c`; with the
    /// tools that releases up to 0.87 only offer a model they know when asked.
    public var codexConfigFile: String {
        codexOverrides.filter { !$0.hasPrefix("model_providers.") }.joined(separator: "\n") + "\n\n"
            + "[model_providers.mock]\n"
            + codexOverrides.filter { $0.hasPrefix("model_providers.mock.") }
            .map { String($0.dropFirst("model_providers.mock.".count)) }.joined(separator: "\n")
            + "\n\n[features]\nunified_exec = true\napply_patch_freeform = true\n"
    }

    /// The `-c` overrides that point Codex at this server, with retries off so failures are immediate.
    public var codexOverrides: [String] {
        [
            #"model_provider="mock""#,
            #"model_providers.mock.name="mock""#,
            #"model_providers.mock.base_url="http://127.0.0.1:\#(port)/v1""#,
            #"model_providers.mock.wire_api="responses""#,
            "model_providers.mock.request_max_retries=0",
            "model_providers.mock.stream_max_retries=0",
            #"model="gpt-5.5""#,
        ]
    }
}
