//! Mail: how it leaves (`EMAIL_URL` or `.eml` files), who it is from, what
//! its links open, how long its tokens live, and how the sender retries.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::env::{Env, DAY};
use super::ConfigError;

#[derive(Clone, Debug)]
pub struct MailSettings {
    pub transport: MailTransport,
    /// `EMAIL_FROM`, checked to be a mailbox (`Name <a@b>` or `a@b`).
    pub from: String,
    /// Files here replace the embedded templates of the same name.
    pub templates_dir: Option<PathBuf>,
    pub product_name: String,
    pub links: Links,
    pub reset_ttl: Duration,
    pub verify_ttl: Duration,
    pub change_ttl: Duration,
    /// At most one message carrying a token per user and purpose this often.
    pub resend_interval: Duration,
    pub require_verification: bool,
    /// One SMTP conversation may take this long before it counts as failed.
    pub send_timeout: Duration,
    /// The longest wait between two attempts of one message (the wait
    /// doubles from 2 s up to this).
    pub retry_max: Duration,
    /// A message still undelivered this long after it was written is
    /// given up (and logged).
    pub give_up_after: Duration,
    /// How often an idle sender looks for mail written by other instances.
    pub poll_interval: Duration,
}

#[derive(Clone, Debug)]
pub enum MailTransport {
    /// The embedded default: one `.eml` file per message.
    Files(PathBuf),
    Smtp(SmtpRelay),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    Plain,
    StartTls,
    Tls,
}

#[derive(Clone, Debug)]
pub struct SmtpRelay {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, SecretString)>,
}

/// The front end's pages the mail links to, each with `{token}`.
#[derive(Clone, Debug)]
pub struct Links {
    pub password_reset: String,
    pub email_verify: String,
    pub email_change: String,
}

impl MailSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let transport = match env.var("EMAIL_URL") {
            None => MailTransport::Files(PathBuf::from(
                env.var("EMAIL_FILE_DIR")
                    .unwrap_or_else(|| "./data/outbox".into()),
            )),
            Some(url) => MailTransport::Smtp(parse_relay(url.trim())?),
        };
        let from = env
            .var("EMAIL_FROM")
            .unwrap_or_else(|| "accounts@localhost".into());
        if from.trim().parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "EMAIL_FROM={from:?} is not a mailbox (\"Name <a@example.com>\" or \"a@example.com\")"
            )));
        }
        let frontend = env
            .var("FRONTEND_URL")
            .unwrap_or_else(|| "http://localhost:8000".into());
        let frontend = frontend.trim().trim_end_matches('/');
        let link = |name: &str, set: Option<String>, page: &str| -> Result<String, ConfigError> {
            // `{FRONTEND_URL}` in a template is that setting (the defaults use it).
            let link = set
                .unwrap_or_else(|| format!("{{FRONTEND_URL}}/{page}?token={{token}}"))
                .replace("{FRONTEND_URL}", frontend);
            if !link.contains("{token}") {
                return Err(ConfigError(format!(
                    "{name}={link:?} must contain {{token}}"
                )));
            }
            Ok(link.trim().to_owned())
        };
        let settings = MailSettings {
            transport,
            from: from.trim().to_owned(),
            templates_dir: env.var("EMAIL_TEMPLATES_DIR").map(PathBuf::from),
            product_name: env
                .var("EMAIL_PRODUCT_NAME")
                .unwrap_or_else(|| "Accounts".into())
                .trim()
                .to_owned(),
            links: Links {
                password_reset: link(
                    "PASSWORD_RESET_URL",
                    env.var("PASSWORD_RESET_URL"),
                    "reset-password",
                )?,
                email_verify: link(
                    "EMAIL_VERIFY_URL",
                    env.var("EMAIL_VERIFY_URL"),
                    "verify-email",
                )?,
                email_change: link(
                    "EMAIL_CHANGE_URL",
                    env.var("EMAIL_CHANGE_URL"),
                    "confirm-email-change",
                )?,
            },
            reset_ttl: env.secs("PASSWORD_RESET_TTL_SECS", 3600, 1..=7 * DAY)?,
            verify_ttl: env.secs("EMAIL_VERIFY_TTL_SECS", 259_200, 1..=30 * DAY)?,
            change_ttl: env.secs("EMAIL_CHANGE_TTL_SECS", 3600, 1..=7 * DAY)?,
            resend_interval: env.secs("EMAIL_RESEND_INTERVAL_SECS", 60, 0..=DAY)?,
            require_verification: env.parse("REQUIRE_EMAIL_VERIFICATION", false)?,
            send_timeout: env.secs("EMAIL_SEND_TIMEOUT_SECS", 30, 1..=600)?,
            retry_max: env.secs("EMAIL_RETRY_MAX_SECS", 900, 1..=DAY)?,
            give_up_after: env.secs("EMAIL_GIVE_UP_AFTER_SECS", 259_200, 1..=30 * DAY)?,
            poll_interval: env.secs("EMAIL_POLL_INTERVAL_SECS", 5, 1..=3600)?,
        };
        Ok(settings)
    }
}

/// `smtp://`, `smtp+starttls://` or `smtps://`, with optional
/// percent-encoded credentials. The error never repeats the URL (it may
/// hold a password).
fn parse_relay(raw: &str) -> Result<SmtpRelay, ConfigError> {
    let bad = |why: &str| ConfigError(format!("EMAIL_URL is not a valid mail URL: {why}"));
    let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    let (security, default_port) = match url.scheme() {
        "smtp" => (SmtpSecurity::Plain, 25),
        "smtp+starttls" => (SmtpSecurity::StartTls, 587),
        "smtps" => (SmtpSecurity::Tls, 465),
        other => {
            return Err(bad(&format!(
                "the scheme {other:?} is none of smtp, smtp+starttls, smtps"
            )))
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if url.path() != "" && url.path() != "/" {
        return Err(bad("a mail URL has no path"));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| bad("the credentials are not UTF-8"))
    };
    let credentials = if url.username().is_empty() {
        None
    } else {
        Some((
            decode(url.username())?,
            SecretString::from(decode(url.password().unwrap_or_default())?),
        ))
    };
    Ok(SmtpRelay {
        security,
        host,
        port: url.port().unwrap_or(default_port),
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn the_three_schemes_and_their_ports() {
        let plain = parse_relay("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(plain.host, "127.0.0.1");
        assert_eq!((plain.security, plain.port), (SmtpSecurity::Plain, 2525));
        assert!(plain.credentials.is_none());
        let starttls = parse_relay("smtp+starttls://u%40x:p%3Aw@mail.example.com").unwrap();
        assert_eq!(starttls.security, SmtpSecurity::StartTls);
        assert_eq!(starttls.port, 587);
        let (user, pass) = starttls.credentials.unwrap();
        assert_eq!((user.as_str(), pass.expose_secret()), ("u@x", "p:w"));
        let tls = parse_relay("smtps://mail.example.com").unwrap();
        assert_eq!((tls.security, tls.port), (SmtpSecurity::Tls, 465));
    }

    #[test]
    fn a_bad_url_is_named_without_its_password() {
        for raw in [
            "http://x",
            "smtp://",
            "smtp://:secret@/",
            "not a url",
            "smtp://h/path",
        ] {
            let err = parse_relay(raw).unwrap_err().to_string();
            assert!(err.contains("EMAIL_URL"), "{raw}: {err}");
            assert!(!err.contains("secret"), "{raw}: {err}");
        }
    }
}
