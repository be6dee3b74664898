//! The crate's one retry policy: every wait and every retry goes through [`Retry`].
//!
//! An attempt either finishes ([`Attempt::Done`]: success, or a failure not worth
//! repeating) or asks to be tried again ([`Attempt::Again`], with why: an error that may
//! pass, a state still pending). Between attempts [`Retry`] sleeps a jittered
//! exponential backoff: the ceiling of the delay after attempt `n` is
//! `first_delay · 2ⁿ⁻¹`, at most `max_delay`, and the delay is drawn uniformly from the
//! upper half of it ("equal jitter": concurrent runs spread out, and until the cap each
//! delay is at least the ceiling before it, so the wait grows). It stops at the first of:
//! `max_attempts` attempts made, or the `deadline` reached. A sleep is cut short at the
//! deadline, so the last attempt runs at it and none starts after it. Running out is
//! [`GaveUp`] (from [`run`]), which keeps the last reason for the caller's message.
//!
//! Every policy in use is a constant (or, where the deadline is the user's
//! `--wait-timeout`, a function) below, with what it was before it moved here:
//!
//! | policy | where | bound | delays |
//! |---|---|---|---|
//! | [`INDEX_WRITE`] | `release::write_index_conditionally`: a lost conditional index write (412) | 12 attempts | 100 ms doubling to 4 s (was full jitter, 10 ms + up to 100 ms doubling to 4 s) |
//! | [`YANKED_WRITE`] | `release/yank.rs`: a lost conditional `yanked.json` append (another yank); re-read, decide again | 12 attempts | 100 ms doubling to 4 s (new) |
//! | [`PAGE_REWRITE`] | `release/page.rs`: the index changed while the landing page was written; render again | 12 passes | 100 ms doubling to 4 s (was back to back) |
//! | [`S3_CONFLICT`] | `store/s3.rs`: a 409 `ConditionalRequestConflict` | 6 attempts | 200 ms doubling to 3.2 s (was the same ceilings + up to 100 ms) |
//! | [`NEW_BUCKET`] | deploy-infra: `NoSuchBucket` right after CreateBucket | 8 attempts | 500 ms doubling to 8 s (was these delays exactly, without jitter) |
//! | [`NEW_CERTIFICATE`] | deploy-infra: ACM's `ResourceNotFoundException` and the validation record not yet published after RequestCertificate | 120 s | 1 s doubling to 10 s (was every 3 s) |
//! | [`aws_wait`] | deploy-infra: certificate ISSUED, distribution Deployed, Route53 change INSYNC, a certificate CloudFront still holds (rollback) | `--wait-timeout` | 2 s doubling to 30 s (was the SDK waiters' 30–60 s doubling to 120 s–35 min, and 5 s / 15 s polls) |
//! | [`invalidation_wait`] | release: the CloudFront invalidation | `--wait-timeout` | 1 s doubling to 15 s (was these delays exactly, without jitter) |
//! | [`VERIFY_GET`] | verify-repo: a GET that got a 5xx or a dropped connection (the last answer is reported) | 3 attempts | 500 ms, then up to 1 s (was 500 ms × attempt, without jitter) |
//!
//! [`Retry`] is the policy at work (it counts, draws, bounds and sleeps); [`run`] drives
//! it for an operation retried as it is, and a caller whose attempts carry state drives
//! it in its own loop. Its clock and random source are parameters, so the unit tests
//! check the delays without sleeping.

use std::future::Future;
use std::time::{Duration, Instant};

/// A conditional `index.yaml` write that lost a race: re-read, re-merge, write again.
pub const INDEX_WRITE: Policy = Policy::attempts(12, Duration::from_millis(100), Duration::from_secs(4));
/// A conditional `yanked.json` append that lost a race (another yank or undo): re-read the
/// record and the index, decide again, append.
pub const YANKED_WRITE: Policy = Policy::attempts(12, Duration::from_millis(100), Duration::from_secs(4));
/// The index changed while the landing page was written (another release): render the
/// page again from the new index.
pub const PAGE_REWRITE: Policy = Policy::attempts(12, Duration::from_millis(100), Duration::from_secs(4));
/// S3's 409 `ConditionalRequestConflict`: another conditional write on the key was in
/// flight; AWS advises to retry.
pub const S3_CONFLICT: Policy = Policy::attempts(6, Duration::from_millis(200), Duration::from_millis(3200));
/// verify-repo's anonymous GET: a CDN edge answers a transient 5xx or drops a connection
/// now and then, which is not what users of a healthy repository see (was: 3 attempts,
/// 500 ms then 1 s apart, unjittered).
pub const VERIFY_GET: Policy = Policy::attempts(3, Duration::from_millis(500), Duration::from_secs(1));
/// S3 answers `NoSuchBucket` for a moment after CreateBucket (eventual consistency).
pub const NEW_BUCKET: Policy = Policy::attempts(8, Duration::from_millis(500), Duration::from_secs(8));
/// ACM answers `ResourceNotFoundException` for a moment after RequestCertificate, and
/// publishes the DNS validation record a few seconds later.
pub const NEW_CERTIFICATE: Policy =
    Policy::until(Duration::from_secs(120), Duration::from_secs(1), Duration::from_secs(10));

