//! Argon2id password hashing with explicit parameters, on a fixed pool of hashing threads.
//!
//! Hashing is CPU- and memory-heavy, and `POST /v3/auth/tokens` lets anyone start one. So every
//! Argon2 run (login, dummy hash for unknown users, application-credential secrets, password set
//! and change) goes through [`PasswordHasher::hash`] / [`PasswordHasher::verify`], which queue the
//! work for one of `max_concurrent` threads of their own (not the blocking pool the store uses),
//! each owning one Argon2 memory buffer allocated once and reused: memory does not grow with the
//! number of concurrent logins. At most `max_queue` runs wait; beyond that the caller gets
//! `Error::Unavailable` (503 with `Retry-After`) at once. The threads run at a lower scheduling
//! priority, so that token validation and database work are served first when CPUs are short.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::PasswordHashingConfig;
use crate::error::{Error, Result};

/// Scheduling niceness of the hashing threads (Linux): below request handling, above idle.
const HASHING_NICE: i32 = 10;

/// Hash length and salt length of the hashes made here (argon2's defaults).
const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    max_len: usize,
    permits: usize,
    /// A real hash of a random password, verified when the user is unknown so that the
    /// answer takes as long as for a real user.
    dummy: OnceLock<String>,
    /// Work for the hashing threads; its capacity is the queue bound.
    queue: mpsc::SyncSender<Job>,
    max_queue: usize,
    /// Runs queued and not yet picked up by a thread (for the early check).
    waiting: Arc<AtomicUsize>,
    /// Runs a thread is doing now (for metrics).
    running: Arc<AtomicUsize>,
}

/// One hashing run, given the memory of the thread that runs it.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with other parameters: store this new hash.
    YesRehash(String),
}

