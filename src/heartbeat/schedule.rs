//! When heartbeats run: cron schedules in a time zone, and the rule for ticks missed while
//! Orion was down — the latest one runs once on start, not every one of them.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

/// How far back a missed tick is still worth running: a heartbeat reports on now, so a tick
/// from last week is only noise.
const CATCH_UP: Duration = Duration::days(1);

/// The parsed `[heartbeat]` schedules.
#[derive(Debug, Clone)]
pub struct Schedules {
    tz: Tz,
    crons: Vec<cron::Schedule>,
}

/// The IANA time zone `tz` (`Europe/Berlin`, `UTC`): the one schedules are read in and
/// reports count their days in.
pub fn parse_time_zone(tz: &str) -> Result<Tz, String> {
    Tz::from_str(tz)
        .map_err(|_| format!("{tz:?} is not an IANA time zone (e.g. \"UTC\", \"Europe/Berlin\")"))
}

impl Schedules {
    /// Parses cron expressions (`sec min hour day-of-month month day-of-week [year]`, e.g.
    /// `0 0 8,12,17 * * Mon-Fri`) in the IANA time zone `tz` (`Europe/Berlin`, `UTC`).
    pub fn parse(expressions: &[String], tz: &str) -> Result<Self, String> {
        let tz = parse_time_zone(tz)?;
        let crons = expressions
            .iter()
            .map(|e| {
                cron::Schedule::from_str(e).map_err(|err| {
                    format!("{e:?} is not a cron schedule ({err}); the fields are: sec min hour day-of-month month day-of-week, e.g. \"0 0 8,12,17 * * Mon-Fri\"")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { tz, crons })
    }

    pub fn is_empty(&self) -> bool {
        self.crons.is_empty()
    }

    /// The first tick after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.tz);
        self.crons
            .iter()
            .filter_map(|c| c.after(&local).next())
            .min()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The tick to run now: the latest one in `(last, now]`, however many there are (missed
    /// ticks collapse into one), and none older than a day. `None` when nothing is due.
    pub fn due(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let from = last.max(now - CATCH_UP).with_timezone(&self.tz);
        self.crons
            .iter()
            .filter_map(|c| c.after(&from).take_while(|t| *t <= now).last())
            .max()
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekdays_8_12_17(tz: &str) -> Schedules {
        Schedules::parse(&["0 0 8,12,17 * * Mon-Fri".into()], tz).unwrap()
    }

    #[test]
    fn the_next_tick_is_in_the_schedules_time_zone() {
        let s = weekdays_8_12_17("Europe/Berlin");
        // Monday 2026-11-23 06:30 UTC is 07:30 in Berlin (CET, UTC+1): next is 08:00 CET.
        assert_eq!(
            s.next_after(at("2026-11-23T06:30:00Z")),
            Some(at("2026-11-23T07:00:00Z"))
        );
        // Friday evening: next is Monday 08:00.
        assert_eq!(
            s.next_after(at("2026-11-27T17:30:00Z")),
            Some(at("2026-11-30T07:00:00Z"))
        );
    }

    #[test]
    fn missed_ticks_run_once_the_latest_and_not_from_long_ago() {
        let s = weekdays_8_12_17("UTC");
        // Down from Monday 07:00 to 18:00: 08:00, 12:00 and 17:00 were missed; 17:00 runs.
        assert_eq!(
            s.due(at("2026-11-23T07:00:00Z"), at("2026-11-23T18:00:00Z")),
            Some(at("2026-11-23T17:00:00Z"))
        );
        // Nothing due between ticks, nor at the very tick already run.
        assert_eq!(
            s.due(at("2026-11-23T17:00:00Z"), at("2026-11-23T18:00:00Z")),
            None
        );
        // Down for a week: only what falls in the last day counts.
        assert_eq!(
            s.due(at("2026-11-16T07:00:00Z"), at("2026-11-23T07:30:00Z")),
            None,
            "Saturday and Sunday have no ticks; Friday's are over a day old"
        );
        assert_eq!(
            s.due(at("2026-11-16T07:00:00Z"), at("2026-11-24T09:00:00Z")),
            Some(at("2026-11-24T08:00:00Z"))
        );
    }

    #[test]
    fn bad_expressions_and_zones_say_what_is_expected() {
        let err = Schedules::parse(&["0 8 * *".into()], "UTC").unwrap_err();
        assert!(err.contains("sec min hour"), "{err}");
        let err = Schedules::parse(&[], "Mars/Olympus").unwrap_err();
        assert!(err.contains("IANA time zone"), "{err}");
    }
}
