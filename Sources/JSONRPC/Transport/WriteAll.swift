#if canImport(Glibc)
import Glibc
#endif

/// Writes all of `bytes` to `fileDescriptor`, continuing after partial writes and interrupted calls.
///
/// - Returns: `false` if the descriptor stopped taking bytes (its reader has gone: EPIPE, with SIGPIPE ignored or
///   blocked), in which case some bytes may not have been written.
@discardableResult
public func writeAll(_ bytes: UnsafeRawBufferPointer, to fileDescriptor: Int32) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = write(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written > 0 {
            offset += written
        } else if written < 0 && errno == EINTR {
            continue
        } else {
            return false
        }
    }
    return true
}
