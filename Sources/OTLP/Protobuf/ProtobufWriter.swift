#if canImport(Glibc)
import Glibc
#endif

/// The protobuf wire format, as far as OTLP needs it: varints, 64- and 32-bit fixed values, and length-delimited
/// fields (https://protobuf.dev/programming-guides/encoding/).
struct ProtobufWriter {
    private let buffer: ByteBuffer

    init(capacity: Int = 0) {
        buffer = ByteBuffer(capacity: capacity)
    }

    /// What has been written.
    var bytes: [UInt8] { buffer.bytes }

    /// Wire types (encoding guide, "Message Structure").
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
    }

    /// How many bytes `value` takes as a varint.
    static func varintSize(_ value: UInt64) -> Int {
        // 7 bits a byte; zero takes one.
        (64 - (value | 1).leadingZeroBitCount + 6) / 7
    }

    /// The most a tag takes: a field number of up to 29 bits and the wire type, as a varint.
    static let maximumTagSize = 5

    /// The most a varint takes.
    static let maximumVarintSize = 10

    /// Room for at most `maximum` bytes, made once, then written by `body` without a check for each: a field whose
    /// size is known up front (or bounded) is written this way.
    @inline(__always)
    mutating func writeReserved(atMost maximum: Int, _ body: (inout ReservedBytes) -> Void) {
        buffer.reserve(maximum)
        var bytes = ReservedBytes(position: buffer.end)
        body(&bytes)
        buffer.advanceEnd(to: bytes.position)
    }

    /// An `int64`, `uint64`, `int32`, `bool` or enum field. Negative `int32`/`int64` take ten bytes, as specified.
    /// Default values are written too: callers skip them where proto3 would.
    mutating func writeVarintField(_ field: Int, _ value: UInt64) {
        writeReserved(atMost: Self.maximumTagSize + Self.maximumVarintSize) { $0.writeVarintField(field, value) }
    }

    mutating func writeFixed64Field(_ field: Int, _ value: UInt64) {
        writeReserved(atMost: Self.maximumTagSize + 8) { $0.writeFixed64Field(field, value) }
    }

    mutating func writeDoubleField(_ field: Int, _ value: Double) {
        writeFixed64Field(field, value.bitPattern)
    }

    mutating func writeBytesField(_ field: Int, _ value: UnsafeRawBufferPointer) {
        writeReserved(atMost: Self.maximumTagSize + Self.maximumVarintSize + value.count) {
            $0.writeTag(field, .lengthDelimited)
            $0.writeVarint(UInt64(value.count))
            $0.write(value)
        }
    }

    mutating func writeStringField(_ field: Int, _ value: String) {
        writeReserved(atMost: Self.maximumTagSize + Self.maximumVarintSize + value.utf8.count) {
            $0.writeStringField(field, value)
        }
    }

    // proto3 leaves a singular scalar at its default (0, "", false) unwritten; these keep our output canonical,
    // byte for byte what the official libraries write. Members of a `oneof` and `optional` fields are written
    // whatever their value, since there presence carries meaning.

    mutating func writeVarintFieldUnlessZero(_ field: Int, _ value: UInt64) {
        if value != 0 { writeVarintField(field, value) }
    }

    mutating func writeFixed64FieldUnlessZero(_ field: Int, _ value: UInt64) {
        if value != 0 { writeFixed64Field(field, value) }
    }

    mutating func writeStringFieldUnlessEmpty(_ field: Int, _ value: String) {
        if !value.isEmpty { writeStringField(field, value) }
    }

    /// A packed `repeated fixed64` or `repeated double` field: one length, then 8 bytes each.
    mutating func writePackedFixed64Field(_ field: Int, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        writeReserved(atMost: Self.maximumTagSize + Self.maximumVarintSize + values.count * 8) { bytes in
            bytes.writeTag(field, .lengthDelimited)
            bytes.writeVarint(UInt64(values.count * 8))
            for value in values { bytes.writeLittleEndian(value) }
        }
    }

    /// An embedded message, written by `body` in place after its tag, then framed by its length. `lengthBytes`
    /// are kept for the length, as many as the caller expects it to take (a record: 2, up to 16 KiB; a batch: 3);
    /// a length that takes more or fewer moves the message, once, to fit exactly: the encoding stays canonical.
    mutating func writeMessageField(_ field: Int, lengthBytes: Int = 1, _ body: (inout ProtobufWriter) -> Void) {
        let start = beginMessageField(field, lengthBytes: lengthBytes)
        body(&self)
        endMessageField(start)
    }

    /// Where a message field's length goes, and the room kept for it.
    struct MessageStart {
        fileprivate let lengthAt: Int
        fileprivate let lengthBytes: Int
    }

    /// Writes the tag of an embedded message and keeps room for its length; `endMessageField` writes the length
    /// once the message is written. The pair is `writeMessageField` without a closure, for a caller whose message
    /// would be copied into one.
    mutating func beginMessageField(_ field: Int, lengthBytes: Int = 1) -> MessageStart {
        writeReserved(atMost: Self.maximumTagSize) { $0.writeTag(field, .lengthDelimited) }
        let lengthAt = buffer.count
        writeReserved(atMost: lengthBytes) { bytes in
            for _ in 0..<lengthBytes { bytes.write(0) }
        }
        return MessageStart(lengthAt: lengthAt, lengthBytes: lengthBytes)
    }

    mutating func endMessageField(_ start: MessageStart) {
        let (lengthAt, lengthBytes) = (start.lengthAt, start.lengthBytes)
        var length = buffer.count - lengthAt - lengthBytes
        let needed = Self.varintSize(UInt64(length))
        if needed != lengthBytes { buffer.moveTail(from: lengthAt + lengthBytes, by: needed - lengthBytes) }
        for position in lengthAt..<(lengthAt + needed) {
            buffer[position] = UInt8(truncatingIfNeeded: length) | (position < lengthAt + needed - 1 ? 0x80 : 0)
            length >>= 7
        }
    }
}

