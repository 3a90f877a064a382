//! Saved plans: `scim-sync plan --out FILE` writes the plan a person reviews (in a
//! ticket, say); `scim-sync apply FILE` executes exactly its operations, or refuses
//! when someone in it changed since, as `terraform plan -out` / `terraform apply PLAN`.
//!
//! The file (`docs/saved-plan.md` is its schema) holds the operations, what they were
//! computed from (the Okta and kafkaman read positions, a digest of the snapshot) and,
//! for every person an operation writes to, what the planner saw of them on both sides
//! ([`people`]). At apply time those people are read again, one by one, through the
//! same conversions; any difference refuses the whole plan ([`Exit::PlanDrifted`]).
//! The planner is not run again: the reviewed operations are the ones executed.

pub mod execute;
pub mod make;
pub mod people;

use std::path::Path;

use scim_sync_plan::{Attention, Operation};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::exit::Exit;
use people::Person;

/// The `format` of every saved plan.
pub const FORMAT: &str = "scim-sync-plan";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// The largest plan file read (a plan of 100k operations is about 60 MB).
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// A saved plan, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    /// When it was computed (this host's clock, RFC 3339).
    pub created_at: String,
    /// The scim-sync that computed it.
    pub scim_sync_version: String,
    /// The org, app and team it is for: applying it elsewhere is refused.
    pub target: Target,
    pub computed_from: ComputedFrom,
    /// Writes, in application order (a held deactivation listed here is released).
    pub operations: Vec<SavedOperation>,
    /// Deactivations the cap held: reviewing the plan releases them, so they are
    /// executed with the others.
    pub held: Vec<SavedOperation>,
    /// Who needed a person when it was computed (not acted on; for the reviewer).
    pub attention: Vec<SavedAttention>,
    /// Everyone an operation writes to, as the plan saw them.
    pub people: Vec<Person>,
    /// `sha256:` of the file's canonical JSON without this field: an edited plan is
    /// refused. It catches mistakes, not an attacker (who can recompute it): protect
    /// the file as you protect the config.
    pub digest: String,
}

/// Where a plan applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub okta_org_url: String,
    pub okta_app_id: String,
    pub kafkaman_url: String,
}

impl Target {
    pub fn of(cfg: &Config) -> Target {
        Target {
            okta_org_url: cfg.okta.org_url.to_string(),
            okta_app_id: cfg.okta.app_id.clone(),
            kafkaman_url: cfg.kafkaman.base_url.to_string(),
        }
    }
}

/// What the plan was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputedFrom {
    /// `full` or `incremental`.
    pub cycle_kind: String,
    /// The dry run's id in the history.
    pub run_id: i64,
    /// The System Log position the read had reached (Okta's `next` link).
    pub okta_log_next: Option<String>,
    /// Okta's clock where the System Log read starts (RFC 3339).
    pub okta_log_since: Option<String>,
    /// kafkaman's clock: the newest `meta.lastModified` of the team read.
    pub kafkaman_clock: Option<String>,
    /// `sha256:` of the team and Okta rows the plan was made from.
    pub snapshot_digest: String,
    pub assigned: usize,
    pub members: usize,
}

/// Someone who needed a person when the plan was computed (for the reviewer only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedAttention {
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub reason: String,
}

impl SavedAttention {
    pub fn of(a: &Attention) -> SavedAttention {
        SavedAttention {
            okta_id: a.okta_id.clone(),
            scim_id: a.scim_id.clone(),
            user_name: a.user_name.clone(),
            reason: a.reason(),
        }
    }
}

/// One operation as saved: the plan's own flat shape (as `--output json` prints it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedOperation {
    pub kind: scim_sync_plan::OpKind,
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub invite_id: Option<String>,
    pub reason: String,
}

impl SavedOperation {
    pub fn of(op: &Operation) -> SavedOperation {
        let (given, family) = op.name();
        SavedOperation {
            kind: op.kind(),
            okta_id: op.okta_id().map(str::to_string),
            scim_id: op.scim_id().map(str::to_string),
            user_name: op.user_name().to_string(),
            given_name: given.map(str::to_string),
            family_name: family.map(str::to_string),
            invite_id: op.invite_id().map(str::to_string),
            reason: op.reason().to_string(),
        }
    }

    /// The planner's operation again; a field its kind needs and lacks is an error.
    pub fn to_operation(&self) -> Result<Operation, String> {
        use scim_sync_plan::OpKind;
        let need = |field: &Option<String>, name: &str| {
            field
                .clone()
                .ok_or_else(|| format!("a {} operation without {name}", self.kind.as_str()))
        };
        let (user_name, reason) = (self.user_name.clone(), self.reason.clone());
        Ok(match self.kind {
            OpKind::Deactivate => Operation::Deactivate {
                scim_id: need(&self.scim_id, "scim_id")?,
                okta_id: self.okta_id.clone(),
                user_name,
                reason,
            },
            OpKind::Reactivate => Operation::Reactivate {
                scim_id: need(&self.scim_id, "scim_id")?,
                okta_id: need(&self.okta_id, "okta_id")?,
                user_name,
                reason,
            },
            OpKind::ClearInvite => Operation::ClearInvite {
                invite_id: need(&self.invite_id, "invite_id")?,
                okta_id: need(&self.okta_id, "okta_id")?,
                user_name,
                reason,
            },
            OpKind::Create => Operation::Create {
                okta_id: need(&self.okta_id, "okta_id")?,
                user_name,
                given_name: self.given_name.clone(),
                family_name: self.family_name.clone(),
                reason,
            },
            OpKind::UpdateName => Operation::UpdateName {
                scim_id: need(&self.scim_id, "scim_id")?,
                okta_id: need(&self.okta_id, "okta_id")?,
                user_name,
                given_name: self.given_name.clone(),
                family_name: self.family_name.clone(),
                reason,
            },
        })
    }
}

