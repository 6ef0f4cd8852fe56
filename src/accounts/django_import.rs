//! Moving users in from Django (`accounts import-django`), one batch at a
//! time: each Django user is checked against the rules registration
//! applies, its picture goes through the upload path, and the batch is
//! written in one transaction with a provenance row per user, so a rerun
//! continues where a failed run stopped and imports nothing twice.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use super::Accounts;
use crate::auth::django_hashes::{self, Kind};
use crate::db::django_imports::{self, Imported};
use crate::db::models::NewUser;
use crate::django::source::{parse_time, DjangoUser};
use crate::domain::{parse_bio, parse_name, parse_portfolio_site, parse_username, Email};
use crate::error::ApiError;
use crate::media;
use crate::telemetry::spawn_blocking_in_span;

/// What stays the same for every batch of one run.
pub struct ImportPlan {
    /// Names the Django database in the provenance rows.
    pub source: String,
    /// Django users whose email another Django user has too (in any
    /// case), with the reason: none of them is imported.
    pub colliding: HashMap<i64, String>,
    /// Where the Django project's `MEDIA_ROOT` is; `None`: no pictures.
    pub media_root: Option<PathBuf>,
    pub dry_run: bool,
}

/// One Django user the report names, and why.
#[derive(Debug, Clone)]
pub struct Listed {
    pub django_id: i64,
    pub email: String,
    pub reason: String,
}

/// What a run did (or, dry, would do), summed over its batches.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    /// Imported users that had a Django profile row.
    pub profiles: usize,
    pub pictures: usize,
    pub already_imported: usize,
    pub skipped: Vec<Listed>,
    pub without_password: Vec<Listed>,
    pub pictures_skipped: Vec<Listed>,
    pub fields_dropped: Vec<Listed>,
    /// Usernames given out so far in this run (a dry run writes none, so
    /// the database alone cannot say).
    claimed_usernames: HashSet<String>,
}

/// The Django users to skip because their emails collide
/// case-insensitively: every member of such a group, each naming the
/// others (which one is the real owner is for a person to decide).
pub fn colliding(emails: &[(i64, String)]) -> HashMap<i64, String> {
    let mut groups: HashMap<String, Vec<(i64, &str)>> = HashMap::new();
    for (id, email) in emails {
        let key =
            Email::parse(email).map_or_else(|_| email.trim().to_lowercase(), |e| e.canonical());
        if !key.is_empty() {
            groups.entry(key).or_default().push((*id, email.trim()));
        }
    }
    let mut found = HashMap::new();
    for group in groups.values().filter(|g| g.len() > 1) {
        for (id, _) in group {
            let others: Vec<String> = group
                .iter()
                .filter(|(other, _)| other != id)
                .map(|(other, email)| format!("{other} ({email})"))
                .collect();
            found.insert(
                *id,
                format!(
                    "its email matches Django user {} in all but case",
                    others.join(", ")
                ),
            );
        }
    }
    found
}

/// A Django user that will be imported: its row, the picture to read
/// (the file, and its name as the profile gave it) and its email as the
/// report shows it.
struct Accepted {
    imported: Imported,
    picture: Option<(PathBuf, String)>,
    email: String,
}

/// A picture read from the Django media root and re-encoded.
struct Picture {
    index: usize,
    encoded: media::Encoded,
}

