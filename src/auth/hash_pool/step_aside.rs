//! Hashing threads step aside for the rest of the machine.
//!
//! While other requests are being served (`foreground::busy`, now or in
//! the last `RECENTLY`), a timer interrupts a hashing thread every `EVERY`
//! and the thread sleeps for `FOR`. Sleeping takes it off its core, so
//! whatever waits for that core gets it at once.
//!
//! Why a low priority is not enough: priorities order threads inside one
//! scheduling group only. Redis and PostgreSQL, where they share the
//! machine, sit in other groups (another session's autogroup, another
//! container's cgroup), and the kernel shares a core between groups by
//! fairness, not by our threads' priority. `perf sched` during a login
//! flood showed Redis runnable for 4 to 20 ms behind an Argon2 thread at
//! nice 10 (and a wake-up racing a context switch left it queued until the
//! next 4 ms tick), which made GET /accounts/me p99 10 to 20 times its
//! quiet value.
//!
//! "Recently" matters: between two requests the count can read zero while
//! their packets are still on their way through the kernel.
//!
//! Cost: nothing while only password requests run (the timer stays off,
//! so a pure login flood hashes at full speed); otherwise one signal per
//! `EVERY` and the sleeps, which is the point.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

use crate::foreground;

/// How often a hashing thread checks whether to step aside: about the
/// longest another thread waits for its core (500 µs left GET /me p99
/// during a flood at 2 to 4 times its quiet value, too close to the mark).
const EVERY: Duration = Duration::from_micros(250);
/// How long it steps aside: long enough for a waiting task to be picked
/// and finish a short burst (a Redis command, a handler's slice of work);
/// 5 µs was measured too short to help.
const FOR: Duration = Duration::from_micros(20);
/// How long after the last sight of a busy foreground it keeps stepping
/// aside (2 ms was measured too short).
const RECENTLY: Duration = Duration::from_millis(10);

/// When a hashing thread last saw other requests in flight (µs, monotonic).
static LAST_BUSY: AtomicU64 = AtomicU64::new(0);
/// Times any hashing thread stepped aside.
static STEPPED_ASIDE: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's timer, for the signal handler to switch off. Const
    /// and without a destructor, so reading it in a handler is sound.
    static TIMER: Cell<usize> = const { Cell::new(0) };
}

/// A per-thread timer; dropping it deletes the timer.
pub struct StepAside {
    timer: libc::timer_t,
}

/// A real-time signal of our own, counted down from the top: glibc and
/// most libraries that use real-time signals take them from SIGRTMIN up.
fn signal() -> libc::c_int {
    libc::SIGRTMAX() - 3
}

fn monotonic_micros() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into `now`; async-signal-safe (vDSO).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000
}

/// Whether other requests are in flight now or were `RECENTLY`.
/// Async-signal-safe: atomics and clock_gettime only.
fn recently_busy() -> bool {
    let now = monotonic_micros();
    if foreground::busy() {
        LAST_BUSY.store(now, Ordering::Relaxed);
        return true;
    }
    now.saturating_sub(LAST_BUSY.load(Ordering::Relaxed)) <= RECENTLY.as_micros() as u64
}

fn timespec(duration: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: 0,
        tv_nsec: duration.subsec_nanos() as libc::c_long,
    }
}

fn set_timer(timer: libc::timer_t, period: Duration) {
    let spec = libc::itimerspec {
        it_interval: timespec(period),
        it_value: timespec(period),
    };
    // SAFETY: a timer of this thread; a zero value disarms it.
    // timer_settime is async-signal-safe.
    unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) };
}

