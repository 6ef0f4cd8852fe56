use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, PASSWORD};

both_backends!(
    browser_registration_logs_in_with_an_httponly_cookie,
    app_registration_returns_a_bearer_token_and_no_cookie,
    each_field_rule_is_reported,
    each_password_rule_has_its_own_message,
    emails_are_one_account_whatever_their_case,
    twenty_racing_registrations_make_one_account,
    shape_errors_name_the_field,
);

async fn browser_registration_logs_in_with_an_httponly_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let reply = browser
        .post(
            "/accounts/register",
            &json!({"email": "  Ada@Example.COM ", "password": PASSWORD, "username": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let body = reply.json();
    let user = &body["user"];
    assert_eq!(
        user["email"], "Ada@example.com",
        "domain lower-cased, space trimmed"
    );
    assert_eq!(user["username"], "ada");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["is_staff"], false);
    assert!(user["id"].is_i64());
    assert!(user["date_joined"].as_str().unwrap().ends_with('Z'));
    assert!(user["last_login"].is_string(), "the new user is logged in");
    assert!(
        body.get("token").is_none() && body.get("expires_at").is_none(),
        "{body}"
    );
    assert!(
        !reply.text.contains("argon2"),
        "never a hash: {}",
        reply.text
    );

    let cookie = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sessionid="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "not Secure on plain-http loopback by default: {cookie}"
    );

    let me = browser.get("/accounts/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["user"], body["user"]);
}

async fn app_registration_returns_a_bearer_token_and_no_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.unique_email();
    let reply = app
        .post_json(
            "/accounts/register",
            &json!({"email": email, "password": PASSWORD, "client": "app"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(
        reply.set_cookies().is_empty(),
        "app clients get no cookie: {:?}",
        reply.set_cookies()
    );
    let body = reply.json();
    let token = body["token"].as_str().expect("token");
    assert!(token.len() >= 32);
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires_at > chrono::Utc::now());

    let me = app.bearer(token).get("/accounts/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["user"]["email"], email);
    assert!(me.set_cookies().is_empty());
}

async fn each_field_rule_is_reported(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app
        .post_json(
            "/accounts/register",
            &json!({"email": "not-an-email", "password": "short", "username": "has space", "first_name": "x".repeat(151)}),
        )
        .await;
    let problem = reply.problem(400, "validation_failed");
    let errors = &problem["errors"];
    assert_eq!(errors["email"][0], "Enter a valid email address.");
    assert!(errors["password"][0]
        .as_str()
        .unwrap()
        .contains("too short"));
    assert!(errors["username"][0]
        .as_str()
        .unwrap()
        .contains("valid username"));
    assert!(errors["first_name"][0].as_str().unwrap().contains("150"));
    // Nothing was created: the same email, fixed, registers.
    let ok = app
        .post_json(
            "/accounts/register",
            &json!({"email": "fixed@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
}

async fn each_password_rule_has_its_own_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (
            "Ab1!xyz",
            "This password is too short. It must contain at least 8 characters.",
        ),
        ("3141592653589", "This password is entirely numeric."),
        ("password1", "This password is too common."),
        ("grace.hopper", "The password is too similar to the email."),
    ];
    for (password, message) in cases {
        let reply = app
            .post_json(
                "/accounts/register",
                &json!({"email": "grace.hopper@example.com", "password": password}),
            )
            .await;
        let problem = reply.problem(400, "validation_failed");
        let messages: Vec<&str> = problem["errors"]["password"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m.as_str())
            .collect();
        assert!(messages.contains(&message), "{password:?}: {messages:?}");
    }
    let too_long = "a1!".repeat(342);
    let reply = app
        .post_json(
            "/accounts/register",
            &json!({"email": "grace.hopper@example.com", "password": too_long}),
        )
        .await;
    let problem = reply.problem(400, "validation_failed");
    assert_eq!(
        problem["errors"]["password"][0],
        "This password is too long. It must contain at most 1024 characters."
    );
    let similar = app
        .post_json("/accounts/register", &json!({"email": "x@example.com", "username": "nightingale", "password": "Nightingale1"}))
        .await;
    let problem = similar.problem(400, "validation_failed");
    assert_eq!(
        problem["errors"]["password"][0],
        "The password is too similar to the username."
    );
}

async fn emails_are_one_account_whatever_their_case(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .post_json(
            "/accounts/register",
            &json!({"email": "Case@Example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    for variant in ["case@example.com", "CASE@EXAMPLE.COM", " case@example.COM "] {
        let again = app
            .post_json(
                "/accounts/register",
                &json!({"email": variant, "password": PASSWORD}),
            )
            .await;
        again.problem(409, "email_taken");
    }
    let login = app.login_app("CASE@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
}

async fn twenty_racing_registrations_make_one_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = app.unique_email();
    let attempts = (0..20).map(|_| {
        let request = app
            .client
            .post(app.url("/accounts/register"))
            .json(&json!({"email": email, "password": PASSWORD, "client": "app"}));
        async move { request.send().await.map(|r| r.status().as_u16()) }
    });
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("response"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

async fn shape_errors_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = app
        .post_json("/accounts/register", &json!({"email": "a@example.com"}))
        .await;
    assert_eq!(
        missing.problem(400, "validation_failed")["errors"]["password"][0],
        "This field is required."
    );
    let unknown = app
        .post_json(
            "/accounts/register",
            &json!({"email": "a@example.com", "password": PASSWORD, "is_staff": true}),
        )
        .await;
    assert_eq!(
        unknown.problem(400, "validation_failed")["errors"]["is_staff"][0],
        "Unknown field."
    );
    // json! cannot repeat a key; the raw body can.
    let duplicate = app
        .send(
            app.client
                .post(app.url("/accounts/register"))
                .header("Content-Type", "application/json")
                .body(format!(
                    r#"{{"email": "a@example.com", "password": "{PASSWORD}", "email": "b@example.com"}}"#
                )),
        )
        .await;
    assert_eq!(
        duplicate.problem(400, "validation_failed")["errors"]["email"][0],
        "This field appears more than once."
    );
    let wrong_type = app
        .post_json(
            "/accounts/register",
            &json!({"email": 42, "password": PASSWORD}),
        )
        .await;
    assert!(wrong_type.problem(400, "validation_failed")["errors"]["email"].is_array());
    let bad_client = app
        .post_json(
            "/accounts/register",
            &json!({"email": "a@example.com", "password": PASSWORD, "client": "desktop"}),
        )
        .await;
    assert!(bad_client.problem(400, "validation_failed")["errors"]["client"].is_array());
}
