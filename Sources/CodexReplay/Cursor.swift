package import CodexTelemetry
package import DescriptorIO
import FoundationEssentials
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// How far each session file has been read and its events exported: the durable cursor that `watch`, `hook` and
/// `replay --state` share, so that a file is exported once whichever of them reads it, whenever one is killed, and
/// wherever the file is moved.
///
/// A file is known by what it is, not where: its device and inode (a rename, a move to another folder or to
/// `archived_sessions` keeps them), and its session (the id its first line gives, for a copy or a move to another
/// file system). Its position holds a check of the bytes it stands on, so a file rewritten in place is told apart
/// from one that grew.
package struct Cursor {
    /// Where a file was left.
    package struct Position: Equatable {
        var identity: FileIdentity
        /// Where it was last seen.
        var path: String
        /// The end of the last whole line read: the events of every line up to it are exported.
        var offset: Int
        /// Whether a turn was still running there.
        var openTurns: Bool
        /// The offsets at which the turns then running were closed as `incomplete`, their session judged over:
        /// reading the file again from its start closes them there again, so they are not exported twice.
        var closings: [Int] = []
        /// The session the file holds, from its first line: `""` for a file whose first line names none, `nil` for
        /// one not yet read that far (or left by an earlier release).
        var session: String?
        /// `ContentCheck` of the file up to `offset`; `nil` in a cursor left by an earlier release.
        var check: UInt64?
    }

    package private(set) var positions: [FileIdentity: Position] = [:]
    /// The file of each session that was read furthest, to know the session when it is found in another file (a
    /// copy, a move to another file system).
    private var furthestFileOfSession: [String: FileIdentity] = [:]
    /// Which file each path held when last seen.
    private var filesByPath: [String: FileIdentity] = [:]
    /// Who spawned whom, as the files read say: a sub-agent's file read later, by this process or the next, gets
    /// the lineage its parent's file gave.
    package var agents = AgentTree()
    /// The spool requests staged with the last commit, and the spool: published on the next start if this
    /// process died before it published them.
    package var staged: [String] = []
    package var spool: String?

    /// The most closings kept for a file: past it, its open turns are left open.
    package static let maximumClosings = 256

    package subscript(identity: FileIdentity) -> Position? { positions[identity] }

    /// Makes room for `count` files at once, rather than doubling as they come.
    package mutating func reserveCapacity(_ count: Int) {
        positions.reserveCapacity(count)
        filesByPath.reserveCapacity(count)
        furthestFileOfSession.reserveCapacity(count)
    }

    /// The position of the file of `session` read furthest.
    package func furthestPosition(ofSession session: String) -> Position? {
        furthestFileOfSession[session].flatMap { positions[$0] }
    }

    /// The file last seen at `path`.
    package func identity(at path: String) -> FileIdentity? { filesByPath[path] }

    package mutating func record(_ position: Position) {
        forget(position.identity)
        positions[position.identity] = position
        filesByPath[position.path] = position.identity
        if let session = position.session, !session.isEmpty,
            furthestPosition(ofSession: session).map({ $0.offset <= position.offset }) ?? true
        {
            furthestFileOfSession[session] = position.identity
        }
    }

    package mutating func forget(_ identity: FileIdentity) {
        guard let old = positions.removeValue(forKey: identity) else { return }
        if filesByPath[old.path] == identity { filesByPath[old.path] = nil }
        if let session = old.session, furthestFileOfSession[session] == identity {
            furthestFileOfSession[session] = nil
        }
    }

    /// Notes that a known file is now at `path`.
    package mutating func relocate(_ identity: FileIdentity, to path: String) {
        guard var position = positions[identity] else { return }
        position.path = path
        record(position)
    }
}

