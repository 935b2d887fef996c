import Foundation
import JSONRPC
import TestSupport
import Testing

@testable import OTLP
@testable import OTLPExport

/// Our gzip, decompressed by an implementation that is not ours: Python's standard `gzip` (zlib).
struct GzipTests {
    static func inputs() throws -> [(String, [UInt8])] {
        var random = SystemRandomNumberGenerator()
        let golden = try Data(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "Golden/logs.pb"
            )
        )
        return [
            ("empty", []),
            ("one byte", [0x41]),
            ("a run", Array(repeating: 0x78, count: 100_000)),
            ("random", (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &random) }),
            ("text", Array(String(repeating: "the quick brown fox jumps over the lazy dog, ", count: 3000).utf8)),
            ("otlp", Array(repeating: Array(golden), count: 400).flatMap { $0 }),
        ]
    }

    @Test func pythonsGzipGivesBackExactlyWhatWentIn() async throws {
        let folder = try TestTools.makeTemporaryDirectory("gzip")
        for (name, input) in try Self.inputs() {
            let compressed = Gzip.compress(input)
            let packed = folder.appendingPathComponent("\(name).gz")
            let unpacked = folder.appendingPathComponent("\(name).out")
            try Data(compressed).write(to: packed)
            let python =
                "import gzip, sys; open(sys.argv[2], 'wb').write(gzip.decompress(open(sys.argv[1], 'rb').read()))"
            let result = try await TestTools.output(of: "python3", ["-c", python, packed.path, unpacked.path])
            #expect(result.status == .exited(0), "\(name)")
            #expect(Array(try Data(contentsOf: unpacked)) == input, "\(name)")
            if name == "otlp" || name == "text" || name == "a run" {
                #expect(compressed.count * 5 < input.count, "\(name): \(compressed.count) of \(input.count) bytes")
            }
        }
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        // The check value of CRC-32 (ISO 3309) for "123456789".
        #expect(Gzip.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}
