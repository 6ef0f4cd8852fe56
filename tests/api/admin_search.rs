//! `GET /admin/users`: search (any case, email or username, wildcards as
//! plain characters), filters, pages and their edges.

use reqwest::Method;
use serde_json::json;

use crate::admin::{call, staff};
use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, Reply, PASSWORD};

both_backends!(the_list_searches_filters_and_pages);

async fn the_list_searches_filters_and_pages(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let (staff_id, _, token) = staff(&app, false).await;
    let register = |email: &'static str, username: &'static str| {
        let app = &app;
        async move {
            let reply = app
                .post_json(
                    "/accounts/register",
                    &json!({"email": email, "password": PASSWORD, "username": username, "client": "app"}),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text);
            reply.json()["user"]["id"].as_i64().unwrap()
        }
    };
    let alice = register("Alice.Smith@Example.com", "alice").await;
    let bob = register("bob_100%off@example.org", "bobby").await;
    let carol = register("carol@example.org", "CaRoL_x").await;
    let list = |query: String| {
        let app = &app;
        let token = token.clone();
        async move {
            call(
                app,
                &token,
                Method::GET,
                &format!("/admin/users{query}"),
                None,
            )
            .await
        }
    };
    let ids = |reply: &Reply| -> Vec<i64> {
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect()
    };

    let all = list(String::new()).await;
    assert_eq!(ids(&all), [staff_id, alice, bob, carol]);
    let body = all.json();
    assert_eq!(
        (
            body["count"].as_i64(),
            body["page"].as_i64(),
            body["page_size"].as_i64()
        ),
        (Some(4), Some(1), Some(50))
    );
    let first = &body["users"][1];
    for key in [
        "id",
        "email",
        "email_verified",
        "username",
        "first_name",
        "last_name",
        "is_staff",
        "date_joined",
        "last_login",
        "is_active",
        "is_superuser",
        "mfa_enabled",
    ] {
        assert!(first.get(key).is_some(), "AdminUser lacks {key}: {first}");
    }
    assert!(first.get("password").is_none());
    assert_eq!(first["mfa_enabled"], false);

    // Any case, email or username, a substring; wildcards are characters.
    for (query, expected) in [
        ("ALICE", vec![alice]),
        ("smith@exa", vec![alice]),
        ("carol_", vec![carol]),
        ("EXAMPLE.ORG", vec![bob, carol]),
        ("_", vec![bob, carol]),
        ("%", vec![bob]),
        ("_100%", vec![bob]),
        ("b%o", vec![]),
        ("a_i", vec![]),
        ("bob\"s OR *", vec![]),
        // Not in any address here (the random part of a test email is letters
        // and digits only).
        ("q-q", vec![]),
    ] {
        let encoded: String = url_encode(query);
        let mut got = ids(&list(format!("?search={encoded}")).await);
        got.sort_unstable();
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(got, expected, "search {query:?}");
    }

    // One character: every address here has an "E" (example.*).
    assert_eq!(ids(&list("?search=E".into()).await).len(), 4);

    // Filters.
    assert_eq!(ids(&list("?is_staff=true".into()).await), [staff_id]);
    assert_eq!(
        ids(&list("?is_staff=false&search=example.org".into()).await),
        [bob, carol]
    );
    assert_eq!(
        ids(&list("?is_active=false".into()).await),
        Vec::<i64>::new()
    );

    // Pages. The total is counted unless the first page holds every match.
    for (size, shown) in [(3, 3), (4, 4), (5, 4)] {
        let first = list(format!("?page=1&page_size={size}")).await;
        assert_eq!(ids(&first).len(), shown, "page_size={size}");
        assert_eq!(first.json()["count"], 4, "page_size={size}");
    }
    let page2 = list("?page=2&page_size=3".into()).await;
    assert_eq!(ids(&page2), [carol]);
    assert_eq!(page2.json()["count"], 4);
    let past = list("?page=9&page_size=3".into()).await;
    assert_eq!(ids(&past), Vec::<i64>::new());
    assert_eq!(past.json()["count"], 4);
    let huge = list("?page=99999999999&page_size=200".into()).await;
    assert_eq!(ids(&huge), Vec::<i64>::new());
    let capped = list("?page_size=201".into()).await;
    assert_eq!(capped.json()["page_size"], 200);
    assert_eq!(ids(&capped).len(), 4);
    for (query, field) in [
        ("?page_size=0", "page_size"),
        ("?page=0", "page"),
        ("?page=-1", "page"),
        ("?page=x", "page"),
        ("?is_active=yes", "is_active"),
        ("?sort=email", "sort"),
        ("?search=a%00b", "search"),
    ] {
        let reply = list(query.into()).await;
        let problem = reply.problem(400, "validation_failed");
        assert!(problem["errors"][field].is_array(), "{query}: {problem}");
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
