#if canImport(Glibc)
import Glibc
#endif

/// Why a line is not a JSON document.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte offset where parsing stopped.
    public var offset: Int
    /// What was expected there.
    public var reason: String

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }

    package init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
}

extension JSONValue {
    /// The most values built from one document by default: a million, tens of megabytes at worst. A document of
    /// more small values than that is refused rather than built.
    public static let defaultMaximumValues = 1 << 20

    /// Parses one complete JSON document (RFC 8259) from UTF-8 bytes, building only what `selection` wants.
    ///
    /// What is not selected is still checked, so a document that is not JSON is refused whatever is selected. Of a
    /// name given twice in an object, the first member is kept.
    /// - Parameters:
    ///   - bytes: the document.
    ///   - selection: the parts to build; the rest is skipped without being built.
    ///   - maximumValues: how many values may be built: a bound on memory whatever the document.
    /// - Throws: `JSONParseError` when the bytes are not exactly one JSON value, optionally surrounded by white
    ///   space, or would build more than `maximumValues` values.
    public init(
        parsing bytes: some Collection<UInt8>,
        selecting selection: JSONSelection = .everything,
        maximumValues: Int = defaultMaximumValues
    ) throws(JSONParseError) {
        let parse = { (buffer: UnsafeBufferPointer<UInt8>) in
            JSONParser.parse(buffer, selection: selection, maximumValues: maximumValues)
        }
        let result = bytes.withContiguousStorageIfAvailable(parse) ?? Array(bytes).withUnsafeBufferPointer(parse)
        self = try result.get()
    }

    /// Parses one complete JSON document from a string.
    public init(parsing text: String) throws(JSONParseError) {
        var text = text
        self = try text.withUTF8 {
            JSONParser.parse($0, selection: .everything, maximumValues: Self.defaultMaximumValues)
        }
        .get()
    }
}

