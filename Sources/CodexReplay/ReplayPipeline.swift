package import CodexTelemetry
import DescriptorIO
import Dispatch
import FoundationEssentials
import JSONRPC
import SaturatingArithmetic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Replays files on both cores, giving exactly what one replay reading them one after the other on one thread
/// would: the same events, in the same order.
///
/// A file of a tree of sessions (most are small) is replayed whole by a worker on its own, apart from the others
/// (`SessionReplay.detached`), and taken back into the replay in the order of the files if it depended on none of
/// them; else (a fork, a sub-agent, a session read twice), and when it gave more events than a worker holds, it is
/// replayed again on this thread. A larger file is split in two halves: reading each line on its own
/// (`SessionReplay.read`), which needs nothing of the lines before it, on the workers, a chunk of whole lines at a
/// time; and taking the lines, in order, through the session (`SessionReplay.apply`) on this thread. So a single
/// large file runs on both cores too (a capture, whose lines are mostly passed over, is nearly all reading).
package enum ReplayPipeline {
    /// What the replay gives, in order.
    package enum Output {
        case event(TelemetryEvent)
        /// Bytes of the current file read, for the progress line.
        case read(bytes: Int)
        /// The end of a file, with why it could not be read to its end (or opened), if it could not.
        case endOfFile(failure: ReplayError?)
    }

    /// What a worker hands over.
    fileprivate enum Step: Sendable {
        case startFile(modifiedAt: UInt64)
        /// The lines of a chunk that count, with how many were passed over.
        case lines([SessionReplay.Line], passedOver: Int, bytes: Int)
        /// The end of a file, with its last line if it had no newline and its lines too long to read; `failure`
        /// when it could not be read to its end (or opened: then no other step came for it).
        case endFile(lastLine: SessionReplay.Line?, oversizedLines: Int, failure: ReplayError?)
        /// A whole file replayed on its own; `nil` when the worker gave it up, to be replayed on this thread.
        case replayed(SessionFiles.File, ReplayedFile?)
    }

    /// A file replayed whole by a worker: the replay that read it, and what it gave.
    fileprivate struct ReplayedFile: Sendable {
        var replay: SessionReplay
        var events: [TelemetryEvent]
        var bytesRead: Int
        var failure: ReplayError?
    }

    /// Lines longer than this are skipped and counted, as `SessionReplay` does by default.
    private static let maximumLineLength = LineFramer.defaultMaximumLineLength
    /// How much is read at a time, and so the size of most chunks.
    fileprivate static let readSize = 1 << 17
    /// Chunks or files read ahead of the one being applied: enough to keep both cores busy, few enough to keep
    /// memory flat.
    private static let chunksInFlight = 4
    /// Files up to this size are replayed whole by a worker; larger ones, a chunk at a time.
    private static let maximumDetachedFileSize = 1 << 20
    /// Smaller files go to a worker several at a time, up to this size in all: a tree of small sessions is not a
    /// hand-over (and a wake-up) per file. Half the largest, so that what is in flight stays as small as when one
    /// file went at a time (each holds its events and its session's state until it is taken in).
    private static let maximumBatchSize = 1 << 19
    /// A worker gives up the files of a batch once they have given more events than this, for this thread to
    /// replay as it reads: what the files in flight hold stays small.
    private static let maximumDetachedEvents = 1024
    /// Once a worker has waited for the disk, files are asked of the kernel this far ahead of their turn: a tree
    /// that is not in the page cache is read from disk while the cores replay the files before it, rather than by
    /// each worker as it starts a file (a third faster from a cold cache). From a warm one, asking would only cost.
    private static let filesReadAhead = 8

    /// Replays `files` into `replay`, calling `output` on this thread with what it gives, in order.
    package static func run(_ files: [SessionFiles.File], into replay: inout SessionReplay, _ output: (Output) -> Void)
    {
        let detached = replay.detached()
        let take = { (step: Step) in apply(step, to: &replay, output) }
        withoutActuallyEscaping(take) { take in
            var queue = OrderedWork(depth: chunksInFlight, take: take)
            var batch: [SessionFiles.File] = []
            var batchSize = 0
            for (index, file) in files.enumerated() {
                if queue.hasWaitedForDisk, index + filesReadAhead < files.count {
                    readAhead(files[index + filesReadAhead])
                }
                // A regular file, as listed: one whose reading can be given up and begun again.
                guard file.modified != nil && file.size <= maximumDetachedFileSize else {
                    if !batch.isEmpty { queue.replay(batch, detached) }
                    (batch, batchSize) = ([], 0)
                    read(file, into: &queue)
                    continue
                }
                if batchSize + file.size > maximumBatchSize, !batch.isEmpty {
                    queue.replay(batch, detached)
                    (batch, batchSize) = ([], 0)
                }
                batch.append(file)
                batchSize += file.size
            }
            if !batch.isEmpty { queue.replay(batch, detached) }
            queue.finish()
        }
    }

    /// Asks the kernel to start reading a regular file into its page cache, without waiting for it.
    private static func readAhead(_ file: SessionFiles.File) {
        guard file.modified != nil, case .success(let opened) = open(file, regularOnly: true) else { return }
        posix_fadvise(opened.descriptor, 0, 0, POSIX_FADV_WILLNEED)
        close(opened.descriptor)
    }

    /// Takes a step into the replay, in order.
    private static func apply(_ step: Step, to replay: inout SessionReplay, _ output: (Output) -> Void) {
        func emit(_ events: [TelemetryEvent]) {
            for event in events { output(.event(event)) }
        }
        switch step {
        case .startFile(let modified):
            replay.startFile(modifiedAt: modified)
        case .lines(let lines, let passedOver, let bytes):
            replay.passOver(lines: passedOver)
            for line in lines { emit(replay.apply(line)) }
            output(.read(bytes: bytes))
        case .endFile(let lastLine, let oversized, let failure):
            emit(replay.finishFile(lastLine: lastLine, oversizedLines: oversized))
            output(.endOfFile(failure: failure))
        case .replayed(let file, let replayed):
            if let replayed, replay.merge(replayed.replay) {
                emit(replayed.events)
                output(.read(bytes: replayed.bytesRead))
                output(.endOfFile(failure: replayed.failure))
                return
            }
            // Given up by the worker, or dependent on the files before: replayed here, in order.
            switch open(file, regularOnly: false) {
            case .failure(let failure):
                emit(replay.finishFile())
                output(.endOfFile(failure: failure))
            case .success(let opened):
                defer { close(opened.descriptor) }
                var buffer = Chunk()
                defer { buffer.deallocate() }
                let (bytesRead, failure) = replayWhole(opened, file, into: &replay, buffer: &buffer) {
                    emit($0)
                    return true
                }
                output(.read(bytes: bytesRead ?? 0))
                output(.endOfFile(failure: failure))
            }
        }
    }

    /// Replays files, each whole on its own, on a worker: for each, `nil` if it cannot be opened or is no longer a
    /// regular file (this thread will say why), or came once the batch had given too many events.
    fileprivate static func replayAlone(
        _ files: [SessionFiles.File],
        _ detached: SessionReplay,
        buffer: inout Chunk,
        diskWait: DiskWait
    ) -> [Step] {
        var eventsLeft = maximumDetachedEvents
        return files.map { file in
            guard eventsLeft >= 0, case .success(let opened) = open(file, regularOnly: true) else {
                return .replayed(file, nil)
            }
            defer { close(opened.descriptor) }
            var replay = detached
            var events: [TelemetryEvent] = []
            let blocksBefore = DiskWait.blocksRead()
            let (bytesRead, failure) = replayWhole(opened, file, into: &replay, buffer: &buffer) {
                events += $0
                return events.count <= eventsLeft
            }
            diskWait.note(blocksSince: blocksBefore)
            eventsLeft -= events.count
            guard let bytesRead else { return .replayed(file, nil) }
            return .replayed(file, ReplayedFile(replay: replay, events: events, bytesRead: bytesRead, failure: failure))
        }
    }

    /// Replays a whole file through `replay`, reading it into `buffer` and handing its events to `take` as they
    /// come; `take` returns `false` to stop, and then no count of bytes read is returned: the replay is left
    /// mid-file.
    private static func replayWhole(
        _ opened: OpenedFile,
        _ file: SessionFiles.File,
        into replay: inout SessionReplay,
        buffer: inout Chunk,
        _ take: ([TelemetryEvent]) -> Bool
    ) -> (bytesRead: Int?, failure: ReplayError?) {
        replay.startFile(modifiedAt: opened.modifiedAt)
        buffer.reserve(readSize)
        var bytesRead = 0
        var failure: ReplayError?
        while true {
            let count = readSome(opened.descriptor, into: buffer.base, count: readSize)
            guard count >= 0 else {
                failure = ReplayError("cannot read \(file.path): \(String(cString: strerror(errno)))")
                break
            }
            if count == 0 { break }
            bytesRead += count
            guard take(replay.consume(UnsafeRawBufferPointer(start: buffer.base, count: count))) else {
                return (nil, nil)
            }
        }
        return take(replay.finishFile()) ? (bytesRead, failure) : (nil, nil)
    }

    /// An open file, with the time to date its untimed messages by.
    private struct OpenedFile {
        var descriptor: Int32
        var modifiedAt: UInt64
    }

    /// Opens a file to read. A file found in a directory is opened without following a link, and only if it is a
    /// regular file; with `regularOnly`, any file is.
    private static func open(_ file: SessionFiles.File, regularOnly: Bool) -> Result<OpenedFile, ReplayError> {
        let flags = file.named && !regularOnly ? O_RDONLY | O_CLOEXEC : O_RDONLY | O_CLOEXEC | O_NONBLOCK
        let descriptor = Glibc.open(file.path, file.named ? flags : flags | O_NOFOLLOW)
        guard descriptor >= 0 else {
            return .failure(ReplayError("cannot open \(file.path): \(String(cString: strerror(errno)))"))
        }
        let status = fileStatus(descriptor)
        guard (file.named && !regularOnly) || status?.kind == .regular else {
            close(descriptor)
            return .failure(ReplayError("\(file.path) is no longer a regular file"))
        }
        // Dates a capture whose messages carry no time (old releases), rather than 1970.
        let modified =
            status.flatMap { $0.kind == .regular ? $0.modified : nil }
            ?? Int64(saturating: Date().timeIntervalSince1970 * 1e9)
        return .success(OpenedFile(descriptor: descriptor, modifiedAt: UInt64(clamping: modified)))
    }

    /// Streams one file: whole lines, a chunk at a time, read by workers.
    private static func read(_ file: SessionFiles.File, into queue: inout OrderedWork) {
        let descriptor: Int32
        switch open(file, regularOnly: false) {
        case .failure(let failure):
            queue.add(.endFile(lastLine: nil, oversizedLines: 0, failure: failure))
            return
        case .success(let opened):
            descriptor = opened.descriptor
            queue.add(.startFile(modifiedAt: opened.modifiedAt))
        }
        defer { close(descriptor) }
        var chunk = queue.emptyChunk()
        var skippingOversizedLine = false
        var oversized = 0
        var failure: ReplayError?
        while true {
            chunk.reserve(readSize)
            let count = readSome(descriptor, into: chunk.end, count: readSize)
            guard count >= 0 else {
                failure = ReplayError("cannot read \(file.path): \(String(cString: strerror(errno)))")
                break
            }
            if count == 0 { break }
            // What was held before this read holds no newline: only the new bytes are searched.
            var fresh = chunk.count
            chunk.count += count
            chunk.bytesRead += count
            if skippingOversizedLine {
                // The rest of a line too long to read, up to its newline, goes.
                guard let newline = memchr(chunk.base + fresh, 0x0A, count) else {
                    chunk.count = fresh
                    continue
                }
                chunk.removeFirst(chunk.base.distance(to: newline) + 1)
                skippingOversizedLine = false
                fresh = 0
            }
            guard let end = chunk.endOfLastLine(searchingFrom: fresh) else {
                if chunk.count > maximumLineLength {
                    oversized += 1
                    skippingOversizedLine = true
                    chunk.count = 0
                }
                continue
            }
            // The whole lines go to a worker; the start of the next line begins the next chunk.
            var next = queue.emptyChunk()
            next.append(chunk.base + end, count: chunk.count - end)
            chunk.count = end
            queue.readLines(of: chunk)
            chunk = next
        }
        var lastLine: SessionReplay.Line?
        if !skippingOversizedLine && chunk.count > 0 {
            let line = UnsafeRawBufferPointer(start: chunk.base, count: chunk.count)
            if line.count > maximumLineLength {
                oversized += 1
            } else {
                lastLine = SessionReplay.readUnterminated(line)
            }
        }
        if chunk.bytesRead > 0 { queue.add(.lines([], passedOver: 0, bytes: chunk.bytesRead)) }
        queue.recycle(chunk)
        queue.add(.endFile(lastLine: lastLine, oversizedLines: oversized, failure: failure))
    }

    /// Reads the lines of a chunk, each on its own: what a worker does.
    fileprivate static func readLines(of chunk: Chunk) -> (step: Step, oversized: Int) {
        var lines: [SessionReplay.Line] = []
        var passedOver = 0
        var oversized = 0
        var start = 0
        while start < chunk.count {
            let end =
                memchr(chunk.base + start, 0x0A, chunk.count - start).map { chunk.base.distance(to: $0) }
                ?? chunk.count
            let line = UnsafeRawBufferPointer(start: chunk.base + start, count: end - start)
            start = end + 1
            if line.isEmpty { continue }
            if line.count > maximumLineLength {
                oversized += 1
                continue
            }
            let read = SessionReplay.read(line)
            if case .passedOver = read { passedOver += 1 } else { lines.append(read) }
        }
        return (.lines(lines, passedOver: passedOver, bytes: chunk.bytesRead), oversized)
    }
}

