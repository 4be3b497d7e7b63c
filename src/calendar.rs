//! UTC calendar arithmetic on Unix milliseconds: budget periods (day, month) and the dates
//! `orion spend` prints and parses. Proleptic Gregorian, after Howard Hinnant's `days_from_civil`.

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 for a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Start of the UTC day containing `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

pub fn next_day(ms: i64) -> i64 {
    day_start(ms) + DAY_MS
}

/// Start of the UTC month containing `ms`.
pub fn month_start(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
    days_from_civil(y, m, 1) * DAY_MS
}

pub fn next_month(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(y, m, 1) * DAY_MS
}

/// `YYYY-MM-DD`.
pub fn date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM UTC`.
pub fn date_time(ms: i64) -> String {
    let mins = ms.rem_euclid(DAY_MS) / 60_000;
    format!("{} {:02}:{:02} UTC", date(ms), mins / 60, mins % 60)
}

/// Reads `YYYY-MM-DD` (midnight UTC) or a span back from `now`: `7d`, `24h`, `30m`.
pub fn parse_since(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if let Some(unit) = s.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let n: i64 = s[..s.len() - 1].parse().ok()?;
        let ms = match unit {
            'd' => n * DAY_MS,
            'h' => n * 3_600_000,
            'm' => n * 60_000,
            _ => return None,
        };
        return Some(now - ms);
    }
    let mut it = s.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // Reject 2026-02-30 and the like: they would silently mean another day.
    (civil_from_days(days) == (y, m, d)).then_some(days * DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_periods() {
        for days in [-800_000, -1, 0, 1, 19_000, 20_415, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // 2026-11-23 12:34:56 UTC
        let t = 1_795_437_296_000;
        assert_eq!(date(t), "2026-11-23");
        assert_eq!(date_time(t), "2026-11-23 12:34 UTC");
        assert_eq!(date(day_start(t)), "2026-11-23");
        assert_eq!(date(next_day(t)), "2026-11-24");
        assert_eq!(date(month_start(t)), "2026-11-01");
        assert_eq!(date(next_month(t)), "2026-12-01");
        let dec = parse_since("2026-12-31", 0).unwrap();
        assert_eq!(date(next_month(dec)), "2027-01-01");
        assert_eq!(date(next_day(dec)), "2027-01-01");
        assert_eq!(
            date(next_month(parse_since("2028-01-31", 0).unwrap())),
            "2028-02-01"
        );
    }

    #[test]
    fn parses_since() {
        assert_eq!(parse_since("7d", 10 * DAY_MS), Some(3 * DAY_MS));
        assert_eq!(parse_since("2h", 3 * 3_600_000), Some(3_600_000));
        assert_eq!(parse_since("1970-01-02", 0), Some(DAY_MS));
        assert_eq!(parse_since("2026-02-30", 0), None);
        assert_eq!(parse_since("yesterday", 0), None);
        assert_eq!(parse_since("7w", 0), None);
    }
}
