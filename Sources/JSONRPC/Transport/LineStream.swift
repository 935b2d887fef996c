import Dispatch
import Synchronization

/// A child's stdout as lines, handed from the thread that reads it to one async consumer, holding a bounded number
/// of bytes: when the consumer falls behind, the reading thread waits, the pipe fills, and the child waits in turn.
/// Nothing is dropped while someone reads; memory stays bounded whatever the child writes.
///
/// Once its consumer is cancelled (or has gone), the stream ends for good, as `AsyncStream` does: what is buffered
/// is dropped and the reading thread no longer waits, so it can drain the pipe to its end.
package final class LineStream: AsyncSequence, Sendable {
    package typealias Element = [UInt8]

    private struct State {
        var lines: [[UInt8]] = []
        var head = 0
        var bytes = 0
        var finished = false
        var abandoned = false
        var consumer: CheckedContinuation<[UInt8]?, Never>?
        var producerWaiting = false
    }

    private let state = Mutex(State())
    private let room = DispatchSemaphore(value: 0)
    private let capacity: Int

    /// Creates a stream that holds up to `capacity` bytes of lines (always at least one line).
    init(capacity: Int) {
        self.capacity = capacity
    }

    /// What a line costs to hold: its bytes, and its array's header and allocation, which for the short lines of a
    /// flood of notifications weigh more than the bytes.
    private static func footprint(_ line: [UInt8]) -> Int { line.count + 64 }

    /// Hands over a line, waiting (on the calling thread, never a task) while the stream is full.
    func yield(_ line: [UInt8]) {
        while true {
            let consumer = state.withLock { state -> CheckedContinuation<[UInt8]?, Never>?? in
                if state.abandoned || state.finished { return .some(nil) }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .some(consumer)
                }
                if state.bytes > 0, state.bytes + Self.footprint(line) > capacity {
                    state.producerWaiting = true
                    return nil
                }
                state.lines.append(line)
                state.bytes += Self.footprint(line)
                return .some(nil)
            }
            guard let handed = consumer else {
                room.wait()
                continue
            }
            handed?.resume(returning: line)
            return
        }
    }

    /// Ends the stream once the lines handed over are read.
    func finish() {
        let consumer = state.withLock { state -> CheckedContinuation<[UInt8]?, Never>? in
            state.finished = true
            defer { state.consumer = nil }
            return state.consumer
        }
        consumer?.resume(returning: nil)
    }

    private func next() async -> [UInt8]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let (ready, wakeProducer) = state.withLock { state -> ([UInt8]??, Bool) in
                    if state.head < state.lines.count {
                        let line = state.lines[state.head]
                        state.head += 1
                        state.bytes -= Self.footprint(line)
                        if state.head == state.lines.count {
                            state.lines.removeAll(keepingCapacity: true)
                            state.head = 0
                        }
                        let wake = state.producerWaiting
                        state.producerWaiting = false
                        return (.some(line), wake)
                    }
                    if state.finished || state.abandoned || Task.isCancelled {
                        return (.some(nil), false)
                    }
                    state.consumer = continuation
                    return (nil, false)
                }
                if wakeProducer { room.signal() }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            abandon()
        }
    }

    /// The consumer has gone: drop what is held, end the stream, and let the reading thread run free.
    func abandon() {
        let (consumer, wakeProducer) = state.withLock { state in
            state.abandoned = true
            state.lines = []
            state.head = 0
            state.bytes = 0
            defer {
                state.consumer = nil
                state.producerWaiting = false
            }
            return (state.consumer, state.producerWaiting)
        }
        consumer?.resume(returning: nil)
        if wakeProducer { room.signal() }
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate let stream: LineStream

        package mutating func next() async -> [UInt8]? {
            await stream.next()
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(stream: self)
    }
}