/// Bytes read from a file: whole lines once handed to a worker. Owned by one thread at a time.
private struct Chunk: @unchecked Sendable {
    package private(set) var base: UnsafeMutableRawPointer
    package private(set) var capacity: Int
    package var count = 0
    /// How many bytes of the file were read into it, for the progress line.
    package var bytesRead = 0

    package init() {
        // A read, and what is left of the line before it, mostly without growing.
        capacity = 2 * ReplayPipeline.readSize
        // The C allocator's, as `reserve` grows it with `realloc`.
        base = malloc(capacity)!
    }

    package var end: UnsafeMutableRawPointer { base + count }

    /// Where the last whole line ends, after its newline; `nil` when there is none at or after `start`.
    package func endOfLastLine(searchingFrom start: Int) -> Int? {
        // Searched from the end, where a newline almost always is near.
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var index = count
        while index > start {
            index -= 1
            if bytes[index] == 0x0A { return index + 1 }
        }
        return nil
    }

    /// Makes room for `more` bytes after `count`.
    package mutating func reserve(_ more: Int) {
        guard count + more > capacity else { return }
        capacity = max(capacity * 2, count + more)
        base = realloc(base, capacity)!
    }

    package mutating func append(_ bytes: UnsafeRawPointer, count length: Int) {
        reserve(length)
        memcpy(end, bytes, length)
        count += length
    }

