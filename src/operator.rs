//! The operator's commands, like Django's manage.py: `accounts users list
//! [--search S]`, `accounts users deactivate|activate EMAIL` and `accounts
//! users delete EMAIL [--yes]`. They run the admin API's use cases as the
//! operator (whoever can run the server may do anything to any account),
//! and each leaves the same audit event.

use std::io::{BufRead, IsTerminal, Write};

use crate::accounts::{Accounts, Actor, StaffEdit, UserQuery};
use crate::config::Settings;
use crate::error::ApiError;
use crate::startup::accounts_for_cli;

pub const USAGE: &str = "  users list [--search S]
                   list users (id, email, username, flags), by id
  users deactivate EMAIL | users activate EMAIL
                   deactivating ends every session of the user at once
  users delete EMAIL [--yes]
                   delete the account and everything of it; asks to
                   confirm unless --yes";

/// Runs `accounts users ...` (`args` after `users`).
pub async fn users(settings: &Settings, args: &[String]) -> anyhow::Result<()> {
    let accounts = accounts_for_cli(settings).await?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["list"] => list(&accounts, None).await,
        ["list", "--search", term] => list(&accounts, Some(term)).await,
        ["deactivate", email] => set_active(&accounts, email, false).await,
        ["activate", email] => set_active(&accounts, email, true).await,
        ["delete", email] => delete(&accounts, email, false).await,
        ["delete", email, "--yes"] | ["delete", "--yes", email] => {
            delete(&accounts, email, true).await
        }
        _ => anyhow::bail!("usage:\n{USAGE}"),
    }
}

/// A use case's error as one line for the terminal (every field's
/// messages, for a validation error); `createsuperuser` uses it too.
pub fn plain(e: ApiError) -> anyhow::Error {
    match e {
        ApiError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

async fn list(accounts: &Accounts, search: Option<&str>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:>8}  {:<40} {:<20} flags", "id", "email", "username")?;
    let mut page = 1;
    loop {
        let found = accounts
            .list_users(UserQuery {
                search: search.map(str::to_owned),
                page: Some(page),
                page_size: Some(i64::MAX),
                ..UserQuery::default()
            })
            .await
            .map_err(plain)?;
        for view in &found.users {
            let u = &view.user;
            let flags: Vec<&str> = [
                (u.is_active, "active"),
                (!u.is_active, "inactive"),
                (u.is_staff, "staff"),
                (u.is_superuser, "superuser"),
                (u.email_verified, "verified"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            writeln!(
                out,
                "{:>8}  {:<40} {:<20} {}",
                u.id,
                u.email,
                u.username,
                flags.join(",")
            )?;
        }
        if page * found.page_size >= found.count {
            writeln!(out, "{} user(s)", found.count)?;
            return Ok(());
        }
        page += 1;
    }
}

async fn find(accounts: &Accounts, email: &str) -> anyhow::Result<crate::db::models::User> {
    accounts
        .user_by_email(email)
        .await
        .map_err(plain)?
        .ok_or_else(|| anyhow::anyhow!("no user has the email {email}"))
}

async fn set_active(accounts: &Accounts, email: &str, active: bool) -> anyhow::Result<()> {
    let user = find(accounts, email).await?;
    let edit = StaffEdit {
        is_active: Some(active),
        ..StaffEdit::default()
    };
    accounts
        .edit_user(&Actor::Operator, user.id, edit)
        .await
        .map_err(plain)?;
    if active {
        println!(
            "{} (id {}) is active: they can log in again.",
            user.email, user.id
        );
    } else {
        println!(
            "{} (id {}) is deactivated: every session has ended and they cannot log in.",
            user.email, user.id
        );
    }
    Ok(())
}

async fn delete(accounts: &Accounts, email: &str, confirmed: bool) -> anyhow::Result<()> {
    let user = find(accounts, email).await?;
    if !confirmed {
        let prompt = format!(
            "Delete {} (id {}) and everything of the account? Type yes to confirm: ",
            user.email, user.id
        );
        if !confirm(&prompt)? {
            anyhow::bail!("not deleted");
        }
    }
    accounts
        .admin_delete(&Actor::Operator, user.id)
        .await
        .map_err(plain)?;
    println!("{} (id {}) is deleted.", user.email, user.id);
    Ok(())
}

/// Asks on the terminal (or reads the first line of standard input).
fn confirm(prompt: &str) -> anyhow::Result<bool> {
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}
