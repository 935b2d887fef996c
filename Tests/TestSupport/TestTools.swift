import Dispatch
public import Foundation
package import JSONRPC

/// Where the tools the tests run are, as installed by `scripts/install-test-tools`.
public enum TestTools {
    /// The marker every piece of content in our fixtures and stand-in answers carries; no output may contain it.
    public static let contentMarker = "ZQXMARK"

    /// The package's root folder.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Codex release the tests pin (`scripts/install-test-tools`), its schema in `protocol/schema`.
    public static let pinnedRelease = "0.169.0"

    /// The pinned Codex, or `CODEX_BIN` when set.
    ///
    /// - Throws: `MissingTool` when it is not installed. A missing tool fails the test, it never skips it.
    public static func codex() throws -> String {
        if let override = ProcessInfo.processInfo.environment["CODEX_BIN"], !override.isEmpty { return override }
        let sitePackages = packageRoot.appendingPathComponent(".tools/codex/lib")
        let candidates = (try? FileManager.default.contentsOfDirectory(atPath: sitePackages.path)) ?? []
        for python in candidates {
            let path = sitePackages.appendingPathComponent("\(python)/site-packages/codex_cli_bin/bin/codex").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw MissingTool(name: "codex \(pinnedRelease)")
    }

    /// The release before the pinned one, which the live scenario tests run too.
    public static let previousRelease = "0.163.0"
    /// The oldest Codex the live scenario tests run: the first static binary, so it runs on Debian 12 as it is.
    public static let oldestLiveRelease = "0.133.0"
    /// The oldest Codex supported, which `exec` is run against: it needs Debian 13's C library, which
    /// `scripts/install-test-tools` fetches.
    public static let oldestSupportedRelease = "0.65.0"

    /// Another Codex release, as `scripts/install-test-tools` installs it (`.tools/codex-VERSION/codex`).
    ///
    /// - Throws: `MissingTool` when it is not installed.
    public static func codex(release: String) throws -> String {
        let path = packageRoot.appendingPathComponent(".tools/codex-\(release)/codex").path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw MissingTool(name: "codex \(release)") }
        return path
    }

    /// OpenAI's official Codex SDK (`openai-codex`), a real app-server client, started as `scripts/sdk-client.py`:
    /// with `codexBin` as its Codex, one turn per scenario against the stand-in model on `modelPort`, a line printed
    /// after each; sent a line, it closes the server its way and prints `closed`. The SDK's Codex exports nothing
    /// of its own: `OTEL_EXPORTER_OTLP_ENDPOINT` is unset for it.
    package static func startSDKClient(
        codexBin: URL,
        modelPort: Int,
        scenarios: [String],
        environment extra: [String: String]
    ) throws -> ChildProcess {
        let python = packageRoot.appendingPathComponent(".tools/sdk/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else { throw MissingTool(name: "openai-codex") }
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = nil
        return try ChildProcess(
            ChildProcess.Configuration(
                executable: python,
                arguments: [
                    packageRoot.appendingPathComponent("scripts/sdk-client.py").path, codexBin.path, "\(modelPort)",
                    try makeTemporaryDirectory("sdk-work").path,
                ] + scenarios,
                environment: environment
            )
        )
    }

    /// The code block (its text between the fences) of the README or a page of `Documentation/` that holds `text`:
    /// what the tests run as written.
    public static func documentedBlock(containing text: String) -> String? {
        let folder = packageRoot.appendingPathComponent("Documentation")
        let pages =
            ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
            .map { folder.appendingPathComponent($0) } + [packageRoot.appendingPathComponent("README.md")]
        for page in pages {
            let markdown = (try? String(contentsOf: page, encoding: .utf8)) ?? ""
            let blocks = markdown.components(separatedBy: "```").enumerated().filter { $0.offset % 2 == 1 }
            // Without the fence's language line.
            let block = blocks.map { $0.element.drop { $0 != "\n" }.dropFirst() }.first { $0.contains(text) }
            if let block { return String(block) }
        }
        return nil
    }

    /// Python with `opentelemetry-proto`, for the independent decoder scripts.
    public static func otelPython() throws -> String {
        let path = packageRoot.appendingPathComponent(".tools/otel/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw MissingTool(name: "opentelemetry-proto") }
        return path
    }

    /// `rotel-agent`, a real OpenTelemetry collector.
    public static func rotel() throws -> String {
        let libraries = packageRoot.appendingPathComponent(".tools/otel/lib")
        for python in (try? FileManager.default.contentsOfDirectory(atPath: libraries.path)) ?? [] {
            let path = libraries.appendingPathComponent("\(python)/site-packages/rotel/rotel-agent").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw MissingTool(name: "rotel")
    }

    /// Debian's `chromium`, to look at a page as a person would (installed by `scripts/install-test-tools`).
    public static func chromium() throws -> String {
        let path = "/usr/bin/chromium"
        guard FileManager.default.isExecutableFile(atPath: path) else { throw MissingTool(name: "chromium") }
        return path
    }

    /// Runs a command to its end and returns its stdout; stderr goes to the test's stderr.
    package static func output(
        of executable: String,
        _ arguments: [String]
    ) async throws -> (status: ChildProcess.Termination, stdout: String) {
        let process = try ChildProcess(ChildProcess.Configuration(executable: executable, arguments: arguments))
        var lines: [String] = []
        for await line in process.lines { lines.append(String(decoding: line, as: UTF8.self)) }
        let status = await process.waitForExit()
        return (status, lines.joined(separator: "\n"))
    }

    /// The built `codex-telemetry` executable, next to the test bundle.
    public static func cli() throws -> String {
        let path = packageRoot.appendingPathComponent(".build/debug/codex-telemetry").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw MissingTool(name: "codex-telemetry (swift build)")
        }
        return path
    }

    /// A new empty folder whose name carries the content marker, so that any path leaking into output is caught.
    public static func makeTemporaryDirectory(_ purpose: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(contentMarker)_\(purpose)_\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension TestTools {
    /// Runs `body`, which blocks (many files written or listed, a large file built), on a thread of Dispatch's, not
    /// on one of the two the tests' tasks share: held there, it would starve every other test of its timers.
    public static func blocking<Result: Sendable>(
        _ body: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Swift.Result { try body() }) }
        }
    }
}

/// A tool the tests need is not installed.
public struct MissingTool: Error, CustomStringConvertible {
    public var name: String
    public init(name: String) { self.name = name }
    public var description: String { "\(name) is not installed: run scripts/install-test-tools" }
}
