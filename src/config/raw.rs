//! The config file as written: every key optional where it has a default, with spans
//! kept on values that are validated after parsing so those errors can name a line.

use serde::Deserialize;
use toml::Spanned;

use super::{ExitTrigger, LogFormat, SuspendedUsers, UserNameSource};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub okta: Spanned<RawOkta>,
    pub kafkaman: Spanned<RawKafkaman>,
    #[serde(default)]
    pub sync: RawSync,
    #[serde(default)]
    pub safety: RawSafety,
    #[serde(default)]
    pub daemon: RawDaemon,
    #[serde(default)]
    pub report: RawReport,
    #[serde(default)]
    pub logging: RawLogging,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOkta {
    pub org_url: Spanned<String>,
    pub app_id: Spanned<String>,
    pub api_token: Option<Spanned<RawSecret>>,
    pub oauth: Option<Spanned<RawOAuth>>,
    pub rate_limit_share: Option<Spanned<f64>>,
    pub page_size: Option<Spanned<u32>>,
    pub timeout_secs: Option<Spanned<u64>>,
    pub max_retries: Option<u32>,
    pub max_rate_limit_wait_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth {
    pub client_id: Spanned<String>,
    pub private_key: Spanned<RawSecret>,
    pub key_id: Option<Spanned<String>>,
    pub scopes: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKafkaman {
    pub base_url: Option<Spanned<String>>,
    pub api_key: Spanned<RawSecret>,
    pub concurrency: Option<Spanned<u32>>,
    pub timeout_secs: Option<Spanned<u64>>,
    pub max_retries: Option<u32>,
    pub rate_limit_share: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    pub state_db: Option<Spanned<String>>,
    pub create_users: Option<bool>,
    pub update_attributes: Option<bool>,
    pub deactivate_users: Option<bool>,
    pub reactivate_users: Option<bool>,
    pub restore_hand_deactivated: Option<Spanned<bool>>,
    pub clear_pending_invites: Option<bool>,
    pub suspended_users: Option<SuspendedUsers>,
    pub user_name_source: Option<UserNameSource>,
    pub user_name_attribute: Option<Spanned<String>>,
    pub given_name_attribute: Option<Spanned<String>>,
    pub family_name_attribute: Option<Spanned<String>>,
    pub error_budget_percent: Option<Spanned<f64>>,
    pub full_cycle_max_age_hours: Option<Spanned<u32>>,
    pub log_overlap_secs: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSafety {
    pub max_deactivations: Option<u32>,
    pub max_deactivations_percent: Option<Spanned<f64>>,
    pub min_deactivation_cap: Option<Spanned<u32>>,
    pub protected_users: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub schedule: Option<Spanned<String>>,
    pub time_zone: Option<Spanned<String>>,
    pub random_delay_secs: Option<Spanned<u64>>,
    pub run_at_start: Option<bool>,
    pub listen: Option<Spanned<String>>,
    pub shutdown_timeout_secs: Option<u64>,
    pub healthy_within_intervals: Option<Spanned<u32>>,
    pub allow_root: Option<bool>,
    pub incremental_interval_secs: Option<Spanned<u64>>,
    pub control_socket: Option<Spanned<String>>,
    pub control_group: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub stale_invite_days: Option<Spanned<u32>>,
    pub exit_1_on: Option<Vec<ExitTrigger>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogging {
    pub format: Option<LogFormat>,
    pub level: Option<Spanned<String>>,
}

/// A secret key as written: either a reference table or (wrongly) an inline string,
/// which is accepted here only so the error can say how to reference it instead.
pub(super) enum RawSecret {
    Inline,
    Ref(RawSecretTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecretTable {
    pub file: Option<String>,
    pub env: Option<String>,
    pub credential: Option<String>,
}

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;
        impl<'de> serde::de::Visitor<'de> for SecretVisitor {
            type Value = RawSecret;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a secret reference such as { file = \"/etc/scim-sync/secret\" }, \
                     { env = \"NAME\" } or { credential = \"name\" }",
                )
            }

            fn visit_str<E: serde::de::Error>(self, _inline: &str) -> Result<RawSecret, E> {
                // The value is dropped unseen; the error is raised after parsing, where
                // the key name is known.
                Ok(RawSecret::Inline)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawSecret, A::Error> {
                RawSecretTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawSecret::Ref)
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}