impl PasswordHasher {
    /// Checks the parameters and starts the hashing threads.
    pub fn new(c: &PasswordHashingConfig) -> Result<Self> {
        let params = Params::new(c.memory_kib, c.iterations, c.parallelism, Some(OUTPUT_LEN))
            .map_err(|e| Error::validation(format!("invalid password_hashing parameters: {e}")))?;
        if c.max_concurrent == 0 || c.max_queue == 0 {
            return Err(Error::validation(
                "password_hashing.max_concurrent and max_queue must be at least 1",
            ));
        }
        let (queue, jobs) = mpsc::sync_channel::<Job>(c.max_queue);
        let jobs = Arc::new(Mutex::new(jobs));
        let waiting = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let blocks = params.block_count();
        for i in 0..c.max_concurrent {
            let (jobs, waiting, running) = (jobs.clone(), waiting.clone(), running.clone());
            std::thread::Builder::new()
                .name(format!("ironstone-hash-{i}"))
                .spawn(move || worker(&jobs, &waiting, &running, blocks))
                .map_err(|e| Error::internal(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(PasswordHasher {
            inner: Arc::new(Inner {
                params,
                max_len: c.max_password_length,
                permits: c.max_concurrent,
                dummy: OnceLock::new(),
                queue,
                max_queue: c.max_queue,
                waiting,
                running,
            }),
        })
    }

    pub fn max_len(&self) -> usize {
        self.inner.max_len
    }

    /// How many hashing runs may proceed at once.
    pub fn permits(&self) -> usize {
        self.inner.permits
    }

    /// Hashing runs waiting in the queue for a thread.
    pub fn queued(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// Hashing runs in progress on the hashing threads.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Relaxed)
    }

    /// Memory one hashing run holds, in bytes.
    pub fn memory_per_permit(&self) -> usize {
        self.inner.params.block_count() * Block::SIZE
    }

    /// 503 when the queue is full right now: lets a request that will need a hashing run give up
    /// before doing other work (e.g. looking the user up). Advisory; `hash` and `verify` enforce
    /// the bound.
    pub fn check_room(&self) -> Result<()> {
        if self.inner.waiting.load(Ordering::Relaxed) >= self.inner.max_queue {
            return Err(busy());
        }
        Ok(())
    }

    /// Hashes `password` on a hashing thread; 503 when too many runs are waiting already.
    pub async fn hash(&self, password: SecretString) -> Result<String> {
        self.run(move |inner, mem| inner.hash_with(mem, &password))
            .await?
    }

    /// Checks `password` against `hash` on a hashing thread (see [`Inner::verify_with`]);
    /// 503 when too many runs are waiting already.
    pub async fn verify(&self, password: SecretString, hash: Option<String>) -> Result<Verified> {
        self.run(move |inner, mem| inner.verify_with(mem, &password, hash.as_deref()))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner, &mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let inner = self.inner.clone();
        let job: Job = Box::new(move |mem| {
            let _ = tx.send(f(&inner, mem));
        });
        // Counted before it is queued, so that a thread picking it up at once never sees 0.
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        match self.inner.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
                tracing::warn!(
                    permits = self.inner.permits,
                    "password hashing queue full; answering 503"
                );
                return Err(busy());
            }
            Err(TrySendError::Disconnected(_)) => {
                self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(Error::internal("the password hashing threads are gone"));
            }
        }
        rx.await
            .map_err(|_| Error::internal("a password hashing run failed"))
    }

    /// Hashes on the calling thread with memory of its own (tests, tools).
    pub fn hash_blocking(&self, password: &SecretString) -> Result<String> {
        self.inner.hash_with(&mut self.inner.memory(), password)
    }

    /// Verifies on the calling thread with memory of its own (tests, tools).
    pub fn verify_blocking(&self, password: &SecretString, hash: Option<&str>) -> Verified {
        self.inner
            .verify_with(&mut self.inner.memory(), password, hash)
    }
}

fn busy() -> Error {
    Error::Unavailable("Too many password checks are in progress; try again shortly.".into())
}

/// A hashing thread: lowers its priority, allocates its memory once (at its first run) and
/// reuses it for every run, until the hasher is dropped.
fn worker(
    jobs: &Mutex<mpsc::Receiver<Job>>,
    waiting: &AtomicUsize,
    running: &AtomicUsize,
    blocks: usize,
) {
    lower_priority();
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(job) = job else { return };
        waiting.fetch_sub(1, Ordering::Relaxed);
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        // A panic in one run must not take the thread (and its permit) with it; the caller
        // then sees its answer channel closed.
        running.fetch_add(1, Ordering::Relaxed);
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
        running.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // Linux priorities are per thread: this lowers the calling thread only.
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), HASHING_NICE) {
        tracing::debug!(error = %e, "cannot lower the priority of a hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

impl Inner {
    fn memory(&self) -> Vec<Block> {
        vec![Block::default(); self.params.block_count()]
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn too_long(&self, password: &SecretString) -> Result<()> {
        if password.expose_secret().len() > self.max_len {
            return Err(Error::validation(format!(
                "Invalid input: the password is longer than {} characters.",
                self.max_len
            )));
        }
        Ok(())
    }

    /// A PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`) of `password` with a new salt.
    fn hash_with(&self, mem: &mut [Block], password: &SecretString) -> Result<String> {
        self.too_long(password)?;
        let mut salt = [0u8; SALT_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        self.argon()
            .hash_password_into_with_memory(
                password.expose_secret().as_bytes(),
                &salt,
                out.as_mut_slice(),
                mem,
            )
            .map_err(|e| Error::internal(format!("password hashing failed: {e}")))?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| Error::internal(format!("password hashing failed: {e}")))?;
        let output = argon2::password_hash::Output::new(out.as_slice())
            .map_err(|e| Error::internal(format!("password hashing failed: {e}")))?;
        Ok(format!(
            "${}$v={}${}${}${}",
            Algorithm::Argon2id.ident(),
            Version::V0x13 as u32,
            argon2::password_hash::ParamsString::try_from(&self.params)
                .map_err(|e| Error::internal(format!("password hashing failed: {e}")))?,
            salt.as_str(),
            output
        ))
    }

    /// Checks `password` against `hash`; with no hash (unknown user, no password set) a dummy
    /// hash is verified and the answer is always `No`. Any stored Argon2 PHC string verifies
    /// (argon2i/d/id, any parameters); the comparison is constant-time.
    fn verify_with(
        &self,
        mem: &mut Vec<Block>,
        password: &SecretString,
        hash: Option<&str>,
    ) -> Verified {
        let pw = password.expose_secret();
        let too_long = pw.len() > self.max_len;
        let dummy = self.dummy.get_or_init(|| {
            self.hash_with(mem, &SecretString::from(crate::ids::random_urlsafe(24)))
                .unwrap_or_default()
        });
        let (target, real) = match hash {
            Some(h) if !too_long => (h, true),
            _ => (dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(target) else {
            return Verified::No;
        };
        let input: &[u8] = if too_long { b"" } else { pw.as_bytes() };
        let ok = self.matches(mem, input, &parsed);
        if !(ok && real) {
            return Verified::No;
        }
        if self.is_current(&parsed) {
            Verified::Yes
        } else {
            match self.hash_with(mem, password) {
                Ok(new) => Verified::YesRehash(new),
                Err(_) => Verified::Yes,
            }
        }
    }

    /// Recomputes the raw hash of `input` with the stored parameters and salt in `mem` and
    /// compares it in constant time.
    fn matches(&self, mem: &mut Vec<Block>, input: &[u8], h: &PasswordHash) -> bool {
        let (Ok(alg), Ok(params), Some(salt), Some(expected)) = (
            Algorithm::try_from(h.algorithm),
            Params::try_from(h),
            h.salt,
            h.hash,
        ) else {
            return false;
        };
        let version = match h.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        // A stored hash may ask for more memory than this thread holds (parameters were
        // lowered since): grow this thread's buffer to it once, still one buffer per thread.
        if mem.len() < params.block_count() {
            mem.resize(params.block_count(), Block::default());
        }
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        if Argon2::new(alg, version, params)
            .hash_password_into_with_memory(input, salt, &mut out, mem.as_mut_slice())
            .is_err()
        {
            return false;
        }
        bool::from(out.as_slice().ct_eq(expected.as_bytes()))
    }

    fn is_current(&self, h: &PasswordHash) -> bool {
        if h.algorithm != Algorithm::Argon2id.ident() {
            return false;
        }
        match Params::try_from(h) {
            Ok(p) => {
                p.m_cost() == self.params.m_cost()
                    && p.t_cost() == self.params.t_cost()
                    && p.p_cost() == self.params.p_cost()
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher as _;

    fn config(memory_kib: u32) -> PasswordHashingConfig {
        PasswordHashingConfig {
            memory_kib,
            iterations: 1,
            parallelism: 1,
            max_password_length: 64,
            max_concurrent: 1,
            max_queue: 1,
        }
    }

    fn cheap(memory_kib: u32) -> PasswordHasher {
        PasswordHasher::new(&config(memory_kib)).unwrap()
    }

    #[test]
    fn hash_is_argon2id_and_verifies() {
        let h = cheap(1024);
        let hash = h
            .hash_blocking(&SecretString::from("correct horse"))
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(PasswordHash::new(&hash).is_ok(), "{hash}");
        assert_eq!(
            h.verify_blocking(&SecretString::from("correct horse"), Some(&hash)),
            Verified::Yes
        );
        assert_eq!(
            h.verify_blocking(&SecretString::from("wrong"), Some(&hash)),
            Verified::No
        );
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_keep_verifying() {
        // What earlier versions stored: argon2's own PHC strings, also argon2i and other
        // parameters; ours must verify them and agree with the crate both ways.
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let h = cheap(1024);
        for (alg, m) in [(Algorithm::Argon2id, 1024), (Algorithm::Argon2i, 2048)] {
            let params = Params::new(m, 2, 1, None).unwrap();
            let stored = Argon2::new(alg, Version::V0x13, params)
                .hash_password(b"old password", &salt)
                .unwrap()
                .to_string();
            // t=2 differs from the configured t=1: verified, and a current hash is offered.
            match h.verify_blocking(&SecretString::from("old password"), Some(&stored)) {
                Verified::YesRehash(new) => {
                    use argon2::PasswordVerifier as _;
                    assert!(Argon2::default()
                        .verify_password(b"old password", &PasswordHash::new(&new).unwrap())
                        .is_ok());
                }
                other => panic!("a stored {alg:?} hash: expected a rehash, got {other:?}"),
            }
            assert_eq!(
                h.verify_blocking(&SecretString::from("other"), Some(&stored)),
                Verified::No
            );
        }
    }

    #[test]
    fn unknown_user_never_verifies() {
        let h = cheap(1024);
        assert_eq!(
            h.verify_blocking(&SecretString::from(""), None),
            Verified::No
        );
        assert_eq!(
            h.verify_blocking(&SecretString::from("anything"), None),
            Verified::No
        );
    }

    #[test]
    fn changed_parameters_trigger_rehash() {
        let old = cheap(1024)
            .hash_blocking(&SecretString::from("pw123456"))
            .unwrap();
        match cheap(2048).verify_blocking(&SecretString::from("pw123456"), Some(&old)) {
            Verified::YesRehash(new) => assert!(new.contains("m=2048"), "{new}"),
            other => panic!("expected rehash, got {other:?}"),
        }
        // Lowered parameters: the larger stored hash still verifies (the buffer grows to it).
        let big = cheap(4096)
            .hash_blocking(&SecretString::from("pw123456"))
            .unwrap();
        assert!(matches!(
            cheap(1024).verify_blocking(&SecretString::from("pw123456"), Some(&big)),
            Verified::YesRehash(_)
        ));
    }

    #[test]
    fn overlong_passwords_are_refused_before_hashing() {
        let h = cheap(1024);
        let long = SecretString::from("x".repeat(65));
        assert!(h.hash_blocking(&long).is_err());
        let hash = h
            .hash_blocking(&SecretString::from("x".repeat(64)))
            .unwrap();
        assert_eq!(h.verify_blocking(&long, Some(&hash)), Verified::No);
    }

    #[tokio::test]
    async fn pool_hashes_and_verifies() {
        let h = cheap(1024);
        let hash = h.hash(SecretString::from("pool pw")).await.unwrap();
        assert_eq!(
            h.verify(SecretString::from("pool pw"), Some(hash.clone()))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            h.verify(SecretString::from("nope"), None).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_with_unavailable() {
        let h = cheap(1024);
        // Hold the only hashing thread, fill the one queue slot, then ask once more.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let busy = tokio::spawn({
            let h = h.clone();
            async move {
                h.run(move |_, _| {
                    let _ = started_tx.send(());
                    let _ = held.recv();
                })
                .await
            }
        });
        started.await.unwrap();
        let queued = tokio::spawn({
            let h = h.clone();
            async move { h.verify(SecretString::from("x"), None).await }
        });
        // Give the queued verification time to enter the queue.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let t = std::time::Instant::now();
        let refused = h.verify(SecretString::from("y"), None).await;
        assert!(
            matches!(refused, Err(Error::Unavailable(_))),
            "expected Unavailable"
        );
        assert!(t.elapsed() < std::time::Duration::from_millis(50));
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), Verified::No);
        // Afterwards the pool serves again.
        assert_eq!(
            h.verify(SecretString::from("z"), None).await.unwrap(),
            Verified::No
        );
    }
}
