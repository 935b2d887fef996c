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

    /// Logs and spans wait side by side, each for its own delay (here 200 ms and 5 s): the batcher sleeps until the
    /// sooner is due, whichever signal it asks first, and each goes when its own delay has passed, not the other's.
    @Test(arguments: [true, false])
    func eachSignalLeavesWithinItsOwnDelay(logsFirst: Bool) {
        let (logsDelay, spansDelay) = (Duration.milliseconds(200), Duration.seconds(5))
        var logs = BatchQueue<String>()
        var spans = BatchQueue<String>()
        logs.append("log")
        spans.append("span")
        _ = logs.markStart(at: start)
        _ = spans.markStart(at: start)
        func due(at offset: Duration) -> (taken: [String], wait: Duration?) {
            var wait: Duration?
            let now = start + offset
            var taken: [[String]] = []
            for signal in logsFirst ? ["logs", "spans"] : ["spans", "logs"] {
                taken +=
                    signal == "logs"
                    ? logs.takeIfDue(at: now, after: logsDelay, size: 512, all: false, wait: &wait)
                    : spans.takeIfDue(at: now, after: spansDelay, size: 512, all: false, wait: &wait)
            }
            return (taken.flatMap { $0 }, wait)
        }
        let early = due(at: .milliseconds(50))
        #expect(early.taken.isEmpty && early.wait == .milliseconds(150), "asleep until the logs are due")
        let logsDue = due(at: logsDelay)
        #expect(logsDue.taken == ["log"] && logsDue.wait == .milliseconds(4_800))
        let spansDue = due(at: spansDelay)
        #expect(spansDue.taken == ["span"] && spansDue.wait == nil)
    }

    /// After a batch goes, the next record of a quiet spell starts a wait of its own: it wakes the batcher
    /// (`markStart` says so, where a queue that kept its old start would leave it asleep, the record stuck), and it
    /// is due a whole delay after it came, not at once.
    @Test func aRecordAfterABatchWaitsItsOwnDelayAndWakesTheBatcher() {
        let second = Duration.seconds(1)
        var queue = BatchQueue<Int>()
        var wait: Duration?
        queue.append(1)
        let firstWakes = queue.markStart(at: start)
        let first = queue.takeIfDue(at: start + second, after: second, size: 512, all: false, wait: &wait)
        #expect(firstWakes && first == [[1]])
        queue.append(2)
        let secondWakes = queue.markStart(at: start + .seconds(3))
        #expect(secondWakes, "the batcher is woken for the new record")
        wait = nil
        let early = queue.takeIfDue(at: start + .milliseconds(3_500), after: second, size: 512, all: false, wait: &wait)
        #expect(early.isEmpty && wait == .milliseconds(500))
        let due = queue.takeIfDue(at: start + .seconds(4), after: second, size: 512, all: false, wait: &wait)
        #expect(due == [[2]])
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
