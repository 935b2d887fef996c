import Foundation
import TestSupport
import Testing

@testable import CodexTelemetry

/// A rollout's record times (`2026-11-21T08:14:19.854Z`, or with an offset) against Foundation's calendar.
struct TimestampTests {
    @Test func recordTimesAgreeWithTheCalendar() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var random = SeededRandom(seed: 3)
        for _ in 0..<20_000 {
            let parts = DateComponents(
                year: 1970 + random.next(below: 300),
                month: 1 + random.next(below: 12),
                day: 1 + random.next(below: 28),
                hour: random.next(below: 24),
                minute: random.next(below: 60),
                second: random.next(below: 60)
            )
            let digits = random.next(below: 11)
            let fraction = (0..<digits).map { _ in String(random.next(below: 10)) }.joined()
            let offsetMinutes = random.next(below: 3) == 0 ? 0 : random.next(below: 2 * 14 * 60 + 1) - 14 * 60
            var text = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d",
                parts.year!,
                parts.month!,
                parts.day!,
                parts.hour!,
                parts.minute!,
                parts.second!
            )
            if digits > 0 { text += "." + fraction }
            text +=
                offsetMinutes == 0
                ? "Z"
                : String(
                    format: "%@%02d:%02d",
                    offsetMinutes < 0 ? "-" : "+",
                    abs(offsetMinutes) / 60,
                    abs(offsetMinutes) % 60
                )
            let seconds =
                Int64(try #require(calendar.date(from: parts)).timeIntervalSince1970) - Int64(offsetMinutes * 60)
            let nanoseconds = Int64((fraction + String(repeating: "0", count: 9)).prefix(9))!
            let expected = seconds.multipliedReportingOverflow(by: 1_000_000_000)
            #expect(
                unixNanoseconds(iso8601: text)
                    == (expected.overflow ? (seconds < 0 ? .min : .max) : expected.partialValue + nanoseconds),
                "\(text)"
            )
        }
    }

    /// Anything but a digit where one belongs, and a time cut short, is no time.
    @Test func aTimeWithoutItsDigitsIsNone() {
        let time = "2026-11-21T08:14:19.854Z"
        for place in [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18] {
            for byte in ["a", "/", ":", " ", "-", "+"] {
                var bytes = Array(time.utf8)
                bytes[place] = UInt8(ascii: Unicode.Scalar(byte)!)
                #expect(unixNanoseconds(iso8601: String(decoding: bytes, as: UTF8.self)) == nil, "\(bytes)")
            }
        }
        for length in 0..<20 { #expect(unixNanoseconds(iso8601: String(time.prefix(length))) == nil) }
    }
}
