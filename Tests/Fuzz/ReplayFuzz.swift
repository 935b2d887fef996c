import CodexTelemetry
import Foundation
import JSON

/// The differential fuzz target: for any bytes, the fast path of a replay (lines passed over by their first bytes,
/// rollout records scanned) gives what the full path (every line parsed) gives, and our JSON parser accepts exactly
/// the documents Foundation's accepts. A disagreement stops the process, and libFuzzer keeps the input.
///
/// Built for libFuzzer by `scripts/fuzz`, with `-DFUZZING`; built as a plain executable otherwise, it runs the
/// checks once on each file it is given: a saved input replayed, or the seed corpus.
enum ReplayFuzz {
    static func check(_ input: UnsafeRawBufferPointer) {
        fastPathAgreesWithFullPath(input)
        for line in input.split(separator: 0x0A, omittingEmptySubsequences: true) {
            parserAgreesWithFoundation(UnsafeRawBufferPointer(rebasing: line))
            selectionAgreesWithWholeParse(UnsafeRawBufferPointer(rebasing: line))
        }
    }

    /// The same events and the same messages followed, both ways, over the input as one file.
    static func fastPathAgreesWithFullPath(_ input: UnsafeRawBufferPointer) {
        func replay(everyLine: Bool) -> ([TelemetryEvent], SessionReplay.Counts) {
            var replay = SessionReplay()
            replay.readsEveryLine = everyLine
            let events = replay.replay(file: input, modifiedAt: 1_795_000_000_000_000_000)
            return (events, replay.counts)
        }
        let (fast, fastCounts) = replay(everyLine: false)
        let (full, fullCounts) = replay(everyLine: true)
        guard fast == full, fastCounts.followed == fullCounts.followed else {
            fatalError(
                "the fast path disagrees: \(fast.map(\.jsonLine)), \(fastCounts) against \(full.map(\.jsonLine)), "
                    + "\(fullCounts)"
            )
        }
    }

    /// Accepted or refused alike, for text that is UTF-8 (our parser reads bytes that are not as U+FFFD, as
    /// `String(decoding:)` does, where Foundation refuses the document) and holds no NUL (which Foundation takes for
    /// the end of some documents: `0` then NUL is a number to it).
    static func parserAgreesWithFoundation(_ line: UnsafeRawBufferPointer) {
        guard line.count < 1 << 16, !line.contains(0), String(validating: line, as: UTF8.self) != nil else { return }
        let ours = (try? JSONValue(parsing: line)) != nil
        // Foundation takes a comma before a closing bracket, which RFC 8259 does not: such a document is refused.
        let theirs =
            !hasTrailingComma(line)
            && (try? JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed])) != nil
        guard ours == theirs else {
            let text = String(decoding: line.prefix(200), as: UTF8.self)
            fatalError(
                "the parser \(ours ? "accepts" : "refuses") what Foundation \(theirs ? "accepts" : "refuses"): \(text)"
            )
        }
    }

    /// Each member of an object, selected by its name, is the member a whole parse finds by that name: names are
    /// compared by their bytes both ways (RFC 8259 §8.3), so names Swift takes for equivalent (U+212A and `K`) are
    /// two members to each.
    static func selectionAgreesWithWholeParse(_ line: UnsafeRawBufferPointer) {
        guard let whole = (try? JSONValue(parsing: line))?.object else { return }
        for name in whole.keys {
            let selected = try? JSONValue(parsing: line, selecting: .members([name: .everything]))
            guard selected?.object?[name] == whole[name], selected?.object?.count == 1 else {
                fatalError("a selection of \(Array(name.utf8)) disagrees with the whole parse")
            }
        }
    }

    /// Whether a comma outside every string is followed, past white space, by `}` or `]`.
    static func hasTrailingComma(_ line: UnsafeRawBufferPointer) -> Bool {
        var inString = false
        var escaped = false
        var afterComma = false
        for byte in line {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                afterComma = false
            case UInt8(ascii: ","): afterComma = true
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if afterComma { return true }
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): break
            default: afterComma = false
            }
        }
        return false
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    ReplayFuzz.check(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main
struct ReplayFuzzRunner {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes.withUnsafeBytes(ReplayFuzz.check)
        }
    }
}
#endif
