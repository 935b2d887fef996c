/// The protobuf wire format, as far as OTLP needs it: varints, 64- and 32-bit fixed values, and length-delimited
/// fields (https://protobuf.dev/programming-guides/encoding/).
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Wire types (encoding guide, "Message Structure").
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
    }

    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func writeTag(_ field: Int, _ wireType: WireType) {
        writeVarint(UInt64(field) << 3 | wireType.rawValue)
    }

    /// An `int64`, `uint64`, `int32`, `bool` or enum field. Negative `int32`/`int64` take ten bytes, as specified.
    /// Default values are written too: callers skip them where proto3 would.
    mutating func writeVarintField(_ field: Int, _ value: UInt64) {
        writeTag(field, .varint)
        writeVarint(value)
    }

    mutating func writeInt64Field(_ field: Int, _ value: Int64) {
        writeVarintField(field, UInt64(bitPattern: value))
    }

    mutating func writeFixed64Field(_ field: Int, _ value: UInt64) {
        writeTag(field, .fixed64)
        appendLittleEndian(value)
    }

    mutating func writeDoubleField(_ field: Int, _ value: Double) {
        writeFixed64Field(field, value.bitPattern)
    }

    mutating func writeBytesField(_ field: Int, _ value: [UInt8]) {
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func writeStringField(_ field: Int, _ value: String) {
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
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
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(values.count * 8))
        for value in values { appendLittleEndian(value) }
    }

    /// An embedded message, written by `body` in place after its tag, then framed by its length. One byte is kept
    /// for the length, which is all most messages need; a longer one moves the message up to make room, once.
    mutating func writeMessageField(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        writeTag(field, .lengthDelimited)
        let lengthAt = bytes.count
        bytes.append(0)
        body(&self)
        var length = bytes.count - lengthAt - 1
        if length < 0x80 {
            bytes[lengthAt] = UInt8(length)
            return
        }
        var extra = 0
        while length >> (7 * (extra + 1)) > 0 { extra += 1 }
        bytes.insert(contentsOf: repeatElement(0, count: extra), at: lengthAt + 1)
        for position in lengthAt...(lengthAt + extra) {
            bytes[position] = UInt8(truncatingIfNeeded: length) | (position < lengthAt + extra ? 0x80 : 0)
            length >>= 7
        }
    }

    private mutating func appendLittleEndian(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
