//! Progress reports of the long steps (the reads and the apply), for the terminal's
//! progress bar. Imports nothing of the crate: the view's reads and the apply both
//! report through it, and `logging` draws it.

/// What a progress report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Okta app users read so far (no total: Okta doesn't say).
    OktaUsers,
    /// kafkaman members read so far (no total).
    KafkamanMembers,
    /// Operations applied so far, of the plan's total.
    Apply,
}

/// Called with (phase, done so far, total when known) during long reads and the apply.
pub type Progress = std::sync::Arc<dyn Fn(Phase, usize, Option<usize>) + Send + Sync>;

/// Reports `phase` through `progress`, when there is one.
pub fn report(progress: Option<&Progress>, phase: Phase, done: usize, total: Option<usize>) {
    if let Some(p) = progress {
        p(phase, done, total)
    }
}
