//! The report's data: one model that every format renders; its JSON form is the
//! documented shape (`docs/report-json.md`).

use crate::exit::Exit;
use serde::{Deserialize, Serialize};

use crate::store::{CycleKind, RunMode, RunResult, Trigger};
use scim_sync_plan::string_enum;
use scim_sync_plan::{
    AppUserStatus, AssignmentScope, InviteSource, Membership, OktaUserStatus, OpKind, SharedEmail,
};

/// The JSON shape's name and version (`docs/report-json.md`). The version changes only
/// when a field is removed or changes meaning; new fields may appear within a version.
pub const SCHEMA: &str = "scim-sync/report";
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report; this is the JSON shape (`docs/report-json.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub version: u32,
    pub generated_at: String,
    pub source: Source,
    pub period: Period,
    pub summary: Summary,
    pub drift: Drift,
    pub attention: Vec<PersonItem>,
    pub invites: Invites,
    pub unmanaged: Vec<UnmanagedItem>,
    /// Assigned Okta users that share one email (and so one member).
    pub shared_emails: Vec<SharedEmail>,
    pub held: Held,
    pub failures: Vec<Failure>,
    pub runs: Vec<RunRow>,
    pub people: Vec<PersonRow>,
    pub status: Status,
}

/// Where the data comes from and how old it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub mode: SourceMode,
    pub state_db: String,
    /// When Okta's assignments were last read completely.
    pub okta_read_at: Option<String>,
    /// When the team was last read.
    pub team_read_at: Option<String>,
    /// Age of the older of the two reads, in seconds (0 for a live read).
    pub age_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub since: String,
    pub until: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub assigned_in_okta: usize,
    pub members_active: usize,
    pub members_invited: usize,
    pub members_deactivated: usize,
    pub in_sync: usize,
    /// People in one of the drift lists.
    pub drift: usize,
    pub held: usize,
    pub attention: usize,
    pub unmanaged: usize,
    pub shared_emails: usize,
    pub pending_invites: usize,
    pub failures: usize,
    pub runs: usize,
    /// The last applying run with result `success` (a `held` or `partial` run is not one).
    pub last_success: Option<RunRef>,
    /// The last finished applying run, whatever its result (not a dry run).
    #[serde(default)]
    pub last_run: Option<RunRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// The run's result: `success`, `partial`, `held`, `failed`, `interrupted`.
    #[serde(default)]
    pub result: Option<RunResult>,
}

/// One person in a list, with what the planner would do and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonItem {
    pub user_name: String,
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    /// The operation the planner would apply, if any.
    pub action: Option<OpKind>,
    /// Why, in words (display only).
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// Entitled in Okta, no active member (create or reactivate).
    pub missing_in_team: Vec<PersonItem>,
    /// Active member, no longer entitled (deactivate; held ones are under `held`).
    pub not_entitled: Vec<PersonItem>,
    pub name_mismatch: Vec<PersonItem>,
    /// Email changed in Okta; kafkaman's userName is immutable.
    pub renames: Vec<PersonItem>,
}

impl Drift {
    pub fn count(&self) -> usize {
        self.missing_in_team.len()
            + self.not_entitled.len()
            + self.name_mismatch.len()
            + self.renames.len()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invites {
    pub stale_after_days: u32,
    /// Every pending invite, by email.
    pub pending: Vec<InviteItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteItem {
    pub id: String,
    pub email: String,
    pub source: InviteSource,
    pub invited_by: Option<String>,
    pub created_at: String,
    pub age_days: Option<i64>,
    /// A non-SCIM invite for someone the planner wants to create: it blocks the create.
    pub conflicting: bool,
    /// A SCIM invite: the member was provisioned and has not accepted yet.
    pub awaiting_acceptance: bool,
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnmanagedItem {
    pub user_name: String,
    pub scim_id: String,
    pub membership: Membership,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub cap: u32,
    pub items: Vec<PersonItem>,
    /// How to release them once a human agrees (empty when nothing is held).
    pub release: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub run_id: i64,
    pub at: String,
    /// The operation kind, or `run` when the whole run failed.
    pub kind: String,
    pub user_name: Option<String>,
    pub okta_id: Option<String>,
    /// Why the operation was planned.
    pub reason: Option<String>,
    pub error: String,
    pub http_status: Option<i64>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub trigger: Trigger,
    pub mode: RunMode,
    /// None while running.
    pub result: Option<RunResult>,
    pub assigned: Option<u64>,
    /// Team members (any membership) and people in sync, as the run read them (None
    /// for a run that recorded no counts).
    #[serde(default)]
    pub members: Option<u64>,
    #[serde(default)]
    pub in_sync: Option<u64>,
    pub planned: u64,
    pub applied: u64,
    pub failed: u64,
    pub held: u64,
    pub error: Option<String>,
    /// `full` or `incremental` (None for runs before incremental cycles existed).
    #[serde(default)]
    pub kind: Option<CycleKind>,
    /// A full run: what incremental cycles had missed (should be 0).
    #[serde(default)]
    pub missed_drift: Option<u64>,
}

/// One row per person (assigned in Okta, or a team member, or both): the CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRow {
    pub email: String,
    pub okta_id: Option<String>,
    pub okta_status: Option<OktaUserStatus>,
    pub app_status: Option<AppUserStatus>,
    /// None when not assigned.
    pub assignment: Option<AssignmentScope>,
    pub scim_id: Option<String>,
    /// None when not a member.
    pub membership: Option<Membership>,
    pub role: Option<String>,
    pub status: PersonStatus,
    pub action: Option<OpKind>,
    pub reason: Option<String>,
    /// The source of a pending invite for this email.
    pub pending_invite: Option<InviteSource>,
}

/// Whether a human should look, and the exit status that follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// What fired: any of `drift`, `held`, `failures`.
    pub needs_attention: Vec<String>,
    /// The triggers configured to make the exit status 1 (`report.exit_1_on`).
    pub exit_1_on: Vec<String>,
    /// [`Exit::code`] of `Attention` or `Ok`.
    pub exit_status: u8,
}

impl Status {
    /// The exit the status stands for (the JSON carries its number).
    pub fn exit(&self) -> Exit {
        if self.exit_status == Exit::Attention.code() {
            Exit::Attention
        } else {
            Exit::Ok
        }
    }
}

string_enum! {
    /// Where a report's data comes from.
    pub enum SourceMode ("report source") {
        /// The state database only.
        Snapshot => "snapshot",
        /// A read-only read of both services now (`--refresh`).
        Live => "live",
    }
}

string_enum! {
    /// Where a person stands: in sync, or in which list of the report.
    pub enum PersonStatus ("person status") {
        InSync => "in_sync",
        MissingInTeam => "missing_in_team",
        NotEntitled => "not_entitled",
        NameMismatch => "name_mismatch",
        Rename => "rename",
        Held => "held",
        Attention => "attention",
        Unmanaged => "unmanaged",
    }
}
