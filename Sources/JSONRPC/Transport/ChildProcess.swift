import DescriptorIO
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
package import Glibc
#endif

/// A child process whose stdin, stdout and stderr are pipes to us, started without a shell.
///
/// Blocking I/O happens on threads of its own, never on Swift's cooperative pool: one thread reads stdout and frames
/// it into lines, one drains stderr into a bounded tail (a chatty child must never block on a full pipe), one writes
/// stdin in order, and one waits for the exit. The writer keeps SIGPIPE blocked, so writing to a dead child fails
/// quietly instead of killing this process. Memory is bounded both ways: `lines` holds at most 16 MiB (a reader
/// that falls behind holds the child back), and `write(bytes:)` waits while 4 MiB wait for the child.
package final class ChildProcess: Sendable {
    /// What to run.
    package struct Configuration: Sendable {
        /// A path, or a name looked up on the `PATH` of `environment`.
        package var executable: String
        package var arguments: [String]
        /// The child's whole environment.
        package var environment: [String: String]
        /// The child's working directory; `nil` keeps ours.
        package var workingDirectory: String?
        /// The longest stdout line delivered; longer ones are skipped and counted. Default: 64 MiB.
        package var maximumLineLength: Int
        /// How much of the end of stderr is kept for error messages. Default: 64 KiB.
        package var stderrTailLength: Int
        /// Gives the child our own stderr instead of a pipe (nothing is then kept for error messages).
        package var inheritsStderr = false
        /// Sees stdout exactly as it arrives, chunk by chunk, before it is framed into lines: for passing it on
        /// unchanged. Called on the reading thread; a slow callback slows the child.
        package var rawOutput: (@Sendable (UnsafeRawBufferPointer) -> Void)?

        package init(
            executable: String,
            arguments: [String] = [],
            environment: [String: String] = ProcessInfo.processInfo.environment,
            workingDirectory: String? = nil,
            maximumLineLength: Int = LineFramer.defaultMaximumLineLength,
            stderrTailLength: Int = 64 << 10
        ) {
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.maximumLineLength = maximumLineLength
            self.stderrTailLength = stderrTailLength
        }
    }

    /// How the child ended. A non-zero status is an outcome to report, not an error.
    package enum Termination: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        package var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "was killed by signal \(signal)"
            }
        }
    }

    /// The process id.
    package let pid: pid_t
    /// The child's stdout, one line per element, without newlines. It ends when the child closes its stdout, or
    /// when the task reading it is cancelled. Iterate it once: it has a single consumer.
    package let lines: LineStream

    private let state: Mutex<State>
    private let writer: LineWriter
    private let stderrTail: StderrTail

    private struct State: ~Copyable {
        var termination: Termination?
        /// Waiters by a number of their own, so a cancelled one can be found and released.
        var exitWaiters: [Int: CheckedContinuation<Termination?, Never>] = [:]
        var nextWaiter = 0
        var oversizedLineCount = 0
        var stdinClosed = false
    }

    /// Starts the child.
    ///
    /// - Throws: `ChildProcessError` when the executable cannot be found or started.
    package init(_ configuration: Configuration) throws(ChildProcessError) {
        let path = try Self.resolve(configuration.executable, environment: configuration.environment)
        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        guard Self.makePipe(&stdinPipe), Self.makePipe(&stdoutPipe), Self.makePipe(&stderrPipe) else {
            throw ChildProcessError(.launchFailed, "could not create pipes (errno \(errno))")
        }
        defer {
            close(stdinPipe[0])
            close(stdoutPipe[1])
            close(stderrPipe[1])
        }
        pid = try Self.spawn(
            path: path,
            configuration: configuration,
            stdin: stdinPipe[0],
            stdout: stdoutPipe[1],
            stderr: configuration.inheritsStderr ? STDERR_FILENO : stderrPipe[1],
            closeInChild: [stdinPipe[1], stdoutPipe[0], stderrPipe[0]]
        )
        state = Mutex(State())
        writer = LineWriter(fileDescriptor: stdinPipe[1])
        stderrTail = StderrTail(capacity: configuration.stderrTailLength)
        lines = LineStream(capacity: 16 << 20)
        startThreads(
            stdout: stdoutPipe[0],
            stderr: stderrPipe[0],
            maximumLineLength: configuration.maximumLineLength,
            rawOutput: configuration.rawOutput
        )
    }

    /// Queues `line` and a newline for the child's stdin. Writes happen in order on the writer thread; a write to a
    /// child that has gone is dropped.
    package func send(line: [UInt8]) {
        writer.enqueue(line + [0x0A])
    }

    /// Passes `bytes` to the child's stdin exactly as they are, after what is already queued, waiting on the calling
    /// thread while the child is behind by more than 4 MiB: for a thread that streams into the child (a proxy), so
    /// a child that stops reading stops it too. Call it from a thread of your own, never from a task.
    package func write(bytes: [UInt8]) {
        writer.enqueue(bytes, waitingForRoom: true)
    }

    /// Closes the child's stdin once the lines already queued are written: the polite way to ask it to finish.
    package func closeStdin() {
        writer.finish()
    }

    /// The end of what the child wrote to stderr, for error messages.
    package var stderrText: String { stderrTail.text }

    /// The last few lines of stderr, introduced for appending to an error message, or "" if there were none.
    package var stderrExcerpt: String {
        let lastLines = stderrText.split(separator: "\n").suffix(3).joined(separator: "\n")
        return lastLines.isEmpty ? "" : "; the end of its stderr:\n\(lastLines)"
    }

    /// How many stdout lines were skipped for being longer than the maximum line length.
    package var oversizedLineCount: Int { state.withLock { $0.oversizedLineCount } }

    /// How the child ended, or `nil` while it runs.
    package var termination: Termination? { state.withLock { $0.termination } }

    /// Waits until the child has exited, whether or not the calling task is cancelled.
    package func waitForExit() async -> Termination {
        await awaitExit(cancellable: false)!
    }

    /// Stops the child in steps, each only if the last did not work: close stdin and wait `grace`; send SIGTERM and
    /// wait `grace`; send SIGKILL. The steps run to their end even if the calling task is cancelled (a cancelled
    /// wait would otherwise send SIGTERM and SIGKILL back to back).
    @discardableResult
    package func terminate(grace: Duration = .seconds(3)) async -> Termination {
        await Task {
            closeStdin()
            if let ended = await waitForExit(within: grace) { return ended }
            kill(pid, SIGTERM)
            if let ended = await waitForExit(within: grace) { return ended }
            kill(pid, SIGKILL)
            return await waitForExit()
        }.value
    }

    /// Waits until the child has exited, for at most `limit`; `nil` if it has not, or the calling task is cancelled.
    package func waitForExit(within limit: Duration) async -> Termination? {
        await withTaskGroup(of: Termination?.self) { group in
            group.addTask { await self.awaitExit(cancellable: true) }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? termination
        }
    }

    /// The child's termination once it exits; if `cancellable`, `nil` as soon as the calling task is cancelled.
    private func awaitExit(cancellable: Bool) async -> Termination? {
        let waiter = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ended = state.withLock { state -> Termination?? in
                    if let termination = state.termination { return .some(termination) }
                    if cancellable && Task.isCancelled { return .some(nil) }
                    state.exitWaiters[waiter] = continuation
                    return nil
                }
                if let ended { continuation.resume(returning: ended) }
            }
        } onCancel: {
            guard cancellable else { return }
            state.withLock { $0.exitWaiters.removeValue(forKey: waiter) }?.resume(returning: nil)
        }
    }

    private func startThreads(
        stdout: Int32,
        stderr: Int32,
        maximumLineLength: Int,
        rawOutput: (@Sendable (UnsafeRawBufferPointer) -> Void)?
    ) {
        let pid = pid
        detachThread { [self] in
            var framer = LineFramer(maximumLineLength: maximumLineLength)
            Self.readUntilEnd(stdout) { chunk in
                rawOutput?(chunk)
                framer.append(chunk) { line in lines.yield(Array(line)) }
            }
            if let last = framer.finish() { lines.yield(last) }
            let oversized = framer.oversizedLineCount
            state.withLock { $0.oversizedLineCount = oversized }
            close(stdout)
            lines.finish()
        }
        detachThread { [stderrTail] in
            Self.readUntilEnd(stderr) { stderrTail.append($0) }
            close(stderr)
        }
        detachThread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            // WIFEXITED and friends are macros Swift does not import: the low 7 bits are the terminating signal.
            let signal = status & 0x7F
            let ended: Termination = signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
            writer.abandon()
            let waiters = state.withLock { state in
                state.termination = ended
                defer { state.exitWaiters = [:] }
                return state.exitWaiters.values
            }
            for waiter in waiters { waiter.resume(returning: ended) }
        }
    }

    private static func readUntilEnd(_ fileDescriptor: Int32, _ body: (UnsafeRawBufferPointer) -> Void) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let count = read(fileDescriptor, buffer.baseAddress, buffer.count)
            if count > 0 {
                body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            } else if count == 0 || errno != EINTR {
                return
            }
        }
    }
}
