//! Test harness: both simulators, a config written the way `scim-sync sim --write-config`
//! writes it, a state database in a temp folder, and helpers to run cycles.
#![allow(dead_code)]

use std::path::PathBuf;

use scim_sync::config::{self, Config};
use scim_sync::store::Store;
use scim_sync::sync::{self, CycleOptions, CycleReport, SyncError};
use scim_sync_sim::{Scenario, SimWorld, process};
use tokio_util::sync::CancellationToken;

/// Registers the test key pair (tests/fixtures) as an OAuth service app of the org.
pub fn with_service_app(scenario: &mut Scenario, client_id: &str, scopes: &[&str]) {
    let public = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/oauth-test-key.pub.pem"
    ))
    .expect("test public key");
    scenario
        .okta
        .service_apps
        .push(scim_sync_sim::scenario::ServiceAppSpec {
            client_id: client_id.into(),
            public_key_pem: public,
            kid: Some("test-kid".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            // Okta's default for a new API Services app.
            require_dpop: true,
        });
}

pub struct Env {
    pub world: SimWorld,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub db: PathBuf,
    pub store: Store,
}

impl Env {
    /// Starts the simulators with `scenario`; each `(table, line)` of `settings` is added
    /// to the config (e.g. `("safety", "max_deactivations = 2")`).
    pub async fn start(scenario: &Scenario, settings: &[(&str, &str)]) -> Env {
        let world = SimWorld::start(scenario).await.expect("simulators start");
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.toml");
        let db = dir.path().join("state.db");
        process::write_config(&world, &config_path, &db).expect("write config");
        let store = Store::open(&db).expect("open store");
        let env = Env {
            world,
            dir,
            config_path,
            db,
            store,
        };
        for (table, line) in settings {
            env.set(table, line);
        }
        // Daemon tests count cycles over a few seconds: incremental ones come every 60 s
        // (the product's default is 10) unless a test asks for its own interval.
        if !settings
            .iter()
            .any(|(_, line)| line.starts_with("incremental_interval_secs"))
        {
            env.set("daemon", "incremental_interval_secs = 60");
        }
        env
    }

    /// Adds `line` to `[table]` of the config (creating the table when absent).
    pub fn set(&self, table: &str, line: &str) {
        let text = std::fs::read_to_string(&self.config_path).expect("read config");
        let header = format!("[{table}]\n");
        let text = if text.contains(&header) {
            text.replacen(&header, &format!("{header}{line}\n"), 1)
        } else {
            format!("{text}\n{header}{line}\n")
        };
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// Switches the config from the SSWS token to the OAuth service app `client_id`
    /// (registered with [`with_service_app`]), requesting `scopes` (None: the default).
    pub fn use_oauth(&self, client_id: &str, scopes: Option<&[&str]>) {
        let text = std::fs::read_to_string(&self.config_path).expect("read config");
        let text: String = text
            .lines()
            .filter(|l| !l.starts_with("api_token"))
            .collect::<Vec<_>>()
            .join("\n");
        let key = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/oauth-test-key.pem"
        );
        let scopes = scopes
            .map(|s| format!("scopes = {s:?}\n"))
            .unwrap_or_default();
        std::fs::write(
            &self.config_path,
            format!(
                "{text}\n[okta.oauth]\nclient_id = \"{client_id}\"\nkey_id = \"test-kid\"\n\
                 {scopes}private_key = {{ file = \"{key}\" }}\n"
            ),
        )
        .expect("write config");
    }

    pub fn config(&self) -> Config {
        config::load(&self.config_path).expect("config loads")
    }

    pub async fn cycle_with(&self, opts: CycleOptions) -> Result<CycleReport, SyncError> {
        sync::run_cycle(
            &self.config(),
            &self.store,
            &opts,
            &CancellationToken::new(),
        )
        .await
    }

    pub async fn sync(&self) -> CycleReport {
        self.cycle_with(CycleOptions::default())
            .await
            .expect("cycle runs")
    }

    pub async fn dry_run(&self) -> CycleReport {
        self.cycle_with(CycleOptions {
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("dry run runs")
    }

    /// A full dry run: what a complete read of both sides would plan now.
    pub async fn full_dry_run(&self) -> CycleReport {
        self.cycle_with(CycleOptions {
            dry_run: true,
            full: true,
            ..Default::default()
        })
        .await
        .expect("full dry run runs")
    }

    /// kafkaman writes (POST/PUT/PATCH/DELETE) seen so far.
    pub fn kafkaman_writes(&self) -> Vec<scim_sync_sim::LoggedRequest> {
        self.world.kafkaman.log().writes()
    }

    pub fn member(&self, email: &str) -> scim_sync_sim::kafkaman::MemberView {
        self.world
            .kafkaman
            .member(email)
            .unwrap_or_else(|| panic!("{email} is a member"))
    }
}

/// The binary with `--config config` and `args`, its output collected.
pub fn scim_sync(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SCIM_SYNC_LOG")
        .output()
        .expect("scim-sync runs")
}

/// A process's exit code, stdout and stderr, for an assertion's message.
pub fn shown(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
