//! Runs as the journal records them: what started each, how it ran and ended, and its
//! figures (with the states its operations reach). Every field is typed; a stored value this version does not know is an error
//! that names it, never a string passed along.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use scim_sync_plan::model::UnknownValue;
use scim_sync_plan::{OpKind, string_enum};

string_enum! {
    /// Where an operation stands.
    pub enum OpState ("operation state") {
        /// Written before the call; still there after a crash means the outcome is unknown.
        Intent => "intent",
        Done => "done",
        Failed => "failed",
        /// Found unfinished after a crash and resolved by looking at kafkaman.
        Recovered => "recovered",
        /// Not attempted (shutdown before its turn).
        Skipped => "skipped",
    }
}

string_enum! {
    /// What started a run.
    pub enum Trigger ("run trigger") {
        /// A one-shot command (`scim-sync`, `scim-sync sync`, a cron line or timer).
        Manual => "manual",
        /// The daemon's full-cycle schedule.
        Schedule => "schedule",
        /// The daemon's first cycle after it started.
        Startup => "startup",
        /// The daemon's incremental interval.
        Interval => "interval",
        /// A person asked the running daemon through its control socket (`sync --now`,
        /// `release-held`).
        Requested => "requested",
        /// `scim-sync apply PLAN`: the operations of a reviewed, saved plan.
        SavedPlan => "saved_plan",
        Demo => "demo",
    }
}

string_enum! {
    /// How a run ended.
    pub enum RunResult ("run result") {
        /// Everything planned was applied (or there was nothing to do).
        Success => "success",
        /// Some per-user operations failed, within the error budget.
        Partial => "partial",
        /// Deactivations were held by the cap; everything else was applied.
        Held => "held",
        /// The run could not read its sources, or failures exceeded the error budget.
        Failed => "failed",
        /// A shutdown stopped the run before every operation started (or its process died).
        Interrupted => "interrupted",
        /// A dry run: nothing was applied.
        Planned => "planned",
    }
}

impl RunResult {
    /// The sync ran through: it read both sides and applied what it may. The last such
    /// run keeps `/healthz` fresh and sets `scim_sync_last_success_timestamp_seconds`.
    /// Only `success` is a success: per-user failures within the error budget
    /// (`partial`) and deactivations held for a human (`held`) mean the sync works but is
    /// not done; `failed` and `interrupted` mean it doesn't work.
    pub fn ran_through(self) -> bool {
        matches!(
            self,
            RunResult::Success | RunResult::Partial | RunResult::Held
        )
    }
}

string_enum! {
    /// Whether a run applies its plan.
    pub enum RunMode ("run mode") {
        Apply => "apply",
        DryRun => "dry_run",
    }
}

string_enum! {
    /// Which kind of cycle a run was.
    pub enum CycleKind ("cycle kind") {
        /// Every assignment and every member read: the reconciliation.
        Full => "full",
        /// Only what the System Log and kafkaman's change clock name, over the snapshot.
        Incremental => "incremental",
    }
}

string_enum! {
    /// Why a cycle is full rather than incremental.
    pub enum FullReason ("full cycle reason") {
        /// No full cycle has run yet (or the database predates incremental cycles).
        FirstRun => "first_run",
        /// `--full` (or `sync --now --full`).
        Requested => "requested",
        /// The daemon's full-cycle schedule (`daemon.schedule`).
        Scheduled => "scheduled",
        /// The last full cycle is older than `sync.full_cycle_max_age_hours`.
        Due => "due",
        /// The previous incremental read failed.
        PreviousReadFailed => "previous_read_failed",
        /// Okta refused the stored System Log cursor.
        CursorRejected => "cursor_rejected",
        /// More changed than re-reading them one by one is worth.
        TooManyChanges => "too_many_changes",
        /// Okta refuses the System Log (403): full cycles only, for a while.
        LogUnavailable => "log_unavailable",
        /// The configuration maps Okta's users otherwise than the stored rows were
        /// (`sync.user_name_source` or an attribute changed, or an upgrade).
        MappingChanged => "mapping_changed",
    }
}

/// One operation kind in one state: the key of a run's outcome counts, kept in the
/// summary as `kind.state` (`create.done`), as it always was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutcomeKey {
    pub kind: OpKind,
    pub state: OpState,
}

