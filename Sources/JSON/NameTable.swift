#if canImport(Glibc)
import Glibc
#endif

/// The names a reader looks for (of members, methods, record types), found by the raw bytes a line spells one with.
///
/// Each name's first eight bytes are kept as one word (zero past its end), and a table at least four times the
/// number of names holds each at the place that word and its length hash to: a name is nearly always found, or
/// known to be none of these, at its first place, by one comparison of words; the rest of a longer name is compared
/// only when those match.
package struct NameTable: Sendable {
    /// Each name's first eight bytes, its length and where its bytes start in `bytes`, side by side: one array,
    /// read in place (an array per name would be retained and released at each comparison).
    private let entries: [(head: UInt64, length: Int, start: Int)]
    private let bytes: [UInt8]
    /// By the hash of a name's head and length, its position in `entries`, or at the next place free when that one
    /// is taken; -1 where no name is. A power of two long.
    private let places: [Int32]
    /// How far a hash is shifted to give a place.
    private let shift: UInt64

    package init(_ names: some Sequence<String>) {
        var bytes: [UInt8] = []
        var entries: [(head: UInt64, length: Int, start: Int)] = []
        for name in names {
            let start = bytes.count
            bytes += name.utf8
            let head = bytes.withUnsafeBufferPointer { Self.head(UnsafeBufferPointer(rebasing: $0[start...])) }
            entries.append((head, bytes.count - start, start))
        }
        var bits: UInt64 = 4
        while 1 << bits < 4 * entries.count { bits += 1 }
        var places = [Int32](repeating: -1, count: 1 << bits)
        // In the order given, so that of a name given twice, the first is found.
        for (position, entry) in entries.enumerated() {
            var place = Self.place(entry.head, entry.length, shift: 64 - bits)
            while places[place] >= 0 { place = (place + 1) & (places.count - 1) }
            places[place] = Int32(position)
        }
        self.entries = entries
        self.bytes = bytes
        self.places = places
        self.shift = 64 - bits
    }

    package var count: Int { entries.count }

    /// Whether `name` is one of the names.
    package func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        position(of: name.assumingMemoryBound(to: UInt8.self)) != nil
    }

    /// Whether `name` is one of the names: for a name asked of every message, found by its bytes, not hashed.
    package func contains(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { position(of: $0) != nil }
    }

    /// Where `name` is among the names, in the order they were given; `nil` if it is none of them. An escaped name
    /// is compared as it is written.
    package func position(of name: UnsafeBufferPointer<UInt8>) -> Int? {
        let head = Self.head(name)
        return places.withUnsafeBufferPointer { places in
            entries.withUnsafeBufferPointer { entries in
                bytes.withUnsafeBufferPointer { bytes in
                    // A quarter full at most: a free place always ends the search.
                    var place = Self.place(head, name.count, shift: shift)
                    while case let position = Int(places[place]), position >= 0 {
                        let entry = entries[position]
                        if entry.head == head && entry.length == name.count
                            && (name.count <= 8
                                || memcmp(bytes.baseAddress! + entry.start, name.baseAddress!, name.count) == 0)
                        {
                            return position
                        }
                        place = (place &+ 1) & (places.count &- 1)
                    }
                    return nil
                }
            }
        }
    }

    @inline(__always)
    private static func place(_ head: UInt64, _ length: Int, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: ((head ^ UInt64(truncatingIfNeeded: length)) &* 0x9E37_79B9_7F4A_7C15) &>> shift)
    }

    @inline(__always)
    private static func head(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard name.count < 8 else { return UnsafeRawPointer(name.baseAddress!).loadUnaligned(as: UInt64.self) }
        var head: UInt64 = 0
        for position in 0..<name.count { head |= UInt64(name[position]) &<< (position &* 8) }
        return head
    }
}
