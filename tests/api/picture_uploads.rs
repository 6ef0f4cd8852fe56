//! Picture uploads as clients really send them: odd file names, empty
//! files, phone photos, several large uploads at once.

use futures_util::StreamExt;
use reqwest::multipart::{Form, Part};

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp};
use crate::images;
use crate::profile::{picture_url, pictures_dir, stored_files, upload};

both_backends!(
    an_empty_file_is_not_an_image,
    the_file_name_never_matters,
    a_phone_photo_is_accepted_and_sides_are_limited_at_ten_thousand,
    concurrent_uploads_wait_for_the_decode_pool,
    a_silent_upload_lets_go_of_the_buffer,
);

async fn an_empty_file_is_not_an_image(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let problem = upload(&app, &token, Vec::new(), "empty.png", "image/png")
        .await
        .problem(400, "invalid_image");
    assert!(
        problem["detail"].as_str().unwrap().contains("empty"),
        "{problem}"
    );
    assert!(stored_files(&app).is_empty());
}

/// A multipart body written byte by byte, as a careless client might: the
/// file name goes into the part header as it is.
async fn upload_named(app: &TestApp, token: &str, file_name: &[u8]) -> crate::helpers::Reply {
    let boundary = "----accounts-test-boundary";
    let body = [
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"profile_pic\"; filename=\""
        )
        .as_bytes(),
        file_name,
        b"\"\r\nContent-Type: image/png\r\n\r\n",
        &images::png(16, 16),
        format!("\r\n--{boundary}--\r\n").as_bytes(),
    ]
    .concat();
    let request = app
        .client
        .put(app.url("/accounts/me/profile/picture"))
        .bearer_auth(token)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    app.send(request).await
}

async fn the_file_name_never_matters(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    let long = "x".repeat(1000) + ".png";
    let names: [&[u8]; 11] = [
        // Quotes that never close (a backslash escapes the closing one).
        b"trailing\\",
        b"\r\n",
        b"a\x00b.png",
        b"carriage\rreturn.png",
        b"line\nfeed.png",
        b"../../../etc/passwd",
        b"C:\\Windows\\system32\\a.png",
        b"quo\"te's.png",
        "ümlaut 写真 🐈.png".as_bytes(),
        long.as_bytes(),
        b"",
    ];
    for name in names {
        let reply = upload_named(&app, &token, name).await;
        let url = picture_url(&reply);
        assert!(
            url.starts_with("/media/profile_pics/") && !url.contains(".."),
            "{url}"
        );
    }
    // reqwest's own encoding of such names works too.
    let reply = upload(
        &app,
        &token,
        images::png(8, 8),
        "a\"b\r\nc.png",
        "image/png",
    )
    .await;
    picture_url(&reply);
    assert_eq!(stored_files(&app).len(), 1, "only the latest is kept");
}

async fn a_phone_photo_is_accepted_and_sides_are_limited_at_ten_thousand(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.register_app().await;
    // A 15-megapixel JPEG of a phone photo's size (smooth, as photos are).
    let scene = image::RgbImage::from_fn(5000, 3000, |x, y| {
        image::Rgb([(x / 20) as u8, (y / 12) as u8, ((x + y) / 40) as u8])
    });
    let photo = images::encode(
        &image::DynamicImage::ImageRgb8(scene),
        image::ImageFormat::Jpeg,
    );
    assert!(photo.len() < 5 * 1024 * 1024, "{} bytes", photo.len());
    let reply = upload(&app, &token, photo, "IMG_0001.JPG", "image/jpeg").await;
    picture_url(&reply);
    let files = stored_files(&app);
    let on_disk =
        image::open(pictures_dir(&app).join(&files[0])).expect("the stored picture decodes");
    assert_eq!((on_disk.width(), on_disk.height()), (1024, 614));
    // A side of 9,999 is within the limit, 10,001 is not.
    let long_side = images::png(9_999, 4);
    picture_url(&upload(&app, &token, long_side, "strip.png", "image/png").await);
    let too_long = images::png(10_001, 4);
    upload(&app, &token, too_long, "strip.png", "image/png")
        .await
        .problem(400, "invalid_image");
}

async fn concurrent_uploads_wait_for_the_decode_pool(backend: Backend) {
    let app = spawn_app_with(backend, &[("PICTURE_DECODE_CONCURRENCY", "1")]).await;
    let mut tokens = Vec::new();
    for _ in 0..6 {
        tokens.push(app.register_app().await.1);
    }
    // Large enough to take a while to decode, small as a file.
    let scene = image::RgbImage::from_fn(2400, 1600, |x, y| {
        image::Rgb([(x / 10) as u8, (y / 7) as u8, 90])
    });
    let picture = images::encode(
        &image::DynamicImage::ImageRgb8(scene),
        image::ImageFormat::Png,
    );
    let uploads = tokens.iter().map(|token| {
        let part = Part::bytes(picture.clone()).file_name("p.png");
        let request = app
            .client
            .put(app.url("/accounts/me/profile/picture"))
            .bearer_auth(token)
            .multipart(Form::new().part("profile_pic", part));
        app.send(request)
    });
    for reply in futures_util::future::join_all(uploads).await {
        picture_url(&reply);
    }
    assert_eq!(stored_files(&app).len(), 6);
    // One decode at a time: the others waited for the slot.
    let metrics = app.get("/metrics").await.text;
    let waits: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("accounts_picture_decode_waits_total "))
        .expect("the waits counter")
        .parse()
        .unwrap();
    assert!(waits >= 1, "uploads waited for the decode pool: {waits}");
}

/// A client that takes the whole upload buffer and then sends nothing lets
/// go of it after `PICTURE_UPLOAD_TIMEOUT_SECS`: the next upload, which
/// waited, goes through.
async fn a_silent_upload_lets_go_of_the_buffer(backend: Backend) {
    // The buffer holds exactly one largest upload.
    let max = 100_000usize;
    let buffer = (max + 16 * 1024).to_string();
    let app = spawn_app_with(
        backend,
        &[
            ("MAX_PICTURE_BYTES", &max.to_string()),
            ("PICTURE_UPLOAD_BUFFER_BYTES", &buffer),
            ("PICTURE_UPLOAD_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let (_, silent_token) = app.register_app().await;
    let (_, token) = app.register_app().await;
    let boundary = "----accounts-silent";
    // A chunked body (no length, so it reserves the most) that sends its
    // first bytes and then nothing, without ending.
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"profile_pic\"; filename=\"a.png\"\r\n\r\n"
    );
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) })
        .chain(futures_util::stream::pending());
    let silent = app
        .client
        .put(app.url("/accounts/me/profile/picture"))
        .bearer_auth(&silent_token)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let next = async {
        // After the silent one holds the buffer.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        upload(&app, &token, images::png(16, 16), "b.png", "image/png").await
    };
    let (silent, next) = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        tokio::join!(silent, next)
    })
    .await
    .expect("the waiting upload never got the buffer");
    assert_eq!(next.status, 200, "{}", next.text);
    let silent = silent.expect("an answer to the silent upload");
    assert_eq!(silent.status().as_u16(), 400);
}
