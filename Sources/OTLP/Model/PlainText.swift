// Plain text in and out (header values, settings, flags, file names, figures) without Foundation's
// `trimmingCharacters(in:)` and `String(format:)`, which would link its internationalization tables, several
// megabytes, into every program.

extension StringProtocol where SubSequence == Substring {
    /// The text without the characters at either end that `isTrimmed` picks (by default white space, line ends
    /// included).
    package func trimmed(where isTrimmed: (Character) -> Bool = \.isWhitespace) -> Substring {
        let text = self[...]
        guard let first = text.firstIndex(where: { !isTrimmed($0) }),
            let last = text.lastIndex(where: { !isTrimmed($0) })
        else { return text[text.endIndex...] }
        return text[first...last]
    }
}

extension BinaryInteger {
    /// The decimal digits, zeros in front up to `width`: `7.zeroPadded(3)` is `007`.
    package func zeroPadded(_ width: Int) -> String {
        let digits = String(self.magnitude)
        let sign = self < 0 ? "-" : ""
        return sign + String(repeating: "0", count: max(0, width - digits.count - sign.count)) + digits
    }
}

extension Double {
    /// The value rounded to `places` decimals (at most 9), written with all of them: `0.5.decimal(places: 2)` is
    /// `0.50`. One too large for that is written as Swift writes it.
    package func decimal(places: Int) -> String {
        let places = min(max(places, 0), 9)
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = (magnitude * Double(scale)).rounded()
        guard scaled.isFinite, scaled < 9e18 else { return "\(self)" }
        let units = Int64(scaled)
        let sign = self < 0 && units != 0 ? "-" : ""
        let whole = String(units / scale)
        return places == 0 ? sign + whole : sign + whole + "." + (units % scale).zeroPadded(places)
    }
}

extension FixedWidthInteger where Self: UnsignedInteger {
    /// The value of hexadecimal digits alone (`0-9`, `a-f`, `A-F`); `nil` for anything else, or too large.
    /// `init(_:radix:)` also takes a sign: a size of `-5` read from a collector, or an id of `+f`, would pass.
    package init?(hexDigits text: some StringProtocol) {
        let isHexDigit = { (byte: UInt8) in
            (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
        }
        guard !text.isEmpty, text.utf8.allSatisfy(isHexDigit), let value = Self(text, radix: 16) else { return nil }
        self = value
    }
}
