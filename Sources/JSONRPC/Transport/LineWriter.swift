import DescriptorIO
import Dispatch
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes queued byte strings to a file descriptor, in order, on a thread of its own, so a writer never waits for
/// a reader on the other side of the pipe, unless it asks to: `enqueue(_:waitingForRoom:)` holds a caller that
/// streams (a proxy) while more than `capacity` bytes wait, so a reader that stops reading stops it too.
final class LineWriter: Sendable {
    private let fileDescriptor: Int32
    private let capacity: Int
    private let state = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let room = DispatchSemaphore(value: 0)

    private struct Queue {
        var pending: [[UInt8]] = []
        var queuedBytes = 0
        var finishing = false
        var waitingForRoom = 0
    }

    init(fileDescriptor: Int32, capacity: Int = 4 << 20) {
        self.fileDescriptor = fileDescriptor
        self.capacity = capacity
        detachThread { [self] in run() }
    }

    /// Queues `bytes`. With `waitingForRoom`, first waits (blocking the calling thread, never a task) while more
    /// than the capacity is queued; a writer that has stopped makes room at once.
    func enqueue(_ bytes: [UInt8], waitingForRoom: Bool = false) {
        while waitingForRoom {
            let full = state.withLock { queue in
                guard !queue.finishing, queue.queuedBytes > capacity else { return false }
                queue.waitingForRoom += 1
                return true
            }
            guard full else { break }
            room.wait()
        }
        let accepted = state.withLock { queue in
            guard !queue.finishing else { return false }
            queue.pending.append(bytes)
            queue.queuedBytes += bytes.count
            return true
        }
        if accepted { wakeUp.signal() }
    }

    /// Lets every caller waiting for room go on.
    private func releaseWaiters() {
        let waiting = state.withLock { queue in
            defer { queue.waitingForRoom = 0 }
            return queue.waitingForRoom
        }
        for _ in 0..<waiting { room.signal() }
    }

    /// Closes the descriptor once everything queued so far is written.
    func finish() {
        state.withLock { $0.finishing = true }
        wakeUp.signal()
        releaseWaiters()
    }

    /// Drops what is queued and closes: the reader is gone.
    func abandon() {
        state.withLock { queue in
            queue.pending = []
            queue.queuedBytes = 0
            queue.finishing = true
        }
        wakeUp.signal()
        releaseWaiters()
    }

    private func run() {
        // A write to a pipe whose reader has gone raises SIGPIPE in the writing thread; kept blocked here, the
        // write fails with EPIPE instead of ending the process.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        var broken = false
        while true {
            wakeUp.wait()
            let (batch, finishing) = state.withLock { queue in
                defer { queue.pending = [] }
                return (queue.pending, queue.finishing)
            }
            for bytes in batch {
                if !broken { broken = !bytes.withUnsafeBytes { writeAll($0, to: fileDescriptor) } }
                state.withLock { $0.queuedBytes = max(0, $0.queuedBytes - bytes.count) }
                releaseWaiters()
            }
            if finishing && state.withLock({ $0.pending.isEmpty }) {
                close(fileDescriptor)
                return
            }
        }
    }
}

/// The last `capacity` bytes written to stderr.
final class StderrTail: Sendable {
    private let capacity: Int
    private let bytes = Mutex<[UInt8]>([])

    init(capacity: Int) { self.capacity = capacity }

    func append(_ chunk: UnsafeRawBufferPointer) {
        bytes.withLock { buffer in
            buffer.append(contentsOf: chunk.suffix(capacity))
            if buffer.count > capacity { buffer.removeFirst(buffer.count - capacity) }
        }
    }

    var text: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }
}
