//! The HELP line of every metric (`# HELP` in `/metrics`).

use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use super::*;

pub(super) fn describe() {
    describe_counter!(CYCLES, "Sync cycles by result.");
    describe_gauge!(
        LAST_RUN_RESULT,
        "1 for the result of the last cycle (as the state database records it, across restarts), 0 for every other result."
    );
    describe_counter!(
        OPERATIONS,
        "kafkaman operations applied, by kind and outcome."
    );
    describe_counter!(
        API_REQUESTS,
        "HTTP requests sent, by API (okta, kafkaman) and response status (\"transport\" when no response came)."
    );
    describe_gauge!(
        OKTA_RATE_LIMIT_USED,
        "Requests every client of the Okta org used in the bucket's current window (the org-wide use), as of the last response."
    );
    describe_gauge!(
        OKTA_RATE_LIMIT_LIMIT,
        "Requests the Okta org may make in the bucket's window (X-Rate-Limit-Limit), as of the last response."
    );
    describe_gauge!(
        SYSTEM_LOG_AVAILABLE,
        "1 while Okta lets scim-sync read the System Log (incremental cycles); 0 while it refuses (full cycles only)."
    );
    describe_gauge!(
        OKTA_RATE_LIMIT_REMAINING,
        "Requests left in the current Okta rate-limit window, per bucket, as of the last response."
    );
    describe_gauge!(
        KAFKAMAN_RATE_LIMIT_REMAINING,
        "Requests left in the current kafkaman rate-limit window, as of the last response."
    );
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "Unix time at which the last cycle that ran through (success, partial or held) ended; \
         held deactivations are counted by scim_sync_held_deactivations."
    );
    describe_gauge!(
        LAST_CYCLE,
        Unit::Seconds,
        "Unix time at which the last cycle ended."
    );
    describe_gauge!(
        NEXT_RUN,
        Unit::Seconds,
        "Unix time of the next scheduled cycle."
    );
    describe_histogram!(CYCLE_DURATION, Unit::Seconds, "Duration of sync cycles.");
    describe_gauge!(
        HELD_DEACTIVATIONS,
        "Deactivations held until a human releases them (`scim-sync release-held`); holds are sticky, \
         so this stays above 0 across cycles until they are released or no longer planned."
    );
    describe_gauge!(
        NEEDS_ATTENTION,
        "People the last cycle's plan leaves to a human (an email change, a conflict, a switched-off feature, …)."
    );
    describe_gauge!(
        MEMBERS,
        "kafkaman members in the last cycle: managed (created or linked by scim-sync) or unmanaged."
    );
    describe_gauge!(
        KAFKAMAN_SEATS_USED,
        "kafkaman members holding a seat (active or invited) after the last cycle: as read, plus the creates and reactivations it applied, minus its deactivations; kafkaman's API does not say how many seats the team has."
    );
    describe_counter!(
        TICKS_SKIPPED,
        "Scheduled times skipped because the previous cycle was still running."
    );
    describe_counter!(RELOADS, "Configuration reloads (SIGHUP), by outcome.");
    describe_counter!(
        CYCLES_BY_KIND,
        "Cycles that planned, by kind (full, incremental) and mode (apply, dry_run)."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the labels say which scim-sync runs: version, git commit, build date."
    );
    describe_gauge!(
        FULL_CYCLE_DRIFT,
        "Okta users and members the last full cycle found changed that incremental cycles had not seen (should be 0)."
    );
}
