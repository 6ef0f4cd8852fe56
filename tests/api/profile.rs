use std::path::PathBuf;

use image::ImageFormat;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, Reply, TestApp};
use crate::images;

both_backends!(
    a_new_profile_is_empty,
    profile_fields_are_validated,
    each_image_format_is_accepted_and_served,
    a_file_that_is_not_an_image_is_refused_and_nothing_is_stored,
    trailing_payloads_and_exif_gps_are_not_stored,
    a_huge_image_header_is_refused_before_decoding,
    an_oversize_upload_is_413_and_nothing_is_stored,
    replacing_and_deleting_remove_the_old_file,
    concurrent_uploads_leave_exactly_one_picture,
    uploads_need_the_right_form_and_a_session,
    media_paths_cannot_escape_or_list,
);

pub fn pictures_dir(app: &TestApp) -> PathBuf {
    app.settings.stores.media_root.join("profile_pics")
}

/// The files in the picture directory (temporary ones included).
pub fn stored_files(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(pictures_dir(app))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub async fn upload(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    file_name: &str,
    mime: &str,
) -> Reply {
    let part = Part::bytes(bytes)
        .file_name(file_name.to_owned())
        .mime_str(mime)
        .unwrap();
    let form = Form::new().part("profile_pic", part);
    app.send(
        app.client
            .put(app.url("/accounts/me/profile/picture"))
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

pub fn picture_url(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["profile"]["profile_pic"]
        .as_str()
        .expect("a picture URL")
        .to_owned()
}

async fn a_new_profile_is_empty(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let reply = app.bearer(&token).get("/accounts/me/profile").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"profile": {"portfolio_site": "", "bio": "", "profile_pic": null}})
    );
    app.get("/accounts/me/profile")
        .await
        .problem(401, "not_authenticated");
}

async fn profile_fields_are_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser.register().await;
    let ok = browser
        .patch("/accounts/me/profile", &json!({"portfolio_site": "https://ada.example.com/work", "bio": "Engines.\nAnd poetry."}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.json()["profile"]["portfolio_site"],
        "https://ada.example.com/work"
    );
    assert_eq!(ok.json()["profile"]["bio"], "Engines.\nAnd poetry.");
    for bad in [
        "javascript:alert(document.cookie)",
        "ftp://example.com/x",
        "example.com",
        "https://user:pw@example.com",
    ] {
        let reply = browser
            .patch("/accounts/me/profile", &json!({"portfolio_site": bad}))
            .await;
        let problem = reply.problem(400, "validation_failed");
        assert!(
            problem["errors"]["portfolio_site"].is_array(),
            "{bad}: {problem}"
        );
    }
    let long = browser
        .patch("/accounts/me/profile", &json!({"bio": "b".repeat(2001)}))
        .await;
    assert!(long.problem(400, "validation_failed")["errors"]["bio"].is_array());
    browser
        .patch(
            "/accounts/me/profile",
            &json!({"profile_pic": "/etc/passwd"}),
        )
        .await
        .problem(400, "validation_failed");
    // Nothing of the refused edits landed; "" clears the site.
    let cleared = browser
        .patch("/accounts/me/profile", &json!({"portfolio_site": ""}))
        .await;
    assert_eq!(cleared.json()["profile"]["portfolio_site"], "");
    assert_eq!(cleared.json()["profile"]["bio"], "Engines.\nAnd poetry.");
}

async fn each_image_format_is_accepted_and_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let cases = [
        (ImageFormat::Png, "image/png", "png"),
        (ImageFormat::Jpeg, "image/jpeg", "jpg"),
        (ImageFormat::Gif, "image/gif", "png"),
        (ImageFormat::WebP, "image/webp", "png"),
    ];
    for (format, mime, stored_as) in cases {
        let bytes = images::encode(&images::photo(1200, 700), format);
        // The client's name and type are ignored: only the bytes count.
        let url = picture_url(
            &upload(
                &app,
                &token,
                bytes,
                "../../evil name.exe",
                "application/octet-stream",
            )
            .await,
        );
        assert!(
            url.starts_with("/media/profile_pics/") && url.ends_with(&format!(".{stored_as}")),
            "{mime}: {url}"
        );
        let served = app.send(app.client.get(app.url(&url))).await;
        assert_eq!(served.status, 200, "{url}");
        let content_type = if stored_as == "png" {
            "image/png"
        } else {
            "image/jpeg"
        };
        assert_eq!(served.headers["content-type"], content_type);
        assert_eq!(served.headers["x-content-type-options"], "nosniff");
        assert!(served.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000"));
        let bytes = app
            .client
            .get(app.url(&url))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            (1024, 597),
            "scaled to fit 1024: {mime}"
        );
        // HEAD: the same headers, no body.
        let head = app.send(app.client.head(app.url(&url))).await;
        assert_eq!(head.status, 200, "{url}");
        assert_eq!(head.text, "");
        assert_eq!(head.headers["content-type"], content_type);
        assert_eq!(
            head.headers["content-length"],
            bytes.len().to_string().as_str()
        );
    }
    assert_eq!(stored_files(&app).len(), 1, "each upload replaced the last");
    let profile = app.bearer(&token).get("/accounts/me/profile").await;
    assert!(profile.json()["profile"]["profile_pic"]
        .as_str()
        .unwrap()
        .ends_with(".png"));
}

