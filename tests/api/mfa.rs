//! Two-factor login (TOTP, RFC 6238): enrolment, the two-step login for
//! browsers and apps, replay, drift, recovery codes, the token's limits,
//! throttling across both steps, another instance finishing a login,
//! turning it off, staff removing it, and the notices. Codes are computed
//! here from the secret the setup returned, as an authenticator app would.

use reqwest::Method;
use serde_json::{json, Value};

use accounts::auth::totp;

use crate::admin::staff;
use crate::authenticator::{decode_secret, enrolled, steady_step};
use crate::both_backends;
use crate::helpers::{fresh_database, Backend, TestApp, PASSWORD};
use crate::smtp::{spawn_with_smtp, SmtpServer};

both_backends!(
    enrolment_needs_a_right_code_and_mails_a_notice,
    apps_and_browsers_log_in_in_two_steps,
    a_code_is_accepted_once_and_one_step_of_drift_either_way,
    recovery_codes_work_once_and_a_new_set_voids_the_old,
    the_token_dies_after_five_wrong_codes_and_when_it_expires,
    wrong_codes_and_passwords_share_the_login_throttle,
    another_instance_finishes_a_login_the_first_started,
    turning_it_off_needs_the_password_and_staff_can_remove_it,
    a_password_reset_does_not_bypass_the_second_factor,
);

/// Forgets the last accepted step, as if the confirmation were long ago.
async fn age_device(app: &TestApp) {
    app.execute_sql("UPDATE totp_devices SET last_step = 0")
        .await;
}

/// The first step: the `mfa_token` of a right password (as an app).
async fn first_step(app: &TestApp, email: &str) -> String {
    first_step_with(app, email, PASSWORD).await
}

