//! The man page's sections that clap's definition doesn't give: EXIT STATUS (from the
//! one exit-code table, [`Exit::code`]), ENVIRONMENT, FILES and SEE ALSO.

use crate::exit::Exit;

/// Every exit, with what it means, in the order of the README's table. The numbers come
/// from [`Exit::code`]; [`meaning`]'s exhaustive match makes a new variant a compile error
/// here until it is described (then add it to this list too: a test checks the codes).
const EXITS: [Exit; 15] = [
    Exit::Ok,
    Exit::Failed,
    Exit::Attention,
    Exit::ChangesPending,
    Exit::Partial,
    Exit::Unavailable,
    Exit::Locked,
    Exit::Interrupted,
    Exit::Held,
    Exit::PlanDrifted,
    Exit::Usage,
    Exit::PlanInvalid,
    Exit::NoPermission,
    Exit::Config,
    Exit::Aborted,
];

/// What an exit means, for the man page (plain text; README "Exit codes" says the same
/// at more length).
fn meaning(exit: Exit) -> &'static str {
    match exit {
        Exit::Ok => {
            "Success, or nothing to change. With --dry-run --detailed-exitcode: no changes \
             pending; report: in sync and nothing failed; check, config check: every line \
             passed; daemon: stopped cleanly."
        }
        Exit::Failed => {
            "The run failed: a source could not be read completely, per-user failures \
             exceeded sync.error_budget_percent, or an error came before the command could \
             start; check: a line failed."
        }
        Exit::Attention => {
            "report: something a human should look at (drift, held deactivations, failures \
             in the period; report.exit_1_on)."
        }
        Exit::ChangesPending => {
            "Only with --dry-run --detailed-exitcode: changes are pending (held \
             deactivations count). Nothing else exits 2."
        }
        Exit::Partial => "Partial: some users failed, within the error budget.",
        Exit::Unavailable => {
            "report, explain, history: the answer could not be produced (no state \
             database, a read that failed, nobody by that name, an unknown run)."
        }
        Exit::Locked => "Another process holds the state database.",
        Exit::Interrupted => {
            "Interrupted by a signal before every operation started (those started were \
             finished and recorded)."
        }
        Exit::Held => {
            "Deactivations are held for a person (over safety.max_deactivations, or held \
             since an earlier run); everything else was applied. Not a success: \
             scim-sync-once.service fails on it."
        }
        Exit::PlanDrifted => {
            "apply PLAN refused: someone in the saved plan changed in Okta or kafkaman \
             since it was computed, or the plan is for another team; nothing was written."
        }
        Exit::Usage => {
            "The command line is wrong (EX_USAGE): an unknown command or flag, a missing \
             or bad argument, sync flags given to another command, a command this build \
             leaves out."
        }
        Exit::PlanInvalid => {
            "A saved plan file can't be used (EX_DATAERR): not a scim-sync plan, another \
             format version, or altered since it was written."
        }
        Exit::NoPermission => {
            "Refused (EX_NOPERM): the daemon's control socket does not accept the caller \
             (root, the service user or daemon.control_group only), or a command run as \
             root would create or take over the service's state."
        }
        Exit::Config => {
            "The configuration is missing or invalid (EX_CONFIG; the message names the key \
             and line), an invalid schedule or time zone, daemon as root without \
             daemon.allow_root; config check: a line failed. The service is not restarted \
             on it (nor on 64)."
        }
        Exit::Aborted => {
            "A second interrupt stopped the process at once (128 + SIGINT); the next run \
             settles its unfinished operations."
        }
    }
}

/// The environment variables scim-sync reads, and what for.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "SCIM_SYNC_CONFIG",
        "The configuration file when --config is not given.",
    ),
    (
        "SCIM_SYNC_LOG",
        "A tracing filter for the log (e.g. scim_sync=debug); overrides [logging] level, \
         --verbose and --quiet.",
    ),
    (
        "CREDENTIALS_DIRECTORY",
        "Where { credential = \"name\" } secrets are read from: set by systemd for a unit \
         with LoadCredential=. To run a command outside the unit, set it to \
         /etc/scim-sync/credentials (as root).",
    ),
    (
        "JOURNAL_STREAM",
        "Set by systemd: --log-format auto logs straight to the journal, with fields.",
    ),
    (
        "NOTIFY_SOCKET, WATCHDOG_USEC",
        "Set by systemd for Type=notify: the daemon reports readiness and status, and \
         pings the watchdog.",
    ),
    (
        "TZ",
        "The host's time zone: the schedule's when daemon.time_zone is not set.",
    ),
    (
        "COLUMNS",
        "The width tables are fitted to when the terminal has no size (else 100).",
    ),
    (
        "NO_COLOR",
        "When set, the text report on a terminal has no colour.",
    ),
];

