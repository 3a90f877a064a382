//! What this binary is: its version, the git commit it was built from and the build
//! date (set by `build.rs`). Shown by `--version`, the man page, the
//! `scim_sync_build_info` metric and the daemon listener's index page.

/// The crate version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The short git commit, or `unknown` when built outside a git checkout.
pub const COMMIT: &str = env!("SCIM_SYNC_COMMIT");
/// The build date, `YYYY-MM-DD` (UTC; `SOURCE_DATE_EPOCH` when set).
pub const BUILD_DATE: &str = env!("SCIM_SYNC_BUILD_DATE");
/// What `--version` prints after the program name: `0.1.0 (commit a189951, built 2026-12-03)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SCIM_SYNC_COMMIT"),
    ", built ",
    env!("SCIM_SYNC_BUILD_DATE"),
    ")"
);
