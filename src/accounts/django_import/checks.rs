//! One Django user against the rules registration applies: skipped (and
//! why), or accepted with every field that breaks a rule dropped (and
//! listed).

use std::collections::HashSet;

use super::{inside, Accepted, ImportPlan, ImportReport, Listed};
use crate::auth::django_hashes::{self, Kind};
use crate::db::django_imports::Imported;
use crate::db::models::NewUser;
use crate::django::source::{parse_time, DjangoProfile, DjangoUser};
use crate::domain::{parse_bio, parse_name, parse_portfolio_site, parse_username, Email};

/// What the service's database already holds, for one batch.
pub(super) struct Known {
    pub emails_taken: HashSet<String>,
    pub usernames_taken: HashSet<String>,
}

/// The user to import, or `None` when it is skipped; what the report
/// must say goes into `outcome`. `claimed`: usernames earlier batches of
/// this run gave out.
pub(super) fn check(
    user: DjangoUser,
    plan: &ImportPlan,
    known: &Known,
    claimed: &HashSet<String>,
    max_bio_chars: usize,
    outcome: &mut ImportReport,
) -> Option<Accepted> {
    let listed = |reason: String| Listed {
        django_id: user.id,
        email: user.email.trim().to_owned(),
        username: user.username.clone(),
        reason,
    };
    if let Some(reason) = plan.colliding.get(&user.id) {
        outcome.skipped.push(listed(reason.clone()));
        return None;
    }
    let email = match Email::parse(&user.email) {
        Ok(email) => email,
        Err(_) if user.email.trim().is_empty() => {
            outcome.skipped.push(listed("the email is empty".into()));
            return None;
        }
        Err(why) => {
            outcome
                .skipped
                .push(listed(format!("the email is not valid: {why}")));
            return None;
        }
    };
    if known.emails_taken.contains(&email.canonical()) {
        outcome
            .skipped
            .push(listed("an account with this email exists already".into()));
        return None;
    }
    let mut keep = |field: &str, parsed: Result<String, String>, raw: &str| match parsed {
        Ok(value) => value,
        Err(why) => {
            outcome
                .fields_dropped
                .push(listed(format!("{field} {raw:?}: {why}")));
            String::new()
        }
    };
    let mut username = keep("username", parse_username(&user.username), &user.username);
    let first_name = keep("first_name", parse_name(&user.first_name), &user.first_name);
    let last_name = keep("last_name", parse_name(&user.last_name), &user.last_name);
    let profile = user.profile.clone().unwrap_or_else(|| DjangoProfile {
        portfolio_site: String::new(),
        bio: String::new(),
        profile_pic: String::new(),
    });
    let portfolio_site = keep(
        "portfolio_site",
        parse_portfolio_site(&profile.portfolio_site),
        &profile.portfolio_site,
    );
    let bio = keep("bio", parse_bio(&profile.bio, max_bio_chars), &profile.bio);
    if !username.is_empty()
        && (known.usernames_taken.contains(&username)
            || claimed.contains(&username)
            || outcome.claimed_usernames.contains(&username))
    {
        outcome.fields_dropped.push(listed(format!(
            "username {username:?}: an account has it already"
        )));
        username.clear();
    }
    if !username.is_empty() {
        outcome.claimed_usernames.insert(username.clone());
    }
    let password = match django_hashes::kind(&user.password) {
        Kind::Usable => user.password.clone(),
        Kind::Unusable(why) => {
            // Named from a fixed list, never from the string: Django's unsalted
            // MD5 may be stored bare, and the report must not print a hash.
            let algorithm = match user.password.split_once('$') {
                Some((a, _))
                    if ["md5", "sha1", "unsalted_md5", "unsalted_sha1", "crypt"].contains(&a) =>
                {
                    a
                }
                _ => "unsalted_md5",
            };
            let why = if why == "legacy hash" {
                format!("legacy hash ({algorithm})")
            } else {
                why.to_owned()
            };
            outcome.without_password.push(listed(why));
            "!".to_owned()
        }
        Kind::NotDjango => {
            outcome
                .without_password
                .push(listed("not a Django password hash".into()));
            "!".to_owned()
        }
    };
    let mut time = |field: &str, raw: &Option<String>| {
        let raw = raw.as_deref()?;
        let parsed = parse_time(raw);
        if parsed.is_none() {
            outcome
                .fields_dropped
                .push(listed(format!("{field} {raw:?}: not a time")));
        }
        parsed
    };
    let date_joined = time("date_joined", &user.date_joined).unwrap_or_else(crate::db::now);
    let last_login = time("last_login", &user.last_login);
    let picture = match (profile.profile_pic.trim(), &plan.media_root) {
        ("", _) => None,
        (pic, None) => {
            outcome
                .pictures_skipped
                .push(listed(format!("{pic}: no --media-root was given")));
            None
        }
        (pic, Some(root)) => match inside(root, pic) {
            Some(path) => Some((path, pic.to_owned())),
            None => {
                outcome
                    .pictures_skipped
                    .push(listed(format!("{pic}: the path leaves --media-root")));
                None
            }
        },
    };
    if user.profile.is_some() {
        outcome.profiles += 1;
    }
    Some(Accepted {
        imported: Imported {
            django_id: user.id,
            user: NewUser {
                email: email.as_str().to_owned(),
                email_canonical: email.canonical(),
                username,
                first_name,
                last_name,
                password,
                is_active: user.is_active,
                is_staff: user.is_staff,
                is_superuser: user.is_superuser,
                date_joined,
                last_login,
                // The operator vouches for the addresses, as for
                // `createsuperuser`; with REQUIRE_EMAIL_VERIFICATION
                // on, none of them could log in otherwise.
                email_verified: true,
            },
            portfolio_site,
            bio,
            profile_pic: None,
        },
        picture,
        email: user.email.trim().to_owned(),
    })
}
