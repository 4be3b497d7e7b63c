//! Which report a tick makes and what time it covers, in the heartbeat's time zone: a team's
//! "today" starts at its own midnight, and a day with a clock change is 23 or 25 hours long.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// The report a tick makes, from its local time: morning before 11:00, midday before 15:00,
/// end of day after, and on `weekly_on` the end-of-day report is the weekly summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edition {
    Morning,
    Midday,
    EndOfDay,
    Weekly,
}

/// Local hour from which a tick makes the midday report.
const MIDDAY_FROM: u32 = 11;
/// Local hour from which a tick makes the end-of-day report.
const END_OF_DAY_FROM: u32 = 15;
/// Calendar days a weekly summary covers, today included.
const WEEK_DAYS: u64 = 7;

impl Edition {
    /// The standup edition for a tick at local time `at`, the weekly summary when it is the
    /// end-of-day tick on `weekly_on`.
    pub fn for_tick(at: &DateTime<Tz>, weekly_on: Weekday) -> Self {
        match at.hour() {
            h if h < MIDDAY_FROM => Self::Morning,
            h if h < END_OF_DAY_FROM => Self::Midday,
            _ if at.weekday() == weekly_on => Self::Weekly,
            _ => Self::EndOfDay,
        }
    }

    /// The standup edition for `at`, never the weekly summary (`orion report` without
    /// `--weekly`).
    pub fn standup(at: &DateTime<Tz>) -> Self {
        // Today is never tomorrow's weekday.
        Self::for_tick(at, at.weekday().succ())
    }

    /// As a heading says it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Morning => "morning standup",
            Self::Midday => "midday standup",
            Self::EndOfDay => "end-of-day standup",
            Self::Weekly => "weekly summary",
        }
    }

    /// What the queue section is called: what the waiting work is waiting for.
    pub fn queue_title(self) -> &'static str {
        match self {
            Self::Morning | Self::Midday => "Up next",
            Self::EndOfDay => "Tomorrow's queue",
            Self::Weekly => "Next week's queue",
        }
    }

    /// The time the report covers, ending at the tick: since local midnight, or for the weekly
    /// summary since local midnight six days before (seven calendar days).
    pub fn window(self, at: &DateTime<Tz>) -> Window {
        let days_back = match self {
            Self::Weekly => WEEK_DAYS - 1,
            _ => 0,
        };
        let first = at.date_naive() - Days::new(days_back);
        Window {
            from: local_midnight(&at.timezone(), first),
            until: at.with_timezone(&Utc),
        }
    }
}

/// A half-open span of time, `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Window {
    pub fn from_ms(&self) -> i64 {
        self.from.timestamp_millis()
    }
    pub fn until_ms(&self) -> i64 {
        self.until.timestamp_millis()
    }
}