impl OutcomeKey {
    /// The operation was carried out (now, or found done after a crash).
    pub fn applied(&self) -> bool {
        matches!(self.state, OpState::Done | OpState::Recovered)
    }
}

impl fmt::Display for OutcomeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.state)
    }
}

impl std::str::FromStr for OutcomeKey {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownValue {
            what: "operation outcome",
            value: s.to_string(),
            expected: "kind.state, e.g. create.done",
        };
        let (kind, state) = s.split_once('.').ok_or_else(unknown)?;
        Ok(OutcomeKey {
            kind: kind.parse()?,
            state: state.parse()?,
        })
    }
}

impl Serialize for OutcomeKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OutcomeKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Counts and figures of one run, stored as the run's summary (JSON in the `runs`
/// table; fields added later default when an older row lacks them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    #[serde(default)]
    pub assigned: usize,
    #[serde(default)]
    pub members: usize,
    #[serde(default)]
    pub in_sync: usize,
    #[serde(default)]
    pub managed: usize,
    #[serde(default)]
    pub unmanaged: usize,
    #[serde(default)]
    pub attention: usize,
    #[serde(default)]
    pub held: usize,
    /// Planned operations per kind.
    #[serde(default)]
    pub planned: BTreeMap<OpKind, usize>,
    /// Applied outcomes per kind and state.
    #[serde(default)]
    pub outcomes: BTreeMap<OutcomeKey, usize>,
    #[serde(default)]
    pub failed: usize,
    #[serde(default)]
    pub okta_requests: u64,
    #[serde(default)]
    pub kafkaman_requests: u64,
    #[serde(default)]
    pub duration_ms: u64,
    /// `full` or `incremental`.
    #[serde(default)]
    pub kind: Option<CycleKind>,
    /// Why a full cycle was full.
    #[serde(default)]
    pub full_reason: Option<FullReason>,
    /// A full cycle: how many Okta users and members differed from what incremental
    /// reads had made of them (should be 0; None when there was nothing to compare).
    #[serde(default)]
    pub missed_drift: Option<usize>,
    /// An incremental cycle: System Log events read and Okta users re-read.
    #[serde(default)]
    pub log_events: usize,
    #[serde(default)]
    pub users_reread: usize,
    /// An incremental cycle that planned only the people its changes reach: how many
    /// (Okta users and members); None when it planned the whole snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people_planned: Option<usize>,
    /// A quiet incremental cycle: nothing changed since a cycle that planned nothing,
    /// so none was planned (its counts are that cycle's).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quiet: bool,
}

impl RunSummary {
    /// Planned operations of every kind.
    pub fn planned_total(&self) -> usize {
        self.planned.values().sum()
    }

    /// Operations carried out (done, or found done after a crash).
    pub fn applied_total(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(k, _)| k.applied())
            .map(|(_, n)| n)
            .sum()
    }
}

/// A row of the runs table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub trigger: Trigger,
    pub mode: RunMode,
    /// None while the run has not ended.
    pub result: Option<RunResult>,
    /// None until the run ends.
    pub summary: Option<RunSummary>,
    pub error: Option<String>,
    /// None for runs recorded before incremental cycles, and for runs that failed
    /// before choosing.
    pub kind: Option<CycleKind>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_keeps_its_stored_shape_and_refuses_unknown_outcomes() {
        let mut s = RunSummary::default();
        s.planned.insert(OpKind::Create, 2);
        s.outcomes.insert(
            OutcomeKey {
                kind: OpKind::Create,
                state: OpState::Done,
            },
            2,
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["planned"]["create"], 2);
        assert_eq!(json["outcomes"]["create.done"], 2);
        assert_eq!(serde_json::from_value::<RunSummary>(json).unwrap(), s);
        assert_eq!(s.applied_total(), 2);

        let err = serde_json::from_str::<RunSummary>(r#"{"outcomes":{"create.exploded":1}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown operation state \"exploded\""),
            "{err}"
        );
        // A row of an older version, without the later fields.
        let old: RunSummary = serde_json::from_str(r#"{"assigned":3,"duration_ms":9}"#).unwrap();
        assert_eq!((old.assigned, old.duration_ms, old.kind), (3, 9, None));
    }
}
