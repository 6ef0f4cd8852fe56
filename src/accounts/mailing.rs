//! Writing mail from inside a use case's transaction: a fresh token (at
//! most one per address and purpose each `EMAIL_RESEND_INTERVAL_SECS`) and the
//! message that carries it, or a notice. Both only write rows; the sender
//! delivers them after the transaction commits.

use chrono::NaiveDateTime;

use crate::auth::tokens::{mail_token, mail_token_hash};
use crate::db::email_tokens::{self, Purpose};
use crate::db::models::User;
use crate::db::{outbox, users, DbConnection};
use crate::domain::email;
use crate::error::ApiError;
use crate::mail::{Mail, Mailer};

/// Issues a token of `purpose` for `user`, to be sent to `to` (older
/// unspent tokens of that purpose are void), and returns it for the
/// message that carries it (`write`). `None`, and nothing issued, when a
/// token of that purpose was sent to `to` within the resend interval.
pub(super) fn issue_token(
    conn: &mut DbConnection,
    mailer: &Mailer,
    user: &User,
    to: &str,
    purpose: Purpose,
    now: NaiveDateTime,
) -> Result<Option<String>, ApiError> {
    let settings = mailer.settings();
    // Concurrent issuers for one user (two instances taking two reset
    // requests, a double click) go one at a time, so the interval check
    // and the voiding of older tokens see each other. SQLite's write
    // transactions are already serial.
    users::lock(conn, user.id)?;
    let since = now - chrono::Duration::from_std(settings.resend_interval).unwrap_or_default();
    // The interval is per address as every rule compares it: case-folded.
    let key = email::fold_address(to);
    if email_tokens::issued_since(conn, &key, purpose, since)? {
        return Ok(None);
    }
    let ttl = match purpose {
        Purpose::PasswordReset => settings.reset_ttl,
        Purpose::EmailVerification => settings.verify_ttl,
        Purpose::EmailChange => settings.change_ttl,
    };
    let token = mail_token()
        .map_err(|e| ApiError::internal(format!("the OS random source failed: {e}")))?;
    let expires_at = chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .ok_or_else(|| ApiError::internal("token lifetime out of range"))?;
    email_tokens::issue(
        conn,
        &mail_token_hash(&token),
        user.id,
        purpose,
        to,
        &key,
        now,
        expires_at,
    )?;
    Ok(Some(token))
}

/// Writes `mail` for `user` to `to` into the outbox.
pub(super) fn write(
    conn: &mut DbConnection,
    mailer: &Mailer,
    user: &User,
    to: &str,
    mail: &Mail<'_>,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let message = mailer.compose(mail, user, to, now)?;
    outbox::enqueue(conn, &message)
}
