#if canImport(Glibc)
import Glibc
#endif

/// Splits a byte stream into newline-terminated lines (JSONL), whatever the chunk boundaries.
///
/// Lines of many megabytes are normal for `codex app-server` (a resumed thread's history, a large diff), so there is
/// no small limit; a line longer than `maximumLineLength` is skipped whole and counted, never buffered without bound.
package struct LineFramer: Sendable {
    /// The longest line delivered, in bytes, without its newline. Default: 64 MiB.
    package let maximumLineLength: Int
    /// How many lines were skipped because they were longer than `maximumLineLength`.
    package private(set) var oversizedLineCount = 0
    /// The bytes after the last newline: a line not yet ended, held or being skipped. A reader's position less
    /// this is where its last whole line ends.
    package private(set) var unterminatedLength = 0

    private var pending: [UInt8] = []
    private var skippingOversizedLine = false

    /// The longest line read unless told otherwise, in every mode: 64 MiB, far past any line Codex writes (a
    /// tool's whole output included), and a bound on memory whatever a file holds.
    package static let defaultMaximumLineLength = 64 << 20

    /// Creates a framer that delivers lines up to `maximumLineLength` bytes.
    package init(maximumLineLength: Int = defaultMaximumLineLength) {
        self.maximumLineLength = maximumLineLength
    }

    /// Feeds a chunk of the stream and calls `onLine` with each line it completes, without the newline.
    ///
    /// The buffer passed to `onLine` is valid only during the call. Empty lines are not delivered.
    package mutating func append(
        _ chunk: UnsafeRawBufferPointer,
        onLine: (UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        guard let base = chunk.baseAddress else { return }
        var start = 0
        while start < chunk.count {
            let remaining = chunk.count - start
            guard let found = memchr(base + start, 0x0A, remaining) else {
                unterminatedLength = start == 0 ? unterminatedLength + remaining : remaining
                appendPartial(UnsafeRawBufferPointer(start: base + start, count: remaining))
                return
            }
            let end = base.distance(to: UnsafeRawPointer(found))
            let piece = UnsafeRawBufferPointer(start: base + start, count: end - start)
            start = end + 1
            if skippingOversizedLine {
                skippingOversizedLine = false
                continue
            }
            if pending.isEmpty {
                if !piece.isEmpty { try deliver(piece, onLine) }
                continue
            }
            appendPartial(piece)
            if skippingOversizedLine {
                skippingOversizedLine = false
                continue
            }
            let line = pending
            pending.removeAll(keepingCapacity: pending.count <= 1 << 20)
            try line.withUnsafeBytes { try deliver($0, onLine) }
        }
        unterminatedLength = 0
    }

    /// Ends the stream: the bytes after the last newline, if any, are an unterminated (possibly truncated) line.
    package mutating func finish() -> [UInt8]? {
        defer {
            pending = []
            skippingOversizedLine = false
            unterminatedLength = 0
        }
        return pending.isEmpty || skippingOversizedLine ? nil : pending
    }

    private mutating func deliver(
        _ line: UnsafeRawBufferPointer,
        _ onLine: (UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        if line.count > maximumLineLength {
            oversizedLineCount += 1
        } else {
            try onLine(line)
        }
    }

    private mutating func appendPartial(_ bytes: UnsafeRawBufferPointer) {
        if skippingOversizedLine { return }
        if pending.count + bytes.count > maximumLineLength {
            oversizedLineCount += 1
            skippingOversizedLine = true
            pending = []
            return
        }
        pending.append(contentsOf: bytes)
    }
}
