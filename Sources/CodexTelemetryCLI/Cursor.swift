import CodexTelemetry
import DescriptorIO
import FoundationEssentials
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// How far each session file has been read and its events exported: the durable cursor that `watch`, `hook` and
/// `replay --state` share, so that a file is exported once whichever of them reads it, and whenever one is killed.
struct Cursor: Equatable {
    /// Where a file was left.
    struct Position: Equatable {
        /// Which file it is: a file replaced under the same name is read from its start.
        var device: UInt64
        var inode: UInt64
        /// The end of the last whole line read: the events of every line up to it are exported.
        var offset: Int
        /// Whether a turn was still running there.
        var openTurns: Bool
        /// The offsets at which the turns then running were closed as `incomplete`, their session judged over:
        /// reading the file again from its start closes them there again, so they are not exported twice.
        var closings: [Int] = []
    }

    var positions: [String: Position] = [:]
    /// Who spawned whom, as the files read say: a sub-agent's file read later, by this process or the next, gets
    /// the lineage its parent's file gave.
    var agents = AgentTree()
    /// The spool requests staged with the last commit, and the spool: published on the next start if this
    /// process died before it published them.
    var staged: [String] = []
    var spool: String?

    /// The most closings kept for a file: past it, its open turns are left open.
    static let maximumClosings = 256
}

/// The file a cursor is kept in: JSON, 0600, in a directory of the user's, replaced whole on each save (written
/// aside, synced, renamed), and locked while a reader holds it, so that a `watch` and a hook never read the same
/// lines.
final class CursorFile: Sendable {
    let path: String
    private let lockDescriptor: Int32

    /// The largest cursor file read: about 300,000 files' positions.
    private static let maximumBytes = 64 << 20

    /// Opens (creating its directory, 0700, if need be) the cursor at `path`.
    ///
    /// - Throws: `CursorError` when the directory cannot be made or the lock file opened, or is a link.
    init(path: String) throws(CursorError) {
        self.path = path
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? ""
        guard directory.isEmpty || makeDirectories(directory) else {
            throw CursorError("cannot create \(directory): \(Self.errorText)")
        }
        lockDescriptor = open(path + ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lockDescriptor >= 0 else { throw CursorError("cannot open \(path).lock: \(Self.errorText)") }
    }

    deinit { close(lockDescriptor) }

    /// Runs `body` holding the cursor's lock: waits while another process holds it.
    func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        while flock(lockDescriptor, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(lockDescriptor, LOCK_UN) }
        return try body()
    }

    /// The cursor as last saved; an empty one if there is none yet.
    ///
    /// - Throws: `CursorError` when the file cannot be read or is not a cursor: it is not replaced, since that
    ///   would export everything again.
    func load() throws(CursorError) -> Cursor {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return Cursor() }
            throw CursorError("cannot read the cursor \(path): \(Self.errorText)")
        }
        defer { close(descriptor) }
        guard let bytes = try? DescriptorIO.readAll(descriptor, atMost: Self.maximumBytes),
            let cursor = (try? JSONValue(parsing: bytes)).flatMap(Cursor.init(json:))
        else {
            throw CursorError(
                "the cursor \(path) is not one codex-telemetry wrote; move it away to read every file again"
            )
        }
        return cursor
    }

    /// Replaces the file with `cursor`, durably: a reader sees the old one or the new one, never a mix.
    func save(_ cursor: Cursor) throws(CursorError) {
        guard replaceFile(atPath: path, with: cursor.json.serialized()) else {
            throw CursorError("cannot write the cursor \(path): \(Self.errorText)")
        }
    }

    private static var errorText: String { String(cString: strerror(errno)) }

    /// `$XDG_STATE_HOME/codex-telemetry/cursor.json`, else `~/.local/state/codex-telemetry/cursor.json`: next to
    /// the spool.
    static func defaultPath(environment: [String: String]) -> String {
        let state =
            environment["XDG_STATE_HOME"] ?? (environment["HOME"] ?? FileManager.default.temporaryDirectory.path)
            + "/.local/state"
        return state + "/codex-telemetry/cursor.json"
    }
}

/// A cursor that cannot be read or written.
struct CursorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Cursor {
    private static let version: JSONValue = 1

    var json: JSONValue {
        var files = JSONObject()
        for (path, position) in positions {
            files[path] = [
                "device": .int(Int64(bitPattern: position.device)),
                "inode": .int(Int64(bitPattern: position.inode)),
                "offset": .int(Int64(position.offset)),
                "openTurns": .bool(position.openTurns),
                "closings": .array(position.closings.map { .int(Int64($0)) }),
            ]
        }
        let spawns = agents.entries.map { entry -> JSONValue in
            [
                .string(entry.child), .string(entry.spawn.parentThreadID),
                entry.spawn.turnID.map(JSONValue.string) ?? .null, entry.spawn.callID.map(JSONValue.string) ?? .null,
            ]
        }
        var object: JSONObject = [
            "codexTelemetryCursor": Self.version, "files": .object(files),
            "staged": .array(staged.map(JSONValue.string)), "agents": .array(spawns),
        ]
        if let spool { object["spool"] = .string(spool) }
        return .object(object)
    }

    /// A thread, turn or call id as a cursor holds it: a string of at most 256 bytes.
    private static func id(_ value: JSONValue) -> String? {
        value.string.flatMap { (1...256).contains($0.utf8.count) ? $0 : nil }
    }

    /// A cursor read back, every value checked; `nil` if anything is not as `json` writes it.
    init?(json: JSONValue) {
        guard json["codexTelemetryCursor"] == Self.version, let files = json["files"]?.object,
            let staged = json["staged"]?.array
        else { return nil }
        for (path, entry) in files {
            guard let device = entry["device"]?.int, let inode = entry["inode"]?.int,
                let offset = entry["offset"]?.int, offset >= 0, let openTurns = entry["openTurns"]?.bool,
                let closings = entry["closings"]?.array, closings.count <= Self.maximumClosings
            else { return nil }
            let offsets = closings.compactMap { $0.int.flatMap { (0...offset).contains($0) ? Int($0) : nil } }
            guard offsets.count == closings.count else { return nil }
            positions[path] = Position(
                device: UInt64(bitPattern: device),
                inode: UInt64(bitPattern: inode),
                offset: Int(offset),
                openTurns: openTurns,
                closings: offsets
            )
        }
        self.staged = staged.compactMap(\.string)
        guard self.staged.count == staged.count else { return nil }
        for spawn in json["agents"]?.array ?? [] {
            guard let ids = spawn.array, ids.count == 4, let child = Self.id(ids[0]), let parent = Self.id(ids[1]),
                ids[2] == .null || Self.id(ids[2]) != nil, ids[3] == .null || Self.id(ids[3]) != nil
            else { return nil }
            agents.record(
                child: child,
                AgentTree.Spawn(parentThreadID: parent, turnID: Self.id(ids[2]), callID: Self.id(ids[3]))
            )
        }
        spool = json["spool"]?.string
    }
}
