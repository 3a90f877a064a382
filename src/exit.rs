//! The process exit codes of every command: the one table (README "Exit codes").
//! Commands return an [`Exit`]; only [`Exit::code`] knows the numbers.
//!
//! As Terraform's `plan -detailed-exitcode`: with `--dry-run --detailed-exitcode`, 0 is
//! "no changes", 1 an error and 2 "changes pending", and no other failure exits 2, so a
//! CI job may read 2 as "changes pending" and nothing else. Mistakes that retrying
//! cannot fix get the sysexits(3) numbers: 64 (`EX_USAGE`) for the command line, 78
//! (`EX_CONFIG`) for the configuration; the systemd unit does not restart on them.

use std::process::ExitCode;

use crate::store::RunResult;

/// Why the process ends. Several reasons share a number where the README documents it
/// so (the number a script sees is [`Exit::code`]).
/// Serialized by name (the control socket's answers carry it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// 0: success, or nothing to change (`--dry-run --detailed-exitcode`: no changes
    /// pending; `report`: in sync and nothing failed; `check`: every line passed).
    Ok,
    /// 1: the run failed (a source could not be read completely, failures past the
    /// error budget, an error before the command could start); `check`: a line failed.
    Failed,
    /// 1: `report`: something a human should look at (drift, held, failures).
    Attention,
    /// 2: with `--dry-run --detailed-exitcode`, changes are pending (held deactivations
    /// count). Nothing else exits 2.
    ChangesPending,
    /// 3: some users failed (within the error budget).
    Partial,
    /// 3: `report`, `explain`, `history`: the answer could not be produced (no state
    /// database, a read that failed, nobody by that name, an unknown run).
    Unavailable,
    /// 4: another process holds the state database.
    Locked,
    /// 5: interrupted by a signal before every operation started (those started were
    /// finished and recorded).
    Interrupted,
    /// 6: deactivations were held for a person (over the cap, or sticky holds); nothing
    /// else failed. Held work is never success: the oneshot unit fails on it.
    Held,
    /// 7: `apply PLAN` refused: someone in the saved plan changed in Okta or kafkaman
    /// since it was computed (the message lists who), or the plan is for another team.
    PlanDrifted,
    /// 65 (`EX_DATAERR`): a saved plan file that can't be used: not JSON, another
    /// format version, or altered (its digest does not match).
    PlanInvalid,
    /// 77 (`EX_NOPERM`): the running daemon's control socket refused the caller (not
    /// root, the service user or `daemon.control_group`), or a command run as root would
    /// create or take over the service's state.
    NoPermission,
    /// 130 (128 + SIGINT, as shells report it): a second signal stopped the process at
    /// once; its unfinished operations are settled by the next run.
    Aborted,
    /// 64 (`EX_USAGE`): the command line is wrong: an unknown command or flag, a missing
    /// or bad argument, sync flags (`--dry-run`, …) given to another command, a command
    /// this build leaves out (`demo` and `sim` without the `sim` feature).
    Usage,
    /// 78 (`EX_CONFIG`): the configuration is missing or invalid (the message names the
    /// key and line), a schedule expression or time zone is invalid, the daemon would run
    /// as root without `daemon.allow_root`; `config check`: a line failed.
    Config,
}

impl Exit {
    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed | Exit::Attention => 1,
            Exit::ChangesPending => 2,
            Exit::Partial | Exit::Unavailable => 3,
            Exit::Locked => 4,
            Exit::Interrupted => 5,
            Exit::Held => 6,
            Exit::PlanDrifted => 7,
            Exit::Usage => 64,
            Exit::PlanInvalid => 65,
            Exit::NoPermission => 77,
            Exit::Config => 78,
            Exit::Aborted => 130,
        }
    }

    /// The exit of a finished sync cycle.
    pub fn for_run(result: RunResult) -> Exit {
        match result {
            RunResult::Success | RunResult::Planned => Exit::Ok,
            RunResult::Partial => Exit::Partial,
            RunResult::Held => Exit::Held,
            RunResult::Failed => Exit::Failed,
            RunResult::Interrupted => Exit::Interrupted,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn codes_are_the_documented_ones() {
        let table = [
            (Exit::Ok, 0),
            (Exit::Failed, 1),
            (Exit::Attention, 1),
            (Exit::ChangesPending, 2),
            (Exit::Partial, 3),
            (Exit::Unavailable, 3),
            (Exit::Locked, 4),
            (Exit::Interrupted, 5),
            (Exit::Held, 6),
            (Exit::PlanDrifted, 7),
            (Exit::Usage, 64),
            (Exit::PlanInvalid, 65),
            (Exit::NoPermission, 77),
            (Exit::Config, 78),
            (Exit::Aborted, 130),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
    }
}
