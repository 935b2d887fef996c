#if canImport(Glibc)
import Glibc
#endif

/// The names a reader looks for (of members, methods, record types), found by the raw bytes a line spells one with.
///
/// Each name's first eight bytes are kept as one word (zero past its end): most names differ there, so nearly every
/// name that is none of these is told apart by one comparison per name, and the rest of a longer one is compared
/// only when those match.
package struct NameTable: Sendable {
    /// Each name's first eight bytes, its length and where its bytes start in `bytes`, side by side: one array,
    /// read in place (an array per name would be retained and released at each comparison).
    private let entries: [(head: UInt64, length: Int, start: Int)]
    private let bytes: [UInt8]

    package init(_ names: some Sequence<String>) {
        var bytes: [UInt8] = []
        var entries: [(head: UInt64, length: Int, start: Int)] = []
        for name in names {
            let start = bytes.count
            bytes += name.utf8
            let head = bytes.withUnsafeBufferPointer { Self.head(UnsafeBufferPointer(rebasing: $0[start...])) }
            entries.append((head, bytes.count - start, start))
        }
        self.entries = entries
        self.bytes = bytes
    }

    package var count: Int { entries.count }

    /// Whether `name` is one of the names.
    package func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        position(of: name.assumingMemoryBound(to: UInt8.self)) != nil
    }

    /// Where `name` is among the names, in the order they were given; `nil` if it is none of them. An escaped name
    /// is compared as it is written.
    package func position(of name: UnsafeBufferPointer<UInt8>) -> Int? {
        let head = Self.head(name)
        return entries.withUnsafeBufferPointer { entries in
            bytes.withUnsafeBufferPointer { bytes in
                entries.indices.first { position in
                    let entry = entries[position]
                    return entry.head == head && entry.length == name.count
                        && (name.count <= 8
                            || memcmp(bytes.baseAddress! + entry.start, name.baseAddress!, name.count) == 0)
                }
            }
        }
    }

    @inline(__always)
    private static func head(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard name.count < 8 else { return UnsafeRawPointer(name.baseAddress!).loadUnaligned(as: UInt64.self) }
        var head: UInt64 = 0
        for position in 0..<name.count { head |= UInt64(name[position]) &<< (position &* 8) }
        return head
    }
}
