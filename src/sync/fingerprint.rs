//! What a plan depends on besides the two sides: the mapping Okta's rows are converted
//! with, and the policy's fingerprint (quiet cycles and the plan basis are valid only
//! under the one they were made under).

use std::collections::HashSet;

use super::SyncError;
use crate::config::Config;
use crate::store::Store;
use crate::view;

/// What Okta's rows are converted with, as stored with the cursor.
pub fn mapping(cfg: &Config) -> String {
    let s = &cfg.sync;
    format!(
        "user_name_source={} user_name_attribute={} given_name_attribute={} family_name_attribute={}",
        s.user_name_source.as_str(),
        s.user_name_attribute,
        s.given_name_attribute,
        s.family_name_attribute
    )
}

/// What a plan depends on besides the two sides: the policy (switches, protected users,
/// caps), the held set and the mapping. A quiet cycle under the fingerprint of a last
/// cycle that planned nothing would plan the same nothing (`ReadKind::Quiet`).
pub fn quiet_fingerprint(cfg: &Config, store: &Store) -> Result<String, SyncError> {
    let mut held: Vec<String> = store.held_scim_ids()?.into_iter().collect();
    held.sort();
    // No sets in it (their order would vary): released and held are empty, held is
    // listed sorted beside it.
    let mut policy = view::policy(cfg, HashSet::new(), HashSet::new());
    policy.protected.sort();
    let text = format!("{policy:?}|held={held:?}|{}", mapping(cfg));
    Ok(crate::digest::sha256(text.as_bytes()))
}
