//! Standard output for every command: a closed pipe (`scim-sync history | head -1`) ends
//! the output quietly, never a panic.
//!
//! Rust starts every program with SIGPIPE ignored, so a write to a closed pipe fails
//! with `EPIPE`, and `println!` panics on it (exit 101, "failed printing to stdout").
//! scim-sync keeps SIGPIPE ignored in every command rather than restoring its default:
//! the signal would kill the process wherever the write happens, and a real sync prints
//! its plan before applying it and writes its log to stderr while recording to the
//! database, so a reader that goes away (`scim-sync | head`) could end a cycle between
//! a write to kafkaman and its recorded outcome. With the signal ignored, every write to
//! stdout goes through [`write`], which takes `EPIPE` as "nobody is reading": the rest
//! of the output is dropped, the command goes on to its end (a sync records its run
//! before printing its result) and exits with its own code. Any other output error (a
//! full disk behind `>`) is said once on stderr and fails the command
//! ([`failed`]).

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// The reader of stdout went away: later output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Writing stdout failed otherwise (said once on stderr).
static FAILED: AtomicBool = AtomicBool::new(false);

/// Prints to stdout through [`write`] (`format!` syntax); never panics.
#[macro_export]
macro_rules! out_print {
    ($($arg:tt)*) => { $crate::out::write_fmt(format_args!($($arg)*)) };
}

/// As [`out_print!`], with a newline.
#[macro_export]
macro_rules! out_println {
    ($($arg:tt)*) => {
        $crate::out::write_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes formatted text to stdout (see the module's documentation).
pub fn write_fmt(args: fmt::Arguments<'_>) {
    match args.as_str() {
        Some(text) => write(text.as_bytes()),
        None => write(args.to_string().as_bytes()),
    }
}

/// Writes `bytes` to stdout and flushes. A closed pipe drops this and all later output
/// quietly; another error is said once on stderr and makes [`failed`] true.
pub fn write(bytes: &[u8]) {
    if CLOSED.load(Ordering::Relaxed) || FAILED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            if !FAILED.swap(true, Ordering::Relaxed) {
                eprintln!("scim-sync: cannot write the output to stdout: {e}");
            }
        }
    }
}

/// Whether writing stdout failed for a reason other than a closed pipe: the command
/// then exits 1 when it would have exited 0 (its output is incomplete).
pub fn failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}
