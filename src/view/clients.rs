//! The clients and the planner's policy, from the configuration.

use std::collections::HashSet;
use std::time::Duration;

use scim_sync_plan::{Policy, SuspendedPolicy};

use super::ViewError;
use crate::config::{self, Config};
use crate::kafkaman::{KafkamanClient, KafkamanClientOptions};
use crate::okta::{OktaAuth, OktaClient, OktaClientOptions};

/// The Okta client, its secrets read now (they are re-read every cycle).
pub fn okta_client(cfg: &Config) -> Result<OktaClient, ViewError> {
    let auth = match &cfg.okta.auth {
        config::OktaAuth::ApiToken(token) => OktaAuth::Ssws(token.resolve()?),
        config::OktaAuth::OAuth(oauth) => OktaAuth::Oauth {
            client_id: oauth.client_id.clone(),
            private_key_pem: oauth.private_key.resolve()?,
            key_id: oauth.key_id.clone(),
            scopes: oauth.scopes.clone(),
        },
    };
    Ok(OktaClient::new(OktaClientOptions {
        org_url: cfg.okta.org_url.clone(),
        auth,
        rate_limit_share: cfg.okta.rate_limit_share,
        page_size: cfg.okta.page_size,
        timeout: Duration::from_secs(cfg.okta.timeout_secs),
        max_retries: cfg.okta.max_retries,
        max_rate_limit_wait: Duration::from_secs(cfg.okta.max_rate_limit_wait_secs),
        // A listing keeps only what the mapping reads (README "Scale").
        profile_attributes: vec![
            cfg.sync.user_name_attribute.clone(),
            cfg.sync.given_name_attribute.clone(),
            cfg.sync.family_name_attribute.clone(),
        ],
    })?)
}

/// The kafkaman client, its API key read now (a rotated key is picked up).
pub fn kafkaman_client(cfg: &Config) -> Result<KafkamanClient, ViewError> {
    Ok(KafkamanClient::new(KafkamanClientOptions {
        base_url: cfg.kafkaman.base_url.clone(),
        api_key: cfg.kafkaman.api_key.resolve()?,
        timeout: Duration::from_secs(cfg.kafkaman.timeout_secs),
        max_retries: cfg.kafkaman.max_retries,
        rate_limit_share: cfg.kafkaman.rate_limit_share,
    })?)
}

/// The planner's policy from the configuration; `released` are the SCIM ids of held
/// deactivations a human released, `previously_held` those held and not released yet
/// (the store's held set: holds are sticky).
pub fn policy(cfg: &Config, released: HashSet<String>, previously_held: HashSet<String>) -> Policy {
    Policy {
        create_users: cfg.sync.create_users,
        update_attributes: cfg.sync.update_attributes,
        deactivate_users: cfg.sync.deactivate_users,
        reactivate_users: cfg.sync.reactivate_users,
        restore_hand_deactivated: cfg.sync.restore_hand_deactivated,
        clear_pending_invites: cfg.sync.clear_pending_invites,
        suspended: match cfg.sync.suspended_users {
            config::SuspendedUsers::Deactivate => SuspendedPolicy::Deactivate,
            config::SuspendedUsers::Keep => SuspendedPolicy::Keep,
        },
        protected: cfg.safety.protected_users.clone(),
        max_deactivations: cfg.safety.max_deactivations,
        max_deactivations_percent: cfg.safety.max_deactivations_percent,
        min_deactivation_cap: cfg.safety.min_deactivation_cap,
        released,
        previously_held,
    }
}