async fn first_step_with(app: &TestApp, email: &str, password: &str) -> String {
    let reply = app.login_app(email, password).await;
    let problem = reply.problem(401, "mfa_required");
    assert!(problem["expires_at"].as_str().is_some(), "{problem}");
    assert!(reply.json().get("token").is_none());
    problem["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> crate::helpers::Reply {
    app.post_json(
        "/accounts/login/mfa",
        &json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

async fn status(app: &TestApp, token: &str) -> Value {
    app.bearer(token).get("/accounts/mfa").await.json()
}

async fn enrolment_needs_a_right_code_and_mails_a_notice(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[("MFA_ISSUER", "Example Co")]).await;
    let (email, token) = app.register_app().await;
    let me = app.bearer(&token);
    // Nobody plants a factor on an address they have not proved.
    me.request(Method::POST, "/accounts/mfa/totp/setup", None)
        .await
        .problem(403, "email_not_verified");
    let link = smtp.nth(&email, 1).await.token();
    let verified = app
        .post_json("/accounts/email/verify", &json!({"token": link}))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(
        status(&app, &token).await,
        json!({"totp_enabled": false, "recovery_codes_remaining": 0})
    );
    // Confirming before any setup, or with a wrong code, is invalid_code.
    let early = me
        .request(
            Method::POST,
            "/accounts/mfa/totp/confirm",
            Some(&json!({"code": "123456"})),
        )
        .await;
    early.problem(400, "invalid_code");
    let setup = me
        .request(Method::POST, "/accounts/mfa/totp/setup", None)
        .await
        .json();
    let url = setup["otpauth_url"].as_str().unwrap();
    let secret_text = setup["secret"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/Example%20Co:"), "{url}");
    assert!(
        url.contains(&format!("secret={secret_text}")) && url.contains("issuer=Example%20Co"),
        "{url}"
    );
    assert!(url.contains(&email.replace('@', "%40")), "{url}");
    // The secret is stored sealed: not as sent, and it opens to the same
    // bytes under the key derived from SECRET_KEY for this user only.
    let stored = app
        .strings_sql("SELECT secret_sealed AS s FROM totp_devices")
        .await;
    assert_eq!(stored.len(), 1);
    let plain = decode_secret(secret_text);
    assert!(!stored[0].contains(secret_text));
    let sealer = totp::SecretBox::new(
        secrecy::ExposeSecret::expose_secret(&app.settings.http.secret_key).as_bytes(),
    );
    let owner = app
        .count_sql("SELECT CAST(user_id AS BIGINT) AS n FROM totp_devices")
        .await as i32;
    assert_eq!(sealer.open(owner, &stored[0]).as_deref(), Some(&plain[..]));
    assert_eq!(sealer.open(owner + 1, &stored[0]), None);
    // A second setup replaces the pending secret: the first one's codes
    // no longer confirm.
    let old = decode_secret(secret_text);
    let setup = me
        .request(Method::POST, "/accounts/mfa/totp/setup", None)
        .await
        .json();
    let secret = decode_secret(setup["secret"].as_str().unwrap());
    let step = steady_step().await;
    let wrong = me
        .request(
            Method::POST,
            "/accounts/mfa/totp/confirm",
            Some(&json!({"code": totp::code_at(&old, step)})),
        )
        .await;
    wrong.problem(400, "invalid_code");
    assert_eq!(
        status(&app, &token).await["totp_enabled"],
        false,
        "nothing is on yet"
    );
    // Not on yet: logging in takes the password alone.
    assert_eq!(app.login_app(&email, PASSWORD).await.status, 200);
    let right = me
        .request(
            Method::POST,
            "/accounts/mfa/totp/confirm",
            Some(&json!({"code": totp::code_at(&secret, step)})),
        )
        .await;
    assert_eq!(right.status, 200, "{}", right.text);
    let codes = right.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        status(&app, &token).await,
        json!({"totp_enabled": true, "recovery_codes_remaining": 10})
    );
    // While on, a new setup is refused and the secret stays.
    me.request(Method::POST, "/accounts/mfa/totp/setup", None)
        .await
        .problem(409, "mfa_already_enabled");
    me.request(
        Method::POST,
        "/accounts/mfa/totp/confirm",
        Some(&json!({"code": "000000"})),
    )
    .await
    .problem(409, "mfa_already_enabled");
    let notice = smtp
        .nth_with_subject(&email, "Two-factor login is on", 1)
        .await;
    assert!(notice.text.contains("turned on"), "{}", notice.text);
    assert!(!notice.text.contains(setup["secret"].as_str().unwrap()));
    // The session that enrolled stays.
    assert_eq!(me.get("/accounts/me").await.status, 200);
}

async fn apps_and_browsers_log_in_in_two_steps(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let (email, _, secret, _) = enrolled(&app).await;
    // Before the password is right, nothing differs from a user without
    // a second factor.
    let wrong = app.login_app(&email, "not the password at all").await;
    let unknown = app
        .login_app("nobody@example.com", "not the password at all")
        .await;
    assert_eq!(wrong.text, unknown.text);
    wrong.problem(401, "invalid_credentials");

    age_device(&app).await;
    let step = steady_step().await;
    let mfa_token = first_step(&app, &email).await;
    let done = second_step(&app, &mfa_token, &totp::code_at(&secret, step)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    let token = done.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.bearer(&token).get("/accounts/me").await.json()["user"]["email"],
        email.as_str()
    );
    // The token was spent.
    second_step(&app, &mfa_token, &totp::code_at(&secret, step + 1))
        .await
        .problem(401, "invalid_token");

    // A browser: the first step sets no session; the second sets the cookie.
    let browser = app.browser();
    browser.csrf().await;
    let first = browser.login(&email, PASSWORD).await;
    let problem = first.problem(401, "mfa_required");
    assert_eq!(
        browser.get("/accounts/me").await.status,
        401,
        "no session after the first step"
    );
    let done = browser
        .post(
            "/accounts/login/mfa",
            &json!({"mfa_token": problem["mfa_token"], "code": totp::code_at(&secret, step + 1)}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(
        done.json()["token"].is_null(),
        "a browser gets a cookie, not a token"
    );
    assert_eq!(browser.get("/accounts/me").await.status, 200);
    // A browser's token cannot be finished by a request carrying a Bearer token.
    age_device(&app).await;
    let again = browser
        .login(&email, PASSWORD)
        .await
        .problem(401, "mfa_required");
    let mixed = app
        .bearer(&token)
        .request(
            Method::POST,
            "/accounts/login/mfa",
            Some(&json!({"mfa_token": again["mfa_token"], "code": totp::code_at(&secret, step)})),
        )
        .await;
    mixed.problem(400, "validation_failed");
}

async fn a_code_is_accepted_once_and_one_step_of_drift_either_way(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let (email, _, secret, _) = enrolled(&app).await;
    age_device(&app).await;
    let step = steady_step().await;
    let login_with = |step: u64| {
        let (app, email, secret) = (&app, email.clone(), secret.clone());
        async move {
            let mfa_token = first_step(app, &email).await;
            second_step(app, &mfa_token, &totp::code_at(&secret, step)).await
        }
    };
    // Two steps back is too old; the step before is accepted, once.
    login_with(step - 2).await.problem(400, "invalid_code");
    assert_eq!(login_with(step - 1).await.status, 200);
    login_with(step - 1).await.problem(400, "invalid_code");
    // The step after is accepted once, and then no code up to it is.
    assert_eq!(login_with(step + 1).await.status, 200);
    login_with(step + 1).await.problem(400, "invalid_code");
    login_with(step).await.problem(400, "invalid_code");
    login_with(step + 2).await.problem(400, "invalid_code");
}

async fn recovery_codes_work_once_and_a_new_set_voids_the_old(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let (email, token, _, codes) = enrolled(&app).await;
    // Typed loosely: lower case, spaces for dashes.
    let typed = codes[0].to_lowercase().replace('-', " ");
    let mfa_token = first_step(&app, &email).await;
    assert_eq!(second_step(&app, &mfa_token, &typed).await.status, 200);
    let mfa_token = first_step(&app, &email).await;
    second_step(&app, &mfa_token, &codes[0])
        .await
        .problem(400, "invalid_code");
    assert_eq!(status(&app, &token).await["recovery_codes_remaining"], 9);
    // A new set: the password is needed, and the old codes stop working.
    let me = app.bearer(&token);
    me.request(
        Method::POST,
        "/accounts/mfa/recovery-codes",
        Some(&json!({"password": "wrong password"})),
    )
    .await
    .problem(400, "validation_failed");
    let new = me
        .request(
            Method::POST,
            "/accounts/mfa/recovery-codes",
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(new.status, 200, "{}", new.text);
    let new: Vec<String> = new.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new.len(), 10);
    assert_eq!(status(&app, &token).await["recovery_codes_remaining"], 10);
    let mfa_token = first_step(&app, &email).await;
    second_step(&app, &mfa_token, &codes[1])
        .await
        .problem(400, "invalid_code");
    assert_eq!(second_step(&app, &mfa_token, &new[1]).await.status, 200);
    // Stored only as hashes: ten rows, each the hash of a shown code, none
    // holding a code as shown.
    let mut stored = app
        .strings_sql("SELECT code_hash AS s FROM recovery_codes WHERE used_at IS NULL")
        .await;
    stored.sort();
    let mut hashed: Vec<String> = new
        .iter()
        .filter(|c| *c != &new[1])
        .map(|c| totp::recovery_hash(c))
        .collect();
    hashed.sort();
    assert_eq!(stored, hashed);
    assert!(stored
        .iter()
        .all(|h| new.iter().all(|c| !h.contains(&c.replace('-', "")))));
    // Without TOTP on there is no set to renew.
    let (_, other) = app.register_app().await;
    app.bearer(&other)
        .request(
            Method::POST,
            "/accounts/mfa/recovery-codes",
            Some(&json!({"password": PASSWORD})),
        )
        .await
        .problem(409, "mfa_not_enabled");
}

async fn the_token_dies_after_five_wrong_codes_and_when_it_expires(backend: Backend) {
    let app = crate::helpers::spawn_app_with(
        backend,
        &[
            ("LOGIN_FAILURES_PER_ACCOUNT", "50"),
            ("MFA_LOGIN_TTL_SECS", "2"),
        ],
    )
    .await;
    let (email, _, secret, _) = enrolled(&app).await;
    age_device(&app).await;
    let step = steady_step().await;
    let mfa_token = first_step(&app, &email).await;
    for _ in 0..5 {
        second_step(&app, &mfa_token, "000000")
            .await
            .problem(400, "invalid_code");
    }
    second_step(&app, &mfa_token, &totp::code_at(&secret, step))
        .await
        .problem(401, "invalid_token");
    second_step(&app, "not-a-token", &totp::code_at(&secret, step))
        .await
        .problem(401, "invalid_token");
    // Twenty wrong codes at once on one token: still five tries, no more.
    let mfa_token = first_step(&app, &email).await;
    let replies =
        futures_util::future::join_all((0..20).map(|_| second_step(&app, &mfa_token, "000000")))
            .await;
    let wrong = replies.iter().filter(|r| r.status == 400).count();
    assert_eq!(
        wrong,
        5,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in replies.iter().filter(|r| r.status != 400) {
        reply.problem(401, "invalid_token");
    }
    // Codes of no kind: wrong codes, never a 500.
    let mfa_token = first_step(&app, &email).await;
    for code in [
        "\u{0661}\u{0662}\u{0663}\u{0664}\u{0665}\u{0666}",
        "１２３４５６",
        "ü-ß-東京",
        "123 456",
    ] {
        second_step(&app, &mfa_token, code)
            .await
            .problem(400, "invalid_code");
    }
    let long = "7".repeat(100_000);
    let reply = second_step(&app, &mfa_token, &long).await;
    assert!(reply.status == 400 || reply.status == 413, "{}", reply.text);
    // Expired: the right code comes too late.
    let mfa_token = first_step(&app, &email).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let step = steady_step().await;
    second_step(&app, &mfa_token, &totp::code_at(&secret, step))
        .await
        .problem(401, "invalid_token");
}

async fn wrong_codes_and_passwords_share_the_login_throttle(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, &[("LOGIN_FAILURES_PER_ACCOUNT", "3")]).await;
    let (email, _, secret, _) = enrolled(&app).await;
    age_device(&app).await;
    app.login_app(&email, "wrong password one")
        .await
        .problem(401, "invalid_credentials");
    // The right password does not forget the failure: only a right code does.
    let mfa_token = first_step(&app, &email).await;
    second_step(&app, &mfa_token, "000000")
        .await
        .problem(400, "invalid_code");
    second_step(&app, &mfa_token, "111111")
        .await
        .problem(400, "invalid_code");
    // Three failures: both steps are throttled now.
    let step = steady_step().await;
    second_step(&app, &mfa_token, &totp::code_at(&secret, step))
        .await
        .problem(429, "too_many_attempts");
    app.login_app(&email, PASSWORD)
        .await
        .problem(429, "too_many_attempts");
}

async fn another_instance_finishes_a_login_the_first_started(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let prefix = format!(
        "test:{}:",
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let shared = [
        ("DATABASE_URL", url.as_str()),
        ("SESSION_CACHE_MILLIS", "0"),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let a = crate::helpers::spawn_app_with(backend, &shared).await;
    let b = crate::helpers::spawn_app_with(backend, &shared).await;
    let (email, _, secret, _) = enrolled(&a).await;
    age_device(&a).await;
    let step = steady_step().await;
    let mfa_token = first_step(&a, &email).await;
    let done = second_step(&b, &mfa_token, &totp::code_at(&secret, step)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    // The code is spent on every instance.
    let mfa_token = first_step(&b, &email).await;
    second_step(&a, &mfa_token, &totp::code_at(&secret, step))
        .await
        .problem(400, "invalid_code");
}

async fn turning_it_off_needs_the_password_and_staff_can_remove_it(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (email, token, _, _) = enrolled(&app).await;
    let me = app.bearer(&token);
    me.request(
        Method::DELETE,
        "/accounts/mfa/totp",
        Some(&json!({"password": "wrong password"})),
    )
    .await
    .problem(400, "validation_failed");
    assert_eq!(status(&app, &token).await["totp_enabled"], true);
    let off = me
        .request(
            Method::DELETE,
            "/accounts/mfa/totp",
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(off.status, 204, "{}", off.text);
    assert_eq!(
        status(&app, &token).await,
        json!({"totp_enabled": false, "recovery_codes_remaining": 0})
    );
    assert_eq!(
        app.login_app(&email, PASSWORD).await.status,
        200,
        "the password alone again"
    );
    smtp.nth_with_subject(&email, "Two-factor login is off", 1)
        .await;
    assert_eq!(
        me.get("/accounts/me").await.status,
        200,
        "the session stays"
    );

    // Staff remove the second factor of a user who lost their device.
    let (user_email, _, _, _) = enrolled(&app).await;
    let (staff_id, _, staff_token) = staff(&app, false).await;
    let staff = app.bearer(&staff_token);
    // Not one's own here: that needs a recent authentication.
    let own = staff
        .request(
            Method::DELETE,
            &format!("/admin/users/{staff_id}/mfa"),
            None,
        )
        .await
        .problem(400, "validation_failed");
    assert!(own["errors"]["id"].is_array(), "{own}");
    let found = staff
        .get(&format!("/admin/users?search={user_email}"))
        .await
        .json();
    let user = &found["users"][0];
    assert_eq!(user["mfa_enabled"], true, "{found}");
    let id = user["id"].as_i64().unwrap();
    let removed = staff
        .request(Method::DELETE, &format!("/admin/users/{id}/mfa"), None)
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(
        staff.get(&format!("/admin/users/{id}")).await.json()["user"]["mfa_enabled"],
        false
    );
    assert_eq!(app.login_app(&user_email, PASSWORD).await.status, 200);
    let notice = smtp
        .nth_with_subject(&user_email, "Two-factor login was removed", 1)
        .await;
    assert!(notice.text.contains("administrator"), "{}", notice.text);
}

async fn a_password_reset_does_not_bypass_the_second_factor(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = spawn_with_smtp(backend, &smtp, &[]).await;
    let (email, token, secret, _) = enrolled(&app).await;
    age_device(&app).await;
    // A login waiting for its code when the password is changed (by its
    // owner, or reset by whoever holds the mailbox) cannot finish.
    let before_change = first_step(&app, &email).await;
    let changed_password = "a changed passphrase for the test";
    let change = app
        .bearer(&token)
        .request(
            Method::POST,
            "/accounts/password/change",
            Some(&json!({"current_password": PASSWORD, "new_password": changed_password})),
        )
        .await;
    assert_eq!(change.status, 204, "{}", change.text);
    let step = steady_step().await;
    second_step(&app, &before_change, &totp::code_at(&secret, step))
        .await
        .problem(401, "invalid_token");
    let before_reset = first_step_with(&app, &email, changed_password).await;
    let reply = app
        .post_json("/accounts/password/reset", &json!({"email": email}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let token = smtp.nth_with_subject(&email, "Reset your", 1).await.token();
    let new_password = "a brand new passphrase for the test";
    let confirm = app
        .post_json(
            "/accounts/password/reset/confirm",
            &json!({"token": token, "new_password": new_password}),
        )
        .await;
    assert_eq!(confirm.status, 204, "{}", confirm.text);
    let step = steady_step().await;
    second_step(&app, &before_reset, &totp::code_at(&secret, step))
        .await
        .problem(401, "invalid_token");
    let login = app.login_app(&email, new_password).await;
    login.problem(401, "mfa_required");
}
