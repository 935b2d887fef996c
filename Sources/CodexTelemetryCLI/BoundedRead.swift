#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole file named on the command line (a prompt, a price table), refusing one larger than `limit`: a
/// path may name a device or a pipe that never ends, and memory must not follow it.
///
/// - Throws: `FileReadError`, a sentence naming the file, when it cannot be read or is too large.
func readFile(_ path: String, atMost limit: Int, what: String) throws(FileReadError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw FileReadError("cannot read \(what) \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    return try readAll(descriptor, atMost: limit, what: "\(what) \(path)")
}

/// Reads a descriptor to its end, refusing more than `limit` bytes.
func readAll(_ descriptor: Int32, atMost limit: Int, what: String) throws(FileReadError) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw FileReadError("cannot read \(what): \(String(cString: strerror(errno)))") }
        if count == 0 { return bytes }
        guard bytes.count + count <= limit else { throw FileReadError("\(what) is larger than \(limit >> 20) MiB") }
        bytes += chunk[..<count]
    }
}

/// A file named on the command line could not be read whole.
struct FileReadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
