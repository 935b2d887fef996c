import DescriptorIO
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes queued byte strings to a file descriptor, in order, on a thread of its own, so a writer never waits for
/// a reader on the other side of the pipe.
final class LineWriter: Sendable {
    private let fileDescriptor: Int32
    private let state = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)

    private struct Queue {
        var pending: [[UInt8]] = []
        var finishing = false
        var closed = false
    }

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        Thread.detachNewThread { [self] in run() }
    }

    func enqueue(_ bytes: [UInt8]) {
        let accepted = state.withLock { queue in
            guard !queue.finishing else { return false }
            queue.pending.append(bytes)
            return true
        }
        if accepted { wakeUp.signal() }
    }

    /// Closes the descriptor once everything queued so far is written.
    func finish() {
        state.withLock { $0.finishing = true }
        wakeUp.signal()
    }

    /// Drops what is queued and closes: the reader is gone.
    func abandon() {
        state.withLock { queue in
            queue.pending = []
            queue.finishing = true
        }
        wakeUp.signal()
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
            for bytes in batch where !broken {
                broken = !bytes.withUnsafeBytes { writeAll($0, to: fileDescriptor) }
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
