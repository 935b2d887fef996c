import DescriptorIO

#if canImport(Glibc)
import Glibc
#endif

/// Changes under directory trees, through inotify: each look returns the files written, created or moved in, and
/// says when the trees must be looked at whole (a folder appeared, went or was moved, or events were lost). When
/// inotify cannot be used, or a folder could not be watched, `complete` is false and the caller polls.
final class DirectoryWatch {
    enum Change: Equatable {
        /// A file was written, created or moved in.
        case file(String)
        /// Events were lost, or a folder appeared, went or moved: look at the whole trees.
        case rescan
    }

    private let descriptor: Int32
    private var folders: [Int32: String] = [:]
    /// Whether every folder is watched; if not, the caller must poll.
    private(set) var complete = true

    private static let mask = UInt32(
        IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF
    )

    /// An inotify instance with nothing watched yet; `nil` when inotify is not available.
    init?() {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
    }

    deinit { close(descriptor) }

    /// The descriptor to wait on with `poll(2)`.
    var pollDescriptor: Int32 { descriptor }

    /// Watches `folder` and the folders under it (not through links). A folder watched already is watched under
    /// this name from now on: it was renamed.
    func add(_ folder: String, depth: Int = 0) {
        guard depth <= 32 else { return }
        let watch = inotify_add_watch(descriptor, folder, Self.mask | UInt32(IN_ONLYDIR | IN_DONT_FOLLOW))
        guard watch >= 0 else {
            // Out of watches (fs.inotify.max_user_watches), or not readable: polling covers it. Gone: nothing to do.
            if errno != ENOENT { complete = false }
            return
        }
        folders[watch] = folder
        let handle = open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard handle >= 0 else { return }
        defer { close(handle) }
        for name in entryNames(ofDirectory: handle) ?? [] where fileStatus(of: name, in: handle)?.kind == .directory {
            add(folder + "/" + name, depth: depth + 1)
        }
    }

    /// The changes queued so far (none if there are none): reads without waiting.
    func changes() -> [Change] {
        var changes: [Change] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let count = readSome(descriptor, into: buffer.baseAddress, count: buffer.count)
            guard count > 0 else { return changes }
            var offset = 0
            // struct inotify_event: wd, mask, cookie, len, then the name, NUL-padded to len.
            while offset + 16 <= count {
                let watch = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let nameBytes = UnsafeRawBufferPointer(
                    rebasing: buffer[(offset + 16)..<min(offset + 16 + length, count)]
                )
                offset += 16 + length
                let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    changes.append(.rescan)
                } else if mask & UInt32(IN_IGNORED) != 0 {
                    folders[watch] = nil
                } else if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                    // A followed folder went, or moved: what it held is elsewhere now, or nowhere.
                    changes.append(.rescan)
                } else if let folder = folders[watch], !name.isEmpty {
                    if mask & UInt32(IN_ISDIR) != 0 {
                        // A new day's folder, or one moved in or out: watched, and the trees looked at again.
                        if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 { add(folder + "/" + name) }
                        changes.append(.rescan)
                    } else if name.hasSuffix(".jsonl"), mask & UInt32(IN_MOVED_FROM) == 0 {
                        changes.append(.file(folder + "/" + name))
                    }
                }
            }
        }
    }
}
