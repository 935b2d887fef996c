import OTLP
import OTLPExport
import Testing

/// When a batch is due, decided with the time handed in: full, waited its delay, or everything at the end.
struct BatchQueueTests {
    let start = ContinuousClock.now

    @Test func aBatchIsDueWhenItFillsWhenItsOldestHasWaitedOrAtTheEnd() {
        var queue = BatchQueue<Int>()
        var wait: Duration?
        let second = Duration.seconds(1)
        var taken = queue.takeIfDue(at: start, after: second, size: 3, all: false, wait: &wait)
        #expect(taken.isEmpty && wait == nil)
        queue.append(1)
        let first = queue.markStart(at: start)
        queue.append(2)
        let again = queue.markStart(at: start + .milliseconds(100))
        #expect(first && !again, "the oldest record sets the wait")
        // Not yet: the wait is shortened to when the oldest is due.
        taken = queue.takeIfDue(at: start + .milliseconds(400), after: second, size: 3, all: false, wait: &wait)
        #expect(taken.isEmpty && wait == .milliseconds(600))
        taken = queue.takeIfDue(at: start + second, after: second, size: 3, all: false, wait: &wait)
        #expect(taken == [[1, 2]] && queue.count == 0)

        for record in 1...7 { queue.append(record) }
        _ = queue.markStart(at: start)
        wait = nil
        taken = queue.takeIfDue(at: start, after: second, size: 3, all: false, wait: &wait)
        #expect(taken == [[1, 2, 3], [4, 5, 6], [7]] && wait == nil)

        queue.append(8)
        _ = queue.markStart(at: start)
        taken = queue.takeIfDue(at: start, after: .seconds(60), size: 3, all: true, wait: &wait)
        let waiting = queue.markStart(at: start)
        #expect(taken == [[8]] && !waiting, "everything went, and nothing waits")
    }

    @Test func aProducerFasterThanTheBatcherHandsTheOldestBatchOver() {
        var queue = BatchQueue<Int>()
        for record in 1...7 { queue.append(record) }
        let early = queue.takeOverflow(beyond: 8, size: 3)
        queue.append(8)
        let overflow = queue.takeOverflow(beyond: 8, size: 3)
        #expect(early == nil && overflow == [1, 2, 3])
        #expect(queue.records == [4, 5, 6, 7, 8])
    }

    @Test func theBackoffDoublesFromItsFirstWaitToItsCapAndTheJitterScalesIt() {
        let backoff = OTLPExporter.Backoff(initial: .milliseconds(500), maximum: .seconds(5))
        #expect(backoff.delay(afterFailures: 1, fraction: 1) == .milliseconds(500))
        #expect(backoff.delay(afterFailures: 3, fraction: 1) == .seconds(2))
        #expect(backoff.delay(afterFailures: 3, fraction: 0.5) == .seconds(1))
        #expect(backoff.delay(afterFailures: 5, fraction: 1) == .seconds(5))
        #expect(backoff.delay(afterFailures: 1_000, fraction: 1) == .seconds(5))
    }
}

/// Requests held in memory when the spool will not take them: within their bound, the oldest let go first.
struct MemoryStoreTests {
    @Test func theOldestGoPastTheBoundNeverTheOneJustHeld() {
        var store = MemoryStore(maximumBytes: 10)
        let none = store.hold([1, 2, 3, 4], signal: .logs, wireProtocol: .protobuf, itemCount: 4)
        _ = store.hold([5, 6, 7, 8], signal: .traces, wireProtocol: .protobuf, itemCount: 2)
        let lost = store.hold([9, 10, 11, 12], signal: .logs, wireProtocol: .json, itemCount: 3)
        #expect(none.isEmpty)
        #expect(lost.map(\.itemCount) == [4])
        #expect(store.requests.map(\.number) == [1, 2])
        store.remove(1)
        store.remove(7)
        #expect(store.requests.map(\.number) == [2])
        // One request larger than the bound is still held: it is all there is to send.
        let alone = store.hold(Array(repeating: 0, count: 64), signal: .metrics, wireProtocol: .protobuf, itemCount: 1)
        #expect(alone.map(\.number) == [2] && store.requests.map(\.number) == [3])
    }
}