/// Bytes written into room already made (`ProtobufWriter.writeReserved`), through a pointer that stays in a
/// register: a field takes one check for room, not one for each byte.
struct ReservedBytes {
    fileprivate var position: UnsafeMutableRawPointer

    mutating func write(_ byte: UInt8) {
        position.storeBytes(of: byte, as: UInt8.self)
        position += 1
    }

    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            write(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        write(UInt8(value))
    }

    mutating func writeTag(_ field: Int, _ wireType: ProtobufWriter.WireType) {
        writeVarint(UInt64(field) << 3 | wireType.rawValue)
    }

    mutating func writeLittleEndian(_ value: UInt64) {
        position.storeBytes(of: value.littleEndian, as: UInt64.self)
        position += 8
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        position.copyMemory(from: source, byteCount: bytes.count)
        position += bytes.count
    }

    /// The UTF-8 bytes of `text`, copied at once (small and native strings alike).
    mutating func write(_ text: String.UTF8View) {
        let room = UnsafeMutableBufferPointer(start: position.assumingMemoryBound(to: UInt8.self), count: text.count)
        let (_, written) = room.initialize(from: text)
        position += written
    }

    mutating func writeVarintField(_ field: Int, _ value: UInt64) {
        writeTag(field, .varint)
        writeVarint(value)
    }

    mutating func writeFixed64Field(_ field: Int, _ value: UInt64) {
        writeTag(field, .fixed64)
        writeLittleEndian(value)
    }

    mutating func writeStringField(_ field: Int, _ value: String) {
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(value.utf8.count))
        write(value.utf8)
    }
}

/// The bytes of one encoding, written through a pointer: an array would check, on every byte, that it is not
/// shared before writing.
private final class ByteBuffer {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 1)
    }

    deinit { base.deallocate() }

    var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: count)) }

    /// Where the next byte goes.
    var end: UnsafeMutableRawPointer { base + count }

    /// Takes the bytes written up to `position` (from `end`, within reserved room) as written.
    func advanceEnd(to position: UnsafeMutableRawPointer) {
        count = position - base
    }

    subscript(position: Int) -> UInt8 {
        get { base.load(fromByteOffset: position, as: UInt8.self) }
        set { base.storeBytes(of: newValue, toByteOffset: position, as: UInt8.self) }
    }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var grown = capacity * 2
        while grown < count + extra { grown *= 2 }
        let moved = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 1)
        moved.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = moved
        capacity = grown
    }

    /// Moves the bytes from `position` on by `shift` (up, leaving a gap to write into, or down over what was
    /// before them).
    func moveTail(from position: Int, by shift: Int) {
        if shift > 0 { reserve(shift) }
        // The two ranges overlap: memmove, not a copy.
        memmove(base + position + shift, base + position, count - position)
        count += shift
    }
}
