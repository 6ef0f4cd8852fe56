//! `accounts import-django SOURCE_URL [--media-root DIR] [--user-table
//! NAME] [--profile-table NAME] [--dry-run]`: the arguments, the batches
//! (with a progress line on a terminal) and the report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::source::Source;
use super::tables::Tables;
use crate::accounts::{colliding, ImportPlan, ImportReport, Listed};
use crate::config::Settings;
use crate::startup::{accounts_for_cli, migrate};
use crate::telemetry::spawn_blocking_in_span;

pub const USAGE: &str = "  import-django SOURCE_URL [--media-root DIR] [--user-table NAME]
                [--profile-table NAME] [--dry-run]
                   import the users of a Django project (SOURCE_URL is its
                   database: sqlite://PATH or postgres://...); see README.md";

struct Args {
    source_url: String,
    media_root: Option<PathBuf>,
    user_table: Option<String>,
    profile_table: Option<String>,
    dry_run: bool,
}

fn parse(args: &[String]) -> anyhow::Result<Args> {
    let usage = || anyhow::anyhow!("usage: accounts {}", USAGE.trim_start());
    let mut parsed = Args {
        source_url: String::new(),
        media_root: None,
        user_table: None,
        profile_table: None,
        dry_run: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .filter(|v| !v.starts_with("--"))
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))
        };
        match arg.as_str() {
            "--dry-run" => parsed.dry_run = true,
            "--media-root" => parsed.media_root = Some(value(arg)?.into()),
            "--user-table" => parsed.user_table = Some(value(arg)?),
            "--profile-table" => parsed.profile_table = Some(value(arg)?),
            flag if flag.starts_with("--") => anyhow::bail!("unknown option {flag}"),
            url if parsed.source_url.is_empty() => parsed.source_url = url.to_owned(),
            _ => return Err(usage()),
        }
    }
    if parsed.source_url.is_empty() {
        return Err(usage());
    }
    Ok(parsed)
}

/// Runs the import; every error is one line for the terminal.
pub async fn import_django(settings: &Settings, args: &[String]) -> anyhow::Result<()> {
    let args = parse(args)?;
    if let Some(root) = &args.media_root {
        if !root.is_dir() {
            anyhow::bail!("--media-root {} is not a directory", root.display());
        }
    }
    let url = args.source_url.clone();
    let (user_table, profile_table) = (args.user_table.clone(), args.profile_table.clone());
    let (source, tables, key, total, emails) = blocking(move || {
        let mut source = Source::open(&url)?;
        let tables = source
            .catalog
            .discover(user_table.as_deref(), profile_table.as_deref())?;
        let key = source.key(&tables)?;
        let total = source.count(&tables)?;
        let emails = source.emails(&tables)?;
        Ok((source, tables, key, total, emails))
    })
    .await?;
    // Even a dry run needs the service's tables to look for taken emails
    // and usernames: pending migrations are applied (no user is written).
    migrate(settings).await?;
    let accounts = accounts_for_cli(settings).await?;
    // Found now, not at the first batch with a picture (which every rerun
    // would stop at).
    if args.media_root.is_some() && !args.dry_run && !accounts.stores_pictures() {
        anyhow::bail!(
            "MEDIA_ROOT {} cannot be written: the pictures could not be stored",
            settings.stores.media_root.display()
        );
    }
    let plan = ImportPlan {
        source: key,
        colliding: colliding(&emails),
        media_root: args.media_root.clone(),
        dry_run: args.dry_run,
    };
    let source = Arc::new(Mutex::new(source));
    let batch_size = settings.limits.import_batch_size;
    let progress = std::io::stderr().is_terminal();
    let mut report = ImportReport::default();
    // Below every id: Django's ids start at 1, but a hand-made row may not.
    let (mut after, mut read) = (i64::MIN, 0_i64);
    loop {
        let (from, t) = (Arc::clone(&source), tables.clone());
        let batch = blocking(move || {
            let mut source = from
                .lock()
                .map_err(|_| "the source reader failed".to_owned())?;
            source.users_after(&t, after, batch_size)
        })
        .await?;
        let Some(last) = batch.last().map(|u| u.id) else {
            break;
        };
        let size = batch.len() as i64;
        if let Err(e) = accounts
            .import_django_batch(&plan, batch, &mut report)
            .await
        {
            let why = crate::operator::plain(e).to_string();
            let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
            let from = if after == i64::MIN {
                "from the first".to_owned()
            } else {
                format!("after id {after}")
            };
            if args.dry_run {
                anyhow::bail!("reading Django users {from} failed: {why}");
            }
            anyhow::bail!(
                "importing Django users {from} failed: {why}; the {} user(s) imported before this batch are kept: run the same command again to continue",
                report.imported
            );
        }
        (after, read) = (last, read + size);
        if progress {
            eprint!("\r{read} of {total} Django user(s) read");
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }
    print_report(&args, &tables, read, &report)?;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> anyhow::Result<T> {
    spawn_blocking_in_span(f)
        .await
        .map_err(|_| anyhow::anyhow!("the blocking pool is shut down"))?
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn print_report(
    args: &Args,
    tables: &Tables,
    read: i64,
    report: &ImportReport,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        writeln!(out, "Dry run: nothing was written.")?;
    }
    let profiles = tables.profiles.as_deref().unwrap_or("(no profile table)");
    writeln!(
        out,
        "Read {read} Django user(s) from {}, profiles from {profiles}.",
        tables.users
    )?;
    writeln!(
        out,
        "{}: {} user(s), {} profile(s), {} picture(s).",
        if args.dry_run {
            "Would import"
        } else {
            "Imported"
        },
        report.imported,
        report.profiles,
        report.pictures
    )?;
    if report.already_imported > 0 {
        writeln!(
            out,
            "Already imported by an earlier run: {}.",
            report.already_imported
        )?;
    }
    let sections: [(&str, &[Listed]); 4] = [
        ("Skipped users", &report.skipped),
        (
            "Imported without a usable password (they can set one through password reset)",
            &report.without_password,
        ),
        (
            "Pictures not imported (the user is)",
            &report.pictures_skipped,
        ),
        (
            "Fields not kept (the user is imported without them)",
            &report.fields_dropped,
        ),
    ];
    for (title, listed) in sections {
        if listed.is_empty() {
            continue;
        }
        writeln!(out, "{title}: {}", listed.len())?;
        let mut listed: Vec<&Listed> = listed.iter().collect();
        listed.sort_by_key(|l| l.django_id);
        for l in listed {
            // Without an email, the username is what the operator can find
            // the user by in Django's admin (quoted: it is the raw value).
            let who = match (l.email.is_empty(), l.username.trim().is_empty()) {
                (false, _) => l.email.clone(),
                (true, false) => format!("username {:?}, no email", l.username),
                (true, true) => "no email, no username".to_owned(),
            };
            writeln!(out, "  Django user {} ({who}): {}", l.django_id, l.reason)?;
        }
    }
    Ok(())
}
