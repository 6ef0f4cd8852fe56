//! An authenticator app for the tests: TOTP codes computed from the secret
//! the setup returned, and a user enrolled through the real endpoints.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::json;

use accounts::auth::totp;

use crate::helpers::TestApp;

/// The current 30-second step, after waiting out the last seconds of
/// one (so that a test's codes are not computed across a boundary).
pub async fn steady_step() -> u64 {
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if now % 30 < 26 {
            return now / 30;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

pub fn decode_secret(base32: &str) -> Vec<u8> {
    totp_rs::Secret::try_from_base32(base32)
        .expect("a base32 secret")
        .as_ref()
        .to_vec()
}

/// Registers an app user and turns TOTP on: (email, token, secret, codes).
pub async fn enrolled(app: &TestApp) -> (String, String, Vec<u8>, Vec<String>) {
    let (email, token) = app.register_app().await;
    app.mark_email_verified(&email).await;
    let me = app.bearer(&token);
    let setup = me
        .request(Method::POST, "/accounts/mfa/totp/setup", None)
        .await;
    assert_eq!(setup.status, 200, "{}", setup.text);
    let secret = decode_secret(setup.json()["secret"].as_str().unwrap());
    let step = steady_step().await;
    let confirm = me
        .request(
            Method::POST,
            "/accounts/mfa/totp/confirm",
            Some(&json!({"code": totp::code_at(&secret, step)})),
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    let codes = confirm.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (email, token, secret, codes)
}
