/// The members of a JSON object: each name once (setting a name again replaces its value; the parser keeps the
/// first of a name given twice), kept in the order they came, and equal to another object with the same members in
/// any order.
///
/// Names are told apart by their UTF-8 bytes, as RFC 8259 §8.3 compares them, not by Swift's `String` equality:
/// that one takes canonically equivalent names for one (U+212A KELVIN SIGN and `K`, a precomposed `é` and `e` with
/// its accent), where a selection, which goes by bytes, and every other JSON reader keep two members.
///
/// Objects read from the wire hold a handful of members; a list searched in order finds one faster than hashing
/// its name would. Past `indexedFrom` members a dictionary index is kept as well, so a hostile object of millions
/// of members is still read in linear time.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    private struct Member: Sendable {
        var name: String
        var value: JSONValue
    }

    /// One allocation per object: the few members of one read from the wire sit side by side.
    private var members: [Member] = []
    private var index: [MemberName: Int]?

    /// How many members an object holds before it keeps an index of their names.
    static let indexedFrom = 32

    public init() {}

    /// An object with room for `capacity` members.
    public init(minimumCapacity capacity: Int) {
        members.reserveCapacity(capacity)
    }

    public init(_ members: [String: JSONValue]) {
        self.init(minimumCapacity: members.count)
        for (name, value) in members { self[name] = value }
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(minimumCapacity: elements.count)
        for (name, value) in elements { self[name] = value }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    /// The names, in the order the members came.
    public var keys: [String] { members.map(\.name) }
    public var values: [JSONValue] { members.map(\.value) }

    /// The member named `name`; setting `nil` removes it.
    public subscript(name: String) -> JSONValue? {
        get { position(of: name).map { members[$0].value } }
        set {
            guard let newValue else {
                removeValue(forKey: name)
                return
            }
            if let position = position(of: name) {
                members[position].value = newValue
                return
            }
            members.append(Member(name: name, value: newValue))
            if index != nil {
                index?[MemberName(name)] = members.count - 1
            } else if members.count >= Self.indexedFrom {
                index = indexed
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey name: String) -> JSONValue? {
        guard let position = position(of: name) else { return nil }
        let removed = members.remove(at: position).value
        if index != nil { index = members.count >= Self.indexedFrom ? indexed : nil }
        return removed
    }

    private var indexed: [MemberName: Int] {
        Dictionary(uniqueKeysWithValues: members.enumerated().map { (MemberName($1.name), $0) })
    }

    private func position(of name: String) -> Int? {
        if let index { return index[MemberName(name)] }
        return members.firstIndex { sameBytes($0.name, name) }
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: JSONValue)> {
        members.lazy.map { (key: $0.name, value: $0.value) }.makeIterator()
    }

    /// The same members, whatever their order.
    public static func == (left: JSONObject, right: JSONObject) -> Bool {
        left.count == right.count && left.members.allSatisfy { right[$0.name] == $0.value }
    }

    public func hash(into hasher: inout Hasher) {
        // Order-free: each member hashed on its own, then combined by a commutative sum.
        var sum = 0
        for member in members {
            var one = Hasher()
            one.combine(MemberName(member.name))
            one.combine(member.value)
            sum &+= one.finalize()
        }
        hasher.combine(count)
        hasher.combine(sum)
    }
}

/// A member's name as a key: equal and hashed by its UTF-8 bytes.
private struct MemberName: Hashable {
    let name: String

    init(_ name: String) { self.name = name }

    static func == (left: MemberName, right: MemberName) -> Bool { sameBytes(left.name, right.name) }

    func hash(into hasher: inout Hasher) {
        var name = name
        name.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Whether two names are the same UTF-8 bytes.
private func sameBytes(_ left: String, _ right: String) -> Bool {
    let contiguous = left.utf8.withContiguousStorageIfAvailable { mine in
        right.utf8.withContiguousStorageIfAvailable { theirs in mine.elementsEqual(theirs) }
    }
    return (contiguous ?? nil) ?? left.utf8.elementsEqual(right.utf8)
}