/// Waiting for AWS to finish something that takes seconds to half an hour (a certificate
/// ISSUED, a distribution Deployed, a Route53 change INSYNC, CloudFront letting go of a
/// certificate), for at most `timeout` (deploy-infra's `--wait-timeout`).
pub const fn aws_wait(timeout: Duration) -> Policy {
    Policy::until(timeout, Duration::from_secs(2), Duration::from_secs(30))
}

/// Waiting for a CloudFront invalidation, for at most `timeout` (release-chart's
/// `--wait-timeout`).
pub const fn invalidation_wait(timeout: Duration) -> Policy {
    Policy::until(timeout, Duration::from_secs(1), Duration::from_secs(15))
}

/// How often and how long to try. Always bounded: by attempts, by a deadline, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Most attempts, the first included; `None`: as many as the deadline allows.
    max_attempts: Option<u32>,
    first_delay: Duration,
    max_delay: Duration,
    /// No attempt starts later than this after the first; `None`: attempts alone bound it.
    deadline: Option<Duration>,
}

impl Policy {
    /// At most `max_attempts` attempts (at least one), waiting `first_delay` doubling to
    /// `max_delay` (jittered) between them.
    pub const fn attempts(max_attempts: u32, first_delay: Duration, max_delay: Duration) -> Policy {
        let max_attempts = if max_attempts == 0 { 1 } else { max_attempts };
        Policy { max_attempts: Some(max_attempts), first_delay, max_delay, deadline: None }
    }

    /// Attempts until `deadline` has passed since the first, waiting `first_delay`
    /// doubling to `max_delay` (jittered) between them.
    pub const fn until(deadline: Duration, first_delay: Duration, max_delay: Duration) -> Policy {
        Policy { max_attempts: None, first_delay, max_delay, deadline: Some(deadline) }
    }

    /// The same policy, also bounded by `deadline`.
    #[must_use]
    pub const fn within(self, deadline: Duration) -> Policy {
        Policy { deadline: Some(deadline), ..self }
    }

    pub const fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    pub const fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The ceiling of the delay after failed attempt `attempt` (1-based):
    /// `first_delay · 2^(attempt-1)`, at most `max_delay`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.first_delay.saturating_mul(1 << doublings).min(self.max_delay)
    }

    /// The delay after failed attempt `attempt`: uniform in the upper half of its ceiling.
    pub fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis().min(u128::from(u64::MAX)) as u64;
        Duration::from_millis(ceiling - rng.u64(0..=ceiling / 2))
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T, E> {
    /// Finished: this is the outcome (a success, or a failure retrying will not mend).
    Done(T),
    /// Not yet: `E` says why (an error that may pass, a state still pending).
    Again(E),
}

/// Which bound ended the attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Attempts,
    Deadline,
}

/// Every attempt asked for another, and the policy allowed no more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp<E> {
    /// Why the last attempt asked for another.
    pub last: E,
    pub attempts: u32,
    pub elapsed: Duration,
    pub limit: Limit,
}

/// The wait before the next attempt, as [`run`] tells its `on_retry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The attempt that asked for another (1-based).
    pub attempt: u32,
    /// How long [`run`] sleeps before the next one.
    pub delay: Duration,
}