extern "C" fn on_tick(_: libc::c_int) {
    // SAFETY: errno belongs to the interrupted code; what we call may
    // change it, so it is put back.
    let errno = unsafe { *libc::__errno_location() };
    if recently_busy() {
        STEPPED_ASIDE.fetch_add(1, Ordering::Relaxed);
        let pause = timespec(FOR);
        // SAFETY: nanosleep is async-signal-safe; `pause` outlives it.
        unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
    } else {
        // Nobody to step aside for: stop ticking until the next job.
        set_timer(TIMER.with(Cell::get) as libc::timer_t, Duration::ZERO);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn install_handler() -> bool {
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is valid; the handler is a plain
        // `extern "C" fn(c_int)` (no SA_SIGINFO).
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_tick as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal(), &action, std::ptr::null_mut()) == 0
        };
        INSTALLED.store(installed, Ordering::Relaxed);
    });
    INSTALLED.load(Ordering::Relaxed)
}

impl StepAside {
    /// A timer aimed at the calling thread; `None` (hash without stepping
    /// aside) if the system refuses one.
    pub fn for_this_thread() -> Option<Self> {
        if !install_handler() {
            return None;
        }
        // SAFETY: plain libc calls on values we own; the sigevent names
        // this thread, so the signal never lands on another one.
        unsafe {
            // Sleeps of tens of microseconds need a timer slack below the
            // default 50 µs (per thread).
            libc::prctl(libc::PR_SET_TIMERSLACK, 1_000, 0, 0, 0);
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_THREAD_ID;
            event.sigev_signo = signal();
            event.sigev_notify_thread_id = libc::gettid();
            let mut timer: libc::timer_t = std::ptr::null_mut();
            if libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) != 0 {
                return None;
            }
            TIMER.with(|t| t.set(timer as usize));
            Some(StepAside { timer })
        }
    }

    /// Runs `job`, stepping aside while other requests are served.
    pub fn during<T>(&self, job: impl FnOnce() -> T) -> T {
        struct Armed<'a>(&'a StepAside);
        impl Drop for Armed<'_> {
            fn drop(&mut self) {
                set_timer(self.0.timer, Duration::ZERO); // also when `job` panics
            }
        }
        if recently_busy() {
            set_timer(self.timer, EVERY);
        }
        let _armed = Armed(self);
        job()
    }
}

impl Drop for StepAside {
    fn drop(&mut self) {
        TIMER.with(|t| t.set(0));
        // SAFETY: created by timer_create, deleted once.
        unsafe { libc::timer_delete(self.timer) };
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn spin(for_how_long: Duration) -> u64 {
        let started = Instant::now();
        let mut rounds = 0u64;
        while started.elapsed() < for_how_long {
            rounds = std::hint::black_box(rounds + 1);
        }
        rounds
    }

    #[test]
    fn steps_aside_while_other_requests_are_served() {
        let _alone = foreground::alone_in_tests();
        let step_aside = StepAside::for_this_thread().expect("a timer");
        let request = foreground::Request::begin();
        let before = STEPPED_ASIDE.load(Ordering::Relaxed);
        let answer = step_aside.during(|| {
            spin(Duration::from_millis(100));
            6 * 7
        });
        drop(request);
        assert_eq!(answer, 42);
        // About one every 250 µs; fewer if this thread was preempted.
        let stepped = STEPPED_ASIDE.load(Ordering::Relaxed) - before;
        assert!(stepped >= 100, "stepped aside {stepped} times in 100 ms");
    }

    #[test]
    fn a_panicking_job_leaves_the_timer_off() {
        let _alone = foreground::alone_in_tests();
        let step_aside = StepAside::for_this_thread().expect("a timer");
        let request = foreground::Request::begin();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            step_aside.during(|| panic!("a job that fails"))
        }));
        drop(request);
        assert!(outcome.is_err());
        let mut current: libc::itimerspec = unsafe { std::mem::zeroed() };
        // SAFETY: our own timer; writes into `current`.
        unsafe { libc::timer_gettime(step_aside.timer, &mut current) };
        assert_eq!((current.it_value.tv_sec, current.it_value.tv_nsec), (0, 0));
    }
}
