//! The virtual clock that paces a stream.
//!
//! Virtual time starts at the run's origin when the first records are ready and advances
//! `speed` virtual seconds per real second; a record is released when virtual time reaches its
//! `ts`. Records older than the virtual time (a replay catching up, a resumed stream) go out at
//! once. Speed 0 means no pacing at all: a replay as fast as the target accepts.

use std::time::Duration;

use faux::Timestamp;
use tokio::time::Instant;

/// Where virtual time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The wall-clock instant the stream starts: a live stream in step with real time.
    Now,
    At(Timestamp),
}

#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    origin: Timestamp,
    speed: f64,
    launched: Instant,
}

impl VirtualClock {
    /// A clock that reads `origin` now. `speed` is virtual seconds per real second, ≥ 0.
    pub fn start(origin: Origin, speed: f64) -> VirtualClock {
        let origin = match origin {
            Origin::At(t) => t,
            Origin::Now => wall_clock_now(),
        };
        VirtualClock {
            origin,
            speed,
            launched: Instant::now(),
        }
    }

    /// When a record written at `ts` is due, or `None` if it is due already (or the clock is
    /// unpaced).
    pub fn due(&self, ts: Timestamp) -> Option<Instant> {
        if self.speed <= 0.0 {
            return None;
        }
        let ahead = (ts.0 - self.origin.0) as f64 / self.speed;
        if ahead <= 0.0 {
            return None;
        }
        let at = self.launched + Duration::from_secs_f64(ahead.min(1e12));
        (at > Instant::now()).then_some(at)
    }
}

/// The current UTC time, in whole seconds.
pub fn wall_clock_now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Timestamp(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_records_at_their_virtual_time() {
        let origin = Timestamp(1_000_000);
        let clock = VirtualClock::start(Origin::At(origin), 3600.0);
        assert_eq!(clock.due(Timestamp(origin.0 - 10)), None);
        assert_eq!(clock.due(origin), None);
        // one virtual hour later is one real second later
        assert_eq!(
            clock.due(Timestamp(origin.0 + 3600)),
            Some(clock.launched + Duration::from_secs(1))
        );
        // a clock launched two seconds ago has passed that hour, not the third one
        let earlier = VirtualClock {
            launched: clock.launched - Duration::from_secs(2),
            ..clock
        };
        assert_eq!(earlier.due(Timestamp(origin.0 + 3600)), None);
        assert_eq!(
            earlier.due(Timestamp(origin.0 + 3 * 3600)),
            Some(earlier.launched + Duration::from_secs(3))
        );

        let unpaced = VirtualClock::start(Origin::At(origin), 0.0);
        assert_eq!(unpaced.due(Timestamp(origin.0 + 1_000_000)), None);
    }
}