/// Time as a [`Retry`] sees it: the real one ([`Tokio`]) or a test's.
pub trait Clock {
    fn now(&self) -> Instant;
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The real clock: `Instant::now` and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Clock for Tokio {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// The attempts of one operation under a [`Policy`]: the one place that counts them,
/// draws the backoff, applies the bounds and sleeps. [`run`] drives it; a caller whose
/// attempts carry state from one to the next (the index write and the landing page re-read
/// between them) drives it in its own loop with [`Retry::wait`].
#[derive(Debug)]
pub struct Retry<C: Clock = Tokio> {
    policy: Policy,
    clock: C,
    rng: fastrand::Rng,
    started: Instant,
    attempt: u32,
}

impl Retry<Tokio> {
    pub fn new(policy: Policy) -> Retry<Tokio> {
        Retry::with_clock(policy, Tokio, fastrand::Rng::new())
    }
}

impl<C: Clock> Retry<C> {
    /// Attempts on `clock`, jittered by `rng`; the first attempt starts now.
    pub fn with_clock(policy: Policy, clock: C, rng: fastrand::Rng) -> Retry<C> {
        let started = clock.now();
        Retry { policy, clock, rng, started, attempt: 1 }
    }

    /// The number of the attempt under way (1-based).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn elapsed(&self) -> Duration {
        self.clock.now().saturating_duration_since(self.started)
    }

    /// The attempt under way asked for another: tell `announce` the wait, sleep it and
    /// count the next attempt; or, when the policy allows no more, say which bound.
    pub async fn wait(&mut self, announce: impl FnOnce(Backoff)) -> Result<Backoff, Limit> {
        if self.policy.max_attempts.is_some_and(|max| self.attempt >= max) {
            return Err(Limit::Attempts);
        }
        let mut delay = self.policy.delay(self.attempt, &mut self.rng);
        if let Some(deadline) = self.policy.deadline {
            let left = deadline.saturating_sub(self.elapsed());
            if left.is_zero() {
                return Err(Limit::Deadline);
            }
            delay = delay.min(left);
        }
        let backoff = Backoff { attempt: self.attempt, delay };
        announce(backoff);
        self.clock.sleep(delay).await;
        self.attempt += 1;
        Ok(backoff)
    }
}

/// Run `attempt` (given its 1-based number) under `policy`: its value on
/// [`Attempt::Done`], or [`GaveUp`] once the policy allows no more. `on_retry` hears
/// about each retry (the reason and the coming wait) before the sleep, for progress
/// output.
pub async fn run<T, E, F>(
    policy: Policy,
    attempt: impl FnMut(u32) -> F,
    on_retry: impl FnMut(&E, Backoff),
) -> Result<T, GaveUp<E>>
where
    F: Future<Output = Attempt<T, E>>,
{
    run_on(Retry::new(policy), attempt, on_retry).await
}

/// [`run`] with a given [`Retry`] (a test's clock and random source).
pub async fn run_on<T, E, F, C: Clock>(
    mut retry: Retry<C>,
    mut attempt: impl FnMut(u32) -> F,
    mut on_retry: impl FnMut(&E, Backoff),
) -> Result<T, GaveUp<E>>
where
    F: Future<Output = Attempt<T, E>>,
{
    loop {
        let reason = match attempt(retry.attempt()).await {
            Attempt::Done(value) => return Ok(value),
            Attempt::Again(reason) => reason,
        };
        if let Err(limit) = retry.wait(|backoff| on_retry(&reason, backoff)).await {
            return Err(GaveUp { last: reason, attempts: retry.attempt(), elapsed: retry.elapsed(), limit });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;

    /// A clock that only moves when slept on, and remembers every sleep.
    struct FakeClock {
        start: Instant,
        now: Cell<Duration>,
        sleeps: RefCell<Vec<Duration>>,
    }

    impl FakeClock {
        fn new() -> FakeClock {
            FakeClock { start: Instant::now(), now: Cell::new(Duration::ZERO), sleeps: RefCell::new(Vec::new()) }
        }

        fn advance(&self, by: Duration) {
            self.now.set(self.now.get() + by);
        }
    }

    impl Clock for &FakeClock {
        fn now(&self) -> Instant {
            self.start + self.now.get()
        }

        fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
            self.advance(duration);
            self.sleeps.borrow_mut().push(duration);
            std::future::ready(())
        }
    }

    /// Run `policy` against an attempt that is never done, on the fake clock; each
    /// attempt itself takes `cost`.
    fn never_done(policy: Policy, seed: u64, cost: Duration) -> (GaveUp<u32>, Vec<Duration>, Vec<Backoff>) {
        let clock = FakeClock::new();
        let mut heard = Vec::new();
        let result = block_on(run_on(
            Retry::with_clock(policy, &clock, fastrand::Rng::with_seed(seed)),
            |n| {
                clock.advance(cost);
                std::future::ready(Attempt::<(), u32>::Again(n))
            },
            |_, backoff| heard.push(backoff),
        ));
        let gave_up = result.expect_err("never done");
        (gave_up, clock.sleeps.into_inner(), heard)
    }

    /// The futures here never wait on anything (the fake clock is ready at once).
    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    #[test]
    fn attempts_are_bounded_and_the_last_reason_is_kept() {
        let (gave_up, sleeps, heard) = never_done(NEW_BUCKET, 1, Duration::ZERO);
        assert_eq!((gave_up.attempts, gave_up.limit, gave_up.last), (8, Limit::Attempts, 8));
        assert_eq!(sleeps.len(), 7, "no sleep after the last attempt");
        assert_eq!(heard.iter().map(|b| b.attempt).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(heard.iter().map(|b| b.delay).collect::<Vec<_>>(), sleeps, "on_retry hears the real delay");
        assert_eq!(gave_up.elapsed, sleeps.iter().sum::<Duration>());
    }

    #[test]
    fn delays_grow_within_the_upper_half_of_a_capped_doubling_ceiling() {
        let policy = Policy::attempts(12, Duration::from_millis(100), Duration::from_secs(4));
        let ceilings: Vec<u64> = (1..=11).map(|n| policy.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 4000, 4000, 4000, 4000, 4000]);
        for seed in 0..200 {
            let (_, sleeps, _) = never_done(policy, seed, Duration::ZERO);
            for (n, (sleep, ceiling)) in sleeps.iter().zip(&ceilings).enumerate() {
                let ms = sleep.as_millis() as u64;
                assert!((ceiling / 2..=*ceiling).contains(&ms), "seed {seed}, attempt {}: {ms} ms", n + 1);
            }
            for n in 1..sleeps.len() {
                if ceilings[n] == 2 * ceilings[n - 1] {
                    assert!(sleeps[n] >= sleeps[n - 1], "seed {seed}: shorter than before the cap: {sleeps:?}");
                }
            }
        }
    }

    #[test]
    fn delays_are_jittered() {
        let policy = S3_CONFLICT;
        let firsts: std::collections::BTreeSet<Duration> =
            (0..50).map(|seed| never_done(policy, seed, Duration::ZERO).1[0]).collect();
        assert!(firsts.len() > 10, "50 runs drew {} distinct first delays", firsts.len());
    }

    #[test]
    fn the_deadline_cuts_the_last_sleep_and_no_attempt_starts_after_it() {
        for cost in [Duration::ZERO, Duration::from_millis(700), Duration::from_secs(7)] {
            let deadline = Duration::from_secs(20);
            let (gave_up, sleeps, _) = never_done(aws_wait(deadline), 3, cost);
            assert_eq!(gave_up.limit, Limit::Deadline);
            let mut started = Duration::ZERO;
            for sleep in &sleeps {
                started += cost + *sleep;
                assert!(started <= deadline, "an attempt started at {started:?}, after the deadline");
            }
            assert!(gave_up.elapsed >= deadline, "gave up early: {gave_up:?}");
            if cost.is_zero() {
                assert_eq!(sleeps.iter().sum::<Duration>(), deadline, "the last attempt runs at the deadline");
            }
        }
    }

    #[test]
    fn both_bounds_apply_and_whichever_comes_first_ends_it() {
        let policy =
            Policy::attempts(100, Duration::from_secs(1), Duration::from_secs(1)).within(Duration::from_secs(3));
        assert_eq!(never_done(policy, 5, Duration::ZERO).0.limit, Limit::Deadline);
        let policy =
            Policy::attempts(2, Duration::from_secs(1), Duration::from_secs(1)).within(Duration::from_secs(60));
        assert_eq!(never_done(policy, 5, Duration::ZERO).0.limit, Limit::Attempts);
        assert_eq!(Policy::attempts(0, Duration::ZERO, Duration::ZERO).max_attempts(), Some(1), "one attempt at least");
    }

    /// What a spawned task (verify's concurrent checks, a concurrent store write) needs.
    #[test]
    fn a_run_on_the_real_clock_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let shared = String::from("borrowed by every attempt");
        let future = run(S3_CONFLICT, |_| async { Attempt::<usize, ()>::Done(shared.len()) }, |(), _| {});
        assert_send(&future);
    }

    #[test]
    fn done_ends_at_once_with_its_value() {
        let clock = FakeClock::new();
        let result = block_on(run_on(
            Retry::with_clock(INDEX_WRITE, &clock, fastrand::Rng::with_seed(9)),
            |n| std::future::ready(if n < 3 { Attempt::Again("lost the race") } else { Attempt::Done(n) }),
            |_, _| {},
        ));
        assert_eq!(result, Ok(3));
        assert_eq!(clock.sleeps.borrow().len(), 2);
    }
}
