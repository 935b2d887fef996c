import JSON
import TestSupport
import Testing

/// `NameTable` against the plainest model of what it promises: the first place a name has in the list given.
struct NameTableTests {
    /// Names over two letters, most of one length or sharing their first eight bytes, so that places collide: each
    /// name looked up, and as many that are none of them.
    @Test(arguments: [1, 5, 40, 300])
    func aNameIsFoundAtItsFirstPlaceAndNoOtherNameIsFound(count: Int) {
        var random = SeededRandom(seed: UInt64(count))
        func name() -> String {
            let prefix = random.next(below: 2) == 0 ? "abababab" : ""
            let letters = (0..<random.next(below: 12)).map { _ in random.next(below: 2) == 0 ? "a" : "b" }
            return prefix + letters.joined()
        }
        let names = (0..<count).map { _ in name() }
        let table = NameTable(names)
        for candidate in names + (0..<count).map({ _ in name() }) + ["", "abababa", "ababababa"] {
            var bytes = Array(candidate.utf8)
            let found = bytes.withUnsafeMutableBufferPointer { table.position(of: UnsafeBufferPointer($0)) }
            #expect(found == names.firstIndex(of: candidate), "\(candidate)")
        }
    }
}
