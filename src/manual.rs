//! `scim-sync completions <shell>` and `scim-sync man`: shell completion scripts and the
//! man page, generated from the command line's own definition (the `clap::Command` the
//! caller passes: `Cli::command()`), so they never disagree with `--help`. `scripts/build-deb` runs both for the package.

use std::process::ExitCode;

use clap_complete::Shell;

use crate::build_info;
use crate::exit::Exit;

/// The sections clap's definition doesn't give: where the files are, where to read on.
const MAN_EXTRA: &str = r#".SH FILES
.TP
\fI/etc/scim\-sync/config.toml\fR
The configuration (another with \fB\-\-config\fR or \fBSCIM_SYNC_CONFIG\fR). Every key,
with its default, is in \fI/usr/share/doc/scim\-sync/config.example.toml\fR.
.TP
\fI/etc/scim\-sync/credentials/\fR
The secrets, root\-only files the systemd units pass with \fBLoadCredential=\fR.
.TP
\fI/var/lib/scim\-sync/state.db\fR
The state database (\fBsync.state_db\fR).
.SH "SEE ALSO"
\fBsystemctl\fR(1), \fBjournalctl\fR(1), \fBsystemd.service\fR(5),
\fI/usr/share/doc/scim\-sync/README.md\fR (exit codes, configuration, running as a
service, reports).
"#;

/// Prints the completion script for `shell` to stdout.
pub fn completions(full: &clap::Command, shell: Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible_command(full), "scim-sync", &mut script);
    print(&script)
}

/// The command line without its hidden subcommands (`demo` and `sim` in a build without
/// the simulators, which only say so): clap_complete would offer them. Only the top level
/// has hidden ones; it has no settings besides these.
fn visible_command(full: &clap::Command) -> clap::Command {
    clap::Command::new("scim-sync")
        .version(build_info::LONG_VERSION)
        .about(full.get_about().cloned().unwrap_or_default())
        .args(full.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(full.get_subcommands().filter(|c| !c.is_hide_set()).cloned())
}

/// Prints the man page (roff) to stdout.
pub fn man(cli: clap::Command) -> ExitCode {
    match man_page(cli) {
        Ok(page) => print(&page),
        Err(e) => {
            eprintln!("scim-sync: cannot render the man page: {e}");
            ExitCode::from(Exit::Failed)
        }
    }
}

/// The man page, section 1: one page for every command, each with its options (rather
/// than clap_mangen's list of `scim-sync-<command>(1)` pages nobody installs).
pub fn man_page(mut cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone())
        .date(build_info::BUILD_DATE)
        .manual("scim-sync manual");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    let mut rest = Vec::new();
    man.render_name_section(&mut rest)?;
    man.render_synopsis_section(&mut rest)?;
    man.render_description_section(&mut rest)?;
    man.render_options_section(&mut rest)?;
    rest.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
    {
        rest.extend_from_slice(format!(".SS \"scim\\-sync {}\"\n", sub.get_name()).as_bytes());
        // Its own arguments: the global ones (and --help) are in OPTIONS above.
        let sub = sub.clone().mut_args(|a| {
            if a.is_global_set() || a.get_id() == "help" {
                a.hide(true)
            } else {
                a
            }
        });
        let mut about = Vec::new();
        let mut options = Vec::new();
        let has_options = sub.get_arguments().any(|a| !a.is_hide_set());
        let sub_man = clap_mangen::Man::new(sub);
        sub_man.render_description_section(&mut about)?;
        if has_options {
            sub_man.render_options_section(&mut options)?;
        }
        // Their headings would end the subsection.
        rest.extend(without(&about, &[".SH "]));
        rest.extend(without(&options, &[".SH "]));
    }
    man.render_version_section(&mut rest)?;
    rest.extend_from_slice(MAN_EXTRA.as_bytes());
    // Every render starts with the same apostrophe preamble; the title's is enough.
    page.extend(without(&rest, &[".ie \\n(.g .ds Aq", ".el .ds Aq"]));
    Ok(page)
}

/// The lines of `roff` that start with none of `prefixes`.
fn without(roff: &[u8], prefixes: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(roff.len());
    for line in roff.split_inclusive(|&b| b == b'\n') {
        if !prefixes.iter().any(|p| line.starts_with(p.as_bytes())) {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Writes `bytes` to stdout: a closed pipe (`| head`) ends it quietly, a full disk is
/// an error (crate::out).
fn print(bytes: &[u8]) -> ExitCode {
    crate::out::write(bytes);
    if crate::out::failed() {
        ExitCode::from(Exit::Failed)
    } else {
        ExitCode::from(Exit::Ok)
    }
}
