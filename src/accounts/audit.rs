//! The audit trail: every staff or operator action on an account and every
//! account deletion is one structured `tracing` event (target `audit`: who,
//! what, which user, when) and a count in `/metrics`. Never a password, a
//! token or a changed value: field names only.

use super::staff::Actor;
use super::Accounts;

/// One event of the trail.
fn record(who: &str, action: &'static str, target: i32, what: &str) {
    tracing::info!(
        target: "audit",
        actor = who,
        action,
        user_id = target,
        what,
        at = %chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "account action"
    );
}

impl Accounts {
    /// Records `action` by `actor` on user `target` (`what`: e.g. the
    /// fields an edit changed), counted in `accounts_admin_actions_total`.
    pub(super) fn audit(&self, actor: &Actor, action: &'static str, target: i32, what: &str) {
        record(&actor.name(), action, target, what);
        self.metrics.admin_action(action);
    }

    /// Records a deletion, by its owner or by `actor`, counted in
    /// `accounts_account_deletions_total`.
    pub(super) fn audit_deletion(&self, actor: Option<&Actor>, target: i32) {
        match actor {
            Some(actor) => {
                self.audit(actor, "delete_user", target, "");
                self.metrics.account_deleted(match actor {
                    Actor::Operator => "operator",
                    Actor::Staff { .. } => "staff",
                });
            }
            None => {
                record(&format!("user:{target}"), "delete_account", target, "");
                self.metrics.account_deleted("self");
            }
        }
    }
}
