//! `scim-sync schedule`: the parsed schedule and its next run times.

use std::path::Path;

use clap::Args;

use super::schedule::{Schedule, Zone};
use crate::config;
use crate::exit::Exit;

#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    /// A crontab expression to check instead of the configured `[daemon] schedule`.
    pub expression: Option<String>,
    /// The time zone to read it in (default: `[daemon] time_zone`, else the host's).
    #[arg(long)]
    pub time_zone: Option<String>,
    /// How many run times to print.
    #[arg(long, default_value_t = 5)]
    pub count: usize,
}

/// Prints the schedule; returns the exit ([`Exit::Config`], 78, for an invalid schedule
/// or config).
pub fn run(args: &ScheduleArgs, config_path: Option<&Path>) -> Exit {
    match render(args, config_path, chrono::Utc::now()) {
        Ok(text) => {
            crate::out_print!("{text}");
            Exit::Ok
        }
        Err(message) => {
            eprintln!("scim-sync: {message}");
            Exit::Config
        }
    }
}

fn render(
    args: &ScheduleArgs,
    config_path: Option<&Path>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    let (expression, configured_zone, origin) = match &args.expression {
        Some(expression) => (expression.clone(), None, "command line".to_string()),
        None => {
            let path = config_path
                .map(Path::to_path_buf)
                .unwrap_or_else(config::default_path);
            let cfg = config::load(&path).map_err(|e| e.to_string())?;
            (
                cfg.daemon.schedule.clone(),
                cfg.daemon.time_zone.clone(),
                path.display().to_string(),
            )
        }
    };
    let zone_name = args.time_zone.clone().or(configured_zone);
    let zone = Zone::parse(zone_name.as_deref()).map_err(|e| format!("time zone: {e}"))?;
    let schedule = Schedule::parse(&expression, zone).map_err(|e| e.to_string())?;
    let mut out = String::new();
    out.push_str(&format!(
        "schedule   {}  (from {origin})\n",
        schedule.expression()
    ));
    if schedule.pattern() != schedule.expression() {
        out.push_str(&format!("fields     {}\n", schedule.pattern()));
    }
    out.push_str(&format!("meaning    {}\n", schedule.describe()));
    out.push_str(&format!("time zone  {}\n", zone.name()));
    let upcoming = next_runs(&schedule, now, args.count);
    if upcoming.is_empty() {
        out.push_str("next runs  none: the expression matches no future time\n");
    } else {
        out.push_str("next runs\n");
        for t in upcoming {
            out.push_str(&format!("  {t}\n"));
        }
    }
    Ok(out)
}

/// The next `count` run times after `now`, as people read them (in the schedule's time
/// zone); empty when the expression matches no future time. Also `config check`'s.
pub fn next_runs(
    schedule: &Schedule,
    now: chrono::DateTime<chrono::Utc>,
    count: usize,
) -> Vec<String> {
    schedule
        .upcoming(now, count)
        .into_iter()
        .map(|t| schedule.format_time(t))
        .collect()
}
