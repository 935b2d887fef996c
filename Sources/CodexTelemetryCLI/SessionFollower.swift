import CodexTelemetry
import DescriptorIO
import JSONRPC

#if canImport(Glibc)
import Glibc
#endif

/// Reads session files as they grow, from where a cursor left them, and gives each line's events exactly once.
///
/// A file is read a whole line at a time: the bytes after its last newline wait for the rest of their line. How
/// far a file was read and exported is its `Cursor.Position`; a file read again from the cursor alone (after a
/// restart, or by another process) is read from its start with its events up to that position dropped, so the
/// session's state (model, usage baseline, the running turn) is what it was, and what follows gives the very
/// events a replay of the whole file would. A few files are kept open between reads, in memory; the others are
/// read again from their start when they grow. One tree of agents is handed from file to file, so a sub-agent's
/// turns carry the lineage its parent's file gives, as in a replay of all the files.
struct SessionFollower {
    /// What was found changed under a name since the cursor.
    struct Counts {
        /// Files that were replaced (another file under the same name): read from their start.
        var replaced = 0
        /// Files found shorter than where they were left: read from their start.
        var truncated = 0
        /// Files that could not be opened or read.
        var unreadable = 0
        /// Turns closed as `incomplete`, their session judged over.
        var closedTurns = 0
    }

    /// A file being followed: its session so far, and the line it is in the middle of.
    private struct FollowedFile {
        var device: UInt64
        var inode: UInt64
        var replay: SessionReplay
        var framer = LineFramer(maximumLineLength: SessionFollower.maximumLineLength)
        /// How far the file has been read, into the framer.
        var readOffset = 0
        /// When it was last used, for keeping the most recent ones.
        var lastUse = 0
        /// Where the last whole line ends.
        var lineEnd: Int { readOffset - framer.unterminatedLength }
    }

    private(set) var counts = Counts()
    /// Who spawned whom, as the files read so far say: kept with the cursor.
    var agents = AgentTree()
    private let prices: PriceTable
    private var followed: [String: FollowedFile] = [:]
    private var uses = 0

    /// Files kept in memory between reads; past it, the least recently read is let go.
    static let maximumFollowedFiles = 64
    /// How much of a file one `follow` reads past its position, so that its caller commits as it goes.
    static let readBudget = 32 << 20
    private static let maximumLineLength = 64 << 20

    init(prices: PriceTable) {
        self.prices = prices
    }

    /// Reads what `path` gained since `position` (all of it, up to the read budget, when `position` is `nil`),
    /// calls `emit` with each new event in order, and returns the new position; `nil` if the file cannot be read.
    /// `done` says whether the file was read to its end (else call again after committing).
    mutating func follow(
        _ path: String,
        from position: Cursor.Position?,
        emit: (TelemetryEvent) -> Void
    ) -> (position: Cursor.Position, done: Bool)? {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno != ENOENT { counts.unreadable += 1 }
            followed[path] = nil
            return nil
        }
        defer { close(descriptor) }
        guard let status = fileStatus(descriptor), status.kind == .regular else {
            counts.unreadable += 1
            return nil
        }
        var position = position
        if let known = position, known.device != status.device || known.inode != status.inode {
            counts.replaced += 1
            position = nil
        } else if let known = position, known.offset > status.size {
            counts.truncated += 1
            position = nil
        }
        let exported = position?.offset ?? 0
        let closings = position?.closings ?? []
        var file = followed.removeValue(forKey: path) ?? newFile(status)
        // Kept only if it is where the cursor says: another process may have read on meanwhile.
        if file.device != status.device || file.inode != status.inode || file.lineEnd != exported
            || file.readOffset < exported
        {
            file = newFile(status)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
        defer { buffer.deallocate() }
        lendAgents(to: &file)
        let end = min(status.size, exported.addingReportingOverflow(Self.readBudget).partialValue)
        var failed = false
        while file.readOffset < end {
            // Up to the cursor, the lines only rebuild the session: their events went out before. At each closing,
            // the turns then running are closed again, as they were.
            let emitting = file.readOffset >= exported
            let boundary = ([exported, end] + closings).filter { $0 > file.readOffset }.min() ?? end
            let count = pread(
                descriptor,
                buffer.baseAddress,
                min(buffer.count, boundary - file.readOffset),
                off_t(file.readOffset)
            )
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                failed = count < 0
                break
            }
            file.framer.append(UnsafeRawBufferPointer(rebasing: buffer[..<count])) { line in
                let events = file.replay.apply(SessionReplay.read(line))
                if emitting { events.forEach(emit) }
            }
            file.readOffset += count
            if !emitting, closings.contains(file.readOffset) { _ = file.replay.closeOpenTurns() }
        }
        takeAgentsBack(from: &file)
        if failed { counts.unreadable += 1 }
        uses += 1
        file.lastUse = uses
        let reached = Cursor.Position(
            device: status.device,
            inode: status.inode,
            offset: max(file.lineEnd, exported),
            openTurns: file.replay.hasOpenTurns,
            closings: closings
        )
        keep(file, as: path)
        return (reached, failed || file.readOffset >= status.size)
    }

    /// Closes the turns still running in `path` as `incomplete` (its session is over), emitting their events, and
    /// returns the position that records it. The file must have been followed to `position` just before.
    mutating func closeOpenTurns(
        _ path: String,
        at position: Cursor.Position,
        emit: (TelemetryEvent) -> Void
    ) -> Cursor.Position {
        guard var file = followed.removeValue(forKey: path), file.lineEnd == position.offset,
            position.closings.count < Cursor.maximumClosings
        else { return position }
        lendAgents(to: &file)
        let events = file.replay.closeOpenTurns()
        takeAgentsBack(from: &file)
        counts.closedTurns += events.count { $0.name == .turn }
        events.forEach(emit)
        var closed = position
        closed.openTurns = false
        closed.closings.append(position.offset)
        keep(file, as: path)
        return closed
    }

    /// Lets go of a file that is gone or done with.
    mutating func forget(_ path: String) {
        followed[path] = nil
    }

    /// Moves the tree into the file's replay for a read, and back out after it: one tree, never copied.
    private mutating func lendAgents(to file: inout FollowedFile) {
        file.replay.agents = agents
        agents = AgentTree()
    }

    private mutating func takeAgentsBack(from file: inout FollowedFile) {
        agents = file.replay.agents
        file.replay.agents = AgentTree()
    }

    private func newFile(_ status: FileStatus) -> FollowedFile {
        FollowedFile(device: status.device, inode: status.inode, replay: SessionReplay(prices: prices))
    }

    private mutating func keep(_ file: FollowedFile, as path: String) {
        followed[path] = file
        guard followed.count > Self.maximumFollowedFiles,
            let oldest = followed.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        else { return }
        followed[oldest] = nil
    }
}
