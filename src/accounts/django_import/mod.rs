//! Moving users in from Django (`accounts import-django`), one batch at a
//! time: each Django user is checked against the rules registration
//! applies, its picture goes through the upload path, and the batch is
//! written in one transaction with a provenance row per user, so a rerun
//! continues where a failed run stopped and imports nothing twice.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

mod checks;
mod pictures;

use checks::Known;
use pictures::{inside, Picture};

use super::Accounts;
use crate::db::django_imports::{self, Imported};
use crate::django::source::DjangoUser;
use crate::domain::Email;
use crate::error::ApiError;

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
    /// Django's username as it was: what names a user without an email.
    pub username: String,
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
        let key = crate::domain::email::fold_address(email);
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
                    "it has the same email (ignoring case) as Django user {}",
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
    pub imported: Imported,
    pub picture: Option<(PathBuf, String)>,
    pub email: String,
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
        // Batches come in id order.
        let first = batch.iter().map(|u| u.id).min().unwrap_or_default();
        let last = batch.iter().map(|u| u.id).max().unwrap_or_default();
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
                    django_imports::already_imported(conn, &source, first, last)?,
                    django_imports::taken_emails(conn, &canonicals)?,
                    django_imports::taken_usernames(conn, &usernames)?,
                ))
            })
            .await?;

        let mut outcome = ImportReport::default();
        let mut accepted: Vec<Accepted> = Vec::new();
        let known = Known {
            emails_taken,
            usernames_taken,
        };
        let max_bio = self.settings.limits.max_bio_chars;
        for user in batch {
            if done.contains(&user.id) {
                outcome.already_imported += 1;
                continue;
            }
            let claimed = &report.claimed_usernames;
            if let Some(a) = checks::check(user, plan, &known, claimed, max_bio, &mut outcome) {
                accepted.push(a);
            }
        }

        let (pictures, failures) = self.read_pictures(&accepted).await?;
        for (index, why) in failures {
            let user = &accepted[index];
            outcome.pictures_skipped.push(Listed {
                django_id: user.imported.django_id,
                email: user.email.clone(),
                username: String::new(),
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

    /// Stores the pictures, then writes the batch in one transaction; if
    /// that fails, the pictures it stored are removed again.
    async fn write_batch(
        &self,
        plan: &ImportPlan,
        mut accepted: Vec<Accepted>,
        pictures: Vec<Picture>,
    ) -> Result<(), ApiError> {
        let stored = self.store_pictures(&mut accepted, pictures).await?;
        let source = plan.source.clone();
        let batch: Vec<Imported> = accepted.into_iter().map(|a| a.imported).collect();
        let written = self
            .db
            .run(move |conn| django_imports::insert(conn, &source, batch, crate::db::now()))
            .await;
        if let (Err(_), Some((store, paths))) = (&written, stored) {
            pictures::remove(store, paths).await?;
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
