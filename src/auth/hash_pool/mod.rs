//! A fixed pool of threads for password hashing.
//!
//! Argon2 is CPU- and memory-bound by design (~25 ms and 19 MiB a hash).
//! Running it on the general blocking pool would let a login flood take
//! every core and spread 19 MiB allocations over hundreds of threads (each
//! keeping its own malloc arena). Here a fixed number of threads do all
//! hashing, jobs queue in front of them, and the threads run at a lower
//! scheduling priority, so that the threads answering every other request
//! keep the CPU first; on Linux they also step aside for other processes
//! while other requests are being served (`step_aside`).

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::ApiError;

#[cfg(target_os = "linux")]
mod step_aside;

/// Niceness of hashing threads (Linux: per thread; 0 is normal, 19 lowest).
#[cfg(target_os = "linux")]
const NICENESS: libc::c_int = 19;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct HashPool {
    jobs: Sender<Job>,
}

impl HashPool {
    pub fn new(threads: usize) -> anyhow::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work(&queue))
                .map_err(|e| anyhow::anyhow!("cannot start a hashing thread: {e}"))?;
        }
        Ok(HashPool { jobs })
    }

    /// Runs `job` on the pool (in the caller's span) and waits for it.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (done, result) = oneshot::channel();
        let span = tracing::Span::current();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(span.in_scope(job));
            }))
            .map_err(|_| ApiError::internal("the hashing pool has stopped"))?;
        result
            .await
            .map_err(|_| ApiError::internal("a hashing job was dropped"))
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    #[cfg(target_os = "linux")]
    let step_aside = step_aside::StepAside::for_this_thread();
    loop {
        // The lock is held only while waiting for the next job.
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            #[cfg(target_os = "linux")]
            Ok(job) => match &step_aside {
                Some(step_aside) => step_aside.during(job),
                None => job(),
            },
            #[cfg(not(target_os = "linux"))]
            Ok(job) => job(),
            Err(_) => return, // every sender is gone: the server stopped
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // The lowest niceness, not SCHED_IDLE: an idle-policy thread is
    // preempted at once, which helped latency, but it got so little CPU
    // among the request's own work (Redis, PostgreSQL, the workers) that
    // logins fell to about 82% of the Argon2 bound, and a starved thread
    // holding a lock (malloc's) stalls whoever waits for it. Other
    // processes are `step_aside`'s part.
    // SAFETY: setpriority with PRIO_PROCESS and who = 0 affects only the
    // calling thread on Linux; it reads no memory of ours.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS) };
    if result != 0 {
        tracing::debug!("could not lower the priority of a hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn jobs_run_and_answer() {
        let pool = HashPool::new(2).unwrap();
        let answers = futures_util::future::join_all((0..8).map(|n| pool.run(move || n * 2))).await;
        let answers: Vec<i32> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, vec![0, 2, 4, 6, 8, 10, 12, 14]);
    }
}
