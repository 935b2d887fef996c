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

    /// The whole value.
    public static let everything = JSONSelection(members: nil)

    /// Of an object, only the members named, each selected in turn. Where the value is not an object, a number,
    /// string, Boolean or null is kept as it is, and an array is kept empty.
    public static func members(_ members: [String: JSONSelection]) -> JSONSelection {
        JSONSelection(
            members: members.map { Member(name: Array($0.key.utf8), selection: $0.value) }
        )
    }

    static func member(named name: some Collection<UInt8>, in members: [Member]) -> Member? {
        members.first { $0.name.elementsEqual(name) }
    }
}
