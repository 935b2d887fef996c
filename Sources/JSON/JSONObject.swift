/// The members of a JSON object: each name once (a later member of the same name replaces the earlier one), kept
/// in the order they came, and equal to another object with the same members in any order.
///
/// Objects read from the wire hold a handful of members; a list searched in order finds one faster than hashing
/// its name would. Past `indexedFrom` members a dictionary index is kept as well, so a hostile object of millions
/// of members is still read in linear time.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    private var names: [String] = []
    private var storedValues: [JSONValue] = []
    private var index: [String: Int]?

    /// How many members an object holds before it keeps an index of their names.
    static let indexedFrom = 32

    public init() {}

    /// An object with room for `capacity` members.
    public init(minimumCapacity capacity: Int) {
        names.reserveCapacity(capacity)
        storedValues.reserveCapacity(capacity)
    }

    public init(_ members: [String: JSONValue]) {
        self.init(minimumCapacity: members.count)
        for (name, value) in members { self[name] = value }
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(minimumCapacity: elements.count)
        for (name, value) in elements { self[name] = value }
    }

    public var count: Int { names.count }
    public var isEmpty: Bool { names.isEmpty }
    /// The names, in the order the members came.
    public var keys: [String] { names }
    public var values: [JSONValue] { storedValues }

    /// The member named `name`; setting `nil` removes it.
    public subscript(name: String) -> JSONValue? {
        get { position(of: name).map { storedValues[$0] } }
        set {
            guard let newValue else {
                removeValue(forKey: name)
                return
            }
            if let position = position(of: name) {
                storedValues[position] = newValue
                return
            }
            names.append(name)
            storedValues.append(newValue)
            if index != nil {
                index?[name] = names.count - 1
            } else if names.count >= Self.indexedFrom {
                index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey name: String) -> JSONValue? {
        guard let position = position(of: name) else { return nil }
        names.remove(at: position)
        let removed = storedValues.remove(at: position)
        if index != nil {
            index =
                names.count >= Self.indexedFrom
                ? Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) }) : nil
        }
        return removed
    }

    private func position(of name: String) -> Int? {
        if let index { return index[name] }
        return names.firstIndex(of: name)
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: JSONValue)> {
        zip(names, storedValues).lazy.map { (key: $0, value: $1) }.makeIterator()
    }

    /// The same members, whatever their order.
    public static func == (left: JSONObject, right: JSONObject) -> Bool {
        left.count == right.count && zip(left.names, left.storedValues).allSatisfy { right[$0] == $1 }
    }

    public func hash(into hasher: inout Hasher) {
        // Order-free: each member hashed on its own, then combined by a commutative sum.
        var sum = 0
        for (name, value) in zip(names, storedValues) {
            var member = Hasher()
            member.combine(name)
            member.combine(value)
            sum &+= member.finalize()
        }
        hasher.combine(count)
        hasher.combine(sum)
    }
}
