#if canImport(Glibc)
import Glibc
#endif

/// Reading a line by the bytes it begins with, without parsing it: how a reader that passes most lines over tells
/// them apart. Only what is laid out exactly as expected is read; anything else (another member order, an escape,
/// a line cut short) gives `nil` or `false`, and is left to the parser.
package enum LeadingBytes {
    /// Whether `bytes` begin with `prefix`.
    package static func startsWith(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        guard let start = bytes.baseAddress, bytes.count >= prefix.utf8CodeUnitCount else { return false }
        return memcmp(start, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0
    }

    /// The string written right after `prefix`, which `bytes` must begin with: its bytes up to its closing quote,
    /// and the bytes from that quote on. `nil` if the prefix is not there, the string does not end, or it holds an
    /// escape (its bytes are then not its text).
    package static func string(
        after prefix: StaticString,
        in bytes: UnsafeRawBufferPointer
    ) -> (text: UnsafeRawBufferPointer, rest: UnsafeRawBufferPointer)? {
        let length = prefix.utf8CodeUnitCount
        guard startsWith(bytes, prefix), bytes.count > length, let start = bytes.baseAddress,
            let quote = memchr(start + length, Int32(UInt8(ascii: "\"")), bytes.count - length)
        else { return nil }
        let text = UnsafeRawBufferPointer(start: start + length, count: (start + length).distance(to: quote))
        guard memchr(start + length, Int32(UInt8(ascii: "\\")), text.count) == nil else { return nil }
        let rest = UnsafeRawBufferPointer(
            start: quote,
            count: UnsafeRawPointer(quote).distance(to: start + bytes.count)
        )
        return (text, rest)
    }

    /// Whether `text` is exactly `literal`.
    package static func equals(_ text: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        text.count == literal.utf8CodeUnitCount && startsWith(text, literal)
    }
}
