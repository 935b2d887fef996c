import Foundation
import JSON
import TestSupport
import Testing

/// Parsing with a selection against a full parse followed by a reference projection: the same documents accepted,
/// the same values kept, on the fixtures, on generated documents and on damaged bytes.
struct JSONSelectionTests {
    /// A selection as a plain tree, with the reference meaning of each node written out in `project`.
    indirect enum Spec {
        case everything
        case members([String: Spec])
        case head(Int)

        var selection: JSONSelection {
            switch self {
            case .everything: .everything
            case .members(let members): .members(members.mapValues(\.selection))
            case .head(let bytes): .head(bytes)
            }
        }

        /// What a selection keeps of a fully parsed value.
        func project(_ value: JSONValue) -> JSONValue {
            switch (self, value) {
            case (.everything, _): value
            case (.members(let wanted), .object(let members)):
                .object(
                    JSONObject(
                        Dictionary(
                            uniqueKeysWithValues: wanted.compactMap { name, spec in
                                members[name].map { (name, spec.project($0)) }
                            }
                        )
                    )
                )
            case (.members, .array): .array([])
            case (.members, _): value
            case (.head(let bytes), .string(let text)):
                .string(String(decoding: text.utf8.prefix(bytes), as: UTF8.self))
            case (.head, _): value
            }
        }

        var cutsStrings: Bool {
            switch self {
            case .everything: false
            case .members(let members): members.values.contains { $0.cutsStrings }
            case .head: true
            }
        }
    }

    static let specs: [Spec] = [
        .members([:]),
        .members(["method": .everything, "id": .everything]),
        .members([
            "method": .everything, "emittedAtMs": .everything,
            "params": .members([
                "threadId": .everything, "turn": .members(["id": .everything, "status": .everything]),
                "item": .members(["id": .everything, "type": .everything, "exitCode": .everything]),
                "tokenUsage": .members(["total": .members(["inputTokens": .everything]), "last": .everything]),
            ]),
            "result": .members(["thread": .members(["id": .everything])]),
        ]),
        .members(["a": .members(["b": .everything]), "ab": .everything, "é": .everything, "": .everything]),
        // The head of strings, decoded: escapes and multi-byte characters on both sides of the cut.
        .head(0), .head(2), .head(5),
        .members([
            "method": .head(6), "a": .head(1), "é": .head(3),
            "params": .members(["delta": .head(4), "item": .head(9), "output": .head(1)]),
        ]),
    ]

    /// Both ways accept the same; where they accept, they keep the same values, unless `bytes` may not be UTF-8:
    /// a head is cut from the string as written, so where it holds a damaged character the whole string, repaired,
    /// differs from it.
    static func expectAgreement(_ bytes: [UInt8], _ context: String, validUTF8: Bool = true) {
        let full = try? JSONValue(parsing: bytes)
        for spec in specs {
            let selected = try? JSONValue(parsing: bytes, selecting: spec.selection)
            #expect((full == nil) == (selected == nil), "acceptance differs: \(context)")
            if let full, let selected, validUTF8 || !spec.cutsStrings {
                #expect(selected == spec.project(full), "\(context)")
            }
        }
    }

    static func fixtureLines() throws -> [[UInt8]] {
        let folder = TestTools.packageRoot.appendingPathComponent("protocol/sessions")
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().flatMap { name in
            Array(try Data(contentsOf: folder.appendingPathComponent(name))).split(separator: 0x0A).map(Array.init)
        }
    }

    @Test func everyFixtureLineIsKeptAlikeBothWays() throws {
        for (position, line) in try Self.fixtureLines().enumerated() { Self.expectAgreement(line, "line \(position)") }
    }

    @Test func generatedDocumentsAreKeptAlikeBothWays() {
        var random = SeededRandom(seed: 7)
        for round in 0..<2000 {
            let document = random.document(depth: 0)
            Self.expectAgreement(Array(document.utf8), "round \(round): \(document)")
        }
    }

