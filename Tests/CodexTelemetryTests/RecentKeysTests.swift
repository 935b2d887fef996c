import Testing

@testable import CodexTelemetry

/// `RecentKeys` against the plainest model of what it promises: the last `capacity` distinct keys inserted, in a
/// list (inserting a key already there changes nothing).
struct RecentKeysTests {
    @Test(arguments: [1, 7, 64, 1000, 5000])
    func itRemembersExactlyTheLastKeysInserted(capacity: Int) {
        var keys = RecentKeys(capacity: capacity)
        var model: [Int] = []
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        // Keys drawn from a range a few times the capacity: many repeats, many evictions, long probe runs.
        let range = UInt64(3 * capacity + 5)
        for step in 0..<50_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Some keys far apart in value, some neighbours, some negative: all are hashes to the set.
            let drawn = Int((state >> 33) % range)
            let key = step % 3 == 0 ? drawn &* 0x1000_0000_0001 : (step % 3 == 1 ? drawn : -drawn)
            if state & 1 == 0 {
                keys.insert(key)
                if !model.contains(key) {
                    model.append(key)
                    if model.count > capacity { model.removeFirst() }
                }
            } else {
                let found = keys.contains(key)
                #expect(found == model.contains(key), "step \(step), key \(key)")
            }
        }
        for key in model {
            let found = keys.contains(key)
            #expect(found)
        }
    }

    @Test func aStandInKnowsWhatItAssumed() {
        var earlier = RecentKeys(capacity: 16)
        earlier.insert(1)
        var standIn = RecentKeys(capacity: 16, recordingMisses: true)
        _ = standIn.contains(2)
        standIn.insert(3)
        #expect(earlier.agrees(with: standIn))
        _ = standIn.contains(1)
        #expect(!earlier.agrees(with: standIn))
        earlier.insert(contentsOf: standIn)
        let found = (earlier.contains(3), earlier.contains(1), earlier.contains(2))
        #expect(found == (true, true, false))
    }
}
