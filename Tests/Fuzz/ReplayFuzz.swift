import CodexTelemetry
import Foundation
import JSON
import OTLPExport

/// The differential fuzz target: for any bytes, the fast path of a replay (lines passed over by their first bytes,
/// rollout records scanned) gives what the full path (every line parsed) gives, and our JSON parser accepts exactly
/// the documents Foundation's accepts; and the scrape endpoint reads a request head the same however much follows
/// it. A disagreement stops the process, and libFuzzer keeps the input.
///
/// Built for libFuzzer by `scripts/fuzz`, with `-DFUZZING`; built as a plain executable otherwise, it runs the
/// checks once on each file it is given: a saved input replayed, or the seed corpus.
enum ReplayFuzz {
    static func check(_ input: UnsafeRawBufferPointer) {
        fastPathAgreesWithFullPath(input)
        scrapeRequestIsReadAsFarAsItsHead(input)
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
    /// two members to each. For text that is UTF-8: a name with bytes that are not is read as U+FFFD, which is no
    /// longer its bytes, and a selection is by the bytes of a name it is given.
    static func selectionAgreesWithWholeParse(_ line: UnsafeRawBufferPointer) {
        guard String(validating: line, as: UTF8.self) != nil, let whole = (try? JSONValue(parsing: line))?.object
        else { return }
        for name in whole.keys {
            let selected = try? JSONValue(parsing: line, selecting: .members([name: .everything]))
            guard selected?.object?[name] == whole[name], selected?.object?.count == 1 else {
                fatalError("a selection of \(Array(name.utf8)) disagrees with the whole parse")
            }
        }
    }

    /// Anything on the scrape port: a head, once read (or refused), is read the same whatever bytes follow it; one
    /// still coming is under the bound; a path read is a path, without its query.
    static func scrapeRequestIsReadAsFarAsItsHead(_ input: UnsafeRawBufferPointer) {
        let bytes = Array(input)
        let read = ScrapeRequest.parse(bytes)
        switch read {
        case .incomplete:
            guard bytes.count < ScrapeRequest.maximumHeadBytes else { fatalError("a head past the bound is waited on") }
        case .request(_, let path):
            guard path.hasPrefix("/"), !path.contains("?") else { fatalError("the path read is \(path)") }
            fallthrough
        case .refused:
            guard ScrapeRequest.parse(bytes + Array("GET /x HTTP/1.1\r\n\r\n".utf8)) == read else {
                fatalError("what follows a head changes how it is read: \(read)")
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
