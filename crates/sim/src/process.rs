//! `scim-sync sim`: both simulators as a process, and the config file that points
//! scim-sync at them.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::{Scenario, SimWorld, generate};

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Scenario file (TOML, or JSON with a .json extension). Default: a small built-in org.
    #[arg(long, conflicts_with = "generate")]
    pub scenario: Option<PathBuf>,
    /// Generate a synthetic org of N users instead of reading a scenario.
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,
    /// Seed of the generated org.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Address of the simulated Okta.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub okta_listen: SocketAddr,
    /// Address of the simulated kafkaman.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub kafkaman_listen: SocketAddr,
    /// Write a ready scim-sync config here (secrets in files beside it, mode 0600).
    #[arg(long, value_name = "PATH")]
    pub write_config: Option<PathBuf>,
    /// Allow listening on addresses other than loopback.
    #[arg(long)]
    pub allow_non_loopback: bool,
}

/// Writes `dir/<name>` with mode 0600.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

/// Writes a scim-sync config for the running simulators at `config_path`, with the
/// secrets in files beside it (mode 0600) and the state database `state_db`.
///
/// Every path written into the config is absolute: the config resolves relative paths
/// against its own folder, so a relative `config_path` (`dir/config.toml`) must not be
/// written as `dir/okta-api-token` (which would then mean `dir/dir/okta-api-token`).
pub fn write_config(world: &SimWorld, config_path: &Path, state_db: &Path) -> std::io::Result<()> {
    let config_path = &std::path::absolute(config_path)?;
    let state_db = &std::path::absolute(state_db)?;
    let dir = config_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let okta_secret = dir.join("okta-api-token");
    let km_secret = dir.join("kafkaman-api-key");
    write_private(&okta_secret, &world.okta.api_token())?;
    write_private(&km_secret, &world.kafkaman.api_key())?;
    let text = format!(
        r#"# scim-sync configuration for the simulators started by `scim-sync sim`.
[okta]
org_url = "{okta}"
app_id = "{app}"
api_token = {{ file = "{okta_secret}" }}

[kafkaman]
base_url = "{km}"
api_key = {{ file = "{km_secret}" }}

[sync]
state_db = "{db}"
"#,
        okta = world.okta.url(),
        app = world.okta.app_id(),
        okta_secret = okta_secret.display(),
        km = world.kafkaman.url(),
        km_secret = km_secret.display(),
        db = state_db.display(),
    );
    write_private(config_path, &text)
}

/// Runs the simulators until SIGINT/SIGTERM.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    for addr in [args.okta_listen, args.kafkaman_listen] {
        if !addr.ip().is_loopback() && !args.allow_non_loopback {
            anyhow::bail!(
                "{addr} is not a loopback address; the simulators listen on loopback only \
                 unless --allow-non-loopback is given"
            );
        }
    }
    let scenario = match (&args.scenario, args.generate) {
        (Some(path), _) => Scenario::load(path)?,
        (None, Some(n)) => generate::generate(n, args.seed),
        (None, None) => generate::builtin(),
    };
    let started = std::time::Instant::now();
    let world = SimWorld::start_on(&scenario, args.okta_listen, args.kafkaman_listen)
        .await
        .context("starting the simulators")?;
    tracing::info!(
        okta_users = scenario.okta.users.len(),
        members = scenario.kafkaman.members.len(),
        ready_ms = started.elapsed().as_millis() as u64,
        "simulators ready"
    );
    let config = match &args.write_config {
        Some(path) => {
            let db = path
                .parent()
                .unwrap_or(Path::new("."))
                .join("scim-sync-state.db");
            write_config(&world, path, &db)
                .with_context(|| format!("writing {}", path.display()))?;
            serde_json::Value::String(path.display().to_string())
        }
        None => serde_json::Value::Null,
    };
    let line = serde_json::json!({
        "okta_url": world.okta.url(),
        "okta_token": world.okta.api_token(),
        "app_id": world.okta.app_id(),
        "kafkaman_url": world.kafkaman.url(),
        "kafkaman_api_key": world.kafkaman.api_key(),
        "config": config,
    });
    // A closed pipe is no reason to stop the simulators (nor to panic).
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    drop(stdout);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    world.shutdown();
    Ok(())
}
