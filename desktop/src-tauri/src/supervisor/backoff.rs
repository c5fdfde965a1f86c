use std::time::Duration;

/// How long to wait before each restart of a crashed agent: `first`, doubling up to `max`,
/// back to `first` once the agent has stayed healthy for `healthy_reset`.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    healthy_reset: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration, healthy_reset: Duration) -> Self {
        Backoff {
            first,
            max,
            healthy_reset,
            failures: 0,
        }
    }

    /// The delay before the next restart; each call counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        // Past 2^16 the product overflows long before any sane max, so cap the exponent.
        let factor = 1u32 << self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        self.first.saturating_mul(factor).min(self.max)
    }

    /// Tells the schedule the agent has been healthy for `healthy_for`; a long enough run
    /// forgets earlier crashes so one crash a day never waits a minute.
    pub fn note_healthy(&mut self, healthy_for: Duration) {
        if healthy_for >= self.healthy_reset {
            self.failures = 0;
        }
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(60),
            Duration::from_secs(300),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(delays: impl Iterator<Item = Duration>) -> Vec<u64> {
        delays.map(|d| d.as_secs()).collect()
    }

    #[test]
    fn doubles_from_one_second_and_stops_at_sixty() {
        let mut b = Backoff::default();
        let got = secs((0..9).map(|_| b.next_delay()));
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn survives_a_thousand_failures_without_overflow() {
        let mut b = Backoff::default();
        for _ in 0..1000 {
            b.next_delay();
        }
        assert_eq!(b.next_delay(), Duration::from_secs(60));
    }

    #[test]
    fn five_healthy_minutes_reset_the_schedule() {
        let mut b = Backoff::default();
        for _ in 0..5 {
            b.next_delay();
        }
        b.note_healthy(Duration::from_secs(299));
        assert_eq!(
            b.next_delay(),
            Duration::from_secs(32),
            "under five minutes keeps counting"
        );
        b.note_healthy(Duration::from_secs(300));
        assert_eq!(b.failures(), 0);
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
