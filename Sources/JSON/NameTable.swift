#if canImport(Glibc)
import Glibc
#endif

/// The names a reader looks for (of members, methods, record types), found by the raw bytes a line spells one with.
///
/// Each name's first eight bytes are kept as one word (zero past its end): most names differ there, so nearly every
/// name that is none of these is told apart by one comparison per name, and the rest of a longer one is compared
/// only when those match.
package struct NameTable: Sendable {
    private let names: [[UInt8]]
    private let heads: [UInt64]

    package init(_ names: some Sequence<String>) {
        self.names = names.map { Array($0.utf8) }
        heads = self.names.map { $0.withUnsafeBufferPointer(Self.head) }
    }

    package var count: Int { names.count }

    /// Whether `name` is one of the names.
    package func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        position(of: name.assumingMemoryBound(to: UInt8.self)) != nil
    }

    /// Where `name` is among the names, in the order they were given; `nil` if it is none of them. An escaped name
    /// is compared as it is written.
    package func position(of name: UnsafeBufferPointer<UInt8>) -> Int? {
        let head = Self.head(name)
        return heads.withUnsafeBufferPointer { heads in
            names.withUnsafeBufferPointer { names in
                heads.indices.first { position in
                    heads[position] == head
                        && names[position].withUnsafeBufferPointer {
                            $0.count == name.count
                                && (name.count <= 8 || memcmp($0.baseAddress!, name.baseAddress!, name.count) == 0)
                        }
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
