/// gzip (RFC 1952) around DEFLATE (RFC 1951), written here so that `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` needs no
/// dependency: one block of the fixed Huffman codes (section 3.2.6), with greedy LZ77 matching over a 32 KiB
/// window. OTLP payloads repeat their keys and values, so this alone takes most of the size away.
enum Gzip {
    static func compress(_ input: [UInt8]) -> [UInt8] {
        // Header: magic, method 8 (deflate), no flags, no time, no extra flags, OS unknown.
        var output: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]
        var bits = BitWriter()
        bits.write(1, count: 1)  // BFINAL: the only block
        bits.write(1, count: 2)  // BTYPE 01: fixed Huffman codes
        input.withUnsafeBufferPointer { deflate($0, into: &bits) }
        writeLiteralOrLength(256, into: &bits)  // end of block
        output += bits.finish()
        for value in [crc32(input), UInt32(truncatingIfNeeded: input.count)] {
            withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
        }
        return output
    }

    private static let window = 32_768
    private static let minimumMatch = 3
    private static let maximumMatch = 258

    private static func deflate(_ input: UnsafeBufferPointer<UInt8>, into bits: inout BitWriter) {
        var lastSeen = [Int](repeating: -1, count: 1 << 15)
        var index = 0
        func hash(_ position: Int) -> Int {
            (Int(input[position]) << 10 ^ Int(input[position + 1]) << 5 ^ Int(input[position + 2])) & 0x7FFF
        }
        while index < input.count {
            var length = 0
            var distance = 0
            if index + minimumMatch <= input.count {
                let key = hash(index)
                let candidate = lastSeen[key]
                lastSeen[key] = index
                if candidate >= 0, index - candidate <= window {
                    let limit = min(maximumMatch, input.count - index)
                    while length < limit, input[candidate + length] == input[index + length] { length += 1 }
                    distance = index - candidate
                }
            }
            if length >= minimumMatch {
                writeMatch(length: length, distance: distance, into: &bits)
                // Remember the positions inside the match too, so later text can refer to them.
                for position in (index + 1)..<(index + length) where position + minimumMatch <= input.count {
                    lastSeen[hash(position)] = position
                }
                index += length
            } else {
                writeLiteralOrLength(Int(input[index]), into: &bits)
                index += 1
            }
        }
    }

    /// The fixed literal/length code of `symbol` (RFC 1951, 3.2.6).
    private static func writeLiteralOrLength(_ symbol: Int, into bits: inout BitWriter) {
        switch symbol {
        case 0...143: bits.writeHuffman(0x30 + symbol, count: 8)
        case 144...255: bits.writeHuffman(0x190 + symbol - 144, count: 9)
        case 256...279: bits.writeHuffman(symbol - 256, count: 7)
        default: bits.writeHuffman(0xC0 + symbol - 280, count: 8)
        }
    }

    private static let lengthBases = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ]
    private static let lengthExtraBits = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    private static let distanceBases = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    private static let distanceExtraBits = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]

    private static func writeMatch(length: Int, distance: Int, into bits: inout BitWriter) {
        let lengthCode = lengthBases.lastIndex { $0 <= length }!
        writeLiteralOrLength(257 + lengthCode, into: &bits)
        bits.write(UInt64(length - lengthBases[lengthCode]), count: lengthExtraBits[lengthCode])
        let distanceCode = distanceBases.lastIndex { $0 <= distance }!
        bits.writeHuffman(distanceCode, count: 5)
        bits.write(UInt64(distance - distanceBases[distanceCode]), count: distanceExtraBits[distanceCode])
    }

    private static let crcTable: [UInt32] = (0..<256).map { value in
        var crc = UInt32(value)
        for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        return crc
    }

    /// CRC-32 as gzip uses it (ISO 3309).
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

/// Bits packed from the least significant end of each byte, as DEFLATE packs them.
private struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var pending: UInt64 = 0
    private var pendingCount = 0

    mutating func write(_ value: UInt64, count: Int) {
        guard count > 0 else { return }
        pending |= value << UInt64(pendingCount)
        pendingCount += count
        while pendingCount >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: pending))
            pending >>= 8
            pendingCount -= 8
        }
    }

    /// Huffman codes go most significant bit first (RFC 1951, 3.1.1): reverse them into the stream's order.
    mutating func writeHuffman(_ code: Int, count: Int) {
        var reversed: UInt64 = 0
        for bit in 0..<count where code >> bit & 1 == 1 { reversed |= 1 << UInt64(count - 1 - bit) }
        write(reversed, count: count)
    }

    mutating func finish() -> [UInt8] {
        if pendingCount > 0 { bytes.append(UInt8(truncatingIfNeeded: pending)) }
        pending = 0
        pendingCount = 0
        return bytes
    }
}