/// Why a plan file can't be used ([`Exit::PlanInvalid`]), or is for elsewhere
/// ([`Exit::PlanDrifted`]).
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read the plan {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the plan {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is over {MAX_FILE_BYTES} bytes: not a plan scim-sync wrote")]
    TooLarge { path: String },
    #[error("{path} is not a scim-sync plan: {reason}")]
    NotAPlan { path: String, reason: String },
    #[error(
        "{path} is a plan of format version {found}; this scim-sync reads version {VERSION}: \
         compute the plan again with this version (`scim-sync plan --out …`)"
    )]
    Version { path: String, found: u64 },
    #[error(
        "{path} was changed after scim-sync wrote it (its digest does not match): compute \
         the plan again rather than editing it"
    )]
    Altered { path: String },
    #[error(
        "{path} is a plan for {found}, not for this configuration's {expected}: nothing was \
         written"
    )]
    OtherTarget {
        path: String,
        found: String,
        expected: String,
    },
}

impl PlanFileError {
    pub fn exit(&self) -> Exit {
        match self {
            PlanFileError::Read { .. } | PlanFileError::Write { .. } => Exit::Failed,
            PlanFileError::OtherTarget { .. } => Exit::PlanDrifted,
            _ => Exit::PlanInvalid,
        }
    }
}

pub use crate::digest::sha256;

/// The digest of a plan document: its canonical JSON (keys sorted, as
/// `serde_json::Value` holds them) without the `digest` field.
fn digest_of(mut doc: serde_json::Value) -> String {
    if let Some(map) = doc.as_object_mut() {
        map.remove("digest");
    }
    sha256(doc.to_string().as_bytes())
}

impl SavedPlan {
    /// Sets the digest over everything else.
    pub fn seal(mut self) -> SavedPlan {
        self.digest = String::new();
        // A struct of strings, numbers and the planner's serializable types: this
        // cannot fail (no map with non-string keys, no failing Serialize impl).
        let doc = serde_json::to_value(&self).unwrap_or(serde_json::Value::Null);
        self.digest = digest_of(doc);
        self
    }

    /// Writes the plan to `path` (mode 0600: it names employees), replacing it whole.
    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        use std::io::Write;
        let shown = path.display().to_string();
        let write_err = |source| PlanFileError::Write {
            path: shown.clone(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let mut file = tempfile::Builder::new()
            .prefix(".scim-sync-plan")
            .tempfile_in(&dir)
            .map_err(write_err)?;
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| write_err(std::io::Error::other(e)))?;
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(write_err)?;
        file.as_file().sync_all().map_err(write_err)?;
        file.persist(path).map_err(|e| write_err(e.error))?;
        Ok(())
    }

    /// Reads and checks a plan file: its format, version and digest, and that it is for
    /// this configuration's org, app and team.
    pub fn read(path: &Path, cfg: &Config) -> Result<SavedPlan, PlanFileError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| PlanFileError::Read {
            path: shown.clone(),
            source,
        })?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(PlanFileError::TooLarge { path: shown });
        }
        let bytes = std::fs::read(path).map_err(|source| PlanFileError::Read {
            path: shown.clone(),
            source,
        })?;
        SavedPlan::parse(&bytes, &shown, cfg)
    }

    /// Checks a plan document (a file's bytes, or what the control socket received).
    pub fn parse(bytes: &[u8], shown: &str, cfg: &Config) -> Result<SavedPlan, PlanFileError> {
        let not_a_plan = |reason: String| PlanFileError::NotAPlan {
            path: shown.to_string(),
            reason,
        };
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| not_a_plan(format!("not JSON ({e})")))?;
        if doc.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(not_a_plan(format!("no \"format\": \"{FORMAT}\"")));
        }
        let version = doc.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(VERSION) {
            return Err(PlanFileError::Version {
                path: shown.to_string(),
                found: version,
            });
        }
        let stated = doc
            .get("digest")
            .and_then(|d| d.as_str())
            .map(str::to_string);
        if stated.as_deref() != Some(digest_of(doc.clone()).as_str()) {
            return Err(PlanFileError::Altered {
                path: shown.to_string(),
            });
        }
        let plan: SavedPlan = serde_json::from_value(doc).map_err(|e| not_a_plan(e.to_string()))?;
        let expected = Target::of(cfg);
        if plan.target != expected {
            let show = |t: &Target| {
                format!(
                    "Okta {} app {} and kafkaman {}",
                    t.okta_org_url, t.okta_app_id, t.kafkaman_url
                )
            };
            return Err(PlanFileError::OtherTarget {
                path: shown.to_string(),
                found: crate::escape::text(&show(&plan.target)).into_owned(),
                expected: show(&expected),
            });
        }
        for op in plan.operations.iter().chain(&plan.held) {
            op.to_operation().map_err(not_a_plan)?;
        }
        Ok(plan)
    }

    /// Every operation to execute, in application order: the held deactivations (now
    /// released) first, then the plan's own order (deactivations first, each invite
    /// clearing right before the create it unblocks: the apply pairs them by order).
    pub fn operations_to_apply(&self) -> Vec<Operation> {
        self.held
            .iter()
            .chain(&self.operations)
            .filter_map(|o| o.to_operation().ok())
            .collect()
    }
}