/// A walk through one JSON document, member by member, for a reader that knows the layout it expects and wants a
/// few of its values without building the objects around them. Everything it passes over is checked as parsing
/// checks it, within the same bounds, so a document it walks to its end (`finish`) is one the parser accepts.
package struct JSONMemberReader {
    private var parser: JSONParser

    /// A reader at the start of `bytes`, which builds at most `maximumValues` values.
    package init(_ bytes: UnsafeBufferPointer<UInt8>, maximumValues: Int = JSONValue.defaultMaximumValues) {
        parser = JSONParser(bytes, maximumValues: maximumValues)
    }

    /// The first byte of the value here, after any white space: `{`, `[`, `"`, a digit, `-`, `t`, `f` or `n` in a
    /// document; `nil` at its end.
    package mutating func peek() -> UInt8? {
        parser.skipWhitespace()
        return parser.index < parser.bytes.count ? parser.bytes[parser.index] : nil
    }

    /// Walks the object here, calling `member` with each member's raw name (escapes left as they are); `member`
    /// must read or skip the value.
    package mutating func forEachMember(
        _ member: (inout JSONMemberReader, UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        guard peek() == UInt8(ascii: "{") else { throw parser.error("expected an object") }
        try parser.forEachMember { parser, name throws(JSONParseError) in
            var reader = JSONMemberReader(parser: parser)
            defer { parser = reader.parser }
            try member(&reader, name)
        }
    }

    /// Walks the array here, calling `element` at the start of each element, which it must read or skip.
    package mutating func forEachElement(
        _ element: (inout JSONMemberReader) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        guard peek() == UInt8(ascii: "[") else { throw parser.error("expected an array") }
        try parser.forEachElement { parser throws(JSONParseError) in
            var reader = JSONMemberReader(parser: parser)
            defer { parser = reader.parser }
            try element(&reader)
        }
    }

    /// The value here, built as `selection` says.
    package mutating func value(_ selection: JSONSelection = .everything) throws(JSONParseError) -> JSONValue {
        try parser.parseValue(selection)
    }

    /// Calls `body` with the bytes of the string here as the parser would build it (escapes decoded, bytes that are
    /// not UTF-8 repaired), without building a `String` when it is plain ASCII; `nil`, and the value passed over,
    /// when it is not a string.
    package mutating func withString<Result>(
        _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) throws(JSONParseError) -> Result? {
        guard peek() == UInt8(ascii: "\"") else {
            try parser.skipValue()
            return nil
        }
        let start = parser.index
        try parser.skipString()
        let raw = UnsafeBufferPointer(rebasing: parser.bytes[start + 1..<parser.index - 1])
        guard raw.contains(where: { $0 == UInt8(ascii: "\\") || $0 >= 0x80 }) else { return body(raw) }
        parser.index = start
        var decoded = try parser.parseValue(.everything).string ?? ""
        return decoded.withUTF8(body)
    }

    /// Moves past the value here, checked, not built.
    package mutating func skipValue() throws(JSONParseError) {
        try parser.skipValue()
    }

    /// How far into the document the reader is: past the value it last read or skipped.
    package var offset: Int { parser.index }

    /// Checks that nothing but white space follows.
    package mutating func finish() throws(JSONParseError) {
        guard peek() == nil else { throw parser.error("unexpected data after the value") }
    }

    private init(parser: JSONParser) {
        self.parser = parser
    }
}

/// A recursive-descent parser over a byte buffer. Nesting is bounded so a hostile line cannot exhaust the stack,
/// and so is the number of values built, so it cannot exhaust memory.
private struct JSONParser {
    fileprivate let bytes: UnsafeBufferPointer<UInt8>
    fileprivate var index = 0
    private var depth = 0
    private var valuesLeft: Int
    private static let maximumDepth = 512

    fileprivate init(_ bytes: UnsafeBufferPointer<UInt8>, maximumValues: Int) {
        self.bytes = bytes
        valuesLeft = maximumValues
    }

    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        selection: JSONSelection,
        maximumValues: Int
    ) -> Result<JSONValue, JSONParseError> {
        var parser = JSONParser(bytes, maximumValues: maximumValues)
        do {
            return .success(try parser.parseDocument(selection))
        } catch {
            return .failure(error)
        }
    }

    private mutating func parseDocument(_ selection: JSONSelection) throws(JSONParseError) -> JSONValue {
        let value = try parseValue(selection)
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected data after the value") }
        return value
    }

    fileprivate func error(_ reason: String) -> JSONParseError { JSONParseError(offset: index, reason: reason) }

    fileprivate mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Counts one value built against the budget.
    private mutating func build() throws(JSONParseError) {
        valuesLeft -= 1
        guard valuesLeft >= 0 else { throw error("more values than the limit") }
    }

    fileprivate mutating func parseValue(_ selection: JSONSelection) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw error("unexpected end of input") }
        try build()
        switch bytes[index] {
        case UInt8(ascii: "{"):
            guard let members = selection.members else { return try parseObject() }
            return try parseObject(selecting: members)
        case UInt8(ascii: "["):
            guard selection.members == nil else {
                try skipValue()
                return .array([])
            }
            return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString(limit: selection.stringLimit))
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    private mutating func expect(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count,
            memcmp(bytes.baseAddress! + index, literal.utf8Start, count) == 0
        else { throw error("invalid literal") }
        index += count
    }

    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth)") }
        index += 1
    }

    /// Walks the members of an object, calling `member` with the parser at the start of each value and the
    /// buffer of its raw name (escapes left as they are), which `member` must consume.
    fileprivate mutating func forEachMember(
        _ member: (inout JSONParser, UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        try enterContainer()
        defer { depth -= 1 }
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let nameStart = index + 1
            try skipString()
            let name = UnsafeBufferPointer(rebasing: bytes[nameStart..<index - 1])
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            try member(&self, name)
            skipWhitespace()
            guard index < bytes.count else { throw error("unterminated object") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw error("expected ',' or '}'")
            }
        }
    }

    /// Walks the elements of an array, calling `element` with the parser at the start of each.
    fileprivate mutating func forEachElement(
        _ element: (inout JSONParser) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        try enterContainer()
        defer { depth -= 1 }
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw error("unterminated array") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw error("expected ',' or ']'")
            }
        }
    }

    /// An object's members, each name's first: a later member of the same name is checked and passed over, as
    /// every reader that goes by a line's first bytes takes the first.
    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        var members = JSONObject()
        try forEachMember { parser, name throws(JSONParseError) in
            let name = try parser.decodeName(name)
            if members[name] == nil {
                members[name] = try parser.parseValue(.everything)
            } else {
                try parser.skipValue()
            }
        }
        return .object(members)
    }

    private mutating func parseObject(selecting wanted: JSONSelection.Members) throws(JSONParseError) -> JSONValue {
        // Room for the few members an object usually has of those wanted, rather than growing from nothing.
        var members = JSONObject(minimumCapacity: min(wanted.names.count, 4))
        try forEachMember { parser, rawName throws(JSONParseError) in
            // Plain names (nearly all) are compared as they are; a name with an escape once decoded.
            let position =
                rawName.contains(UInt8(ascii: "\\"))
                ? Array(try parser.decodeName(rawName).utf8).withUnsafeBufferPointer(wanted.names.position)
                : wanted.names.position(of: rawName)
            if let position, members[wanted.keys[position]] == nil {
                let value = try wanted.selections.withUnsafeBufferPointer { selections throws(JSONParseError) in
                    try parser.parseValue(selections[position])
                }
                members[wanted.keys[position]] = value
            } else {
                try parser.skipValue()
            }
        }
        return .object(members)
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        var elements: [JSONValue] = []
        try forEachElement { parser throws(JSONParseError) in elements.append(try parser.parseValue(.everything)) }
        return .array(elements)
    }

    /// Checks one value and moves past it, building nothing.
    fileprivate mutating func skipValue() throws(JSONParseError) {
        skipWhitespace()
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try forEachMember { parser, _ throws(JSONParseError) in try parser.skipValue() }
        case UInt8(ascii: "["): try forEachElement { parser throws(JSONParseError) in try parser.skipValue() }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try expect("true")
        case UInt8(ascii: "f"): try expect("false")
        case UInt8(ascii: "n"): try expect("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber()
        default: throw error("unexpected character")
        }
    }

    /// Moves past a string (at its opening quote), checking its escapes and that it holds no control character.
    fileprivate mutating func skipString() throws(JSONParseError) {
        index += 1
        try skipRestOfString()
    }

    /// Moves past the rest of a string, from anywhere inside it but an escape, to its closing quote.
    private mutating func skipRestOfString() throws(JSONParseError) {
        while true {
            skipPlainBytes()
            guard index < bytes.count else { break }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                switch bytes[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    index += 1
                    _ = try parseHex4()
                default: throw error("invalid escape")
                }
            case 0..<0x20:
                throw error("control character in string")
            default:
                index += 1
            }
        }
        throw error("unterminated string")
    }

    /// Moves past the bytes of a string that need no attention (neither a quote, a backslash nor a control
    /// character), stopping at the first that does, or within eight bytes of the end: most of a line's bytes are
    /// the text of strings, and this is what makes skipping them cheap. Sixteen bytes are tested at once (three
    /// vector compares: `SIMD16` lowers to SSE2) until a block holds one, then eight at a time to find it.
    @inline(__always)
    private mutating func skipPlainBytes() {
        guard let base = bytes.baseAddress else { return }
        let quotes = SIMD16<UInt8>(repeating: UInt8(ascii: "\""))
        let backslashes = SIMD16<UInt8>(repeating: UInt8(ascii: "\\"))
        let spaces = SIMD16<UInt8>(repeating: 0x20)
        while index &+ 16 <= bytes.count {
            let block = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD16<UInt8>.self)
            if any((block .== quotes) .| (block .== backslashes) .| (block .< spaces)) { break }
            index &+= 16
        }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while index &+ 8 <= bytes.count {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            // A byte is zero in `x` exactly where `(x - 1) & ~x` has its high bit set (the classic test, exact for
            // "is any byte zero": a borrow only runs on from a byte that is itself a match).
            let quotes = word ^ (ones &* 0x22)
            let backslashes = word ^ (ones &* 0x5C)
            let special =
                ((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes) | ((word &- ones &* 0x20) & ~word)
            if special & highs != 0 {
                // The lowest byte flagged is a match: a false one can only follow a true one.
                index &+= (special & highs).trailingZeroBitCount &>> 3
                return
            }
            index &+= 8
        }
    }

    /// The text of a member name given as its raw bytes between the quotes.
    private func decodeName(_ raw: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> String {
        guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
        // Re-read it as a string of its own: the quotes around it are in the buffer.
        var parser = JSONParser(
            UnsafeBufferPointer(rebasing: bytes[(bytes.baseAddress!.distance(to: raw.baseAddress!) - 1)...]),
            maximumValues: 1
        )
        return try parser.parseString()
    }

    /// Reads a string (at its opening quote), keeping at most `limit` bytes of it.
    private mutating func parseString(limit: Int = .max) throws(JSONParseError) -> String {
        index += 1  // the opening quote
        let start = index
        // Fast path: no escapes, so the bytes between the quotes are the string.
        while true {
            skipPlainBytes()
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let end = start + min(index - start, limit)
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("control character in string") }
            index += 1
        }
        // Room for what is kept of most strings at once (a tool output's head, an escaped id), not for the whole
        // line: a short string may sit in a long one.
        var scalars: [UInt8] = []
        scalars.reserveCapacity(min(limit, index - start + 1024))
        scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            if scalars.count >= limit {
                try skipRestOfString()
                return String(decoding: scalars.prefix(limit), as: UTF8.self)
            }
            let plain = index
            skipPlainBytes()
            if index > plain {
                scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plain..<index]))
                continue
            }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: scalars.prefix(limit), as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escaped)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"): scalars.append(contentsOf: try parseUnicodeEscape())
                default: throw error("invalid escape")
                }
            case 0..<0x20:
                throw error("control character in string")
            default:
                scalars.append(byte)
                index += 1
            }
        }
        throw error("unterminated string")
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw error("short \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    /// A `\uXXXX` escape (the `\u` already read), joining a UTF-16 surrogate pair; a lone surrogate becomes U+FFFD.
    private mutating func parseUnicodeEscape() throws(JSONParseError) -> [UInt8] {
        let unit = try parseHex4()
        var scalar = Unicode.Scalar(unit)
        if (0xD800..<0xDC00).contains(unit), index + 6 <= bytes.count,
            bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
        {
            let saved = index
            index += 2
            let low = try parseHex4()
            if (0xDC00..<0xE000).contains(low) {
                scalar = Unicode.Scalar(0x10000 + (UInt32(unit - 0xD800) << 10) + UInt32(low - 0xDC00))
            } else {
                index = saved
            }
        }
        return Array(String(Character(scalar ?? "\u{FFFD}")).utf8)
    }

    /// Moves past a number (RFC 8259 grammar) and says where it began and whether it is an integer.
    private mutating func scanNumber() throws(JSONParseError) -> (start: Int, isIntegral: Bool) {
        let start = index
        var isIntegral = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        skipDigits()
        guard index > digitsStart else { throw error("expected a digit") }
        guard bytes[digitsStart] != UInt8(ascii: "0") || index == digitsStart + 1 else {
            throw error("a number with a leading zero")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isIntegral = false
            index += 1
            let fractionStart = index
            skipDigits()
            guard index > fractionStart else { throw error("expected a digit after '.'") }
        }
        let hasExponent =
            index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E"))
        if hasExponent {
            isIntegral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            let exponentStart = index
            skipDigits()
            guard index > exponentStart else { throw error("expected a digit in the exponent") }
        }
        // A number no double can hold (1e400) is refused, built or skipped, as Foundation refuses it: only an
        // exponent or more digits than a double's range can make one.
        if hasExponent || index - digitsStart > 308 {
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let number = Double(text), number.isFinite else { throw error("a number out of range") }
        }
        return (start, isIntegral)
    }

    private mutating func skipDigits() {
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let (start, isIntegral) = try scanNumber()
        // Most numbers are counts, ids and times: integers of a few digits, read from the bytes. Eighteen digits
        // always fit in 64 bits; longer ones go the way of the rest.
        let negative = bytes[start] == UInt8(ascii: "-")
        let digitsStart = negative ? start + 1 : start
        if isIntegral && index - digitsStart <= 18 {
            var value: Int64 = 0
            for position in digitsStart..<index { value = value &* 10 &+ Int64(bytes[position] &- UInt8(ascii: "0")) }
            return .int(negative ? -value : value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isIntegral, let integer = Int64(text) { return .int(integer) }
        guard let number = Double(text) else { throw error("invalid number") }
        return .double(number)
    }
}
