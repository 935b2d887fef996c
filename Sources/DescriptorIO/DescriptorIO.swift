import Dispatch

#if canImport(Glibc)
import Glibc
#endif

// Whole reads and writes on file descriptors, for the modules that hold one: a pipe to Codex, a spool file, a
// recording, standard output.

/// Writes all of `bytes` to `fileDescriptor`, continuing after partial writes and interrupted calls.
///
/// - Returns: `false` if the descriptor stopped taking bytes (a full disk, or a reader that has gone: EPIPE, with
///   SIGPIPE ignored or blocked); `errno` then says why, and some bytes may not have been written.
@discardableResult
package func writeAll(_ bytes: UnsafeRawBufferPointer, to fileDescriptor: Int32) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = write(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written > 0 {
            offset += written
        } else if written < 0 && errno == EINTR {
            continue
        } else {
            if written == 0 { errno = ENOSPC }
            return false
        }
    }
    return true
}

/// Replaces the file at `path` with `bytes`, whole: written aside (`path.new`, never through a link), synced, then
/// renamed over it, so that a reader finds the old file or the new one, never a mix. The new file has
/// `permissions`, whatever the umask: 0600 unless told.
///
/// - Returns: `false` if it could not be; `errno` then says why, and the file is as it was.
package func replaceFile(atPath path: String, with bytes: [UInt8], permissions: UInt32 = 0o600) -> Bool {
    replaceFile(atPath: path, permissions: permissions) { write in bytes.withUnsafeBytes(write) }
}

/// Replaces the file at `path`, as `replaceFile(atPath:with:permissions:)` does, with what `produce` writes, a piece
/// at a time, through the function it is given (which says whether the piece was written): for a file too large
/// to be held whole beside what it is made of.
package func replaceFile(
    atPath path: String,
    permissions: UInt32 = 0o600,
    writing produce: ((UnsafeRawBufferPointer) -> Bool) -> Bool
) -> Bool {
    let temporary = path + ".new"
    unlink(temporary)
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { return false }
    var replaced =
        fchmod(descriptor, permissions & 0o7777) == 0 && produce { writeAll($0, to: descriptor) }
        && fsync(descriptor) == 0
    var failure = errno
    if close(descriptor) != 0, replaced { (replaced, failure) = (false, errno) }
    if replaced, rename(temporary, path) != 0 { (replaced, failure) = (false, errno) }
    if !replaced {
        unlink(temporary)
        errno = failure
    }
    return replaced
}

/// Creates the directory `path` and its missing parents, each 0700 (no more, whatever the umask): state of the
/// user's own. One that exists is left as it is, for the caller's checks.
///
/// - Returns: `false` if one could not be created; `errno` then says why.
package func makeDirectories(_ path: String) -> Bool {
    if mkdir(path, 0o700) == 0 || errno == EEXIST { return true }
    guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex,
        makeDirectories(String(path[..<slash]))
    else { return false }
    return mkdir(path, 0o700) == 0 || errno == EEXIST
}

/// Why a descriptor could not be read whole.
package enum ReadAllFailure: Error, Equatable {
    /// `read(2)` failed with this `errno`.
    case failed(Int32)
    /// There was more than the limit.
    case tooLarge
}

/// Reads up to `count` bytes into `buffer`, at `offset` in the file when one is given, again when a signal
/// interrupts the call: the read every reader of a descriptor goes through. The count read, 0 at the end, or -1 with
/// `errno` saying why.
package func readSome(
    _ descriptor: Int32,
    into buffer: UnsafeMutableRawPointer?,
    count: Int,
    at offset: Int? = nil
)
    -> Int
{
    while true {
        let read = offset.map { pread(descriptor, buffer, count, off_t($0)) } ?? Glibc.read(descriptor, buffer, count)
        if read >= 0 || errno != EINTR { return read }
    }
}

/// Reads `fileDescriptor` to its end, refusing more than `limit` bytes: a path may name a device or a pipe that
/// never ends, and memory must not follow it.
package func readAll(_ fileDescriptor: Int32, atMost limit: Int) throws(ReadAllFailure) -> [UInt8] {
    var bytes: [UInt8] = []
    // A regular file's size is known: room for it is made once, not doubled as it is read.
    if let status = fileStatus(fileDescriptor), status.kind == .regular {
        bytes.reserveCapacity(min(status.size, limit))
    }
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { readSome(fileDescriptor, into: $0.baseAddress, count: $0.count) }
        guard count >= 0 else { throw .failed(errno) }
        if count == 0 { return bytes }
        guard bytes.count + count <= limit else { throw .tooLarge }
        bytes += chunk[..<count]
    }
}

