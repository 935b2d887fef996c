import JSONRPC
import Testing

struct LineFramerTests {
    /// Feeds `input` in chunks of `chunkSize` and collects the lines and the unterminated rest.
    func frame(
        _ input: String,
        chunkSize: Int,
        maximum: Int = 64 << 20
    ) -> (lines: [String], rest: String?, oversized: Int) {
        var framer = LineFramer(maximumLineLength: maximum)
        var lines: [String] = []
        let bytes = Array(input.utf8)
        var start = 0
        while start < bytes.count {
            let chunk = Array(bytes[start..<min(bytes.count, start + chunkSize)])
            chunk.withUnsafeBytes { framer.append($0) { lines.append(String(decoding: $0, as: UTF8.self)) } }
            start += chunkSize
        }
        let rest = framer.finish().map { String(decoding: $0, as: UTF8.self) }
        return (lines, rest, framer.oversizedLineCount)
    }

    @Test(arguments: [1, 2, 3, 7, 1024])
    func linesAreTheSameWhateverTheChunkBoundaries(chunkSize: Int) {
        let result = frame("{\"a\":1}\n\n{\"b\":2}\r\n{\"c\"", chunkSize: chunkSize)
        #expect(result.lines == ["{\"a\":1}", "{\"b\":2}\r"])
        #expect(result.rest == "{\"c\"")
    }

    @Test func aLineOfManyMegabytesArrivesWhole() {
        let big = String(repeating: "x", count: 20 << 20)
        let result = frame("first\n\(big)\nlast\n", chunkSize: 65536)
        #expect(result.lines.count == 3)
        #expect(result.lines[1].utf8.count == 20 << 20)
        #expect(result.lines[2] == "last")
    }

    @Test(arguments: [1, 5, 100])
    func aLineOverTheLimitIsSkippedAndCountedAndTheNextOneStillArrives(chunkSize: Int) {
        let result = frame("ok\n0123456789abcdef\nnext\n0123456789abcdefXYZ", chunkSize: chunkSize, maximum: 10)
        #expect(result.lines == ["ok", "next"])
        #expect(result.oversized == 2)
        #expect(result.rest == nil)
    }
}
