import Foundation
package import JSONRPC
import Synchronization

extension TestTools {
    /// How long a test waits for what should happen soon (a tool listening, a record arriving, a file read): long
    /// enough that a machine busy with other work keeps it. A wait that runs out fails on what did not happen.
    public static let patience = Duration.seconds(120)

    /// Polls `condition` every `interval` until it holds or `limit` has passed, and returns whether it held. The
    /// condition is asked once more at the end: a wait whose task was kept from running past its deadline still
    /// sees what happened meanwhile.
    @discardableResult
    public static func eventually(
        within limit: Duration = patience,
        every interval: Duration = .milliseconds(100),
        _ condition: () async throws -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: interval)
        }
        return try await condition()
    }

    /// Starts a tool the tests need, as `ChildProcess` does, and tracks it so it dies with the test process.
    ///
    /// Callers are `async` initializers that wait for the tool next. Calling `ChildProcess.init`, whose throws are
    /// typed (`throws(ChildProcessError)`), straight from an `async throws` class initializer that then awaits a
    /// throwing call crashed the Swift 6.3.1 compiler in release builds (signal 11 in LLVM's coroutine splitting,
    /// `emitSetAndGetSwiftErrorValueAround`, for `Rotel.init(port:)`): the call is made here, in a synchronous
    /// function, where the error is untyped by the time an `async` caller sees it.
    package static func launch(_ configuration: ChildProcess.Configuration) throws -> ChildProcess {
        let process = try ChildProcess(configuration)
        ProcessReaper.track(process)
        return process
    }
}

/// A tool the tests run that did not become ready: what it did instead, and the end of its own output.
public struct ToolDidNotStart: Error, CustomStringConvertible {
    public var description: String
}

/// The last lines a tool wrote on its stdout, and whether one of them said it was ready.
package final class ToolOutput: Sendable {
    private let lines = Mutex<[String]>([])
    private let announcement = Mutex<String?>(nil)
    /// The prefix of the line with which the tool says it is ready (`listening `), if it says so.
    private let readyPrefix: String?

    package init(readyLine prefix: String? = nil) {
        readyPrefix = prefix
    }

    /// Keeps `line` among the last twenty.
    package func append(_ line: String) {
        lines.withLock {
            $0.append(line)
            if $0.count > 20 { $0.removeFirst($0.count - 20) }
        }
        if let readyPrefix, line.hasPrefix(readyPrefix) {
            announcement.withLock { $0 = $0 ?? String(line.dropFirst(readyPrefix.count)) }
        }
    }

    /// What followed the ready prefix on the line that had it (a port), once the tool has said it.
    package var announced: String? { announcement.withLock { $0 } }

    package var tail: String { lines.withLock { $0.joined(separator: "\n") } }
}

extension ChildProcess {
    /// Whether the process has taken `signal` over from its default action: the kernel shows it caught (`SigCgt`,
    /// a bit for each signal: Dispatch's handler hears it for a queue of the process's own) or ignored (`SigIgn`).
    /// Until then, the signal would end it as it ends any program.
    package func hears(_ signal: Int32) -> Bool {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return ["SigCgt:", "SigIgn:"].contains { field in
            let line = status.split(separator: "\n").first { $0.hasPrefix(field) }
            let mask = line.flatMap {
                UInt64($0.dropFirst(field.count).trimmingCharacters(in: .whitespaces), radix: 16)
            }
            return (mask ?? 0) & (1 << UInt64(signal - 1)) != 0
        }
    }

    /// Reads the tool's stdout into `output`, for as long as it writes.
    package func keepOutput(in output: ToolOutput) {
        Task { [lines] in
            for await line in lines { output.append(String(decoding: line, as: UTF8.self)) }
        }
    }

    /// Waits until `isReady` holds, within `TestTools.patience`; otherwise fails saying what really happened: the
    /// tool exited (and how), or runs but was not ready in time, with the end of its stdout and stderr.
    package func waitUntilReady(
        _ tool: String,
        output: ToolOutput,
        _ isReady: () async -> Bool
    ) async throws {
        try await TestTools.eventually {
            if termination != nil { return true }
            return await isReady()
        }
        if await isReady() { return }
        let what =
            termination.map { "\(tool) \($0) before it was ready" }
            ?? "\(tool) runs but was not ready after \(TestTools.patience)"
        throw ToolDidNotStart(
            description: "\(what); its output:\n\(output.tail)\nits stderr:\n\(stderrText.suffix(4_000))"
        )
    }
}
