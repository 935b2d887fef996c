package import CodexHarness
package import CodexTelemetry
import DescriptorIO
package import FoundationEssentials
import OTLPExport
import SaturatingArithmetic

#if canImport(Glibc)
import Glibc
#endif

/// Session files read from a durable cursor, their new events exported, and the cursor committed with them: what
/// `watch`, `hook` and `replay --state` share.
///
/// The events of the lines read since the last commit are staged in the spool; the commit writes the cursor,
/// naming those staged requests, and only then are they made sendable. Killed before the cursor is written, the
/// lines are read again and the staged requests (never sent) are left to be removed; killed after, the next start
/// publishes them. Either way each event is exported once (see `OTLPExporter.checkpoint`). The cursor is held
/// locked only while a batch of files is read and committed, so a hook and a watch can share it.
///
/// A file is found by its identity and its session wherever it is (see `Cursor`). Paths under one of the `roots`
/// (the folders followed) are opened from the root down, following no link: a folder swapped for a link after it
/// was listed leads nowhere. Other paths are files named by the user, opened as named.
package final class CursorReader {
    /// What was found about the files read, beyond their lines.
    package struct Counts {
        /// Known files found under another name (renamed, moved to another folder): read on from where they were.
        package var moved = 0
        /// Sessions found in another file (a copy, a move to another file system): read on from where they were.
        package var recognised = 0
        /// Names that now hold another file than the one read there.
        package var replaced = 0
        /// Files found shorter than where they were left: read as new from their start.
        package var truncated = 0
        /// Files whose bytes before where they were left are not the ones read: read as new from their start.
        package var rewritten = 0
        /// Files that could not be opened or read, or that a link stood in the way of.
        package var unreadable = 0
        /// Turns closed as `incomplete`, their session judged over.
        package var closedTurns = 0
        /// New lines skipped: longer than the line limit, or not readable.
        package var oversizedLines = 0
        package var malformedLines = 0
        /// New rollout records of kinds the vocabulary does not declare, passed over.
        package var unknownKindLines = 0
        /// New messages that carried no time, dated at their file's modification time.
        package var messagesDatedByFile = 0
    }

    /// Commit after this much read, or this many events, whichever comes first: what a process killed before it
    /// commits reads again. What waits for the commit is staged in the spool as it comes, not held in memory.
    package static let commitEvery = (bytes: 128 << 20, events: 32_768)

    private let file: CursorFile
    /// A folder whose files are opened from the folder down: the path its files' paths begin with, and the folder,
    /// open, while it is there. Nothing under a folder that is missing is opened.
    package struct Root {
        package var path: String
        package var folder: SessionRoot?

        package init(path: String, folder: SessionRoot?) {
            self.path = path
            self.folder = folder
        }

        /// Whether `file` is a path beneath this folder.
        package func holds(_ file: String) -> Bool {
            file.hasPrefix(path) && file.dropFirst(path.count).first == "/"
        }
    }

    /// The folders whose files are opened from the folder down.
    package var roots: [Root]
    private let export: TelemetryExport?
    private let spoolDirectory: URL?
    private let emit: (TelemetryEvent) -> Void
    private let beforeCommit: () -> Void
    private let isStopping: () -> Bool
    private let lockWait: Duration?
    private var follower: SessionFollower
    private var cursor = Cursor() {
        didSet { unsaved = true }
    }
    /// Whether the cursor changed since it was saved or loaded.
    private var unsaved = false
    /// The cursor file's status when this reader last saved or loaded it: loaded again only if someone else saved
    /// since.
    private var savedStatus: FileStatus?
    private var eventsSinceCommit = 0
    private var bytesSinceCommit = 0
    private var found = Counts()

    package var counts: Counts {
        var counts = found
        counts.oversizedLines = follower.oversizedLines
        counts.malformedLines = follower.malformedLines
        counts.unknownKindLines = follower.unknownKindLines
        counts.messagesDatedByFile = follower.messagesDatedByFile
        return counts
    }

    /// How many files the cursor knows.
    package var knownFiles: Int { cursor.positions.count }

    /// - Parameters:
    ///   - roots: the folders whose files are opened from the folder down.
    ///   - lockWait: how long to wait for a cursor another process holds; `nil`: as long as it takes.
    ///   - isStopping: asked between reads: once it says so, reading stops where it is, to be committed.
    ///   - emit: called with every event, in order: it records it for `export`, which the reader commits.
    ///   - beforeCommit: called before each commit, to flush what `emit` printed: a process killed after a commit
    ///     has printed all it committed.
    package init(
        cursor file: CursorFile,
        roots: [Root],
        prices: PriceTable,
        export: TelemetryExport?,
        spoolDirectory: URL?,
        lockWait: Duration? = nil,
        isStopping: @escaping () -> Bool = { false },
        beforeCommit: @escaping () -> Void = {},
        emit: @escaping (TelemetryEvent) -> Void
    ) {
        self.file = file
        self.roots = roots
        self.export = export
        self.spoolDirectory = spoolDirectory
        self.lockWait = lockWait
        self.isStopping = isStopping
        self.beforeCommit = beforeCommit
        self.emit = emit
        follower = SessionFollower(prices: prices)
    }

    /// Opens the cursor at `path` and, for an export spooled in `spoolDirectory`, publishes what a process killed
    /// during a commit left staged, and removes what it left unrecorded.
    ///
    /// - Throws: `CursorError` when the cursor cannot be read or written, is not the user's, or (within `lockWait`)
    ///   is held by another process.
    package static func openCursor(_ path: String, spoolDirectory: URL?, lockWait: Duration? = nil) throws -> CursorFile
    {
        let file = try CursorFile(path: path)
        let spool = spoolDirectory.flatMap {
            try? DiskSpool(directory: $0, maximumBytes: DiskSpool.standardMaximumBytes)
        }
        try file.withLock(waitingAtMost: lockWait) {
            var cursor = try file.load()
            if let spool, cursor.spool == spool.directory.path {
                spool.publish(cursor.staged)
                spool.removeAbandonedStagedRequests()
            }
            guard !cursor.staged.isEmpty else { return }
            cursor.staged = []
            try file.save(cursor)
        }
        return file
    }

    /// Runs `body` with the cursor locked and up to date, then commits what it read.
    package func transaction(_ body: () throws -> Void) throws {
        try file.withLock(waitingAtMost: lockWait) {
            let status = fileStatus(atPath: file.path)
            if savedStatus == nil || status != savedStatus {
                // Its status before it is read: another reader saving meanwhile makes it read again next time.
                cursor = try file.load()
                savedStatus = status
                unsaved = false
                eventsSinceCommit = 0
                // What another reader learned of the agents, added to what this one knows.
                for (child, spawn) in cursor.agents.entries { follower.agents.record(child: child, spawn) }
            }
            try body()
            try commit()
        }
    }

    /// Reads what `path` gained since the cursor, committing as it goes; stops early when asked to.
    package func read(_ path: String) throws {
        try read(path, restoringSession: false)
    }

    /// `read(_:)`; with `restoringSession`, a file read to its end is read again all the same, for what its session
    /// holds in memory (the turns it left running), which a file that has not grown needs nothing of. Returns which
    /// file it read, if it read one.
    @discardableResult
    private func read(_ path: String, restoringSession: Bool) throws -> FileIdentity? {
        guard let opened = open(path) else { return nil }
        defer { close(opened.descriptor) }
        var position: Cursor.Position?
        switch resolve(opened) {
        case .later: return nil
        case .beginning: position = nil
        case .at(let known): position = known
        }
        if !restoringSession, let known = position, known.offset == opened.status.size {
            // Found under another name, or as a copy: where it is now is all that is new.
            if cursor[known.identity] != known { cursor.record(known) }
            return known.identity
        }
        while !isStopping() {
            var (reached, done, failed) = follower.follow(opened, from: position, emit: record)
            if failed { found.unreadable += 1 }
            if reached.session == nil, reached.offset > 0 { reached.session = Self.session(of: opened) }
            bytesSinceCommit += reached.offset - (position?.offset ?? 0)
            if cursor[reached.identity] != reached { cursor.record(reached) }
            position = reached
            if eventsSinceCommit >= Self.commitEvery.events || bytesSinceCommit >= Self.commitEvery.bytes {
                try commit()
            }
            if done { break }
        }
        return opened.status.identity
    }

    /// Closes the running turns of `path` as `incomplete`, once it has been read to its end.
    package func closeOpenTurns(_ path: String) throws {
        guard let identity = try read(path, restoringSession: true), let position = cursor[identity],
            position.openTurns, !isStopping()
        else { return }
        let (closed, turns) = follower.closeOpenTurns(at: position, emit: record)
        found.closedTurns += turns
        cursor.record(closed)
    }

    /// Closes, as `incomplete`, the running turns of files quiet for `quiet` that no process holds open.
    package func closeSessionsThatAreOver(quietFor quiet: Duration) throws {
        let quietSince = Int64(Date().timeIntervalSince1970 * 1e9) - quiet.wholeMilliseconds * 1_000_000
        try transaction {
            var candidates: [FileIdentity: String] = [:]
            for position in cursor.positions.values where position.openTurns {
                // Where the file is, as it is now: opened as any read opens it (one that cannot be is not counted
                // at every look; a read counts it).
                guard let opened = open(position.path, counting: false) else { continue }
                let status = opened.status
                close(opened.descriptor)
                guard status.identity == position.identity, status.modified < quietSince else { continue }
                candidates[status.identity] = position.path
            }
            let held = filesHeldOpen(among: Set(candidates.keys))
            for path in candidates.filter({ !held.contains($0.key) }).values.sorted() { try closeOpenTurns(path) }
        }
    }

    /// Takes in what a look at every file under some folders found: known files found under another name are noted
    /// there, and known files under the folders it could read whole found nowhere are forgotten (deleted, or moved
    /// out of what is followed). Under a folder that is missing or could not be read whole, what was not found may
    /// still be there.
    package func take(_ scan: SessionFiles) {
        let found = scan.files.compactMap { file in file.identity.map { ($0, file.path) } }
        let files = Dictionary(found) { first, _ in first }
        let prefixes = scan.completeDirectories.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        for position in cursor.positions.values {
            if let path = files[position.identity] {
                if path != position.path { cursor.relocate(position.identity, to: path) }
            } else if prefixes.contains(where: position.path.hasPrefix) {
                cursor.forget(position.identity)
                follower.forget(position.identity)
            }
        }
    }

    /// Whether the cursor has read a file a listing found to its end.
    package func hasRead(_ file: SessionFiles.File) -> Bool {
        file.identity.map { cursor[$0]?.offset == file.size } ?? false
    }

    // MARK: - Finding files

    /// Opens `path` for reading: beneath its root when it has one (`nil` for a link on the way), else as named; a
    /// regular file only. `nil` when it cannot be, counted unless it is simply gone.
    private func open(_ path: String, counting: Bool = true) -> SessionFollower.OpenFile? {
        let descriptor: Int32
        if let root = roots.first(where: { $0.holds(path) }) {
            guard let folder = root.folder else { return nil }
            descriptor = folder.open(path)
        } else {
            descriptor = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        }
        guard descriptor >= 0 else {
            if errno != ENOENT, counting { found.unreadable += 1 }
            return nil
        }
        guard let status = fileStatus(descriptor), status.kind == .regular else {
            close(descriptor)
            if counting { found.unreadable += 1 }
            return nil
        }
        return SessionFollower.OpenFile(descriptor: descriptor, status: status, path: path)
    }

    /// Where reading a file starts.
    private enum Start {
        /// From a position: where the file was left, or where its session was left in another file.
        case at(Cursor.Position)
        /// From its start: a new file, or a new session in a known one.
        case beginning
        /// Not now: its first line is not whole yet, so its session is not known; or it holds a session read further
        /// in another file, so it is a copy being written (or an older one, which holds nothing new).
        case later
    }

    /// Where to go on from in `file`: its own position, if the bytes it stands on are still there; else the position
    /// of its session in another file whose bytes these are (a copy, a move to another file system); else its start,
    /// as the new file or session it is.
    private func resolve(_ file: SessionFollower.OpenFile) -> Start {
        let identity = file.status.identity
        var replaced = false
        if var known = cursor[identity] {
            if file.status.size < known.offset {
                found.truncated += 1
            } else if known.check == nil || ContentCheck.of(file.descriptor, upTo: known.offset) == known.check {
                if known.path != file.path {
                    found.moved += 1
                    known.path = file.path
                }
                return .at(known)
            } else {
                found.rewritten += 1
            }
            // What was read there is gone: a new session in the same file. A turn it left running ends here, if
            // the session is still in memory (its bytes cannot be read again).
            if known.openTurns { found.closedTurns += follower.closeOpenTurns(at: known, emit: record).1 }
            cursor.forget(identity)
            follower.forget(identity)
        } else if let other = cursor.identity(at: file.path), other != identity {
            replaced = true
        }
        guard let session = Self.session(of: file) else { return .later }
        guard !session.isEmpty, var position = cursor.furthestPosition(ofSession: session) else {
            if replaced { found.replaced += 1 }
            return .beginning
        }
        guard position.offset <= file.status.size else { return .later }
        guard position.check != nil, ContentCheck.of(file.descriptor, upTo: position.offset) == position.check else {
            if replaced { found.replaced += 1 }
            return .beginning
        }
        found.recognised += 1
        position.identity = identity
        position.path = file.path
        return .at(position)
    }

    /// The session the file's first line names; `nil` while that line is not whole.
    private static func session(of file: SessionFollower.OpenFile) -> String? {
        switch SessionHeader.firstLine(of: file.descriptor, atMost: SessionFollower.maximumLineLength) {
        case .whole(let line): line.withUnsafeBytes { SessionReplay.session(namedBy: $0) }
        case .unfinished: nil
        case .tooLong: ""
        }
    }

    // MARK: - Committing

    private func record(_ event: TelemetryEvent) {
        emit(event)
        eventsSinceCommit += 1
    }

    private func commit() throws {
        if cursor.agents != follower.agents { cursor.agents = follower.agents }
        if !unsaved && eventsSinceCommit == 0 { return }
        beforeCommit()
        // Until the save succeeds, the cursor on disk is the truth: read again, and what the staged requests held
        // (never published) is read again with it.
        savedStatus = nil
        if let export, eventsSinceCommit > 0 {
            try export.checkpoint { staged in
                var staging = cursor
                staging.staged = staged
                staging.spool = spoolDirectory?.path
                try file.save(staging)
            }
        } else {
            try file.save(cursor)
        }
        eventsSinceCommit = 0
        bytesSinceCommit = 0
        unsaved = false
        savedStatus = fileStatus(atPath: file.path)
    }
}

/// Which of `files` a process holds open, through `/proc/PID/fd`: a session whose rollout Codex still holds is not
/// over, however quiet. Only processes this user may look into are seen, which include every Codex of theirs.
func filesHeldOpen(among files: Set<FileIdentity>) -> Set<FileIdentity> {
    guard !files.isEmpty else { return [] }
    let proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard proc >= 0 else { return [] }
    defer { close(proc) }
    var held: Set<FileIdentity> = []
    for process in entryNames(ofDirectory: proc) ?? [] where process.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
        let descriptors = openat(proc, process + "/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptors >= 0 else { continue }
        defer { close(descriptors) }
        for name in entryNames(ofDirectory: descriptors) ?? [] {
            var status = stat()
            // Followed: each entry is the open file itself.
            guard fstatat(descriptors, name, &status, 0) == 0 else { continue }
            let identity = FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
            if files.contains(identity) { held.insert(identity) }
        }
    }
    return held
}
