#if canImport(Glibc)
import Glibc
#endif

/// The parts of a JSON document worth building: everything else is checked and skipped without being built.
///
/// A line can be megabytes of content of which a reader wants a few ids and counts; building all of it costs time
/// and, for a line of many tiny values, many times the line's size in memory. With a selection, memory follows
/// what is kept, not what is read.
public struct JSONSelection: Sendable {
    struct Member: Sendable {
        let name: String
        let selection: JSONSelection
        /// The name's bytes, and its first eight (zero after its end) as one word: most names differ there, so
        /// nearly every name looked for that is not this one is told apart by one comparison.
        let bytes: [UInt8]
        let head: UInt64

        init(name: String, selection: JSONSelection) {
            self.name = name
            self.selection = selection
            bytes = Array(name.utf8)
            head = bytes.withUnsafeBufferPointer(Member.head)
        }

        @inline(__always)
        static func head(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
            guard name.count < 8 else { return UnsafeRawPointer(name.baseAddress!).loadUnaligned(as: UInt64.self) }
            var head: UInt64 = 0
            for position in 0..<name.count { head |= UInt64(name[position]) &<< (position &* 8) }
            return head
        }
    }

    /// The members wanted of an object, or `nil` for the whole value.
    let members: [Member]?
    /// How many bytes of a string to keep; the rest is checked and skipped.
    var stringLimit = Int.max

    /// The whole value.
    public static let everything = JSONSelection(members: nil)

    /// Of a string, its first `bytes` bytes (UTF-8, decoded; a character cut in two is repaired); any other value
    /// whole. For the few words a reader wants at the head of a long text.
    public static func head(_ bytes: Int) -> JSONSelection {
        JSONSelection(members: nil, stringLimit: max(0, bytes))
    }

    /// Of an object, only the members named, each selected in turn. Where the value is not an object, a number,
    /// string, Boolean or null is kept as it is, and an array is kept empty.
    public static func members(_ members: [String: JSONSelection]) -> JSONSelection {
        JSONSelection(
            members: members.map { Member(name: $0.key, selection: $0.value) }
        )
    }

    /// Where the member named `name` is among `members`, if it is.
    static func position(ofMemberNamed name: UnsafeBufferPointer<UInt8>, in members: [Member]) -> Int? {
        let head = Member.head(name)
        return members.withUnsafeBufferPointer { members in
            for position in members.indices where members[position].head == head {
                let matches = members[position].bytes.withUnsafeBufferPointer {
                    $0.count == name.count
                        && (name.count <= 8 || memcmp($0.baseAddress!, name.baseAddress!, name.count) == 0)
                }
                if matches { return position }
            }
            return nil
        }
    }
}
