import Foundation
import OTLP
import Testing

/// The product's own trimming and number formatting, against Foundation's, which tests may still link.
struct PlainTextTests {
    @Test(arguments: ["", " ", " \t\r\n ", "x", "  a b  ", "\ta\n", "\u{00A0}nbsp\u{2003}", "é ", " \r\nline\r\n"])
    func trimmingWhiteSpaceIsFoundations(text: String) {
        #expect(String(text.trimmed()) == text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func trimmingTakesWhatItIsTold() {
        #expect("'quoted'".trimmed { $0 == "'" } == "quoted")
        #expect("[::1]".trimmed { $0 == "[" || $0 == "]" } == "::1")
        #expect("''''".trimmed { $0 == "'" }.isEmpty)
    }

    @Test func hexDigitsAreDigitsAlone() {
        #expect(UInt8(hexDigits: "fF") == 255)
        #expect(UInt64(hexDigits: "0123456789abcdef") == 0x0123_4567_89ab_cdef)
        for text in ["", "+f", "-5", " f", "f ", "0x1f", "g", "100"] {
            #expect(UInt8(hexDigits: text) == nil, "\(text)")
        }
        #expect(TraceContext(traceparent: "00-+af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") == nil)
        #expect(TraceContext(traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") != nil)
    }

    @Test func zeroPaddingIsPrintfs() {
        for (value, width) in [(0, 1), (7, 3), (123, 2), (-5, 4), (Int.min, 25), (Int.max, 20)] {
            #expect(value.zeroPadded(width) == String(format: "%0\(width)ld", value))
        }
        #expect(UInt64.max.zeroPadded(20) == "18446744073709551615")
    }

    /// Decimals against `%.Nf` on values spread over many magnitudes (none of them exactly halfway between two
    /// results, where the two may round either way), except that a negative value that rounds to zero is written
    /// without its sign.
    @Test func decimalsArePrintfs() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let magnitude = Double(state >> 11) / Double(1 << 53) * pow(10, Double(state % 12) - 4)
            let value = state & 1 == 0 ? magnitude : -magnitude
            let places = Int(state >> 60) % 7
            let scaled = magnitude * pow(10, Double(places))
            guard abs(scaled - scaled.rounded(.down) - 0.5) > 1e-6 else { continue }
            let printed = String(format: "%.\(places)f", value)
            let negativeZero = printed.hasPrefix("-") && printed.dropFirst().allSatisfy { $0 == "0" || $0 == "." }
            #expect(value.decimal(places: places) == (negativeZero ? String(printed.dropFirst()) : printed))
        }
        #expect(0.0.decimal(places: 4) == "0.0000")
        #expect((-0.00001).decimal(places: 2) == "0.00")
        #expect(1e300.decimal(places: 2) == "1e+300")
    }
}
