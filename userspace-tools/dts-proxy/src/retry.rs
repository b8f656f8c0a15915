//! When a failed handover is tried again.
//!
//! Some refusals say "not now" rather than "no": the destination's answer
//! came too late or the mesh message outlived its lease (`ETIMEDOUT`, a
//! node whose softirqs a SYN flood keeps busy), its listener's queue or a
//! flow table was full (`EAGAIN`, `ENOSPC`), too many handovers were in
//! flight or the client had not acknowledged the last response yet
//! (`EBUSY`), memory ran short (`ENOMEM`), a signal cut the wait (`EINTR`).
//! Every such failure leaves the client connection intact with the proxy
//! (the module puts it back to `Proxying`, and a late message is refused by
//! the destination's lease), so the same destination can be asked again.
//! Serving the request locally instead would answer it from the wrong
//! node's content. Every other errno is final for that destination: the
//! next choice is tried, then the local server.
//!
//! [`RetryPolicy`] bounds the retries: at most `retries` per destination,
//! after a back-off of 50 ms, 200 ms, 800 ms, then 1 s each, and none that
//! would start more than [`RetryPolicy::budget`] after the request's first
//! attempt. No locks; the caller's thread sleeps.

use std::time::Duration;

use dts::HandoverError;

/// Why one handover attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttemptError {
    /// The `result=` label: the errno name, or the proxy's own reason.
    pub(crate) label: String,
    /// Whether the same destination may be asked again.
    pub(crate) transient: bool,
}

impl AttemptError {
    /// A failure the proxy decided on itself: never retried.
    pub(crate) fn fatal(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            transient: false,
        }
    }

    /// The failure of `DTS_SO_HANDOVER` with `e`: its errno name, and
    /// whether it says "not now" ([`HandoverError::is_transient`], see the
    /// module doc).
    pub(crate) fn from_handover(e: HandoverError) -> Self {
        Self {
            label: e.label(),
            transient: e.is_transient(),
        }
    }
}

/// How often and how long a transient failure is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Most retries per destination (`--handover-retries`; 0: none).
    pub(crate) retries: u32,
    /// No retry starts later than this after the first attempt.
    pub(crate) budget: Duration,
}

/// The back-off before the first retry; each next one is four times as
/// long, up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(50);

/// The longest back-off.
const MAX_DELAY: Duration = Duration::from_secs(1);

impl RetryPolicy {
    /// The default budget: a few of the module's answer bounds
    /// (`ACK_MS`, 3 s) would exceed what a client waits for a first byte.
    pub(crate) const DEFAULT_BUDGET: Duration = Duration::from_secs(5);

    /// Retries up to `retries` times within [`Self::DEFAULT_BUDGET`].
    pub(crate) const fn new(retries: u32) -> Self {
        Self {
            retries,
            budget: Self::DEFAULT_BUDGET,
        }
    }

    /// The back-off before retry `n` (1 for the first one).
    pub(crate) fn delay(n: u32) -> Duration {
        let factor = 4u32.saturating_pow(n.saturating_sub(1));
        FIRST_DELAY.saturating_mul(factor).min(MAX_DELAY)
    }

    /// The back-off before retry `n` of a destination after `failure`,
    /// `elapsed` after the request's first attempt; `None`: give up on it.
    pub(crate) fn next(
        &self,
        failure: &AttemptError,
        n: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        if !failure.transient || n > self.retries {
            return None;
        }
        let d = Self::delay(n);
        (elapsed.saturating_add(d) <= self.budget).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(transient: bool) -> AttemptError {
        AttemptError {
            label: "x".to_owned(),
            transient,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let d: Vec<u64> = (1..=6)
            .map(|n| RetryPolicy::delay(n).as_millis() as u64)
            .collect();
        assert_eq!(d, [50, 200, 800, 1000, 1000, 1000]);
        assert_eq!(RetryPolicy::delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let p = RetryPolicy::new(3);
        assert_eq!(p.next(&f(true), 1, Duration::ZERO), Some(FIRST_DELAY));
        assert_eq!(p.next(&f(false), 1, Duration::ZERO), None);
        assert_eq!(p.next(&f(true), 4, Duration::ZERO), None);
        assert_eq!(RetryPolicy::new(0).next(&f(true), 1, Duration::ZERO), None);
    }

    #[test]
    fn no_retry_past_the_budget() {
        let p = RetryPolicy::new(10);
        assert!(p.next(&f(true), 3, Duration::from_millis(4100)).is_some());
        assert_eq!(p.next(&f(true), 3, Duration::from_millis(4300)), None);
        assert_eq!(p.next(&f(true), 1, Duration::from_secs(60)), None);
    }

    #[test]
    fn which_errnos_are_transient() {
        for e in [
            libc::ETIMEDOUT,
            libc::EAGAIN,
            libc::ENOSPC,
            libc::EBUSY,
            libc::ENOMEM,
            libc::EINTR,
        ] {
            assert!(AttemptError::from_handover(HandoverError::from_errno(e)).transient);
        }
        for e in [
            libc::EINVAL,
            libc::EHOSTDOWN,
            libc::ESHUTDOWN,
            libc::ECONNREFUSED,
            libc::EMSGSIZE,
            libc::EALREADY,
            libc::EBADF,
            libc::EPERM,
            libc::EPROTO,
            libc::ELOOP,
        ] {
            assert!(!AttemptError::from_handover(HandoverError::from_errno(e)).transient);
        }
        assert_eq!(
            AttemptError::from_handover(HandoverError::TimedOut).label,
            "ETIMEDOUT"
        );
        assert!(!AttemptError::fatal("unacked").transient);
    }
}
