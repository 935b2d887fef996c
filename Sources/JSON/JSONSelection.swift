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
        var name: [UInt8]
        var selection: JSONSelection
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
            members: members.map { Member(name: Array($0.key.utf8), selection: $0.value) }
        )
    }

    static func member(named name: UnsafeBufferPointer<UInt8>, in members: [Member]) -> Member? {
        members.first { member in
            member.name.count == name.count
                && (name.isEmpty
                    || member.name.withUnsafeBufferPointer {
                        memcmp($0.baseAddress!, name.baseAddress!, name.count) == 0
                    })
        }
    }
}
