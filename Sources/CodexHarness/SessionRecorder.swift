import DescriptorIO
public import Foundation
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes a session recording: every line Codex wrote and every line we sent, with the time each was seen.
///
/// The format (JSONL), which `codex-telemetry replay` reads back to the same events:
/// - first line: `{"codexTelemetryRecording":1}`;
/// - then one line per message: `{"at":<Unix ns>,"from":"server"|"client","message":<the line, verbatim>}`.
///
/// Recordings hold content (prompts, answers, command output): the file is created 0600, and an existing file is
/// truncated and made 0600.
public final class SessionRecorder: Sendable {
    private let descriptor: Int32
    private let lock = Mutex(())

    /// Creates (or truncates) the recording at `path`, mode 0600.
    ///
    /// - Throws: `HarnessError` when the file cannot be created.
    public init(path: String) throws {
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw HarnessError("cannot create the recording \(path): \(String(cString: strerror(errno)))")
        }
        fchmod(descriptor, 0o600)
        append(Array(#"{"codexTelemetryRecording":1}"#.utf8) + [0x0A])
    }

    deinit { close(descriptor) }

    /// Appends one line (without its newline) that came `from` "server" or "client" at `time`.
    public func record(_ line: [UInt8], from origin: String, at time: Date) {
        var entry = Array(
            #"{"at":\#(UInt64(saturating: time.timeIntervalSince1970 * 1e9)),"from":"\#(origin)","message":"#.utf8
        )
        entry += line
        entry += Array("}\n".utf8)
        append(entry)
    }

    private func append(_ bytes: [UInt8]) {
        lock.withLock { _ in
            _ = bytes.withUnsafeBytes { writeAll($0, to: descriptor) }
        }
    }
}
