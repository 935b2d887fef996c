import CodexHarness
import CodexTelemetry
import DescriptorIO
import FoundationEssentials
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
final class CursorReader {
    private let file: CursorFile
    private let export: TelemetryExport?
    private let spoolDirectory: URL?
    private let emit: (TelemetryEvent) -> Void
    private let beforeCommit: () -> Void
    private var follower: SessionFollower
    private var cursor = Cursor()
    /// The cursor as saved last, and its file's status then: loaded again only if someone else saved since.
    private var saved: (cursor: Cursor, status: FileStatus?)?
    private var eventsSinceCommit = 0

    var counts: SessionFollower.Counts { follower.counts }
    var positions: [String: Cursor.Position] { cursor.positions }

    /// - Parameters:
    ///   - emit: called with every event, in order: it records it for `export`, which the reader commits.
    ///   - beforeCommit: called before each commit, to flush what `emit` printed: a process killed after a commit
    ///     has printed all it committed.
    init(
        cursor file: CursorFile,
        prices: PriceTable,
        export: TelemetryExport?,
        spoolDirectory: URL?,
        beforeCommit: @escaping () -> Void = {},
        emit: @escaping (TelemetryEvent) -> Void
    ) {
        self.file = file
        self.export = export
        self.spoolDirectory = spoolDirectory
        self.beforeCommit = beforeCommit
        self.emit = emit
        follower = SessionFollower(prices: prices)
    }

    /// Opens the cursor at `path` and, for an export spooled in `spoolDirectory`, publishes what a process killed
    /// during a commit left staged, and removes what it left unrecorded.
    ///
    /// - Throws: `CursorError` when the cursor cannot be read or written.
    static func openCursor(_ path: String, spoolDirectory: URL?) throws -> CursorFile {
        let file = try CursorFile(path: path)
        let spool = spoolDirectory.flatMap {
            try? DiskSpool(directory: $0, maximumBytes: DiskSpool.standardMaximumBytes)
        }
        try file.withLock {
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
    func transaction(_ body: () throws -> Void) throws {
        try file.withLock {
            if saved == nil || fileStatus(atPath: file.path) != saved?.status {
                cursor = try file.load()
                eventsSinceCommit = 0
                // What another reader learned of the agents, added to what this one knows.
                for (child, spawn) in cursor.agents.entries { follower.agents.record(child: child, spawn) }
            }
            try body()
            try commit()
        }
    }

    /// Reads what `path` gained since the cursor, committing every read budget's worth.
    func read(_ path: String) throws {
        while true {
            guard let (position, done) = follower.follow(path, from: cursor.positions[path], emit: record) else {
                // Gone: nothing more will come of it.
                if fileStatus(atPath: path) == nil { cursor.positions[path] = nil }
                return
            }
            cursor.positions[path] = position
            if done { return }
            try commit()
        }
    }

    /// Closes the running turns of `path` as `incomplete`, once it has been read to its end.
    func closeOpenTurns(_ path: String) throws {
        try read(path)
        guard let position = cursor.positions[path], position.openTurns else { return }
        cursor.positions[path] = follower.closeOpenTurns(path, at: position, emit: record)
    }

    /// Closes, as `incomplete`, the running turns of files quiet for `quiet` that no process holds open.
    func closeSessionsThatAreOver(quietFor quiet: Duration) throws {
        let quietSince = Int64(Date().timeIntervalSince1970 * 1e9) - quiet.wholeMilliseconds * 1_000_000
        try transaction {
            var candidates: [FileIdentity: String] = [:]
            for (path, position) in cursor.positions where position.openTurns {
                guard let status = fileStatus(atPath: path), status.modified < quietSince else { continue }
                candidates[FileIdentity(device: status.device, inode: status.inode)] = path
            }
            let held = filesHeldOpen(among: Set(candidates.keys))
            for path in candidates.filter({ !held.contains($0.key) }).values.sorted() { try closeOpenTurns(path) }
        }
    }

    /// Forgets files the cursor holds that are no longer there.
    func forgetMissing(under directory: String) {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        for path in cursor.positions.keys where path.hasPrefix(prefix) && fileStatus(atPath: path) == nil {
            cursor.positions[path] = nil
            follower.forget(path)
        }
    }

    private func record(_ event: TelemetryEvent) {
        emit(event)
        eventsSinceCommit += 1
    }

    private func commit() throws {
        cursor.agents = follower.agents
        if saved?.cursor == cursor && eventsSinceCommit == 0 { return }
        beforeCommit()
        // Until the save succeeds, the cursor on disk is the truth: read again, and what the staged requests held
        // (never published) is read again with it.
        saved = nil
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
        saved = (cursor, fileStatus(atPath: file.path))
    }
}
