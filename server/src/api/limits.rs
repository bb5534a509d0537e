//! Per-credential rate limits: a GCRA limiter keyed by tenant and credential, which says how long
//! a refused caller must wait (`Retry-After`). Off when the rate is 0.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::Caller;

pub struct RateLimits {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// Requests a second, as the `RateLimit-Policy` header states it.
    pub rate: u32,
}

impl RateLimits {
    /// `rate` requests a second on average, `burst` at once above it (at least one second's
    /// worth); no limit when `rate` is 0.
    pub fn new(rate: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(rate).map(|per_second| {
            let burst = NonZeroU32::new(burst.max(rate)).unwrap_or(per_second);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        Self { limiter, rate }
    }

    /// `Err` with how long to wait when the caller has used up its rate.
    pub fn check(&self, caller: &Caller) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let key = format!("{}\u{1f}{}", caller.tenant, caller.credential);
        limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets callers whose budget is full again, so the limiter does not grow without bound.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Scope, Tenant};

    fn caller(credential: &str) -> Caller {
        Caller::new(Tenant::default_tenant(), [Scope::Read], credential.into())
    }

    #[test]
    fn a_credential_gets_its_burst_then_waits_while_others_go_on() {
        let limits = RateLimits::new(2, 3);
        for _ in 0..3 {
            assert!(limits.check(&caller("a")).is_ok());
        }
        let wait = limits.check(&caller("a")).expect_err("the burst is spent");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(
            limits.check(&caller("b")).is_ok(),
            "another credential has its own budget"
        );
        assert!(
            RateLimits::new(0, 0).check(&caller("a")).is_ok(),
            "0 is no limit"
        );
    }
}
