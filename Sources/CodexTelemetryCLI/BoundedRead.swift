import DescriptorIO

#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole file named on the command line (a prompt, a price table), refusing one larger than `limit`.
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
///
/// - Throws: `FileReadError` naming `what`.
func readAll(_ descriptor: Int32, atMost limit: Int, what: String) throws(FileReadError) -> [UInt8] {
    do {
        return try DescriptorIO.readAll(descriptor, atMost: limit)
    } catch {
        switch error {
        case .tooLarge: throw FileReadError("\(what) is larger than \(limit >> 20) MiB")
        case .failed(let code): throw FileReadError("cannot read \(what): \(String(cString: strerror(code)))")
        }
    }
}

/// A file named on the command line could not be read whole.
struct FileReadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
