import JSONRPC

#if canImport(Glibc)
import Glibc
#endif

/// Collects output lines and writes them in large chunks: one `write(2)` per event would dominate a replay.
final class BufferedOutput {
    private let fileDescriptor: Int32
    private var buffer: [UInt8] = []

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        buffer.reserveCapacity(1 << 16)
    }

    func write(line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Writes what is buffered. A reader that has gone (a closed pipe) is not an error worth reporting.
    func flush() {
        buffer.withUnsafeBytes { _ = writeAll($0, to: fileDescriptor) }
        buffer.removeAll(keepingCapacity: true)
    }
}
