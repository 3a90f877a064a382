//! Build information for `--version`, the `scim_sync_build_info` metric and the
//! listener's index page: the short git commit and the build date, as the rustc-env
//! variables `SCIM_SYNC_COMMIT` and `SCIM_SYNC_BUILD_DATE` (see `src/build_info.rs`).
//!
//! The commit is "unknown" outside a git checkout of this crate (a source tarball, a
//! Debian source package); `SCIM_SYNC_COMMIT` in the environment overrides it, for
//! packagers who know it. The date is today (UTC), or that of `SOURCE_DATE_EPOCH` when it
//! is set (reproducible builds). The script reruns only when the checked-out commit
//! changes, so an incremental build doesn't rebuild the crate every time.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=SCIM_SYNC_COMMIT");
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());

    let commit = match std::env::var("SCIM_SYNC_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => git_commit(&root).unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=SCIM_SYNC_COMMIT={commit}");
    println!("cargo:rustc-env=SCIM_SYNC_BUILD_DATE={}", build_date());
}

/// Runs git in `root`; its trimmed stdout when it succeeds.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The short commit of the checkout `root` is the top of, and the files to watch for a
/// change of it. `None` when `root` is not the top of a git work tree (no git, a tarball,
/// or a tarball unpacked inside some other repository).
fn git_commit(root: &Path) -> Option<String> {
    let top = git(root, &["rev-parse", "--show-toplevel"])?;
    let same = match (Path::new(&top).canonicalize(), root.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        return None;
    }
    // In a worktree `.git` is a file: ask git where HEAD and the refs are.
    let mut watch = Vec::new();
    if let Some(head) = git(root, &["rev-parse", "--git-path", "HEAD"]) {
        watch.push(head);
    }
    if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"])
        && let Some(reference) = git(root, &["rev-parse", "--git-path", &branch])
    {
        watch.push(reference);
    }
    if let Some(packed) = git(root, &["rev-parse", "--git-path", "packed-refs"]) {
        watch.push(packed);
    }
    for path in watch {
        let path = root.join(path);
        // A file that doesn't exist would make cargo rerun the script on every build.
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    git(root, &["rev-parse", "--short", "HEAD"])
}

/// `YYYY-MM-DD` (UTC) of `SOURCE_DATE_EPOCH`, or of now.
fn build_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
