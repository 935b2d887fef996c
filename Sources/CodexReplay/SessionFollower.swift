package import CodexTelemetry
package import DescriptorIO
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
/// events a replay of the whole file would. A few files are kept open between reads, in memory, by identity (a
/// file renamed is the same file); the others are read again from their start when they grow. One tree of agents
/// is handed from file to file, so a sub-agent's turns carry the lineage its parent's file gives, as in a replay
/// of all the files.
package struct SessionFollower {
    /// A file being followed: its session so far, and the line it is in the middle of.
    private struct FollowedFile {
        var replay: SessionReplay
        var framer = LineFramer(maximumLineLength: SessionFollower.maximumLineLength)
        /// How far the file has been read, into the framer.
        var readOffset = 0
        /// When it was last used, for keeping the most recent ones.
        var lastUse = 0
        /// Where the last whole line ends.
        var lineEnd: Int { readOffset - framer.unterminatedLength }
    }

    /// A session file, open.
    package struct OpenFile {
        var descriptor: Int32
        var status: FileStatus
        var path: String
    }

    /// Lines longer than this are skipped, and counted, as replay skips them.
    package static let maximumLineLength = LineFramer.defaultMaximumLineLength
    /// Files kept in memory between reads; past it, the least recently read is let go.
    package static let maximumFollowedFiles = 64
    /// How much of a file one `follow` reads, so that its caller commits as it goes.
    package static let readBudget = 32 << 20

    /// Who spawned whom, as the files read so far say: kept with the cursor.
    package var agents = AgentTree()
    /// New lines (past the cursor) skipped: longer than the line limit, or not readable.
    package private(set) var oversizedLines = 0
    package private(set) var malformedLines = 0
    /// New rollout records of kinds the vocabulary does not declare: read whole, standing for nothing.
    package private(set) var unknownKindLines = 0
    /// New messages that carried no time (Codex 0.118 and older), in a file that had none before them: dated at the
    /// file's modification time when it was read, as replay dates them, never 1970.
    package private(set) var messagesDatedByFile = 0
    private let prices: PriceTable
    private var followed: [FileIdentity: FollowedFile] = [:]
    private var uses = 0

    package init(prices: PriceTable) {
        self.prices = prices
    }

    /// Reads what `file` gained since `position` (from its start when `position` is `nil`), up to the read budget
    /// or the end of a line that runs past it, calls `emit` with each new event in order, and returns the new
    /// position. `done` says whether the file was read to its end (else call again, after committing); `failed`
    /// whether reading it failed.
    package mutating func follow(
        _ file: OpenFile,
        from position: Cursor.Position?,
        emit: (TelemetryEvent) -> Void
    ) -> (position: Cursor.Position, done: Bool, failed: Bool) {
        let identity = file.status.identity
        let exported = position?.offset ?? 0
        let closings = position?.closings ?? []
        var state = followed.removeValue(forKey: identity) ?? newFile()
        // Kept only if it is where the cursor says: another process may have read on meanwhile, or the file was
        // cut short under it.
        if state.lineEnd != exported || state.readOffset < exported || state.readOffset > file.status.size {
            state = newFile()
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
        defer { buffer.deallocate() }
        lendAgents(to: &state)
        state.replay.startFile(modifiedAt: UInt64(clamping: file.status.modified))
        // The budget counts from where this read starts, so that a line longer than it is read on the next call.
        let start = max(state.readOffset, exported)
        let end = min(file.status.size, start.addingReportingOverflow(Self.readBudget).partialValue)
        var failed = false
        // What was skipped or dated before the cursor was counted when it was read first.
        var countedBefore: (oversized: Int, lines: SessionReplay.Counts)?
        while state.readOffset < end {
            // Up to the cursor, the lines only rebuild the session: their events went out before. At each closing,
            // the turns then running are closed again, as they were.
            let emitting = state.readOffset >= exported
            if emitting, countedBefore == nil { countedBefore = (state.framer.oversizedLineCount, state.replay.counts) }
            let boundary = ([exported, end] + closings).filter { $0 > state.readOffset }.min() ?? end
            let count = readSome(
                file.descriptor,
                into: buffer.baseAddress,
                count: min(buffer.count, boundary - state.readOffset),
                at: state.readOffset
            )
            guard count > 0 else {
                failed = count < 0
                break
            }
            state.framer.append(UnsafeRawBufferPointer(rebasing: buffer[..<count])) { line in
                let events = state.replay.apply(SessionReplay.read(line))
                if emitting { events.forEach(emit) }
            }
            state.readOffset += count
            if !emitting, closings.contains(state.readOffset) { _ = state.replay.closeOpenTurns() }
        }
        takeAgentsBack(from: &state)
        if let countedBefore { count(state, since: countedBefore) }
        uses += 1
        state.lastUse = uses
        let offset = max(state.lineEnd, exported)
        let reached = Cursor.Position(
            identity: identity,
            path: file.path,
            offset: offset,
            openTurns: state.replay.hasOpenTurns,
            closings: closings,
            session: position?.session,
            check: (offset == exported ? position?.check : nil) ?? ContentCheck.of(file.descriptor, upTo: offset)
        )
        keep(state, as: identity)
        return (reached, failed || state.readOffset >= file.status.size, failed)
    }

    /// Closes the turns still running in `identity` as `incomplete` (its session is over), emitting their events,
    /// and returns the position that records it. The file must have been followed to `position` just before.
    package mutating func closeOpenTurns(
        at position: Cursor.Position,
        emit: (TelemetryEvent) -> Void
    ) -> (Cursor.Position, Int) {
        guard var state = followed.removeValue(forKey: position.identity), state.lineEnd == position.offset,
            position.closings.count < Cursor.maximumClosings
        else { return (position, 0) }
        lendAgents(to: &state)
        let events = state.replay.closeOpenTurns()
        takeAgentsBack(from: &state)
        events.forEach(emit)
        var closed = position
        closed.openTurns = false
        closed.closings.append(position.offset)
        keep(state, as: position.identity)
        return (closed, events.count { $0.name == .turn })
    }

    /// Lets go of a file that is gone, or whose bytes are not the ones read.
    package mutating func forget(_ identity: FileIdentity) {
        followed[identity] = nil
    }

    /// Adds what a read of `file` skipped or dated past the cursor to the counts.
    private mutating func count(_ file: FollowedFile, since before: (oversized: Int, lines: SessionReplay.Counts)) {
        let counts = file.replay.counts
        oversizedLines += file.framer.oversizedLineCount - before.oversized
        malformedLines += counts.malformed - before.lines.malformed
        unknownKindLines += counts.unknownKinds - before.lines.unknownKinds
        messagesDatedByFile += counts.datedByFile - before.lines.datedByFile
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

    private func newFile() -> FollowedFile {
        FollowedFile(replay: SessionReplay(prices: prices, maximumLineLength: Self.maximumLineLength))
    }

    private mutating func keep(_ file: FollowedFile, as identity: FileIdentity) {
        followed[identity] = file
        guard followed.count > Self.maximumFollowedFiles,
            let oldest = followed.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        else { return }
        followed[oldest] = nil
    }
}
