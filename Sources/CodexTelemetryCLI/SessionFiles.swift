import DescriptorIO

#if canImport(Glibc)
import Glibc
#endif

/// The session files named on a command line: each path as it is, and each directory as the regular `*.jsonl`
/// files under it, in name order (rollouts sort by time).
///
/// A walk follows no symbolic link and opens nothing that is not a regular file: a FIFO, a socket or a device named
/// `*.jsonl` would hang a reader or feed it forever, and a link could lead anywhere. Such entries are skipped and
/// counted; a directory that cannot be read is reported and the walk goes on.
struct SessionFiles {
    /// A file to replay, and whether it was named on the command line (and may be a pipe, as `/dev/stdin` is).
    struct File {
        var path: String
        var named: Bool
        /// What the listing found: its size, and when it was last modified (Unix nanoseconds), for a regular file.
        var size: Int = 0
        var modified: Int64?
    }

    private(set) var files: [File] = []
    /// Entries named `*.jsonl` that are not regular files (links included), passed over.
    private(set) var skippedEntries = 0
    /// Directories that could not be read, with why.
    private(set) var unreadable: [String] = []

    /// Deeper folders than this are not entered: no session store nests so deep.
    private static let maximumDepth = 32

    init(_ paths: [String]) {
        for path in paths {
            let status = fileStatus(atPath: path)
            if status?.kind == .directory {
                var found: [(path: String, status: FileStatus)] = []
                walk(path, relative: "", depth: 0, into: &found)
                files += found.sorted { $0.path < $1.path }.map { found in
                    let full = path.hasSuffix("/") ? path + found.path : path + "/" + found.path
                    return File(path: full, named: false, size: found.status.size, modified: found.status.modified)
                }
            } else {
                let regular = status.flatMap { $0.kind == .regular ? $0 : nil }
                files.append(File(path: path, named: true, size: regular?.size ?? 0, modified: regular?.modified))
            }
        }
    }

    private mutating func walk(
        _ root: String,
        relative: String,
        depth: Int,
        into found: inout [(path: String, status: FileStatus)]
    ) {
        let directory = relative.isEmpty ? root : root + "/" + relative
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0, let names = entryNames(ofDirectory: descriptor) else {
            unreadable.append("cannot read the directory \(directory): \(String(cString: strerror(errno)))")
            if descriptor >= 0 { close(descriptor) }
            return
        }
        defer { close(descriptor) }
        for name in names {
            guard let status = fileStatus(of: name, in: descriptor) else { continue }
            let path = relative.isEmpty ? name : relative + "/" + name
            switch status.kind {
            case .directory where depth < Self.maximumDepth:
                walk(root, relative: path, depth: depth + 1, into: &found)
            case .regular where name.hasSuffix(".jsonl"):
                found.append((path, status))
            default:
                if name.hasSuffix(".jsonl") { skippedEntries += 1 }
            }
        }
    }
}
