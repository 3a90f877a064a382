//! The completion scripts `scim-sync completions <shell>` prints, driven by the shells
//! themselves: bash's completion function called as readline would call it, zsh's
//! completion system on a pseudo-terminal, fish's `complete -C`. Each must offer a
//! subcommand's own options after `scim-sync <subcommand> --`, for every subcommand
//! `--help` lists (today's and those added later). bash is required; zsh and fish too
//! (`scripts/test` installs them from Debian's `zsh` and `fish` packages).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("SCIM_SYNC_CONFIG", "/nonexistent/scim-sync/config.toml")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands `scim-sync --help` lists (but `help`).
fn subcommands() -> Vec<String> {
    let help = run(&["--help"]);
    let commands = help
        .split("Commands:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap();
    commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The long options `scim-sync <sub> --help` lists in its option lines, `--help` included.
fn own_options(sub: &str) -> BTreeSet<String> {
    run(&[sub, "--help"])
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .flat_map(|l| l.split([' ', ',', '=', '[', '<']))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_string)
        .collect()
}

/// The script for `shell`, written to a fresh directory as `file`.
fn script(shell: &str, file: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, run(&["completions", shell])).unwrap();
    (dir, path)
}

fn installed(shell: &str) -> PathBuf {
    // Not skipped when missing: a check that passes without running proves nothing.
    ["/usr/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(shell))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{shell} is not installed: install Debian's `{shell}` (scripts/test does)")
        })
}

/// What bash offers for `line` (ending where the cursor is): the script sourced in a
/// `bash --norc`, COMP_WORDS / COMP_CWORD / COMP_LINE / COMP_POINT set as readline sets
/// them, and the function `complete -p scim-sync` names called with the command, the
/// current and the previous word.
fn bash_offers(script: &Path, line: &str) -> Vec<String> {
    const DRIVER: &str = r#"
source "$1" || exit 1
line=$2
read -ra COMP_WORDS <<<"$line"
[[ $line == *' ' ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$line
COMP_POINT=${#line}
spec=$(complete -p scim-sync) || exit 1
fn=$(sed -n 's/.* -F \([^ ]*\) .*/\1/p' <<<"$spec")
[ -n "$fn" ] || { echo "no function in: $spec" >&2; exit 1; }
"$fn" scim-sync "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let out = Command::new(installed("bash"))
        .args(["--norc", "--noprofile", "-c", DRIVER, "driver"])
        .arg(script)
        .arg(line)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    words(&out.stdout)
}

fn words(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().trim().to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Asserts that `offered` (for `scim-sync <sub> --`) has every long option of `sub`.
fn assert_offers_own_options(shell: &str, sub: &str, offered: &[String]) {
    let missing: Vec<String> = own_options(sub)
        .into_iter()
        .filter(|o| !offered.contains(o))
        .collect();
    assert!(
        missing.is_empty(),
        "{shell}: `scim-sync {sub} --` doesn't offer {missing:?}; it offers {offered:?}"
    );
}

#[test]
fn bash_completes_each_subcommands_own_options() {
    let (_dir, path) = script("bash", "scim-sync");
    let report = bash_offers(&path, "scim-sync report --");
    assert!(report.contains(&"--since".to_string()), "{report:?}");
    // Not the top level's (sync's) flags.
    assert!(!report.contains(&"--dry-run".to_string()), "{report:?}");
    let subs = subcommands();
    assert!(subs.len() >= 8, "{subs:?}");
    for sub in &subs {
        let offered = bash_offers(&path, &format!("scim-sync {sub} --"));
        assert_offers_own_options("bash", sub, &offered);
    }
    // Nested subcommands and option values.
    assert_eq!(bash_offers(&path, "scim-sync config ch"), ["check"]);
    let formats = bash_offers(&path, "scim-sync report --format ");
    assert!(formats.contains(&"markdown".to_string()), "{formats:?}");
    // The top level still completes the subcommands and its own flags.
    let top = bash_offers(&path, "scim-sync ");
    assert!(top.contains(&"report".to_string()), "{top:?}");
    assert!(bash_offers(&path, "scim-sync --dr").contains(&"--dry-run".to_string()));
}

#[test]
fn fish_completes_each_subcommands_own_options() {
    let (_dir, path) = script("fish", "scim-sync.fish");
    let fish = installed("fish");
    let offers = |line: &str| {
        let out = Command::new(&fish)
            .args(["--no-config", "-c"])
            .arg(format!(
                "source {}; complete -C '{line}'",
                path.to_str().unwrap()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        words(&out.stdout)
    };
    let report = offers("scim-sync report --");
    assert!(report.contains(&"--since".to_string()), "{report:?}");
    for sub in subcommands() {
        assert_offers_own_options("fish", &sub, &offers(&format!("scim-sync {sub} --")));
    }
    assert!(offers("scim-sync config ").contains(&"check".to_string()));
}

/// What zsh's completion system offers for `line`: an interactive `zsh -f` on a
/// pseudo-terminal (zsh/zpty), compinit with the script's directory on fpath, `compadd`
/// wrapped to write every match it is given to a file, then `line` and a TAB typed (and
/// the next key only once the matches came). The
/// markers are quoted in what is typed, so only the shell's output matches them.
fn zsh_offers(dir: &Path, line: &str) -> Vec<String> {
    const DRIVER: &str = r#"
zmodload zsh/zpty || exit 1
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "compadd () { local -a __h; builtin compadd -O __h \"\$@\"; print -rl -- \$__h >> ${(q)3}; builtin compadd \"\$@\" }"
zpty -w z 'zstyle ":completion:*" menu no; LISTMAX=100000; echo __re""ady__'
zpty -r z out '*__ready__*' || exit 1
zpty -w -n z "$2"$'\t'
# Typed-ahead input would cut the completion short: wait for its first matches.
for i in {1..200}; do [[ -s $3 ]] && break; sleep 0.05; done
sleep 0.5
zpty -w z $'\C-u'"echo __do\"\"ne__"
zpty -r z out '*__done__*' || exit 1
zpty -d z
"#;
    let matches = dir.join("matches");
    let _ = std::fs::remove_file(&matches);
    let out = Command::new("timeout")
        .arg("60")
        .arg(installed("zsh"))
        .args(["-f", "-c", DRIVER, "driver"])
        .arg(dir)
        .arg(line)
        .arg(&matches)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line}: exit {:?} {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    words(&std::fs::read(&matches).unwrap_or_default())
}

#[test]
fn zsh_completes_each_subcommands_own_options() {
    // zsh finds `_scim-sync` on fpath by its #compdef line.
    let (dir, _path) = script("zsh", "_scim-sync");
    let report = zsh_offers(dir.path(), "scim-sync report --");
    assert!(report.contains(&"--since".to_string()), "{report:?}");
    assert!(!report.contains(&"--dry-run".to_string()), "{report:?}");
    for sub in subcommands() {
        // After `-`: after `--` zsh lists an option with a short form (`-q`, `--quiet`)
        // in a row that the prefix `--` hides when the list is short (zsh's grouping of
        // options that share a description, not the script).
        let offered = zsh_offers(dir.path(), &format!("scim-sync {sub} -"));
        assert_offers_own_options("zsh", &sub, &offered);
    }
    assert!(zsh_offers(dir.path(), "scim-sync config ").contains(&"check".to_string()));
}
