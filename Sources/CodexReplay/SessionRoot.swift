package import DescriptorIO

#if canImport(Glibc)
import Glibc
#endif

/// A folder whose session files are read from it down: held open from the moment it is looked at, so that whatever
/// is done to its path later (deleted, replaced, swapped for a link) never leads a read elsewhere. Its files are
/// opened beneath it, following no link (`openBeneath`).
package final class SessionRoot: Sendable {
    /// Where it is, links resolved as it was opened: the beginning of its files' paths.
    package let path: String
    package let identity: FileIdentity
    private let descriptor: Int32

    /// Opens the folder at `path`; through a link only if `followingLink` (a folder the user named as a link, not
    /// one swapped for a link since). `nil` if it is not a folder that can be opened so.
    package init?(_ path: String, followingLink: Bool = true) {
        descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (followingLink ? 0 : O_NOFOLLOW))
        guard descriptor >= 0, let status = fileStatus(descriptor) else {
            if descriptor >= 0 { close(descriptor) }
            return nil
        }
        identity = status.identity
        self.path = absolutePath(path)
    }

    deinit { close(descriptor) }

    /// Opens `file`, a path beneath this folder, for reading, following no link; -1 (and `errno`) if it cannot be.
    package func open(_ file: String) -> Int32 {
        openBeneath(descriptor, file.dropFirst(path.count + 1), flags: O_RDONLY | O_NONBLOCK)
    }
}

/// `path` made absolute, its links and `..` resolved; made absolute only, if it cannot be (it is not there).
package func absolutePath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else {
        guard !path.hasPrefix("/"), let directory = getcwd(nil, 0) else { return path }
        defer { free(directory) }
        return String(cString: directory) + "/" + path
    }
    defer { free(resolved) }
    return String(cString: resolved)
}
