//! Which answers are worth another try, and how long to wait before it.
//!
//! Status table of `POST /api/v2/logs` (Datadog "Send logs" API reference,
//! checked 2026-11-26): 202 accepted; 400 bad request; 401/403 API key
//! refused; 408 request timeout; 413 payload too large; 429 rate limited
//! (with `Retry-After`); 500/503 intake trouble. 502 and 504 come from the
//! load balancers in front of it.

use std::time::{Duration, SystemTime};

use crate::limits;

/// What one answer of the intake means for the batch that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseClass {
    /// Taken (any 2xx).
    Accepted,
    /// Worth another try after a delay: transport errors, 408, 429, 500, 502, 503, 504.
    Retry,
    /// 413: the body is too large; split it and send each half.
    TooLarge,
    /// 400: some log in it is malformed; split to find which.
    BadRequest,
    /// 401/403: the API key is wrong; retrying cannot help.
    Unauthorized,
    /// Any other status: a misconfiguration (a wrong `DD_URL` answering 404,
    /// say); retrying cannot help.
    Refused,
}

/// Classifies an HTTP status of the intake.
pub fn classify_status(status: u16) -> ResponseClass {
    match status {
        200..=299 => ResponseClass::Accepted,
        408 | 429 | 500 | 502 | 503 | 504 => ResponseClass::Retry,
        413 => ResponseClass::TooLarge,
        400 => ResponseClass::BadRequest,
        401 | 403 => ResponseClass::Unauthorized,
        _ => ResponseClass::Refused,
    }
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(delay.min(limits::MAX_RETRY_AFTER))
}

/// Exponential backoff with full jitter, capped. There is no attempt
/// count: the shipper retries while the time left before its stop allows
/// the next delay plus `min_attempt_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// An attempt is made only with at least this much time left for it.
    pub min_attempt_time: Duration,
    /// Off in tests, so delays are exact.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_delay: limits::RETRY_BASE_DELAY,
            max_delay: limits::RETRY_MAX_DELAY,
            min_attempt_time: limits::MIN_ATTEMPT_TIME,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (1 for the first retry). A
    /// `Retry-After` from the intake is a floor: waiting less would only earn
    /// another 429.
    pub fn next_delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let delay = if self.jitter {
            ceiling.mul_f64(fastrand::f64())
        } else {
            ceiling
        };
        retry_after.map_or(delay, |floor| delay.max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        for s in [200, 202] {
            assert_eq!(classify_status(s), ResponseClass::Accepted);
        }
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify_status(s), ResponseClass::Retry, "{s}");
        }
        assert_eq!(classify_status(413), ResponseClass::TooLarge);
        assert_eq!(classify_status(400), ResponseClass::BadRequest);
        assert_eq!(classify_status(401), ResponseClass::Unauthorized);
        assert_eq!(classify_status(403), ResponseClass::Unauthorized);
        for s in [404, 405, 501, 302] {
            assert_eq!(classify_status(s), ResponseClass::Refused, "{s}");
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap_without_jitter() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1_000),
            min_attempt_time: Duration::ZERO,
            jitter: false,
        };
        let delays: Vec<u128> = (1..=6).map(|r| p.next_delay(r, None).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(
            p.next_delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.next_delay(4, Some(Duration::from_millis(10))),
            Duration::from_millis(800)
        );
        assert_eq!(p.next_delay(u32::MAX, None), Duration::from_millis(1_000));
    }

    #[test]
    fn full_jitter_stays_under_the_ceiling() {
        let p = RetryPolicy::default();
        for retry in 1..20 {
            let ceiling = p
                .base_delay
                .saturating_mul(1 << (retry - 1).min(31))
                .min(p.max_delay);
            assert!(p.next_delay(retry, None) <= ceiling);
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_150_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        // Regression: u64::MAX seconds overflowed the deadline arithmetic.
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(limits::MAX_RETRY_AFTER)
        );
    }
}
