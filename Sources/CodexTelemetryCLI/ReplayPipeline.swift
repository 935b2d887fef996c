import CodexTelemetry
import DescriptorIO
import Dispatch
import Foundation
import JSONRPC
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The two halves of a replay: opening the files, framing their lines and reading each one (`SessionReplay.read`),
/// then taking them, in order, through the session (`SessionReplay.apply`) and on to the output. For a directory
/// (more than one file) the first half runs on a thread of its own, on the second core; a single file is read on
/// the caller's thread, where handing its chunks across would cost more than it saves (measured: a capture's lines
/// are mostly passed over, and the reader would do nearly all the work). Either way the session sees exactly what
/// a replay on one thread would, so the events are the same, in the same order.
enum ReplayPipeline {
    /// What the reader hands over, file by file.
    enum Step: Sendable {
        case startFile(modifiedAt: UInt64)
        /// The lines of a chunk that count, with how many were passed over.
        case lines([SessionReplay.Line], passedOver: Int, bytes: Int)
        /// The end of a file, with its last line if it had no newline and its lines too long to read; `failure`
        /// when it could not be read to its end (or opened: then no other step came for it).
        case endFile(lastLine: SessionReplay.Line?, oversizedLines: Int, failure: ReplayError?)
    }

    /// Lines longer than this are skipped and counted, as `SessionReplay` does by default.
    private static let maximumLineLength = 64 << 20

    /// Reads `files` and calls `take` on this thread with every step, in order.
    static func run(_ files: [SessionFiles.File], _ take: (Step) -> Void) {
        guard files.count > 1 else {
            for file in files { read(file, then: take) }
            return
        }
        let handoff = Handoff<Step>(capacity: 4)
        DispatchQueue.global(qos: .userInitiated).async {
            for file in files { read(file, then: handoff.put) }
        }
        var ended = 0
        while ended < files.count {
            let step = handoff.take()
            if case .endFile = step { ended += 1 }
            take(step)
        }
    }

    /// Streams one file, a chunk at a time. A file found in a directory is opened without following a link, and
    /// only if it is a regular file.
    private static func read(_ file: SessionFiles.File, then put: (Step) -> Void) {
        let flags = file.named ? O_RDONLY | O_CLOEXEC : O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK
        let descriptor = open(file.path, flags)
        guard descriptor >= 0 else {
            let failure = ReplayError("cannot open \(file.path): \(String(cString: strerror(errno)))")
            put(.endFile(lastLine: nil, oversizedLines: 0, failure: failure))
            return
        }
        defer { close(descriptor) }
        let status = fileStatus(descriptor)
        guard file.named || status?.kind == .regular else {
            let failure = ReplayError("\(file.path) is no longer a regular file")
            put(.endFile(lastLine: nil, oversizedLines: 0, failure: failure))
            return
        }
        // Dates a capture whose messages carry no time (old releases), rather than 1970.
        let modified =
            status.flatMap { $0.kind == .regular ? $0.modified : nil }
            ?? Int64(saturating: Date().timeIntervalSince1970 * 1e9)
        put(.startFile(modifiedAt: UInt64(clamping: modified)))
        var framer = LineFramer(maximumLineLength: maximumLineLength)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 1)
        defer { buffer.deallocate() }
        var failure: ReplayError?
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                failure = ReplayError("cannot read \(file.path): \(String(cString: strerror(errno)))")
                break
            }
            if count == 0 { break }
            var lines: [SessionReplay.Line] = []
            var passedOver = 0
            framer.append(UnsafeRawBufferPointer(rebasing: buffer[..<count])) { line in
                let read = SessionReplay.read(line)
                if case .passedOver = read { passedOver += 1 } else { lines.append(read) }
            }
            put(.lines(lines, passedOver: passedOver, bytes: count))
        }
        let lastLine = framer.finish().map { $0.withUnsafeBytes { SessionReplay.readUnterminated($0) } }
        put(.endFile(lastLine: lastLine, oversizedLines: framer.oversizedLineCount, failure: failure))
    }
}

/// A bounded queue from one thread to another: `put` waits while it is full, `take` while it is empty.
private final class Handoff<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    private let filled = DispatchSemaphore(value: 0)
    private let free: DispatchSemaphore

    init(capacity: Int) {
        free = DispatchSemaphore(value: capacity)
    }

    func put(_ item: Element) {
        free.wait()
        items.withLock { $0.append(item) }
        filled.signal()
    }

    func take() -> Element {
        filled.wait()
        let item = items.withLock { $0.removeFirst() }
        free.signal()
        return item
    }
}
