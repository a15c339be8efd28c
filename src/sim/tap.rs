//! Reading an org's System Log as it grows: the events written since the last read, in the order
//! they were written, for the simulator's own background work (event hook deliveries, users who
//! complete their resets).
//!
//! Owns the read position. It does not write events (`logs`) nor decide what to do with them.

use chrono::{DateTime, Duration, Utc};

use super::model::{Org, StoredEvent};

/// How far before the newest event already read a new event may be dated and still be read. Events
/// written while the simulator runs are dated by the clock when written, so they land at the end of
/// the log; only seeds write older ones.
const MARGIN_SECONDS: i64 = 60;

/// A read position in one org's System Log.
#[derive(Debug, Clone)]
pub(crate) struct LogTap {
    /// Events with a `seq` below this one have been read (or were there when the tap was made).
    next_seq: u64,
    /// The newest publication time read so far.
    horizon: DateTime<Utc>,
}

impl LogTap {
    /// A tap that reads only events written from now on.
    pub(crate) fn at_end(org: &Org) -> Self {
        let next_seq = org.logs.iter().map(|e| e.seq + 1).max().unwrap_or(0);
        let horizon = org
            .logs
            .last()
            .map_or(DateTime::<Utc>::MIN_UTC, |e| e.published);
        LogTap { next_seq, horizon }
    }

    /// The events written since the last read, oldest write first. Scans back from the end of the
    /// log only as far as the margin before the newest event already read.
    pub(crate) fn read<'a>(&mut self, org: &'a Org) -> Vec<&'a StoredEvent> {
        let stop = self
            .horizon
            .checked_sub_signed(Duration::seconds(MARGIN_SECONDS))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut fresh: Vec<&StoredEvent> = org
            .logs
            .iter()
            .rev()
            .take_while(|e| e.published >= stop)
            .filter(|e| e.seq >= self.next_seq)
            .collect();
        fresh.sort_by_key(|e| e.seq);
        if let Some(last) = fresh.last() {
            self.next_seq = last.seq + 1;
        }
        if let Some(newest) = fresh.iter().map(|e| e.published).max() {
            self.horizon = self.horizon.max(newest);
        }
        fresh
    }
}
