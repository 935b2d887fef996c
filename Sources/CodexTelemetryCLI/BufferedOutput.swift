import DescriptorIO

#if canImport(Glibc)
import Glibc
#endif

/// Collects output lines and writes them in large chunks: one `write(2)` per event would dominate a replay.
///
/// A write that fails (a full disk, a closed pipe) is remembered and everything after it dropped: the command goes
/// on with its other work and says so at the end, with a non-zero exit status.
final class BufferedOutput {
    private let fileDescriptor: Int32
    private var buffer: [UInt8] = []
    /// Why writing stopped, if it did.
    private(set) var failure: String?

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        buffer.reserveCapacity(1 << 16)
    }

    func write(line: String) {
        write { $0.append(contentsOf: line.utf8) }
    }

    /// Appends a line that `body` writes straight into the buffer, and its newline.
    func write(_ body: (inout [UInt8]) -> Void) {
        guard failure == nil else { return }
        body(&buffer)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Writes what is buffered.
    func flush() {
        defer { buffer.removeAll(keepingCapacity: true) }
        guard failure == nil, !buffer.isEmpty else { return }
        if !buffer.withUnsafeBytes({ writeAll($0, to: fileDescriptor) }) {
            failure = String(cString: strerror(errno))
        }
    }
}
