import Testing

@testable import OTLP

/// The examples of the protobuf encoding guide (https://protobuf.dev/programming-guides/encoding/).
struct ProtobufWriterTests {
    func bytes(_ write: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var writer = ProtobufWriter()
        write(&writer)
        return writer.bytes
    }

    @Test func aVarintField() {
        // message Test1 { optional int32 a = 1; } with a = 150
        #expect(bytes { $0.writeVarintField(1, 150) } == [0x08, 0x96, 0x01])
    }

    @Test func aStringField() {
        // message Test2 { optional string b = 2; } with b = "testing"
        #expect(bytes { $0.writeStringField(2, "testing") } == [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67])
    }

    @Test func anEmbeddedMessage() {
        // message Test3 { optional Test1 c = 3; } with c.a = 150
        #expect(bytes { $0.writeMessageField(3) { $0.writeVarintField(1, 150) } } == [0x1a, 0x03, 0x08, 0x96, 0x01])
    }

    @Test func negativeIntegersTakeTenBytes() {
        // int64 -2: the two's complement as a varint.
        #expect(
            bytes { $0.writeVarintField(1, UInt64(bitPattern: -2)) } == [
                0x08, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ]
        )
    }

    @Test func fixedWidthAndPackedValuesAreLittleEndian() {
        #expect(bytes { $0.writeFixed64Field(1, 1) } == [0x09, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(bytes { $0.writeDoubleField(4, 1.0) } == [0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f])
        #expect(
            bytes { $0.writePackedFixed64Field(6, [1, 2]) } == [
                0x32, 16, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
            ]
        )
    }

    @Test func defaultsAreLeftOutLikeTheOfficialLibrariesDo() {
        #expect(bytes { $0.writeVarintFieldUnlessZero(1, 0) }.isEmpty)
        #expect(bytes { $0.writeStringFieldUnlessEmpty(2, "") }.isEmpty)
        #expect(bytes { $0.writePackedFixed64Field(6, []) }.isEmpty)
    }
}
