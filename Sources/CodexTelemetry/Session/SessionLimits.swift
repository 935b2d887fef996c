import CodexAppServer
import SaturatingArithmetic

/// What the telemetry believes and how much it keeps. Every number here bounds something that comes from outside
/// (Codex, a file): a value beyond it is not believed, and state beyond it is given up, each counted in
/// `SessionTelemetry.Discards`. The README's "Guarantees and limits" lists them.
enum SessionLimits {
    /// The times believed, in Unix nanoseconds: 2000-01-01 to 2100-01-01. A time outside (a zero, a negative
    /// number, a value in the wrong unit) is ignored, and the message takes the next time it has.
    static let believableUnixNanoseconds: ClosedRange<Int64> = 946_684_800_000_000_000...4_102_444_800_000_000_000
    /// The largest token count believed in a usage snapshot (a thread's cumulative total included).
    static let maximumTokenCount: Int64 = 1_000_000_000_000
    /// The most tokens of any kind believed for one model call: a thousand times today's largest context window.
    static let maximumCallTokens: Int64 = 1_000_000_000
    /// The longest duration believed, in milliseconds: a year.
    static let maximumDurationMilliseconds: Int64 = 365 * 24 * 3600 * 1000
    /// The longest id, model or tool name kept; a longer id makes its message unusable, a longer name `invalid`.
    static let maximumNameLength = TelemetryAttribute.Value.maximumStringLength
    /// Turns running at once. Past it, the turn that started first is closed as `incomplete`.
    static let maximumOpenTurns = 1024
    /// Tool items held across running turns (running, and completed ones remembered to ignore repeats).
    static let maximumTrackedItems = 65_536
    /// Threads whose model and usage baseline are remembered; past it, the least recently seen are forgotten.
    static let maximumThreads = 4096
    /// How long an ended turn waits, in the session's own time, for tool completions the server sends after it.
    static let lateToolGrace: UInt64 = 5_000_000_000
    /// Compactions running at once in one turn; past it, a start is ignored (the completion still counts).
    static let maximumOpenCompactions = 16
    /// Pieces of a model's output timed between two usage reports; past it, the later ones are not (a call then ends
    /// at the last one kept, or at its first tool).
    static let maximumModelOutputsPerCall = 256
    /// Threads one item can report it spawned; the rest are not followed.
    static let maximumSpawnsPerItem = 64
    /// The deepest tree of agents followed, and the largest depth believed.
    static let maximumAgentDepth = 64
    /// Approval requests awaiting their answer at once, and approval waits a turn holds for tool items it has yet
    /// to report.
    static let maximumPendingApprovals = 256
    /// Ended turns remembered, so that late or repeated messages for them are ignored.
    static let rememberedEndedTurns = 65_536

    /// Unix milliseconds as nanoseconds, or `nil` for a time outside 2000…2100.
    static func nanoseconds(fromUnixMilliseconds milliseconds: Int64) -> UInt64? {
        nanoseconds(fromUnixNanoseconds: milliseconds.multipliedSaturated(by: 1_000_000))
    }

    /// Unix nanoseconds, or `nil` for a time outside 2000…2100.
    static func nanoseconds(fromUnixNanoseconds nanoseconds: Int64) -> UInt64? {
        believableUnixNanoseconds.contains(nanoseconds) ? UInt64(nanoseconds) : nil
    }

    /// A duration in milliseconds, or `nil` for a negative or absurd one.
    static func duration(milliseconds: Int64) -> Int64? {
        (0...maximumDurationMilliseconds).contains(milliseconds) ? milliseconds : nil
    }

    /// A name kept as it is if short enough, else `invalid`: a long name is not a name.
    static func boundedName(_ name: String) -> String {
        name.utf8.count <= maximumNameLength ? name : "invalid"
    }

    /// A status or class kept as it is if its name is short enough, else `invalid`.
    static func boundedName<Name: RawRepresentable<String>>(_ name: Name) -> Name {
        Name(rawValue: boundedName(name.rawValue)) ?? name
    }
}

extension TokenUsage {
    /// Whether every count lies between zero and `limit`: `SessionLimits.maximumTokenCount` for a snapshot,
    /// `SessionLimits.maximumCallTokens` for one model call.
    func hasCounts(upTo limit: Int64) -> Bool {
        let counts = 0...limit
        return counts.contains(input) && counts.contains(cachedInput) && counts.contains(cacheWriteInput)
            && counts.contains(output) && counts.contains(reasoningOutput)
    }
}

