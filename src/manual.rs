//! `scim-sync completions <shell>` and `scim-sync man`: shell completion scripts and the
//! man page, generated from the command line's own definition ([`crate::cli::Cli`]), so
//! they never disagree with `--help`. `scripts/build-deb` runs both for the package.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::build_info;
use crate::cli::Cli;
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
pub fn completions(shell: Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "scim-sync", &mut script);
    print(&script)
}

/// Prints the man page (roff) to stdout.
pub fn man() -> ExitCode {
    match man_page() {
        Ok(page) => print(&page),
        Err(e) => {
            eprintln!("scim-sync: cannot render the man page: {e}");
            ExitCode::from(Exit::Failed)
        }
    }
}

/// The man page, section 1.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(Cli::command())
        .date(build_info::BUILD_DATE)
        .manual("scim-sync manual");
    let mut page = Vec::new();
    man.render(&mut page)?;
    page.extend_from_slice(MAN_EXTRA.as_bytes());
    Ok(page)
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) or a full disk is an error.
fn print(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::from(Exit::Ok),
        Err(e) => {
            eprintln!("scim-sync: cannot write to stdout: {e}");
            ExitCode::from(Exit::Failed)
        }
    }
}
