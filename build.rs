//! Marks the build when the PostgreSQL + Redis test servers are configured
//! (`TEST_DATABASE_URL` and `TEST_REDIS_URL`), so that the integration
//! tests' `postgres_redis` variants run then and are listed as ignored,
//! with the reason, otherwise: a test that did not run never counts as
//! passed. Changing either variable rebuilds.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    // embed_migrations! reads the directory at compile time: a new
    // migration must rebuild the crate.
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=TEST_REDIS_URL");
    println!("cargo::rustc-check-cfg=cfg(postgres_redis_tests)");
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if set("TEST_DATABASE_URL") && set("TEST_REDIS_URL") {
        println!("cargo::rustc-cfg=postgres_redis_tests");
    }
}
