//! What a person asks of scim-sync while it runs: `release-held`, `sync --now`,
//! `status`, `plan --out` and `apply PLAN`. Each goes to the running daemon through its
//! control socket when one holds the state database (the daemon has the secrets and the
//! lock, so the caller needs neither), and is done directly by the command when none
//! does: [`jobs`] is the one implementation both call, so the answer is the same either
//! way. [`client`] speaks the protocol; the daemon's side is `daemon::control`.
//!
//! The protocol: one JSON [`Envelope`] per connection, then one JSON [`Response`]; the
//! connection closes after it. The socket is mode 0660 and the daemon checks the
//! caller's credentials (`SO_PEERCRED`): root, the daemon's own user, or a member of
//! `daemon.control_group`.

pub mod client;
pub mod commands;
pub mod jobs;

use serde::{Deserialize, Serialize};

use crate::exit::Exit;

/// The largest message either side reads: a saved plan of 100k operations is about
/// 60 MB; everything else is small.
pub const MAX_MESSAGE_BYTES: u64 = 256 * 1024 * 1024;

/// One request, with how its answer should be printed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub request: Request,
    pub style: OutputStyle,
}

/// What a person asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// The daemon's state: last runs, next run, held deactivations.
    Status,
    /// A cycle now (full when asked); answers with its result.
    SyncNow { full: bool },
    /// A cycle that applies held deactivations: all held now, or only these people
    /// (email, Okta id or SCIM id).
    ReleaseHeld { users: Vec<String> },
    /// A dry run whose plan is answered as a saved plan document.
    Plan { full: bool },
    /// Executes a saved plan (the file's document).
    ApplyPlan { plan: serde_json::Value },
}

/// How the caller prints: the daemon renders for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputStyle {
    pub json: bool,
    /// Not a terminal: no colour, ASCII table borders.
    pub plain: bool,
    /// `--quiet`: a run that changed nothing prints nothing.
    pub quiet: bool,
}

/// The answer: what to print and how to exit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub exit: Exit,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    /// `Plan`: the saved plan document, for the caller to write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
}

impl Response {
    pub fn new(exit: Exit) -> Response {
        Response {
            exit,
            stdout: String::new(),
            stderr: String::new(),
            plan: None,
        }
    }

    /// A failure, said once on stderr as every command says it.
    pub fn error(exit: Exit, message: impl std::fmt::Display) -> Response {
        let mut r = Response::new(exit);
        r.stderr = format!("scim-sync: {message}\n");
        r
    }

    pub fn with_stdout(mut self, text: impl Into<String>) -> Response {
        self.stdout = text.into();
        self
    }
}
