//! Jittered exponential backoff, shared by the REST client and the upload engine. Many clients of
//! one job hit the same service: without jitter they retry in lock-step after an outage and knock
//! it over again. Each delay is drawn uniformly from the upper half of the exponential step
//! ("equal jitter"), so waits still grow but never line up.

use std::time::Duration;

/// One retry schedule: call [`Backoff::next_delay`] after each failure.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// Delays start near `base` and double up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The schedule used for REST calls: 0.5 s doubling to 20 s.
    pub fn api() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(20))
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
        let spread = (step - half).as_micros() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rand::random_range(0..=spread)
        };
        half + Duration::from_micros(jitter)
    }

    fn step(&self) -> Duration {
        // 2^16 × any sane base is past every cap; stop shifting before it overflows.
        let factor = 1u32 << self.attempt.min(16);
        self.base.saturating_mul(factor).min(self.cap)
    }
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
}
