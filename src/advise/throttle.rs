//! Throttling of loads, so that a warm-up does not starve the service it warms: a token bucket over the
//! bytes read (a pacer shared by every loading thread: a request of N bytes goes N / rate seconds after
//! the previous one went), and the I/O priority of the loading threads.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sys::ioprio::{self, IoPriority};

/// Paces reads to a rate, across threads.
#[derive(Debug)]
pub struct Throttle {
    rate: u64,
    /// When the next request may start.
    next: Mutex<Option<Instant>>,
}

impl Throttle {
    /// A pacer of `rate` bytes per second (at least 1).
    pub fn new(rate: u64) -> Throttle {
        Throttle {
            rate: rate.max(1),
            next: Mutex::new(None),
        }
    }

    /// The rate, in bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// The largest piece worth asking for at once: an eighth of a second's worth, at least 256 KiB and
    /// at most `window`, in whole pages, so that the pace is smooth and the bar moves.
    pub fn piece(&self, window: u64) -> u64 {
        let page = crate::map::page_size() as u64;
        let piece = (self.rate / 8).clamp(256 << 10, window.max(page));
        (piece / page).max(1) * page
    }

    /// Waits until `bytes` may be read: each request gets the next slot of `bytes / rate` seconds (the
    /// slots of all threads one after another) and goes at the end of its slot. The bucket starts
    /// empty and time left unused is not saved up, so N bytes never go in less than N / rate seconds.
    pub fn take(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let cost = Duration::from_secs_f64(bytes as f64 / self.rate as f64);
        let due = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let due = next.map_or(now, |n| n.max(now)) + cost;
            *next = Some(due);
            due
        };
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

/// Sets the I/O priority of the calling thread, which threads it creates afterwards inherit.
pub fn set_io_priority(priority: IoPriority) -> std::io::Result<()> {
    ioprio::set(0, priority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_is_a_lower_bound_across_threads() {
        let t = Throttle::new(64 << 20);
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..4 {
                        t.take(1 << 20);
                    }
                });
            }
        });
        // 16 MiB at 64 MiB/s: a quarter of a second at least.
        assert!(start.elapsed() >= Duration::from_secs_f64(16.0 / 64.0));
        assert_eq!(t.piece(16 << 20), 8 << 20);
        assert_eq!(Throttle::new(1).piece(16 << 20), 256 << 10);
        assert_eq!(Throttle::new(1 << 40).piece(4 << 20), 4 << 20);
    }
}