    package mutating func removeFirst(_ length: Int) {
        memmove(base, base + length, count - length)
        count -= length
    }

    package func deallocate() { free(base) }
}

/// Whether a worker has read from the disk: the kernel counts the blocks a thread had read for it, none when the
/// page cache held all it read. (How long a read took says less: a worker preempted mid-read looks as slow.)
private final class DiskWait: Sendable {
    package let seen = Atomic(false)

    /// Blocks read from a disk for this thread so far (`RUSAGE_THREAD`, which Glibc's module does not name).
    package static func blocksRead() -> Int {
        var usage = rusage()
        getrusage(1, &usage)
        return usage.ru_inblock
    }

    package func note(blocksSince before: Int) {
        if Self.blocksRead() > before { seen.store(true, ordering: .relaxed) }
    }
}

/// Work done on other threads and taken back in the order it was added, at most `depth` of it ahead.
private struct OrderedWork {
    /// A step, or the promise of one from a worker.
    private final class Pending: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: (steps: [ReplayPipeline.Step], oversized: Int, chunk: Chunk?)?

        init(_ step: ReplayPipeline.Step? = nil) {
            if let step {
                result = ([step], 0, nil)
                done.signal()
            }
        }

        func fulfil(_ steps: [ReplayPipeline.Step], oversized: Int, chunk: Chunk) {
            result = (steps, oversized, chunk)
            done.signal()
        }

