/// The parts of a JSON document worth building: everything else is checked and skipped without being built.
///
/// A line can be megabytes of content of which a reader wants a few ids and counts; building all of it costs time
/// and, for a line of many tiny values, many times the line's size in memory. With a selection, memory follows
/// what is kept, not what is read.
public struct JSONSelection: Sendable {
    /// The members wanted of an object: their names, and each one's selection, in the same order.
    struct Members: Sendable {
        let names: NameTable
        let keys: [String]
        let selections: [JSONSelection]
    }

    /// The members wanted of an object, or `nil` for the whole value.
    let members: Members?
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
        let entries = Array(members)
        let keys = entries.map(\.key)
        return JSONSelection(
            members: Members(names: NameTable(keys), keys: keys, selections: entries.map(\.value))
        )
    }
}
