package import DescriptorIO

#if canImport(Glibc)
import Glibc
#endif

/// The session files named on a command line: each path as it is, and each directory as the regular `*.jsonl`
/// files under it, in name order (rollouts sort by time).
///
/// A walk follows no symbolic link and opens nothing that is not a regular file: a FIFO, a socket or a device named
/// `*.jsonl` would hang a reader or feed it forever, and a link could lead anywhere. Each folder is opened from the
/// one above it, so a folder swapped for a link during the walk is not entered. Such entries are skipped and
/// counted; a directory that cannot be read is reported and the walk goes on.
package struct SessionFiles {
    /// A file to replay, and whether it was named on the command line (and may be a pipe, as `/dev/stdin` is).
    package struct File {
        package var path: String
        package var named: Bool
        /// What the listing found of a regular file: its size, identity, and when it was last modified (Unix
        /// nanoseconds).
        package var size: Int = 0
        package var identity: FileIdentity?
        package var modified: Int64?
    }

    package private(set) var files: [File] = []
    /// Entries named `*.jsonl` that are not regular files (links included), passed over.
    package private(set) var skippedEntries = 0
    /// Directories that could not be read, with why.
    package private(set) var unreadable: [String] = []
    /// The directories named whose every folder was read (those missing, or with a folder that could not be, are
    /// not): what is not found under these is not there.
    package private(set) var completeDirectories: [String] = []

    /// Deeper folders than this are not entered: no session store nests so deep.
    private static let maximumDepth = 32

    package init(_ paths: [String]) {
        for path in paths {
            let status = fileStatus(atPath: path)
            if status?.kind == .directory {
                let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                var found: [(path: String, status: FileStatus)] = []
                let unreadableBefore = unreadable.count
                walk(descriptor, named: path, relative: "", depth: 0, into: &found)
                if unreadable.count == unreadableBefore { completeDirectories.append(path) }
                files += found.sorted { $0.path < $1.path }.map { found in
                    let full = path.hasSuffix("/") ? path + found.path : path + "/" + found.path
                    return File(
                        path: full,
                        named: false,
                        size: found.status.size,
                        identity: found.status.identity,
                        modified: found.status.modified
                    )
                }
            } else {
                let regular = status.flatMap { $0.kind == .regular ? $0 : nil }
                files.append(
                    File(
                        path: path,
                        named: true,
                        size: regular?.size ?? 0,
                        identity: regular?.identity,
                        modified: regular?.modified
                    )
                )
            }
        }
    }

    /// Lists the directory open as `descriptor` (which it closes), named `name` for what it reports.
    private mutating func walk(
        _ descriptor: Int32,
        named name: String,
        relative: String,
        depth: Int,
        into found: inout [(path: String, status: FileStatus)]
    ) {
        guard descriptor >= 0, let names = entryNames(ofDirectory: descriptor) else {
            unreadable.append("cannot read the directory \(name): \(String(cString: strerror(errno)))")
            if descriptor >= 0 { close(descriptor) }
            return
        }
        defer { close(descriptor) }
        for entry in names {
            guard let status = fileStatus(of: entry, in: descriptor) else { continue }
            let path = relative.isEmpty ? entry : relative + "/" + entry
            switch status.kind {
            case .directory where depth < Self.maximumDepth:
                let folder = openat(descriptor, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                walk(folder, named: name + "/" + entry, relative: path, depth: depth + 1, into: &found)
            case .regular where entry.hasSuffix(".jsonl"):
                found.append((path, status))
            default:
                if entry.hasSuffix(".jsonl") { skippedEntries += 1 }
            }
        }
    }
}