async fn a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let text = b"#!/bin/sh\necho this is not a picture\n".to_vec();
    upload(&app, &token, text, "cat.png", "image/png")
        .await
        .problem(400, "invalid_image");
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    upload(&app, &token, svg, "cat.svg", "image/svg+xml")
        .await
        .problem(400, "invalid_image");
    let mut bmp = b"BM".to_vec();
    bmp.resize(64, 0);
    let reply = upload(&app, &token, bmp, "cat.bmp", "image/bmp").await;
    reply.problem(400, "invalid_image");
    let truncated = images::png(64, 64)[..60].to_vec();
    upload(&app, &token, truncated, "cat.png", "image/png")
        .await
        .problem(400, "invalid_image");
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
    assert!(
        app.bearer(&token).get("/accounts/me/profile").await.json()["profile"]["profile_pic"]
            .is_null()
    );
}

async fn trailing_payloads_and_exif_gps_are_not_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let mut polyglot = images::png(40, 40);
    polyglot.extend_from_slice(b"<script>alert('polyglot')</script>");
    let url = picture_url(&upload(&app, &token, polyglot, "p.png", "image/png").await);
    let stored = app
        .client
        .get(app.url(&url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(image::load_from_memory(&stored).is_ok());
    assert!(
        !String::from_utf8_lossy(&stored).contains("<script>"),
        "the payload is gone"
    );

    let marker = "SECRET-GPS-48.8584N-2.2945E";
    let with_gps = images::jpeg_with_gps(marker);
    assert!(
        String::from_utf8_lossy(&with_gps).contains(marker),
        "the fixture carries it"
    );
    let url = picture_url(&upload(&app, &token, with_gps, "holiday.jpg", "image/jpeg").await);
    let stored = app
        .client
        .get(app.url(&url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&stored);
    assert!(
        !text.contains(marker) && !text.contains("Exif"),
        "metadata stripped"
    );
    assert_eq!(image::load_from_memory(&stored).unwrap().width(), 320);
}

async fn a_huge_image_header_is_refused_before_decoding(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    // 100000 x 100000 = 10 gigapixels, in a file of a few hundred bytes.
    let bomb = images::png_claiming(100_000, 100_000);
    assert!(bomb.len() < 1024);
    let started = std::time::Instant::now();
    let reply = upload(&app, &token, bomb, "bomb.png", "image/png").await;
    let problem = reply.problem(400, "invalid_image");
    assert!(
        problem["detail"].as_str().unwrap().contains("pixels"),
        "{problem}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused without decoding"
    );
    // Under the pixel limit but over the side limit.
    let wide = images::png_claiming(10_001, 100);
    let problem = upload(&app, &token, wide, "wide.png", "image/png")
        .await
        .problem(400, "invalid_image");
    assert!(
        problem["detail"].as_str().unwrap().contains("10000"),
        "{problem}"
    );
    assert!(stored_files(&app).is_empty());
}

async fn an_oversize_upload_is_413_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let mut big = images::png(16, 16);
    big.resize(5 * 1024 * 1024 + 1, 0);
    upload(&app, &token, big, "big.png", "image/png")
        .await
        .problem(413, "payload_too_large");
    // Streamed without a length: the limit holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..7).map(|_| Ok(vec![0u8; 1024 * 1024])).collect();
    let part = Part::stream(reqwest::Body::wrap_stream(futures_util::stream::iter(
        chunks,
    )))
    .file_name("s.png");
    let form = Form::new().part("profile_pic", part);
    let reply = app
        .send(
            app.client
                .put(app.url("/accounts/me/profile/picture"))
                .bearer_auth(&token)
                .multipart(form),
        )
        .await;
    reply.problem(413, "payload_too_large");
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
    // Just under the limit is fine.
    let ok = upload(
        &app,
        &token,
        images::encode(&images::photo(2000, 1500), ImageFormat::Jpeg),
        "ok.jpg",
        "image/jpeg",
    )
    .await;
    picture_url(&ok);
}

async fn replacing_and_deleting_remove_the_old_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let first = picture_url(&upload(&app, &token, images::png(50, 50), "a.png", "image/png").await);
    let second =
        picture_url(&upload(&app, &token, images::png(60, 60), "b.png", "image/png").await);
    assert_ne!(first, second);
    app.get(&first).await.problem(404, "not_found");
    assert_eq!(app.get(&second).await.status, 200);
    assert_eq!(stored_files(&app).len(), 1);

    let client = app.bearer(&token);
    assert_eq!(
        client
            .request(Method::DELETE, "/accounts/me/profile/picture", None)
            .await
            .status,
        204
    );
    app.get(&second).await.problem(404, "not_found");
    assert!(stored_files(&app).is_empty());
    assert!(client.get("/accounts/me/profile").await.json()["profile"]["profile_pic"].is_null());
    assert_eq!(
        client
            .request(Method::DELETE, "/accounts/me/profile/picture", None)
            .await
            .status,
        204
    );
}