impl Accounts {
    /// Imports one batch of Django users (or, with `dry_run`, works out
    /// what it would import) and adds the outcome to `report`.
    pub async fn import_django_batch(
        &self,
        plan: &ImportPlan,
        batch: Vec<DjangoUser>,
        report: &mut ImportReport,
    ) -> Result<(), ApiError> {
        let ids: Vec<i64> = batch.iter().map(|u| u.id).collect();
        let canonicals: Vec<String> = batch
            .iter()
            .filter_map(|u| Email::parse(&u.email).ok().map(|e| e.canonical()))
            .collect();
        let usernames: Vec<String> = batch
            .iter()
            .map(|u| u.username.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        let source = plan.source.clone();
        let (done, emails_taken, usernames_taken) = self
            .db
            .run(move |conn| {
                Ok((
                    django_imports::already_imported(conn, &source, &ids)?,
                    django_imports::taken_emails(conn, &canonicals)?,
                    django_imports::taken_usernames(conn, &usernames)?,
                ))
            })
            .await?;

        let mut outcome = ImportReport::default();
        let mut accepted: Vec<Accepted> = Vec::new();
        for user in batch {
            let listed = |reason: String| Listed {
                django_id: user.id,
                email: user.email.trim().to_owned(),
                reason,
            };
            if done.contains(&user.id) {
                outcome.already_imported += 1;
                continue;
            }
            if let Some(reason) = plan.colliding.get(&user.id) {
                outcome.skipped.push(listed(reason.clone()));
                continue;
            }
            let email = match Email::parse(&user.email) {
                Ok(email) => email,
                Err(_) if user.email.trim().is_empty() => {
                    outcome.skipped.push(listed("the email is empty".into()));
                    continue;
                }
                Err(why) => {
                    outcome
                        .skipped
                        .push(listed(format!("the email is not valid: {why}")));
                    continue;
                }
            };
            if emails_taken.contains(&email.canonical()) {
                outcome
                    .skipped
                    .push(listed("an account with this email exists already".into()));
                continue;
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
            let profile =
                user.profile
                    .clone()
                    .unwrap_or_else(|| crate::django::source::DjangoProfile {
                        portfolio_site: String::new(),
                        bio: String::new(),
                        profile_pic: String::new(),
                    });
            let portfolio_site = keep(
                "portfolio_site",
                parse_portfolio_site(&profile.portfolio_site),
                &profile.portfolio_site,
            );
            let bio = keep(
                "bio",
                parse_bio(&profile.bio, self.settings.limits.max_bio_chars),
                &profile.bio,
            );
            if !username.is_empty()
                && (usernames_taken.contains(&username)
                    || report.claimed_usernames.contains(&username)
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
                    let algorithm = user.password.split('$').next().unwrap_or_default();
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
            accepted.push(Accepted {
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
            });
        }

        let (pictures, failures) = self.read_pictures(&accepted).await?;
        for (index, why) in failures {
            let user = &accepted[index];
            outcome.pictures_skipped.push(Listed {
                django_id: user.imported.django_id,
                email: user.email.clone(),
                reason: why,
            });
        }
        outcome.imported = accepted.len();
        outcome.pictures = pictures.len();
        if !plan.dry_run {
            self.write_batch(plan, accepted, pictures).await?;
        }
        report.merge(outcome);
        Ok(())
    }

    /// Reads and re-encodes the batch's pictures exactly as an upload is
    /// (`media::process`, one decode permit): the good ones, and a reason
    /// for each that is not.
    async fn read_pictures(
        &self,
        accepted: &[Accepted],
    ) -> Result<(Vec<Picture>, Vec<(usize, String)>), ApiError> {
        let wanted: Vec<(usize, PathBuf, String)> = accepted
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.picture.clone().map(|(path, name)| (i, path, name)))
            .collect();
        if wanted.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let rules = self.picture_rules();
        let max_bytes = self.settings.limits.max_picture_bytes;
        let permit = self
            .decodes
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the decode pool is closed"))?;
        Ok(spawn_blocking_in_span(move || {
            let _decoding = permit;
            let (mut good, mut bad) = (Vec::new(), Vec::new());
            for (index, path, name) in wanted {
                match read_picture(&path, max_bytes) {
                    Err(why) => bad.push((index, format!("{name}: {why}"))),
                    Ok(bytes) => match media::process(&bytes, rules) {
                        Ok(encoded) => good.push(Picture { index, encoded }),
                        Err(ApiError::InvalidImage(why)) => {
                            bad.push((index, format!("{name}: {why}")))
                        }
                        Err(e) => bad.push((index, format!("{name}: {e}"))),
                    },
                }
            }
            (good, bad)
        })
        .await?)
    }

    /// Stores the pictures, then writes the batch in one transaction; if
    /// that fails, the pictures it stored are removed again.
    async fn write_batch(
        &self,
        plan: &ImportPlan,
        mut accepted: Vec<Accepted>,
        pictures: Vec<Picture>,
    ) -> Result<(), ApiError> {
        let store = match (&self.media, pictures.is_empty()) {
            (Some(store), _) => Some(store.clone()),
            (None, true) => None,
            (None, false) => return Err(ApiError::internal("MEDIA_ROOT cannot be written")),
        };
        let files = store.clone();
        let stored = spawn_blocking_in_span(move || {
            let Some(files) = files else {
                return Ok(Vec::new());
            };
            let mut stored = Vec::with_capacity(pictures.len());
            for picture in pictures {
                match files.store(&picture.encoded) {
                    Ok(path) => stored.push((picture.index, path)),
                    Err(e) => {
                        for (_, path) in &stored {
                            let _ = files.remove(path);
                        }
                        return Err(ApiError::internal(format!("storing a picture: {e}")));
                    }
                }
            }
            Ok(stored)
        })
        .await??;
        for (index, path) in &stored {
            accepted[*index].imported.profile_pic = Some(path.clone());
        }
        let source = plan.source.clone();
        let batch: Vec<Imported> = accepted.into_iter().map(|a| a.imported).collect();
        let written = self
            .db
            .run(move |conn| django_imports::insert(conn, &source, batch, crate::db::now()))
            .await;
        if let (Err(_), Some(store)) = (&written, store) {
            spawn_blocking_in_span(move || {
                for (_, path) in &stored {
                    if let Err(e) = store.remove(path) {
                        tracing::warn!(error = %e, "could not delete an unreferenced picture");
                    }
                }
            })
            .await?;
        }
        written
    }
}

impl ImportReport {
    fn merge(&mut self, batch: ImportReport) {
        self.imported += batch.imported;
        self.profiles += batch.profiles;
        self.pictures += batch.pictures;
        self.already_imported += batch.already_imported;
        self.skipped.extend(batch.skipped);
        self.without_password.extend(batch.without_password);
        self.pictures_skipped.extend(batch.pictures_skipped);
        self.fields_dropped.extend(batch.fields_dropped);
        self.claimed_usernames.extend(batch.claimed_usernames);
    }
}

/// `relative` under `root`, or `None` when it would leave it (an absolute
/// path or `..`): a profile row does not choose which file is read.
fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let path = Path::new(relative);
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then(|| root.join(path))
}

/// The file's bytes, refused past `max` bytes (as an upload would be).
fn read_picture(path: &Path, max: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "the file is missing".to_owned(),
        _ => format!("cannot read the file: {e}"),
    })?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() > max {
        return Err(format!("the file is larger than {max} bytes"));
    }
    Ok(bytes)
}
