//! Argon2 itself, in each hashing thread's own memory: new hashes at the
//! configured parameters, and checks of stored PHC strings (ours, and
//! `argon2$` ones moved from Django) at their own parameters, which are
//! bounded like every other stored format's.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;

use super::tokens::constant_time_eq;
use crate::config::{ARGON2_MAX_ITERATIONS, ARGON2_MAX_MEMORY_KIB, ARGON2_MAX_PARALLELISM};

thread_local! {
    /// Argon2's working memory (19 MiB at OWASP's parameters), kept by each
    /// hashing thread: allocating it afresh for every hash costs page
    /// faults on the way in and a TLB shootdown, felt by every thread of
    /// the process, on the way out.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The blocks the configured parameters take: the most a thread keeps.
    /// Each job on the pool sets it (`Passwords::on_pool`); elsewhere it is
    /// 0 and nothing is kept.
    static KEPT_BLOCKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Says how many blocks this thread keeps: those of the configured
/// parameters (each job on the hashing pool says it first).
pub(super) fn keep_blocks(count: usize) {
    KEPT_BLOCKS.with(|k| k.set(count));
}

/// Runs `work` on `params.block_count()` blocks: the thread's own when the
/// configured parameters need as many or more, else a buffer of its own,
/// freed (and, being large, given back to the system) when done. A stored
/// hash asking for more memory than ours (an imported `argon2$` one) must
/// not leave a hashing thread holding that memory for good.
fn with_blocks<T>(params: &Params, work: impl FnOnce(&mut [Block]) -> T) -> T {
    let needed = params.block_count();
    let kept = KEPT_BLOCKS.with(std::cell::Cell::get);
    if needed > kept {
        return work(&mut vec![Block::default(); needed]);
    }
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() != kept {
            *blocks = vec![Block::default(); kept];
        }
        work(&mut blocks[..needed])
    })
}

/// Computes the raw Argon2 output into `out`, in the thread's memory.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    let argon2 = Argon2::new(algorithm, version, params.clone());
    with_blocks(params, |blocks| {
        argon2.hash_password_into_with_memory(password, salt, out, blocks)
    })
    .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

/// A new PHC string for `password` at `params` (Argon2id, v19, 16-byte salt).
pub(super) fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password.as_bytes(),
        &salt,
        &mut out,
    )?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| anyhow::anyhow!("PHC parameters: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("PHC salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("PHC output: {e}"))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches an Argon2 PHC string (ours, or the one
/// inside Django's `argon2$...`).
pub(super) fn matches_phc(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| matches(&parsed, password))
}

/// Whether `password` matches a parsed PHC string, computed in the
/// thread's memory with the string's own parameters.
pub(super) fn matches(parsed: &PasswordHash, password: &str) -> bool {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let (Ok(version), Ok(params)) = (version, Params::try_from(parsed)) else {
        return false;
    };
    // As for every other stored format: refused rather than computed.
    if params.m_cost() > ARGON2_MAX_MEMORY_KIB
        || params.t_cost() > ARGON2_MAX_ITERATIONS
        || params.p_cost() > ARGON2_MAX_PARALLELISM
    {
        return false;
    }
    let mut out = vec![0u8; expected.as_bytes().len()];
    argon2_into(
        algorithm,
        version,
        &params,
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
    )
    .is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_interoperate_with_the_argon2_crates_own_api() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let params = Params::new(19_456, 2, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(matches(
            &PasswordHash::new(&theirs).unwrap(),
            "correct horse"
        ));
        assert!(!matches(
            &PasswordHash::new(&theirs).unwrap(),
            "correct horsE"
        ));
        let ours = hash_blocking(&params, "correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong", &parsed)
            .is_err());
    }

    /// A PHC string for "correct horse" at `m` KiB, one pass, one lane.
    fn phc_at(memory_kib: u32) -> String {
        use argon2::PasswordHasher;
        let params = Params::new(memory_kib, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse")
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_hash_asking_for_more_than_the_bounds_is_refused() {
        let over = phc_at(ARGON2_MAX_MEMORY_KIB + 1);
        assert!(!matches_phc(&over, "correct horse"), "computed anyway");
        let within = phc_at(ARGON2_MAX_MEMORY_KIB / 4);
        assert!(matches_phc(&within, "correct horse"));
    }

    #[test]
    fn a_larger_stored_hash_does_not_grow_the_threads_buffer_for_good() {
        let ours = Params::new(19_456, 2, 1, None).unwrap();
        let larger = phc_at(64 * 1024);
        std::thread::spawn(move || {
            KEPT_BLOCKS.with(|k| k.set(ours.block_count()));
            hash_blocking(&ours, "correct horse").unwrap();
            assert!(matches_phc(&larger, "correct horse"));
            let kept = BLOCKS.with(|b| b.borrow().len());
            assert_eq!(
                kept,
                ours.block_count(),
                "the thread keeps only its own size"
            );
        })
        .join()
        .unwrap();
    }
}
