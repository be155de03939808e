import Foundation

/// Event times as every format writes them: RFC 3339 in UTC to the millisecond (`2026-11-21T09:30:00.123Z`).
///
/// Computed with integer arithmetic on the proleptic Gregorian calendar, so the text does not depend on the locale,
/// time zone or calendar of the gateway, as a `DateFormatter` would, nor on the Julian dates that Foundation's
/// Gregorian calendar uses before 1582.
package enum EventTime {
    /// 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z, in milliseconds since 1970: RFC 3339 years have four
    /// digits, so times outside are written as the nearest end.
    private static let earliest: Int64 = -62_135_596_800_000
    private static let latest: Int64 = 253_402_300_799_999
    private static let millisecondsPerDay: Int64 = 86_400_000

    /// `date` rounded to the millisecond, as `SecurityEvent` keeps it.
    package static func rfc3339(_ date: Date) -> String {
        let exact = (date.timeIntervalSince1970 * 1000).rounded()
        let clamped = exact.isNaN ? 0 : min(max(exact, Double(earliest)), Double(latest))
        let milliseconds = Int64(clamped)
        // Within the clamped range the day count plus the shift below is never negative, so plain division floors.
        let day = (milliseconds - earliest) / millisecondsPerDay + earliest / millisecondsPerDay
        let ofDay = milliseconds - day * millisecondsPerDay
        let (year, month, dayOfMonth) = civilDate(daysSince1970: day)
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(dayOfMonth, 2))T"
            + "\(padded(ofDay / 3_600_000, 2)):\(padded(ofDay / 60_000 % 60, 2)):\(padded(ofDay / 1000 % 60, 2))"
            + ".\(padded(ofDay % 1000, 3))Z"
    }

    /// Year, month and day of a day count, for days from year 1 on.
    ///
    /// Counting from 1 March of year 0 puts the leap day at the end of each year, so a year's shape does not depend
    /// on whether it is a leap year until its last day; 400 Gregorian years are exactly 146 097 days.
    private static func civilDate(daysSince1970: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let fromMarchOfYear0 = daysSince1970 + 719_468  // 0000-03-01 is 719 468 days before 1970-01-01
        let cycle = fromMarchOfYear0 / 146_097
        let dayOfCycle = fromMarchOfYear0 - cycle * 146_097  // 0…146 096
        // Every 4th year has 366 days, except every 100th, except every 400th.
        let yearOfCycle = (dayOfCycle - dayOfCycle / 1460 + dayOfCycle / 36_524 - dayOfCycle / 146_096) / 365
        let dayOfYear = dayOfCycle - (365 * yearOfCycle + yearOfCycle / 4 - yearOfCycle / 100)  // 0…365, from March
        // Months from March have 31 30 31 30 31 | 31 30 31 30 31 | 31 28/29 days: 153 days in each run of five.
        let monthFromMarch = (5 * dayOfYear + 2) / 153  // 0…11
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = cycle * 400 + yearOfCycle + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// Events as compact JSON objects with sorted keys, for MQTT notifications and the API's live stream:
/// `{"entity":…,"fields":{name:value,…},"sequence":…,"severity":…,"stream":…,"time":…,"title":…,"type":…}`, and
/// for audit entries also `"hash"` and `"previousHash"`.
///
/// `fields` is an object because that is what consumers index by name; when an event has two fields of the same
/// name the first one is kept, as `SecurityEvent.field(_:)` reads it.
package enum EventJSON {
    package static func encode(_ event: SecurityEvent) -> Data {
        serialize(Body(event, hash: nil, previousHash: nil))
    }

    package static func encode(_ entry: AuditEntry) -> Data {
        serialize(Body(entry.event, hash: entry.hash, previousHash: entry.previousHash))
    }

    /// The object's members; `nil` hash members are left out.
    private struct Body: Encodable {
        var entity: String
        var fields: [String: String]
        var sequence: UInt64
        var severity: Severity
        var stream: EventStream
        var time: String
        var title: String
        var type: String
        var hash: String?
        var previousHash: String?

        init(_ event: SecurityEvent, hash: String?, previousHash: String?) {
            entity = event.entity
            fields = Dictionary(event.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            sequence = event.sequence
            severity = event.severity
            stream = event.stream
            time = EventTime.rfc3339(event.time)
            title = event.title
            type = event.type
            self.hash = hash
            self.previousHash = previousHash
        }
    }

    private static func serialize(_ body: Body) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(body)
        } catch {
            // Strings, integers and string enums have a JSON form whatever their content.
            preconditionFailure("an event could not be encoded as JSON: \(error)")
        }
    }
}
