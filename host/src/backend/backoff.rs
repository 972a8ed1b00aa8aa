//! When to try again: jittered exponential backoff, and the server's own word on it
//! (`Retry-After`). This is the one implementation everything that retries uses — the REST
//! client, the upload engine, the job's AWS session and the HTTP source reader — so that every
//! wait grows, spreads and caps the same way. It lives with the REST client because that is
//! where retrying began; the others import it from here.
//!
//! Many clients of one job hit the same service: without jitter they retry in lock-step after an
//! outage and knock it over again. Each delay is drawn uniformly from the upper half of the
//! exponential step ("equal jitter"), so waits still grow but never line up. A server that says
//! how long to wait (429 or 503 with `Retry-After`) is waited for at least that long, up to a cap
//! of the caller's choosing, plus up to a tenth more for the same reason.

use std::time::{Duration, SystemTime};

/// One retry schedule: call [`Backoff::next_delay`] (or [`Backoff::next_delay_honouring`]) after
/// each failure.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    /// The longest `Retry-After` that is waited for in full.
    max_asked: Duration,
    attempt: u32,
}

impl Backoff {
    /// Delays start near `base` and double up to `cap`; a `Retry-After` is honoured up to `cap`
    /// too unless [`Backoff::retry_after_up_to`] says otherwise.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            max_asked: cap,
            attempt: 0,
        }
    }

    /// The same schedule, honouring a server's `Retry-After` up to `max` (which may exceed the
    /// schedule's own cap: a throttled server knows better than our guess).
    pub fn retry_after_up_to(mut self, max: Duration) -> Self {
        self.max_asked = max;
        self
    }

    /// The schedule used for REST calls: 0.5 s doubling to 20 s, and a `Retry-After` honoured up
    /// to 120 s. Nothing the client does with the Boss is urgent enough to ignore a throttled
    /// service asking for two minutes; longer (a daily quota's "come back tomorrow") is not worth
    /// waiting for in one call, so it is retried after 120 s and, if it persists, reported.
    pub fn api() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(20))
            .retry_after_up_to(Duration::from_secs(120))
    }

    /// How many delays were handed out so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The next wait: uniform in `[step/2, step]` with `step = min(cap, base·2^attempt)`.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step();
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        half + jitter(step - half)
    }

    /// The next wait when the server may have asked for one (`asked`, from [`retry_after`]):
    /// uniform in `[a, a·1.1]` with `a = min(asked, max)`, or the schedule's own delay if that is
    /// longer. The schedule advances either way, so later failures without a `Retry-After` keep
    /// growing.
    pub fn next_delay_honouring(&mut self, asked: Option<Duration>) -> Duration {
        let own = self.next_delay();
        match asked {
            Some(asked) => {
                let asked = asked.min(self.max_asked);
                own.max(asked + jitter(asked / 10))
            }
            None => own,
        }
    }

    fn step(&self) -> Duration {
        // 2^16 × any sane base is past every cap; stop shifting before it overflows.
        let factor = 1u32 << self.attempt.min(16);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// Uniform in `[0, spread]`, at microsecond resolution.
fn jitter(spread: Duration) -> Duration {
    let spread = u64::try_from(spread.as_micros()).unwrap_or(u64::MAX);
    if spread == 0 {
        Duration::ZERO
    } else {
        Duration::from_micros(rand::random_range(0..=spread))
    }
}

/// The `Retry-After` of an answer as a wait from now; `None` when it has none or it is
/// unreadable (then the schedule alone decides).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// A `Retry-After` value (RFC 9110 §10.2.3) as a wait from `now`: delay-seconds (`120`) or an
/// HTTP date in any of the three forms HTTP allows (`Fri, 31 Dec 1999 23:59:59 GMT`). A date
/// in the past means "now". Anything else is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is "a very long time"; the cap applies anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_bounds_and_stop_at_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let expected_steps = [100, 200, 400, 800, 1600, 2000, 2000];
        for step in expected_steps {
            let d = b.next_delay();
            let step = Duration::from_millis(step);
            assert!(
                d >= step / 2 && d <= step,
                "{d:?} not in [{:?}, {step:?}]",
                step / 2
            );
        }
        assert_eq!(b.attempts(), 7);
    }

    #[test]
    fn many_attempts_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        for _ in 0..5 {
            b.next_delay();
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap_with_a_little_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
            .retry_after_up_to(Duration::from_secs(10));
        // Asked for more than the schedule's delay: at least what was asked, at most 10 % more.
        let d = b.next_delay_honouring(Some(Duration::from_secs(3)));
        assert!(
            d >= Duration::from_secs(3) && d <= Duration::from_millis(3300),
            "{d:?}"
        );
        // Asked for more than the cap: the cap (plus up to 10 %).
        let d = b.next_delay_honouring(Some(Duration::from_secs(3600)));
        assert!(
            d >= Duration::from_secs(10) && d <= Duration::from_secs(11),
            "{d:?}"
        );
        // Asked for less than the schedule's own delay (step 400 ms now): the schedule's.
        let d = b.next_delay_honouring(Some(Duration::ZERO));
        assert!(
            d >= Duration::from_millis(200) && d <= Duration::from_millis(400),
            "{d:?}"
        );
        // Nothing asked: the schedule, which kept advancing (step 800 ms).
        let d = b.next_delay_honouring(None);
        assert!(
            d >= Duration::from_millis(400) && d <= Duration::from_millis(800),
            "{d:?}"
        );
        assert_eq!(b.attempts(), 4);
    }

    #[test]
    fn the_cap_on_retry_after_defaults_to_the_schedules_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let d = b.next_delay_honouring(Some(Duration::from_secs(60)));
        assert!(
            d >= Duration::from_secs(1) && d <= Duration::from_millis(1100),
            "{d:?}"
        );
    }

    #[test]
    fn api_schedule_honours_two_minutes() {
        let mut b = Backoff::api();
        let d = b.next_delay_honouring(Some(Duration::from_secs(86_400)));
        assert!(
            d >= Duration::from_secs(120) && d <= Duration::from_secs(132),
            "{d:?}"
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37 GMT
        let secs = |s: u64| Some(Duration::from_secs(s));
        assert_eq!(parse_retry_after("1", now), secs(1));
        assert_eq!(parse_retry_after(" 120 ", now), secs(120));
        assert_eq!(parse_retry_after("0", now), secs(0));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            secs(u64::MAX)
        );
        // The three date forms of RFC 9110 §5.6.7, 30 s after `now`.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            secs(30)
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:50:07 GMT", now),
            secs(30)
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:50:07 1994", now), secs(30));
        // A date already past: go now.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            secs(0)
        );
        for bad in ["", "-1", "1.5", "soon", "2 s", "Sun, 06 Nov 1994"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_from_headers() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    }
}