        func wait() -> (steps: [ReplayPipeline.Step], oversized: Int, chunk: Chunk?) {
            done.wait()
            return result!
        }
    }

    private let depth: Int
    private let take: (ReplayPipeline.Step) -> Void
    private let diskWait = DiskWait()
    /// Whether a worker has read a file slower than the page cache gives it.
    package var hasWaitedForDisk: Bool { diskWait.seen.load(ordering: .relaxed) }
    private var pending: [Pending] = []
    /// Chunks given back, to be read into again: no allocation per chunk.
    private var spare: [Chunk] = []
    /// Lines too long to read that workers found in the current file, told with its end.
    private var oversizedInFile = 0

    package init(depth: Int, take: @escaping (ReplayPipeline.Step) -> Void) {
        self.depth = depth
        self.take = take
    }

    package mutating func emptyChunk() -> Chunk {
        var chunk = spare.popLast() ?? Chunk()
        chunk.count = 0
        chunk.bytesRead = 0
        return chunk
    }

    /// Keeps a chunk to read into again, unless a long line grew it: memory stays flat after one.
    package mutating func recycle(_ chunk: Chunk) {
        if chunk.capacity > 1 << 20 { chunk.deallocate() } else { spare.append(chunk) }
    }

    package mutating func add(_ step: ReplayPipeline.Step) { enqueue(Pending(step)) }

    /// Has a worker replay whole files, one after the other, each on its own.
    package mutating func replay(_ files: [SessionFiles.File], _ detached: SessionReplay) {
        let diskWait = diskWait
        let pending = Pending()
        let chunk = emptyChunk()
        DispatchQueue.global(qos: .userInitiated).async {
            var buffer = chunk
            let steps = ReplayPipeline.replayAlone(files, detached, buffer: &buffer, diskWait: diskWait)
            pending.fulfil(steps, oversized: 0, chunk: buffer)
        }
        enqueue(pending)
    }

    package mutating func readLines(of chunk: Chunk) {
        let pending = Pending()
        DispatchQueue.global(qos: .userInitiated).async {
            let (step, oversized) = ReplayPipeline.readLines(of: chunk)
            pending.fulfil([step], oversized: oversized, chunk: chunk)
        }
        enqueue(pending)
    }

    package mutating func finish() {
        while !pending.isEmpty { takeOldest() }
        for chunk in spare { chunk.deallocate() }
        spare = []
    }

    private mutating func enqueue(_ item: Pending) {
        pending.append(item)
        while pending.count > depth { takeOldest() }
    }

    private mutating func takeOldest() {
        let (steps, oversized, chunk) = pending.removeFirst().wait()
        if let chunk { recycle(chunk) }
        oversizedInFile += oversized
        for var step in steps {
            if case .endFile(let lastLine, let oversizedLines, let failure) = step {
                step = .endFile(lastLine: lastLine, oversizedLines: oversizedLines + oversizedInFile, failure: failure)
                oversizedInFile = 0
            }
            take(step)
        }
    }
}

package struct ReplayError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
