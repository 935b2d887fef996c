/// Arithmetic that cannot trap, for values that come from outside: a file, Codex, a collector, a flag, the
/// environment. Swift traps on integer overflow and on converting a non-finite or out-of-range `Double`; a number
/// someone else chose must never be able to do that to us. Results stick at the nearest bound instead, and callers
/// that must not report a stuck value check their inputs against a plausible range first.
extension FixedWidthInteger {
    /// `self + other`, or the nearest bound when the true sum does not fit.
    @inlinable
    package func addingSaturated(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other < .zero ? .min : .max
    }

    /// `self - other`, or the nearest bound when the true difference does not fit (zero, for unsigned types).
    @inlinable
    package func subtractingSaturated(_ other: Self) -> Self {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other < .zero ? .max : .min
    }

    /// `self × other`, or the nearest bound when the true product does not fit.
    @inlinable
    package func multipliedSaturated(by other: Self) -> Self {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < .zero) == (other < .zero) ? .max : .min
    }

    /// `value` rounded toward zero, or the nearest bound when it does not fit; NaN gives zero.
    @inlinable
    package init(saturating value: Double) {
        if value.isNaN {
            self = .zero
        } else if value <= Double(Self.min) {
            self = .min
        } else if value >= Double(Self.max) {
            // `Double(Self.max)` rounds up to a power of two that does not fit: anything at or above it is `max`.
            self = .max
        } else {
            self = Self(value)
        }
    }
}

extension Sequence where Element: FixedWidthInteger {
    /// The sum of the elements, stuck at the nearest bound rather than trapping.
    @inlinable
    package func saturatedSum() -> Element {
        reduce(.zero) { $0.addingSaturated($1) }
    }
}

extension Duration {
    /// A duration given as a number of seconds from outside (a flag, a header): `nil` unless the number is finite
    /// and the duration lies in `range`.
    package init?(seconds: Double, in range: ClosedRange<Duration>) {
        let lowest = Double(range.lowerBound.components.seconds)
        let highest = Double(range.upperBound.components.seconds) + 1
        guard seconds.isFinite, seconds >= lowest, seconds <= highest else { return nil }
        let duration = Duration.milliseconds(Int64(saturating: (seconds * 1000).rounded()))
        guard range.contains(duration) else { return nil }
        self = duration
    }

    /// The duration in whole milliseconds, stuck at the bounds of `Int64`.
    package var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedSaturated(by: 1000).addingSaturated(attoseconds / 1_000_000_000_000_000)
    }
}