/// A check of the bytes a position stands on: FNV-1a over the file's first 4 KiB and the 4 KiB before the offset
/// (or all of it, when it is shorter). The head holds the session's id and start, the tail the last lines read:
/// a file truncated and written again, by Codex or anyone, does not have the same.
package enum ContentCheck {
    package static let window = 4096

    /// The check of `descriptor`'s bytes up to `offset`; `nil` when they cannot all be read (the file is shorter).
    package static func of(_ descriptor: Int32, upTo offset: Int) -> UInt64? {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: window, alignment: 1)
        defer { buffer.deallocate() }
        let tail = max(offset - window, min(offset, window))
        for (start, end) in [(0, min(offset, window)), (tail, offset)] where end > start {
            var read = 0
            while read < end - start {
                let count = readSome(
                    descriptor,
                    into: buffer.baseAddress! + read,
                    count: end - start - read,
                    at: start + read
                )
                guard count > 0 else { return nil }
                read += count
            }
            for byte in UnsafeRawBufferPointer(rebasing: buffer[..<read]) {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return hash
    }
}

/// The file a cursor is kept in: JSON, 0600, in a directory of the user's, replaced whole on each save (written
/// aside, synced, renamed), and locked while a reader holds it, so that a `watch` and a hook never read the same
/// lines. Like the spool, it must be the user's: a cursor or lock another user could have planted or could write
/// is refused, since it decides what is exported.
package final class CursorFile: Sendable {
    package let path: String
    private let lockDescriptor: Int32

    /// The largest cursor file read: about 400,000 files' positions.
    private static let maximumBytes = 128 << 20

    /// Opens (creating its directory, 0700, if need be) the cursor at `path`.
    ///
    /// - Throws: `CursorError` when the directory cannot be made or the lock file opened, or when the directory, the
    ///   cursor or its lock is a link, someone else's, or writable by others.
    package init(path: String) throws(CursorError) {
        self.path = path
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        guard makeDirectories(directory) else {
            throw CursorError("cannot create \(directory): \(Self.errorText)")
        }
        var status = stat()
        guard stat(directory, &status) == 0 else { throw CursorError("cannot read \(directory): \(Self.errorText)") }
        if let problem = ownershipProblem(owner: status.st_uid, mode: status.st_mode) {
            throw CursorError("the cursor's directory \(directory) \(problem): make it yours, 0700, or choose another")
        }
        lockDescriptor = open(path + ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lockDescriptor >= 0 else { throw CursorError("cannot open \(path).lock: \(Self.errorText)") }
        var lock = stat()
        fstat(lockDescriptor, &lock)
        if let problem = ownershipProblem(owner: lock.st_uid, mode: lock.st_mode) {
            close(lockDescriptor)
            throw CursorError("the cursor's lock \(path).lock \(problem): remove it or choose another --state")
        }
    }

    deinit { close(lockDescriptor) }

    /// Runs `body` holding the cursor's lock: waits while another process holds it, for as long as `wait` (`nil`:
    /// however long it takes).
    ///
    /// - Throws: `CursorError` when the lock was not free in time.
    package func withLock<Result>(waitingAtMost wait: Duration? = nil, _ body: () throws -> Result) throws -> Result {
        if let wait {
            let deadline = ContinuousClock.now + wait
            while flock(lockDescriptor, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else {
                    throw CursorError("the cursor \(path) is held by another reader")
                }
                usleep(20_000)
            }
        } else {
            while flock(lockDescriptor, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { flock(lockDescriptor, LOCK_UN) }
        return try body()
    }

    /// The cursor as last saved; an empty one if there is none yet.
    ///
    /// - Throws: `CursorError` when the file cannot be read, is not a cursor, or is not the user's own: it is not
    ///   replaced, since that would export everything again.
    package func load() throws(CursorError) -> Cursor {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return Cursor() }
            throw CursorError("cannot read the cursor \(path): \(Self.errorText)")
        }
        defer { close(descriptor) }
        var status = stat()
        fstat(descriptor, &status)
        if let problem = ownershipProblem(owner: status.st_uid, mode: status.st_mode) {
            throw CursorError("the cursor \(path) \(problem): it is not obeyed; move it away to read every file again")
        }
        guard let bytes = try? DescriptorIO.readAll(descriptor, atMost: Self.maximumBytes),
            let cursor = Cursor(reading: bytes)
        else {
            throw CursorError(
                "the cursor \(path) is not one codex-telemetry wrote; move it away to read every file again"
            )
        }
        return cursor
    }

    /// Replaces the file with `cursor`, durably: a reader sees the old one or the new one, never a mix.
    package func save(_ cursor: Cursor) throws(CursorError) {
        guard replaceFile(atPath: path, writing: cursor.write) else {
            throw CursorError("cannot write the cursor \(path): \(Self.errorText)")
        }
    }

    private static var errorText: String { String(cString: strerror(errno)) }

    /// The cursor of every command that keeps one: `--state`, else `CODEX_TELEMETRY_STATE`, else the default.
    package static func path(_ option: String?, environment: [String: String]) -> String {
        option ?? environment.setting("CODEX_TELEMETRY_STATE")
            ?? LocalPaths.state(environment: environment) + "/cursor.json"
    }
}

/// A cursor that cannot be read or written.
package struct CursorError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

extension Cursor {
    /// Writes the cursor as it is saved, a piece at a time, through `sink` (which says whether a piece was written):
    /// one JSON document, each file on a line of its own, written straight into bytes, never built as values or held
    /// whole, so a cursor of many files costs little memory to save. Returns whether every piece was written.
    package func write(to sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        var output: [UInt8] = []
        output.reserveCapacity(Self.savedPiece + 4096)
        var written = true
        func flush(past size: Int) {
            guard output.count > size else { return }
            written = written && output.withUnsafeBytes(sink)
            output.removeAll(keepingCapacity: true)
        }
        output += #"{"codexTelemetryCursor":2,"#.utf8
        if let spool {
            output += #""spool":"#.utf8
            JSONValue.writeString(spool, to: &output)
            output += ",".utf8
        }
        output += #""staged":"#.utf8
        JSONValue.array(staged.map(JSONValue.string)).write(to: &output)
        output += #","agents":"#.utf8
        let spawns = agents.entries.map { entry -> JSONValue in
            [
                .string(entry.child), .string(entry.spawn.parentThreadID),
                entry.spawn.turnID.map(JSONValue.string) ?? .null, entry.spawn.callID.map(JSONValue.string) ?? .null,
            ]
        }
        JSONValue.array(spawns).write(to: &output)
        output += #","files":["#.utf8
        for (index, position) in positions.values.enumerated() {
            flush(past: Self.savedPiece)
            output += (index == 0 ? "\n" : ",\n").utf8
            output += #"{"path":"#.utf8
            JSONValue.writeString(position.path, to: &output)
            for (name, value) in [
                ("device", Int64(bitPattern: position.identity.device)),
                ("inode", Int64(bitPattern: position.identity.inode)), ("offset", Int64(position.offset)),
            ] {
                output += ",\"\(name)\":".utf8
                JSONValue.writeInteger(value, to: &output)
            }
            output += #","openTurns":"#.utf8
            output += (position.openTurns ? "true" : "false").utf8
            output += #","closings":"#.utf8
            JSONValue.array(position.closings.map { .int(Int64($0)) }).write(to: &output)
            if let session = position.session {
                output += #","session":"#.utf8
                JSONValue.writeString(session, to: &output)
            }
            if let check = position.check {
                output += #","check":"#.utf8
                JSONValue.writeInteger(Int64(bitPattern: check), to: &output)
            }
            output += "}".utf8
        }
        output += "\n]}\n".utf8
        flush(past: 0)
        return written
    }

    /// How much of a cursor is written at a time.
    private static let savedPiece = 64 << 10

    /// A thread, turn or call id as a cursor holds it: a string of at most 256 bytes.
    private static func id(_ value: JSONValue) -> String? {
        value.string.flatMap { (1...256).contains($0.utf8.count) ? $0 : nil }
    }

    /// A cursor read back, every value checked; `nil` if anything is not as `write(to:)` writes it. Read file by
    /// file, never built whole. A cursor of the first version (files by path, without sessions or checks) is read
    /// too: its files are known by their inodes.
    package init?(reading bytes: [UInt8]) {
        var version: Int64?
        var filesVersion: Int64?
        var staged: JSONValue?
        do {
            try bytes.withUnsafeBufferPointer { buffer in
                // One file's values are built at a time; every value is a byte at least, and the bytes are bounded.
                var reader = JSONMemberReader(buffer, maximumValues: buffer.count)
                reserveCapacity(Self.fileCount(in: buffer))
                try reader.forEachMember { reader, name throws(JSONParseError) in
                    switch String(decoding: name, as: UTF8.self) {
                    case "codexTelemetryCursor": version = try reader.value().int
                    case "staged": staged = try reader.value()
                    case "spool": spool = try reader.value().string
                    case "agents":
                        guard let tree = Self.agents(try reader.value()) else {
                            throw JSONParseError(offset: 0, reason: "not a cursor's agents")
                        }
                        agents = tree
                    case "files" where reader.peek() == UInt8(ascii: "["):
                        filesVersion = 2
                        try reader.forEachElement { reader throws(JSONParseError) in
                            let entry = try reader.value()
                            guard let path = entry["path"]?.string, let position = Self.position(entry, path: path)
                            else { throw JSONParseError(offset: 0, reason: "not a cursor's file") }
                            record(position)
                        }
                    case "files":
                        filesVersion = 1
                        for (path, entry) in try reader.value().object ?? [:] {
                            guard let position = Self.position(entry, path: path, withCheck: false) else {
                                throw JSONParseError(offset: 0, reason: "not a cursor's file")
                            }
                            record(position)
                        }
                    default: try reader.skipValue()
                    }
                }
                try reader.finish()
            }
        } catch {
            return nil
        }
        guard let version, version == filesVersion, let staged = staged?.array else { return nil }
        self.staged = staged.compactMap(\.string)
        guard self.staged.count == staged.count else { return nil }
    }

    /// About how many files a saved cursor lists, each on a line of its own: room is made for them at once.
    private static func fileCount(in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        bytes.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
    }

    /// Who spawned whom, as a cursor lists it: `[child, parent, turn or null, call or null]` each; `nil` if one is not.
    private static func agents(_ value: JSONValue) -> AgentTree? {
        var agents = AgentTree()
        for spawn in value.array ?? [] {
            guard let ids = spawn.array, ids.count == 4, let child = Self.id(ids[0]), let parent = Self.id(ids[1]),
                ids[2] == .null || Self.id(ids[2]) != nil, ids[3] == .null || Self.id(ids[3]) != nil
            else { return nil }
            agents.record(
                child: child,
                AgentTree.Spawn(parentThreadID: parent, turnID: Self.id(ids[2]), callID: Self.id(ids[3]))
            )
        }
        return agents
    }

    /// A file as a cursor lists it; `nil` if any of its values is not as `write(to:)` writes it. A cursor of the
    /// first version has no sessions or checks.
    private static func position(_ entry: JSONValue, path: String, withCheck: Bool = true) -> Position? {
        guard let device = entry["device"]?.int, let inode = entry["inode"]?.int,
            let offset = entry["offset"]?.int, offset >= 0, let openTurns = entry["openTurns"]?.bool,
            let closings = entry["closings"]?.array, closings.count <= Self.maximumClosings
        else { return nil }
        let offsets = closings.compactMap { $0.int.flatMap { (0...offset).contains($0) ? Int($0) : nil } }
        guard offsets.count == closings.count else { return nil }
        var position = Position(
            identity: FileIdentity(device: UInt64(bitPattern: device), inode: UInt64(bitPattern: inode)),
            path: path,
            offset: Int(offset),
            openTurns: openTurns,
            closings: offsets
        )
        guard withCheck else { return position }
        if let session = entry["session"] {
            guard let text = session.string, text.isEmpty || Self.id(session) != nil else { return nil }
            position.session = text
        }
        if let check = entry["check"] {
            guard let value = check.int else { return nil }
            position.check = UInt64(bitPattern: value)
        }
        return position
    }
}
