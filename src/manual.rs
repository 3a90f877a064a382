//! `scim-sync completions <shell>` and `scim-sync man`: shell completion scripts and the
//! man page, generated from the command line's own definition (the `clap::Command` the
//! caller passes: `Cli::command()`), so they never disagree with `--help`. `scripts/build-deb` runs both for the package.
//! The man page's EXIT STATUS, ENVIRONMENT and FILES are in `manual/sections.rs`.

use std::process::ExitCode;

use clap_complete::Shell;

use crate::build_info;
use crate::exit::Exit;

mod sections;

/// Prints the completion script for `shell` to stdout.
pub fn completions(full: &clap::Command, shell: Shell) -> ExitCode {
    print(&completion_script(full, shell))
}

/// The completion script for `shell`, generated from `full` (bash's repaired, see
/// [`fix_bash_case_labels`]).
fn completion_script(full: &clap::Command, shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible_command(full), BIN_NAME, &mut script);
    if shell == Shell::Bash {
        fix_bash_case_labels(&script, BIN_NAME)
    } else {
        script
    }
}

const BIN_NAME: &str = "scim-sync";

/// clap_complete's bash script (4.6) finds the command being completed as
/// `scim__sync__subcmd__report` (the binary name with `-` as `__`), but labels the case
/// of each subcommand's options `scim__subcmd__sync__subcmd__report` (`-` as
/// `__subcmd__`), so a binary whose name has a hyphen gets no subcommand's options
/// (clap-rs/clap#6421, #6529). Renames the labels to what the dispatch computes: the
/// lines that start with the mangled binary name and a subcommand separator and end in
/// `)`, whatever the subcommands are. A no-op once clap_complete agrees with itself.
fn fix_bash_case_labels(script: &[u8], bin_name: &str) -> Vec<u8> {
    const SEP: &str = "__subcmd__";
    let computed = bin_name.replace('-', "__");
    let labelled = bin_name.replace('-', SEP);
    let wrong = format!("{labelled}{SEP}");
    let mut out = Vec::with_capacity(script.len());
    for line in script.split_inclusive(|&b| b == b'\n') {
        let text = line.trim_ascii();
        if computed != labelled && text.starts_with(wrong.as_bytes()) && text.ends_with(b")") {
            let indent = line.len() - line.trim_ascii_start().len();
            out.extend_from_slice(&line[..indent]);
            out.extend_from_slice(computed.as_bytes());
            out.extend_from_slice(&line[indent + labelled.len()..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    out
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
        // The footer's left part: "scim-sync 0.1.0" (the long version would crowd out the
        // date in the middle); the commit is in VERSION.
        .source(format!("scim-sync {}", build_info::VERSION))
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
    rest.extend_from_slice(sections::extra_sections().as_bytes());
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

#[cfg(test)]
mod tests {
    use super::fix_bash_case_labels;

    #[test]
    fn bash_case_labels_are_renamed_to_what_the_dispatch_computes() {
        let script = "    case \"${cmd}\" in\n        scim__sync)\n            ;;\n        \
                      scim__subcmd__sync__subcmd__release__subcmd__held)\n            ;;\n            \
                      scim__sync,report)\n";
        let fixed =
            String::from_utf8(fix_bash_case_labels(script.as_bytes(), "scim-sync")).unwrap();
        assert_eq!(
            fixed,
            "    case \"${cmd}\" in\n        scim__sync)\n            ;;\n        \
             scim__sync__subcmd__release__subcmd__held)\n            ;;\n            \
             scim__sync,report)\n"
        );
        // Without a hyphen the two spellings agree: nothing to rename.
        let plain = "        tool__subcmd__report)\n";
        assert_eq!(
            fix_bash_case_labels(plain.as_bytes(), "tool"),
            plain.as_bytes()
        );
    }
}
