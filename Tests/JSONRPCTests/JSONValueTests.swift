import Foundation
import JSON
import JSONRPC
import Testing

struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONValue(
            parsing:
                #" {"s":"a\"b\\c\n\u00e9\ud83d\ude00","i":-42,"big":9007199254740993,"d":1.5e3,"t":true,"f":false,"n":null,"a":[1,[2],{}]} "#
        )
        #expect(value["s"] == .string("a\"b\\c\né😀"))
        #expect(value["i"] == .int(-42))
        #expect(value["big"]?.int == 9_007_199_254_740_993)
        #expect(value["d"]?.double == 1500)
        #expect(value["t"] == .bool(true))
        #expect(value["f"] == .bool(false))
        #expect(value["n"] == .null)
        #expect(value["a"] == [1, [2], [:]])
    }

    @Test(arguments: [
        "", "{", "{\"a\"}", "{\"a\":1,}", "[1,]", "tru", "01x", "\"unterminated", "{\"a\":1} extra", "-", "1.", "1e",
        "\"tab\there\"", "{'a':1}", "nan",
    ])
    func rejectsWhatIsNotJSON(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test(arguments: [
        (Int64.min, "-9223372036854775808"), (-7, "-7"), (0, "0"), (10, "10"), (.max, "9223372036854775807"),
    ])
    func integersAreWrittenExactly(value: Int64, text: String) {
        #expect(String(decoding: JSONValue.int(value).serialized(), as: UTF8.self) == text)
    }

    /// Integers are read exactly to the ends of 64 bits, whatever their length; past them, and with a fraction or
    /// an exponent, they are doubles.
    @Test(arguments: [
        "0", "-0", "7", "-7", "123456789012345678", "-123456789012345678", "999999999999999999", "1234567890123456789",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
        "123456789012345678901234", "1.0", "1e3", "-2.5E-3",
    ])
    func numbersAreReadAsTheirTextSays(text: String) throws {
        let expected: JSONValue = Int64(text).map(JSONValue.int) ?? .double(Double(text)!)
        #expect(try JSONValue(parsing: text) == expected)
    }

    /// What RFC 8259 forbids, and a number no double can hold, are refused as Foundation refuses them, whether the
    /// value is built or passed over (the differential fuzzer found each).
    @Test(arguments: ["01", "-01", "00.5", "1e400", "-1E+400", "1796441E915123", "[1, 1e400]"])
    func numbersFoundationRefusesAreRefused(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
        #expect(throws: JSONParseError.self) {
            try JSONValue(
                parsing: Array(#"{"kept":1,"skipped":\#(text)}"#.utf8),
                selecting: .members(["kept": .everything])
            )
        }
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) == nil)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
    }

    @Test func agreesWithFoundationOnARoundTrip() throws {
        let original: JSONValue = [
            "text": "line\nbreak \"quoted\" \u{1} é", "list": [1, .double(2.5), true, nil], "empty": [:],
        ]
        let serialized = String(decoding: original.serialized(), as: UTF8.self)
        #expect(try JSONValue(parsing: serialized) == original)
        let foundation = try JSONSerialization.jsonObject(with: Data(serialized.utf8)) as? [String: Any]
        #expect(foundation?["text"] as? String == "line\nbreak \"quoted\" \u{1} é")
    }
}

/// An object's members: each name once, the first of a name given twice kept (as every reader that goes by a line's
/// first bytes keeps it), equal and hashed alike in any order; small objects are a list, large ones indexed as well.
struct JSONObjectTests {
    @Test func membersAreEqualAndHashedAlikeInAnyOrder() throws {
        let forward = try JSONValue(parsing: #"{"a":1,"b":[true,null],"c":{"d":"e"}}"#)
        let backward = try JSONValue(parsing: #"{"c":{"d":"e"},"b":[true,null],"a":1}"#)
        #expect(forward == backward)
        #expect(forward.hashValue == backward.hashValue)
        #expect(forward != (try JSONValue(parsing: #"{"a":1,"b":[true,null]}"#)))
        #expect(try JSONValue(parsing: #"{"a":1,"a":2}"#) == ["a": 1])
        // The later one is still checked.
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: #"{"a":1,"a":[}"#) }
    }

    /// RFC 8259 §8.3 compares names by their code units. Swift's `String` equality takes U+212A KELVIN SIGN for `K`,
    /// and a decomposed `é` for a precomposed one: a whole parse then found the first of the two where a selection,
    /// which goes by bytes, found the second, and an object large enough to be indexed trapped on the pair.
    @Test(arguments: [("\u{212A}", "K"), ("e\u{301}", "\u{E9}")])
    func namesSwiftCallsEquivalentAreTwoMembers(first: String, second: String) throws {
        for fillers in [0, 40] {  // a list, and an indexed object
            let filler = (0..<fillers).map { #""f\#($0)":0,"# }.joined()
            let text = #"{\#(filler)"\#(first)":2,"\#(second)":1}"#
            let whole = try #require(try JSONValue(parsing: text).object)
            #expect(whole.count == fillers + 2)
            #expect(whole[first] == 2)
            #expect(whole[second] == 1)
            let selected = try JSONValue(parsing: Array(text.utf8), selecting: .members([second: .everything]))
            #expect(selected == [second: 1])
            #expect(selected != [first: 1])
        }
    }

    @Test func aLargeObjectIsIndexedAndStillReadsWritesAndRemoves() throws {
        let count = 100_000
        let text = "{" + (0..<count).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + #","k7":"last"}"#
        var members = try #require(try JSONValue(parsing: text).object)
        #expect(members.count == count)
        #expect(members["k7"] == 7)
        #expect(members["k99999"] == 99_999)
        members["k5"] = nil
        #expect(members["k5"] == nil)
        #expect(members["k6"] == 6)
        #expect(members.count == count - 1)
        members["new"] = true
        #expect(members["new"] == true)
        // Back under the threshold, the list alone serves.
        var small = JSONObject()
        for position in 0..<40 { small["m\(position)"] = .int(Int64(position)) }
        for position in 0..<20 { small["m\(position)"] = nil }
        #expect(small.count == 20)
        #expect(small["m25"] == 25)
        #expect(small["m3"] == nil)
    }
}
