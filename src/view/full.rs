//! A complete read of both sides: every assignment of the app, every member of the team,
//! the pending invites, and the lookups of the Okta ids members refer to.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use scim_sync_plan::{self as plan, OktaLookup, OktaView, PendingInvite, TeamView};

use super::{ViewError, clock, convert};
use crate::config::Config;
use crate::kafkaman::{KafkamanClient, KafkamanError};
use crate::okta::OktaClient;
use crate::progress::{self, Phase, Progress};

/// Okta ids looked up per batch of `filter=id eq … or …` requests.
const LOOKUP_BATCH: usize = 400;

/// Both sides, read whole, as the planner takes them.
pub struct FullRead {
    pub okta: OktaView,
    pub team: TeamView,
    /// kafkaman's change clock when the team read began (see [`clock::team_clock`]).
    pub team_modified: Option<String>,
}

/// Reads Okta and the team (read-only) and looks up what the planner needs; `links` and
/// `deactivated_by_us` are the snapshot's (what earlier cycles recorded). Any
/// incomplete read is an error: nothing is planned from it.
pub async fn read_full(
    cfg: &Config,
    okta: &OktaClient,
    kafkaman: &KafkamanClient,
    links: HashMap<String, String>,
    deactivated_by_us: HashSet<String>,
    progress: Option<&Progress>,
) -> Result<FullRead, ViewError> {
    // Both sides at once: a full cycle takes the longer of the two rate-limit bounds, not
    // their sum. Either side failing fails the read (the other is dropped, unfinished):
    // nothing is planned from half a read. Each row is converted as its page arrives: no
    // raw page outlives its decoding.
    let okta_progress = |n: usize| progress::report(progress, Phase::OktaUsers, n, None);
    let okta_read = async {
        okta.list_app_users_as(&cfg.okta.app_id, &okta_progress, |u| {
            convert::assigned_user(cfg, &u)
        })
        .await
        .map_err(ViewError::from)
    };
    let team_progress = |n: usize| progress::report(progress, Phase::KafkamanMembers, n, None);
    let team_read_started = Instant::now();
    let mut newest_read = None;
    let team_read = async {
        let members = kafkaman
            .list_users_as(&team_progress, |u| {
                let modified = u.last_modified.as_deref().and_then(clock::parse_time);
                newest_read = newest_read.max(modified);
                convert::member(&u)
            })
            .await?;
        let invites = pending_invites(cfg, kafkaman).await?;
        Ok::<_, ViewError>((members, invites))
    };
    let (assigned, (members, invites)) = tokio::try_join!(okta_read, team_read)?;
    let team_modified = clock::team_clock(kafkaman, team_read_started, None, newest_read);
    let team = TeamView {
        members,
        invites,
        links,
        deactivated_by_us,
    };
    let lookups = look_up(okta, plan::ids_to_look_up(&assigned, &team)).await;
    Ok(FullRead {
        okta: OktaView { assigned, lookups },
        team,
        team_modified,
    })
}

/// Whether an invite read's error means "this target has no team API": a 404 when
/// clearing is off (a plain RFC 7644 target has no invites to read).
fn no_team_api(cfg: &Config, e: &KafkamanError) -> bool {
    !cfg.sync.clear_pending_invites && e.status() == Some(404)
}

/// Every pending team invite. Clearing needs kafkaman's team API; without clearing the
/// invites still let the planner report one that blocks a create (instead of a 409 every
/// cycle), and a target without the API has none.
pub async fn pending_invites(
    cfg: &Config,
    kafkaman: &KafkamanClient,
) -> Result<Vec<PendingInvite>, ViewError> {
    match kafkaman.list_pending_invites().await {
        Ok(invites) => Ok(convert::pending_invites(invites)),
        Err(e) if no_team_api(cfg, &e) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// The pending invites for one email (`email=`, under the same team-API rule). kafkaman
/// compares the filter case-insensitively; any invite it returns for another address
/// (a target without the filter) is left out, and said.
pub async fn pending_invites_for(
    cfg: &Config,
    kafkaman: &KafkamanClient,
    email: &str,
) -> Result<Vec<PendingInvite>, ViewError> {
    let found = match kafkaman.pending_invites_for(email).await {
        Ok(found) => found,
        Err(e) if no_team_api(cfg, &e) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let returned = found.len();
    let same: Vec<_> = found
        .into_iter()
        .filter(|i| plan::same_email(&i.email, email))
        .collect();
    if same.len() < returned {
        tracing::warn!(
            left_out = returned - same.len(),
            "kafkaman answered GET /api/v1/team/invites?email= with invites for other addresses (does the target support the email filter?); those were left out"
        );
    }
    Ok(convert::pending_invites(same))
}

/// Looks up Okta ids (members' externalIds and links of users no longer assigned) in
/// batches; a failed batch proves nothing about its ids.
pub async fn look_up(okta: &OktaClient, ids: Vec<String>) -> HashMap<String, OktaLookup> {
    let mut lookups = HashMap::new();
    for chunk in ids.chunks(LOOKUP_BATCH) {
        match okta.find_users_by_ids(chunk).await {
            Ok(found) => {
                let by_id: HashMap<&str, _> = found.iter().map(|u| (u.id.as_str(), u)).collect();
                for id in chunk {
                    let found = by_id.get(id.as_str()).copied();
                    lookups.insert(id.clone(), convert::okta_lookup(found));
                }
            }
            Err(e) => {
                for id in chunk {
                    lookups.insert(
                        id.clone(),
                        OktaLookup::Failed {
                            reason: e.to_string(),
                        },
                    );
                }
            }
        }
    }
    lookups
}