/// The most recent keys of a bounded number, remembered by a 64-bit hash: a set that forgets its oldest entries.
///
/// A hash stands in for the key to keep memory small and flat whatever the ids' length; a false match needs a
/// 64-bit collision among the keys remembered.
///
/// The keys are held once, in the order they came (a ring, the oldest overwritten); an open-addressing table of
/// 32-bit positions into it finds them, at most three quarters full. A full set of 65,536 keys takes 1 MiB, where a
/// `Set` beside the ring took 1.5 MiB, and 3 MiB while it grew.
struct RecentKeys: Sendable {
    private let capacity: Int
    /// The keys, in the order they came until the ring is full; then `next` is the oldest.
    private var order: [Int] = []
    private var next = 0
    /// Each slot 0 (empty) or one more than a key's position in `order`; a power of two long.
    private var slots: [Int32] = []
    /// Whether a key was ever forgotten to make room: then what it holds no longer follows from what went in.
    private var hasForgotten = false
    /// Keys looked up and not found, kept by a set begun empty in place of another (see `agrees(with:)`): what it
    /// took for granted that the other did not hold.
    private var misses: [Int]?

    /// A set that keeps its last `capacity` keys; with `recordingMisses`, one that stands in for another set it
    /// cannot see, and keeps what it assumed of it.
    init(capacity: Int, recordingMisses: Bool = false) {
        self.capacity = capacity
        if recordingMisses { misses = [] }
    }

    static func hash(_ key: String) -> Int {
        var hasher = Hasher()
        hasher.combine(key)
        return hasher.finalize()
    }

    /// The hash of a key in two parts (a turn's thread and id), taken for every message: no list is made of them.
    static func hash(_ first: String, _ second: String) -> Int {
        var hasher = Hasher()
        hasher.combine(first)
        hasher.combine(second)
        return hasher.finalize()
    }

    /// Whether `key` is remembered; a miss is kept when the set stands in for another.
    mutating func contains(_ key: Int) -> Bool {
        if slot(of: key).found { return true }
        misses?.append(key)
        return false
    }

    mutating func insert(_ key: Int) {
        var probe = slot(of: key)
        guard !probe.found else { return }
        let position: Int
        if order.count < capacity {
            position = order.count
            // Past a few thousand keys, room for all of them is made at once: its pages are taken only as keys
            // come, and the list is never copied to grow (which held it twice, for a moment).
            if order.count == order.capacity, order.count >= 4096 { order.reserveCapacity(capacity) }
            order.append(key)
            // A table grown places every key, this one with them.
            guard 3 * slots.count >= 4 * order.count else { return rebuildSlots() }
        } else {
            position = next
            removeSlot(slot(of: order[position]).index)
            order[position] = key
            next = (next + 1) % capacity
            hasForgotten = true
            // The removal may have emptied a slot on the way to where the probe stopped: probed again.
            probe = slot(of: key)
        }
        slots[probe.index] = Int32(position + 1)
    }

    /// Whether `standIn`, begun empty with misses recorded, answered every lookup as this set would have, had the
    /// same keys been inserted into it instead: it missed none this set holds, and forgot none of its own.
    func agrees(with standIn: RecentKeys) -> Bool {
        !standIn.hasForgotten && standIn.misses?.allSatisfy { !slot(of: $0).found } == true
    }

    /// The slot that holds `key`, or the empty one where probing for it stopped.
    private func slot(of key: Int) -> (index: Int, found: Bool) {
        guard !slots.isEmpty else { return (0, false) }
        var index = home(of: key)
        while slots[index] != 0 {
            if order[Int(slots[index]) - 1] == key { return (index, true) }
            index = (index + 1) & (slots.count - 1)
        }
        return (index, false)
    }

    /// Where probing for `key` starts. The keys are hashes already; the multiplication spreads a run of small ones.
    private func home(of key: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: Int64(key)) &* 0x9E37_79B9_7F4A_7C15) >> 32) & (slots.count - 1)
    }

    /// Empties a slot, moving back the entries after it that probing would no longer reach (linear probing's
    /// deletion, without tombstones).
    private mutating func removeSlot(_ emptied: Int) {
        let mask = slots.count - 1
        var hole = emptied
        var index = (emptied + 1) & mask
        slots[hole] = 0
        while slots[index] != 0 {
            let home = home(of: order[Int(slots[index]) - 1])
            // The entry stays unless its home lies cyclically after the hole and up to where it is.
            if (index - home) & mask >= (index - hole) & mask {
                slots[hole] = slots[index]
                slots[index] = 0
                hole = index
            }
            index = (index + 1) & mask
        }
    }

    /// Doubles the table (at least 64 slots, at most four thirds of the capacity rounded up) and places every key
    /// again.
    private mutating func rebuildSlots() {
        var size = max(64, slots.count * 2)
        while 3 * size < 4 * order.count { size *= 2 }
        slots = Array(repeating: 0, count: size)
        for (position, key) in order.enumerated() { slots[slot(of: key).index] = Int32(position + 1) }
    }

    /// Inserts what `standIn` (which forgot nothing) inserted, in its order.
    mutating func insert(contentsOf standIn: RecentKeys) {
        for key in standIn.order { insert(key) }
    }
}