/// The names in the directory open as `directory` (without `.` and `..`), read through a duplicate of it, so it
/// stays open for `openat` and `fstatat`; `nil` when it cannot be read, with `errno` saying why.
package func entryNames(ofDirectory directory: Int32) -> [String]? {
    let handle = dup(directory)
    guard handle >= 0 else { return nil }
    guard let stream = fdopendir(handle) else {
        let failure = errno
        close(handle)
        errno = failure
        return nil
    }
    defer { closedir(stream) }
    rewinddir(stream)
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) {
            String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != ".", name != ".." { names.append(name) }
    }
    return names
}

/// A file, whatever its name: what stays the same when it is renamed or moved within its file system.
package struct FileIdentity: Hashable, Sendable {
    package var device: UInt64
    package var inode: UInt64

    package init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// Whether a file or directory of our own state (a spool, a cursor) can be trusted: `nil` if it is the user's and
/// no one else may write it, else why not (another user could have planted it, or could change it).
package func ownershipProblem(owner: UInt32, mode: UInt32) -> String? {
    if owner != geteuid() { return "belongs to another user" }
    if mode & 0o022 != 0 { return "is writable by others" }
    return nil
}

/// Opens `relative` (names separated by `/`) beneath the open directory `directory`, following no symbolic link on
/// the way or at its end, and never leaving `directory` (`.` and `..` are refused): a folder replaced by a link
/// after it was listed leads nowhere. `flags` are for the last name (`O_NOFOLLOW` and `O_CLOEXEC` are added).
///
/// - Returns: the descriptor, or -1 with `errno` set (`ELOOP` or `ENOTDIR` for a link on the way).
package func openBeneath(_ directory: Int32, _ relative: some StringProtocol, flags: Int32) -> Int32 {
    let names = relative.split(separator: "/")
    guard let last = names.last, !names.contains(where: { $0 == "." || $0 == ".." }) else {
        errno = EINVAL
        return -1
    }
    var current = directory
    defer { if current != directory { close(current) } }
    for name in names.dropLast() {
        let next = openat(current, String(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard next >= 0 else { return -1 }
        if current != directory { close(current) }
        current = next
    }
    return openat(current, String(last), flags | O_NOFOLLOW | O_CLOEXEC)
}

/// What `stat` tells of a file, in the few words its readers need.
package struct FileStatus: Sendable, Equatable {
    package enum Kind: Sendable { case regular, directory, other }

    package var kind: Kind
    package var size: Int
    /// Which file it is, whatever its name: a file replaced under the same name has another.
    package var device: UInt64
    package var inode: UInt64
    /// When it was last modified, in Unix nanoseconds (saturated).
    package var modified: Int64

    package var identity: FileIdentity { FileIdentity(device: device, inode: inode) }

    init(_ status: stat) {
        switch status.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        default: kind = .other
        }
        size = Int(status.st_size)
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        let (seconds, overflow) = Int64(status.st_mtim.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow {
            modified = status.st_mtim.tv_sec < 0 ? .min : .max
        } else {
            let (sum, late) = seconds.addingReportingOverflow(Int64(status.st_mtim.tv_nsec))
            modified = late ? .max : sum
        }
    }
}

/// The status of an open file; `nil` when it cannot be told.
package func fileStatus(_ descriptor: Int32) -> FileStatus? {
    var status = stat()
    return fstat(descriptor, &status) == 0 ? FileStatus(status) : nil
}

/// The status of a path, following a link.
package func fileStatus(atPath path: String) -> FileStatus? {
    var status = stat()
    return stat(path, &status) == 0 ? FileStatus(status) : nil
}

/// The status of an entry of an open directory: the entry itself if it is a link.
package func fileStatus(of name: String, in directory: Int32) -> FileStatus? {
    var status = stat()
    return fstatat(directory, name, &status, AT_SYMLINK_NOFOLLOW) == 0 ? FileStatus(status) : nil
}

/// Runs `body` on a new detached thread of its own: for a loop that blocks on a descriptor or a semaphore, which
/// would hold a thread of a shared pool (Dispatch's, or Swift concurrency's) for as long as it runs. When no thread
/// can be made (a limit on processes, or no memory) it runs on Dispatch's pool after all: late, never lost.
package func detachThread(_ body: @escaping @Sendable () -> Void) {
    final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let started = pthread_create(
        &thread,
        nil,
        { context in
            Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        },
        context
    )
    guard started == 0 else {
        Unmanaged<Body>.fromOpaque(context).release()
        DispatchQueue.global().async(execute: body)
        return
    }
    pthread_detach(thread)
}