async fn concurrent_uploads_leave_exactly_one_picture(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let uploads =
        (0..6).map(|n| upload(&app, &token, images::png(30 + n, 30), "c.png", "image/png"));
    let replies = futures_util::future::join_all(uploads).await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let files = stored_files(&app);
    assert_eq!(files.len(), 1, "{files:?}");
    let current = app.bearer(&token).get("/accounts/me/profile").await.json()["profile"]
        ["profile_pic"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(current, format!("/media/profile_pics/{}", files[0]));
}

async fn uploads_need_the_right_form_and_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let url = app.url("/accounts/me/profile/picture");
    let wrong_field = Form::new().part("avatar", Part::bytes(images::png(8, 8)).file_name("a.png"));
    let reply = app
        .send(
            app.client
                .put(&url)
                .bearer_auth(&token)
                .multipart(wrong_field),
        )
        .await;
    assert!(reply.problem(400, "validation_failed")["errors"]["avatar"].is_array());
    let empty = Form::new().text("note", "");
    let reply = app
        .send(app.client.put(&url).bearer_auth(&token).multipart(empty))
        .await;
    reply.problem(400, "validation_failed");
    let raw = app
        .client
        .put(&url)
        .bearer_auth(&token)
        .header("Content-Type", "image/png")
        .body(images::png(8, 8));
    app.send(raw).await.problem(400, "malformed_request");
    let broken = app
        .client
        .put(&url)
        .bearer_auth(&token)
        .header("Content-Type", "multipart/form-data; boundary=zzz")
        .body("--zzz\r\nnonsense");
    let reply = app.send(broken).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let anonymous = Form::new().part(
        "profile_pic",
        Part::bytes(images::png(8, 8)).file_name("a.png"),
    );
    app.send(app.client.put(&url).multipart(anonymous))
        .await
        .problem(401, "not_authenticated");
    // A browser needs its CSRF header here too.
    let browser = app.browser();
    browser.register().await;
    let form = Form::new().part(
        "profile_pic",
        Part::bytes(images::png(8, 8)).file_name("a.png"),
    );
    let cookie = format!("sessionid={}", browser.cookie("sessionid").unwrap());
    let reply = app
        .send(
            app.client
                .put(&url)
                .header("Cookie", &cookie)
                .multipart(form),
        )
        .await;
    reply.problem(403, "csrf_failed");
    let form = Form::new().part(
        "profile_pic",
        Part::bytes(images::png(8, 8)).file_name("a.png"),
    );
    let csrf = browser.cookie("csrftoken").unwrap();
    let with_csrf = app
        .client
        .put(&url)
        .header("Cookie", format!("{cookie}; csrftoken={csrf}"))
        .header("X-CSRFToken", csrf);
    picture_url(&app.send(with_csrf.multipart(form)).await);
}

async fn media_paths_cannot_escape_or_list(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let url = picture_url(&upload(&app, &token, images::png(8, 8), "a.png", "image/png").await);
    let name = url.trim_start_matches("/media/profile_pics/");
    // A link planted in the media directory under a valid-looking name.
    let planted = "0123456789abcdef0123456789abcdef.png";
    std::os::unix::fs::symlink("/etc/passwd", pictures_dir(&app).join(planted)).unwrap();
    let attempts = [
        "/media/".to_owned(),
        "/media/profile_pics/".to_owned(),
        "/media/profile_pics".to_owned(),
        "/media/../Cargo.toml".to_owned(),
        "/media/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "/media/profile_pics/..%2f..%2fdb.sqlite3".to_owned(),
        "/media/profile_pics/%2e%2e%2f%2e%2e%2fdb.sqlite3".to_owned(),
        "/media/..%5c..%5cdb.sqlite3".to_owned(),
        format!("/media/profile_pics/{planted}"),
        format!("/media/profile_pics/{}", name.to_uppercase()),
        format!("/media/profile_pics/.tmp-{name}"),
        "/media/db.sqlite3".to_owned(),
    ];
    for path in attempts {
        let reply = app
            .send(app.client.get(format!("{}{path}", app.address)))
            .await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert!(!reply.text.contains("root:"), "{path}");
    }
    assert_eq!(app.get(&url).await.status, 200);
}
