import CivilTime

/// The calendar a report's periods are told in: days, ISO weeks and months of one time zone.
///
/// The zone is handed in as its offset from UTC at each moment, so that this module needs neither the process's
/// environment nor a time zone database; the command line looks the offset up in the C library.
package struct ReportCalendar: Sendable {
    /// The zone's name as the report's header says it: `Europe/Paris`, `UTC`.
    package var zoneName: String
    /// Seconds east of UTC at a Unix time, in seconds.
    package var offset: @Sendable (_ unixSeconds: Int64) -> Int

    package init(zoneName: String, offset: @escaping @Sendable (_ unixSeconds: Int64) -> Int) {
        self.zoneName = zoneName
        self.offset = offset
    }

    package static let utc = ReportCalendar(zoneName: "UTC") { _ in 0 }

    /// A local date and time.
    struct Moment {
        var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64
        /// Days since 1970-01-01, local.
        var dayNumber: Int64
    }

    func moment(unixNanoseconds: UInt64) -> Moment {
        let seconds = Int64(clamping: unixNanoseconds / 1_000_000_000)
        let local = seconds.addingReportingOverflow(Int64(offset(seconds))).partialValue
        let (dayNumber, secondOfDay) = local.floorDivided(by: 86_400)
        let date = CivilDate(daysSince1970: dayNumber)
        return Moment(
            year: date.year,
            month: date.month,
            day: date.day,
            hour: secondOfDay / 3600,
            minute: secondOfDay % 3600 / 60,
            dayNumber: dayNumber
        )
    }

    /// `2026-12-05`.
    func day(_ time: UInt64) -> String {
        let moment = moment(unixNanoseconds: time)
        return "\(moment.year.padded(4))-\(moment.month.padded(2))-\(moment.day.padded(2))"
    }

    /// `2026-12`.
    func month(_ time: UInt64) -> String {
        let moment = moment(unixNanoseconds: time)
        return "\(moment.year.padded(4))-\(moment.month.padded(2))"
    }

    /// The ISO 8601 week, `2026-W49`: weeks start on Monday, and a week belongs to the year of its Thursday.
    func week(_ time: UInt64) -> String {
        let dayNumber = moment(unixNanoseconds: time).dayNumber
        // 1970-01-01 was a Thursday: Monday is 0 here.
        let weekday = (dayNumber + 3).floorDivided(by: 7).remainder
        let thursday = dayNumber - weekday + 3
        let year = CivilDate(daysSince1970: thursday).year
        let firstOfYear = CivilDate(year: year, month: 1, day: 1).daysSince1970
        let week = (thursday - firstOfYear) / 7 + 1
        return "\(year.padded(4))-W\(week.padded(2))"
    }

    /// `2026-12-05 14:03`.
    func minute(_ time: UInt64) -> String {
        let moment = moment(unixNanoseconds: time)
        return "\(day(time)) \(moment.hour.padded(2)):\(moment.minute.padded(2))"
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let remainder = ((self % divisor) + divisor) % divisor
        return ((self - remainder) / divisor, remainder)
    }

    fileprivate func padded(_ width: Int) -> String {
        let digits = String(self)
        return String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
    }
}