/// When `date` begins in `tz`: its midnight, or where a clock change skips midnight (Chile,
/// Cuba, Lebanon have moved clocks at 00:00), the first local time that exists. The earlier of
/// two midnights, should a zone ever repeat one.
pub fn local_midnight(tz: &Tz, date: NaiveDate) -> DateTime<Utc> {
    (0..=24 * 4)
        .map(|quarter| NaiveTime::MIN + chrono::Duration::minutes(15 * quarter))
        .find_map(|time| tz.from_local_datetime(&date.and_time(time)).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| {
            // No zone skips a whole day at midnight; should one, the UTC midnight is a bound.
            date.and_time(NaiveTime::MIN).and_utc()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(tz: Tz, rfc3339: &str) -> DateTime<Tz> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&tz)
    }

    fn utc(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_edition_follows_the_local_hour_and_the_weekly_day() {
        let berlin = chrono_tz::Europe::Berlin;
        // Friday 2026-11-27, Berlin is UTC+1.
        let at = |hhmm: &str| local(berlin, &format!("2026-11-27T{hhmm}:00+01:00"));
        assert_eq!(
            Edition::for_tick(&at("00:00"), Weekday::Fri),
            Edition::Morning
        );
        assert_eq!(
            Edition::for_tick(&at("10:59"), Weekday::Fri),
            Edition::Morning
        );
        assert_eq!(
            Edition::for_tick(&at("11:00"), Weekday::Fri),
            Edition::Midday
        );
        assert_eq!(
            Edition::for_tick(&at("14:59"), Weekday::Fri),
            Edition::Midday
        );
        assert_eq!(
            Edition::for_tick(&at("15:00"), Weekday::Fri),
            Edition::Weekly
        );
        assert_eq!(
            Edition::for_tick(&at("17:00"), Weekday::Thu),
            Edition::EndOfDay
        );
        assert_eq!(Edition::standup(&at("17:00")), Edition::EndOfDay);
        // 16:30 UTC on Friday is 17:30 in Berlin but 11:30 in New York.
        let tick = utc("2026-11-27T16:30:00Z");
        assert_eq!(
            Edition::for_tick(&tick.with_timezone(&berlin), Weekday::Fri),
            Edition::Weekly
        );
        assert_eq!(
            Edition::for_tick(
                &tick.with_timezone(&chrono_tz::America::New_York),
                Weekday::Fri
            ),
            Edition::Midday
        );
        // 23:30 UTC on Friday is already Saturday morning in Berlin: not the weekly summary.
        let late = utc("2026-11-27T23:30:00Z").with_timezone(&berlin);
        assert_eq!(late.weekday(), Weekday::Sat);
        assert_eq!(Edition::for_tick(&late, Weekday::Fri), Edition::Morning);
    }

    #[test]
    fn today_starts_at_local_midnight_on_clock_change_days() {
        let berlin = chrono_tz::Europe::Berlin;
        // Spring forward (2026-03-29, 02:00 → 03:00): midnight is still CET, UTC+1.
        let at = local(berlin, "2026-03-29T17:00:00+02:00");
        let w = Edition::EndOfDay.window(&at);
        assert_eq!(w.from, utc("2026-03-28T23:00:00Z"));
        assert_eq!(w.until, utc("2026-03-29T15:00:00Z"));
        assert_eq!(
            (w.until - w.from).num_hours(),
            16,
            "17 local hours, one skipped"
        );
        // Fall back (2026-10-25, 03:00 → 02:00): midnight is CEST, UTC+2; the day has 25 hours.
        let at = local(berlin, "2026-10-25T23:59:00+01:00");
        let w = Edition::EndOfDay.window(&at);
        assert_eq!(w.from, utc("2026-10-24T22:00:00Z"));
        assert_eq!((w.until - w.from).num_minutes(), 25 * 60 - 1);
    }

    #[test]
    fn the_week_is_seven_local_days_across_a_clock_change() {
        let berlin = chrono_tz::Europe::Berlin;
        // Friday 2026-10-30 17:00 CET; the week began on Saturday 2026-10-24 at 00:00 CEST.
        let at = local(berlin, "2026-10-30T17:00:00+01:00");
        let w = Edition::Weekly.window(&at);
        assert_eq!(w.from, utc("2026-10-23T22:00:00Z"));
        assert_eq!(w.until, utc("2026-10-30T16:00:00Z"));
        assert_eq!((w.until - w.from).num_hours(), 6 * 24 + 17 + 1);
        // A standup's window on the same tick starts that morning.
        assert_eq!(
            Edition::EndOfDay.window(&at).from,
            utc("2026-10-29T23:00:00Z")
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_at_its_first_hour() {
        // Chile moved its clocks at 24:00 on Saturday 2026-09-05: Sunday began at 01:00 (UTC-3).
        let santiago = chrono_tz::America::Santiago;
        let sunday = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert!(
            santiago
                .from_local_datetime(&sunday.and_time(NaiveTime::MIN))
                .earliest()
                .is_none(),
            "midnight does not exist that day"
        );
        assert_eq!(
            local_midnight(&santiago, sunday),
            utc("2026-09-06T04:00:00Z")
        );
        // The day before began at an ordinary midnight, UTC-4.
        assert_eq!(
            local_midnight(&santiago, sunday.pred_opt().unwrap()),
            utc("2026-09-05T04:00:00Z")
        );
    }
}
