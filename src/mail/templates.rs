//! The message templates (minijinja, Django-like syntax): embedded in the
//! binary, each replaceable by a file of the same name in
//! `EMAIL_TEMPLATES_DIR`. Every template is rendered once at start-up with
//! sample values, so a broken override stops the service with one line
//! naming the file, not a message later.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, Value};

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/email/", $name)))),*]
    };
}

/// Every template, by file name.
const EMBEDDED: &[(&str, &str)] = embedded!(
    "base.txt",
    "base.html",
    "_button.html",
    "password_reset.subject",
    "password_reset.txt",
    "password_reset.html",
    "email_verification.subject",
    "email_verification.txt",
    "email_verification.html",
    "email_change.subject",
    "email_change.txt",
    "email_change.html",
    "email_change_requested.subject",
    "email_change_requested.txt",
    "email_change_requested.html",
    "email_change_attempt.subject",
    "email_change_attempt.txt",
    "email_change_attempt.html",
    "email_changed.subject",
    "email_changed.txt",
    "email_changed.html",
    "password_changed.subject",
    "password_changed.txt",
    "password_changed.html",
    "signup_attempt.subject",
    "signup_attempt.txt",
    "signup_attempt.html",
    "account_deleted.subject",
    "account_deleted.txt",
    "account_deleted.html",
    "mfa_enabled.subject",
    "mfa_enabled.txt",
    "mfa_enabled.html",
    "mfa_disabled.subject",
    "mfa_disabled.txt",
    "mfa_disabled.html",
    "mfa_removed.subject",
    "mfa_removed.txt",
    "mfa_removed.html",
);

/// The kinds of message; each has `<kind>.subject`, `.txt` and `.html`.
pub const KINDS: &[&str] = &[
    "password_reset",
    "email_verification",
    "email_change",
    "email_change_requested",
    "email_change_attempt",
    "email_changed",
    "password_changed",
    "signup_attempt",
    "account_deleted",
    "mfa_enabled",
    "mfa_disabled",
    "mfa_removed",
];

pub struct Templates {
    env: Environment<'static>,
}

/// One message, rendered.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Templates {
    pub fn load(overrides: Option<&Path>) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        // A misspelt variable is an error, not an empty string in a mail.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, embedded) in EMBEDDED {
            let source = match overrides.map(|dir| dir.join(name)) {
                Some(path) if path.is_file() => std::fs::read_to_string(&path).map_err(|e| {
                    anyhow::anyhow!("EMAIL_TEMPLATES_DIR: cannot read {}: {e}", path.display())
                })?,
                _ => (*embedded).to_owned(),
            };
            env.add_template_owned(*name, source)
                .map_err(|e| anyhow::anyhow!("email template {name}: {e}"))?;
        }
        if let Some(dir) = overrides {
            if !dir.is_dir() {
                anyhow::bail!("EMAIL_TEMPLATES_DIR={} is not a directory", dir.display());
            }
        }
        let templates = Templates { env };
        let sample = minijinja::context! {
            product_name => "Example", name => "Ada", email => "ada@example.com",
            new_email => "ada@example.org", link => "https://example.com/x?token=t",
            token => "t", expires_in => "1 hour", when => "1 December 2026 at 12:00 UTC",
        };
        for kind in KINDS {
            templates
                .render(kind, sample.clone())
                .map_err(|e| anyhow::anyhow!("email template {kind}: {e:#}"))?;
        }
        Ok(templates)
    }

    /// The three parts of `kind`. HTML is auto-escaped (by the `.html`
    /// name); the subject is one line.
    pub fn render(&self, kind: &str, context: Value) -> Result<Rendered, minijinja::Error> {
        let part = |ext: &str| {
            self.env
                .get_template(&format!("{kind}.{ext}"))
                .and_then(|t| t.render(&context))
        };
        let subject = part("subject")?;
        Ok(Rendered {
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: part("txt")?,
            html: part("html")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_renders() {
        Templates::load(None).unwrap();
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let t = Templates::load(None).unwrap();
        let out = t
            .render(
                "email_changed",
                minijinja::context! {
                    product_name => "A&B", name => "<b>x</b>", email => "a@x",
                    new_email => "n@x", when => "now",
                },
            )
            .unwrap();
        assert!(out.html.contains("Hello &lt;b&gt;x&lt;"), "{}", out.html);
        assert!(!out.html.contains("<b>"), "{}", out.html);
        assert!(out.text.contains("Hello <b>x</b>,"), "{}", out.text);
        assert_eq!(out.subject, "Your A&B email address was changed");
    }

    #[test]
    fn an_override_replaces_one_template_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("password_reset.subject"),
            "Reset for {{ product_name }}!",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let out = t
            .render(
                "password_reset",
                minijinja::context! {
                    product_name => "P", name => "n", email => "e", link => "l",
                    token => "t", expires_in => "1 hour",
                },
            )
            .unwrap();
        assert_eq!(out.subject, "Reset for P!");
        std::fs::write(dir.path().join("password_changed.txt"), "{{ nmae }}").unwrap();
        let err = Templates::load(Some(dir.path())).err().unwrap().to_string();
        assert!(err.contains("password_changed"), "{err}");
    }
}