    /// Fixture lines cut short or with a byte changed: whatever the damage, both parsers accept the same.
    @Test func damagedBytesAreRefusedAlikeBothWays() throws {
        var random = SeededRandom(seed: 11)
        let lines = try Self.fixtureLines()
        for round in 0..<3000 {
            var line = lines[random.next(below: lines.count)]
            if random.next(below: 2) == 0 {
                line = Array(line.prefix(random.next(below: line.count)))
            } else if !line.isEmpty {
                let replacements = Array(#"{}[]",:\u0"#.utf8) + [0x01, 0xFF, UInt8(ascii: "e"), UInt8(ascii: "-")]
                line[random.next(below: line.count)] = replacements[random.next(below: replacements.count)]
            }
            Self.expectAgreement(line, "round \(round)", validUTF8: String(validating: line, as: UTF8.self) != nil)
        }
    }

    @Test func namesWithEscapesAreMatchedByWhatTheySpell() throws {
        let value = try JSONValue(
            parsing: Array(#"{"a\u0062":1,"\u00e9":2,"x":3}"#.utf8),
            selecting: Self.specs[3].selection
        )
        #expect(value == ["ab": 1, "é": 2])
    }

    /// The hostile line of the issue: sixty megabytes of tiny arrays. Skipped, nothing is built; fully parsed, the
    /// budget refuses it long before memory goes.
    @Test func manySmallValuesAreSkippedOrRefusedNeverBuilt() throws {
        let line =
            Array(#"{"method":"x","params":[["#.utf8)
            + Array(repeating: Array("[],".utf8), count: 2_000_000)
            .joined() + Array("[]]]}".utf8)
        let selected = try JSONValue(
            parsing: line,
            selecting: .members(["method": .everything, "params": .members([:])])
        )
        #expect(selected == ["method": "x", "params": []])
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: line) }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: line, maximumValues: 100) }
    }
}

extension SeededRandom {
    /// A random JSON document, with the names the selections look for among others.
    mutating func document(depth: Int) -> String {
        let names = ["method", "params", "id", "threadId", "turn", "item", "a", "b", "ab", "a\\u0062", "\\u00e9", ""]
        let scalars = ["0", "-1", "1.5e3", "true", "false", "null", #""s""#, #""\"q\\u00e9\"""#, "9223372036854775808"]
        switch depth > 3 ? 0 : next(below: 4) {
        case 1:
            let members = (0..<next(below: 5)).map { _ in
                "\"\(names[next(below: names.count)])\":\(document(depth: depth + 1))"
            }
            return "{" + members.joined(separator: ",") + "}"
        case 2:
            return "[" + (0..<next(below: 4)).map { _ in document(depth: depth + 1) }.joined(separator: " , ") + "]"
        default:
            return scalars[next(below: scalars.count)]
        }
    }
}

extension JSONSelectionTests {
    /// Strings are skipped and read sixteen bytes at a time, then eight: a quote, an escape, a control character or
    /// a character of several bytes at every place of a long string is found, and what both ways accept and keep is
    /// what Foundation does.
    @Test func aByteThatNeedsAttentionIsFoundAtAnyPlaceOfAString() throws {
        let specials: [[UInt8]] = [
            Array(#"\""#.utf8), Array(#"\\"#.utf8), Array(#"\n"#.utf8), Array(#"\u00e9"#.utf8), [0x01], [0x1F], [0x7F],
            Array("é".utf8), [0x22],
        ]
        for special in specials {
            for place in 0..<40 {
                let text =
                    Array(repeating: UInt8(ascii: "a"), count: place) + special
                    + Array(repeating: UInt8(ascii: "b"), count: 40 - place)
                let document = Array(#"{"a":""#.utf8) + text + Array(#"","method":""#.utf8) + text + Array(#""}"#.utf8)
                let context = "\(special) at \(place)"
                Self.expectAgreement(document, context)
                let foundation = try? JSONSerialization.jsonObject(with: Data(document)) as? [String: String]
                #expect(
                    (try? JSONValue(parsing: document))
                        == foundation.map { .object(JSONObject($0.mapValues { .string($0) })) },
                    "\(context)"
                )
            }
        }
    }
}
