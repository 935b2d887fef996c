public import CodexTelemetry
import DescriptorIO
public import FoundationEssentials
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes a session recording (`SessionRecording`): every line Codex wrote and every line we sent, with the time
/// each was seen. `codex-telemetry replay` reads it back to the same events.
///
/// Recordings hold content (prompts, answers, command output): the file is created new, mode 0600, and never
/// through a symbolic link. An existing file is refused rather than overwritten: it may be a link planted to make
/// us write elsewhere, or someone else's file whose mode would let them read the session.
public final class SessionRecorder: Sendable {
    private let descriptor: Int32
    private let lock = Mutex(())

    /// Creates the recording at `path`, mode 0600; the file must not exist yet.
    ///
    /// - Throws: `HarnessError` when the file exists (or is a link) or cannot be created.
    public init(path: String) throws {
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST {
                throw HarnessError(
                    "the recording \(path) already exists; a recording holds the session's content, so it is always "
                        + "a new file: remove that one or choose another name"
                )
            }
            throw HarnessError("cannot create the recording \(path): \(String(cString: strerror(errno)))")
        }
        fchmod(descriptor, 0o600)
        append(SessionRecording.header)
    }

    deinit { close(descriptor) }

    /// Appends one line (without its newline) that came from `origin` at `time`.
    public func record(_ line: [UInt8], from origin: SessionRecording.Origin, at time: Date) {
        append(SessionRecording.entry(line, from: origin, at: UInt64(saturating: time.timeIntervalSince1970 * 1e9)))
    }

    private func append(_ bytes: [UInt8]) {
        lock.withLock { _ in
            _ = bytes.withUnsafeBytes { writeAll($0, to: descriptor) }
        }
    }
}