/// The files scim-sync reads and writes (the paths the package and its units use).
const FILES: &[(&str, &str)] = &[
    (
        "/etc/scim-sync/config.toml",
        "The configuration (another with --config or SCIM_SYNC_CONFIG). Every key, with its \
         default, is in /usr/share/doc/scim-sync/config.example.toml.",
    ),
    (
        "/etc/scim-sync/TEAM.toml",
        "The configuration of instance TEAM of the template units (scim-sync@TEAM.service); \
         it sets sync.state_db = \"/var/lib/scim-sync/TEAM/state.db\".",
    ),
    (
        "/etc/scim-sync/credentials/",
        "The secrets, root-only files the systemd units pass with LoadCredential= \
         (okta-api-token, kafkaman-api-key, okta-oauth-key.pem); an instance of the \
         template units reads /etc/scim-sync/credentials/TEAM/.",
    ),
    (
        "/var/lib/scim-sync/state.db",
        "The state database (sync.state_db; /var/lib/scim-sync/TEAM/state.db for an \
         instance). Beside it: state.db.lock (held by the one process that writes it), \
         state.db.open.lock and state.db.dry.lock (short-lived locks around opening it \
         and of a live dry run), SQLite's state.db-wal and state.db-shm, and \
         control.sock, the control socket of a running daemon, next to the state \
         database.",
    ),
    (
        "/usr/lib/systemd/system/scim-sync.service",
        "The daemon. Also scim-sync-once.service and .timer (one cycle every 15 minutes, \
         instead of the daemon), scim-sync-report.service and .timer (the daily report), \
         and the templates scim-sync@.service, scim-sync-once@.service and .timer, \
         scim-sync-report@.service and .timer (one instance per team).",
    ),
];

const SEE_ALSO: &str = r#".SH "SEE ALSO"
\fBsystemctl\fR(1), \fBjournalctl\fR(1), \fBsystemd.service\fR(5),
\fBsystemd.exec\fR(5) (LoadCredential=),
\fI/usr/share/doc/scim\-sync/README.md\fR (configuration, running as a service,
reports).
"#;

/// Plain text as roff: backslashes and hyphens escaped, no line starting with a control
/// character.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// A `.TP` item: `tag` in `font` (B or I), then `body`.
fn item(out: &mut String, font: char, tag: &str, body: &str) {
    out.push_str(&format!(
        ".TP\n\\f{font}{}\\fR\n{}\n",
        roff(tag),
        roff(body)
    ));
}

/// EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO, as roff.
pub(super) fn extra_sections() -> String {
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    let mut codes: Vec<u8> = EXITS.iter().map(|e| e.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    for code in codes {
        let text: Vec<&str> = EXITS
            .iter()
            .filter(|e| e.code() == code)
            .map(|&e| meaning(e))
            .collect();
        item(&mut out, 'B', &code.to_string(), &text.join(" "));
    }
    out.push_str(".SH ENVIRONMENT\n");
    for (name, text) in ENVIRONMENT {
        item(&mut out, 'B', name, text);
    }
    // Left-aligned: paths don't break, and justified lines around them gape.
    out.push_str(".SH FILES\n.ad l\n");
    for (path, text) in FILES {
        item(&mut out, 'I', path, text);
    }
    out.push_str(SEE_ALSO);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of the README's "Exit codes" table.
    fn readme_codes() -> Vec<u8> {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let table = readme
            .split("### Exit codes")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        table
            .lines()
            .filter_map(|l| l.strip_prefix("| ")?.split(' ').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn every_exit_code_is_described_once_as_in_the_readme() {
        let mut codes: Vec<u8> = EXITS.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 64, 65, 77, 78, 130]);
        assert_eq!(
            readme_codes(),
            codes,
            "README \"Exit codes\" and the man page"
        );
        for (i, a) in EXITS.iter().enumerate() {
            assert!(!EXITS[i + 1..].contains(a), "{a:?} twice");
        }
        let page = extra_sections();
        assert!(page.contains(".TP\n\\fB130\\fR\n"), "{page}");
    }

    #[test]
    fn roff_escapes_hyphens_and_leading_dots() {
        assert_eq!(roff("--dry-run"), "\\-\\-dry\\-run");
        assert_eq!(roff(".lock"), "\\&.lock");
        assert_eq!(roff("a\\b"), "a\\eb");
    }
}
