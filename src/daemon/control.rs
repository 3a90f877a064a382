//! The daemon's control socket: who may connect (`SO_PEERCRED`: root, the daemon's
//! user, or a member of `daemon.control_group`), bounded reads, and the hand-over of
//! each request to the daemon's loop, which runs it between cycles (never two at once).

use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::health::Status;
use crate::control::{Envelope, MAX_MESSAGE_BYTES, OutputStyle, Request, Response, jobs};
use crate::exit::Exit;
use crate::http::lock;
use crate::store::Store;

/// Connections served at once (a person's commands; each waits for its work).
const MAX_CONNECTIONS: usize = 16;
/// The kernel's default overflow uid and gid (`nobody` / `nogroup`).
const OVERFLOW_ID: u32 = 65534;
/// How long a caller has to send its request once connected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A request handed to the daemon's loop, and where its answer goes.
pub struct ControlJob {
    pub envelope: Envelope,
    pub reply: oneshot::Sender<Response>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlSocketError {
    #[error(
        "daemon.control_socket: {path} exists and is not a socket: move it away or set \
         another path"
    )]
    NotASocket { path: String },
    #[error("daemon.control_socket: cannot listen on {path}: {source}")]
    Bind {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "daemon.control_socket: another daemon answers on {path} (each daemon needs its own \
         socket: set daemon.control_socket per team)"
    )]
    InUse { path: String },
    #[error("daemon.control_group: no group {0} on this host: create it or remove the key")]
    NoSuchGroup(String),
}

/// Who may use the socket.
#[derive(Debug, Clone)]
pub struct Allowed {
    uid: u32,
    group: Option<(String, u32)>,
}

impl Allowed {
    pub fn new(group: Option<&str>) -> Result<Allowed, ControlSocketError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        let group = match group {
            Some(name) => Some((
                name.to_string(),
                group_id(name).ok_or_else(|| ControlSocketError::NoSuchGroup(name.to_string()))?,
            )),
            None => None,
        };
        Ok(Allowed { uid, group })
    }

    fn admits(&self, uid: u32, gid: u32) -> bool {
        if uid == 0 || uid == self.uid {
            return true;
        }
        // In a user namespace (the unit's PrivateUsers=yes) every unmapped caller shows
        // as the overflow ids: membership can't be told, and a group that is the
        // overflow group would admit every user of the host.
        if uid == OVERFLOW_ID || gid == OVERFLOW_ID {
            return false;
        }
        match &self.group {
            Some((name, group_gid)) => gid == *group_gid || is_member(name, uid),
            None => false,
        }
    }
}

/// The socket bound at `path` (a stale socket of a daemon that stopped is replaced:
/// the caller holds the state lock, so no other daemon serves this database), mode
/// 0660, of `group` when one is configured.
pub fn bind(path: &Path, allowed: &Allowed) -> Result<UnixListener, ControlSocketError> {
    let shown = path.display().to_string();
    match std::fs::symlink_metadata(path) {
        // A socket some daemon still answers on (another database's, given the same
        // path) is not taken over; one left by a daemon that stopped is replaced.
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(ControlSocketError::InUse { path: shown });
            }
            let _ = std::fs::remove_file(path);
        }
        Ok(_) => return Err(ControlSocketError::NotASocket { path: shown }),
        Err(_) => {}
    }
    let bind_err = |source| ControlSocketError::Bind {
        path: shown.clone(),
        source,
    };
    let listener = UnixListener::bind(path).map_err(bind_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(bind_err)?;
    if let Some((name, gid)) = &allowed.group
        && let Err(e) = std::os::unix::fs::chown(path, None, Some(*gid))
    {
        tracing::warn!(
            path = %shown,
            group = %name,
            error = %e,
            "cannot give the control socket to daemon.control_group (is the daemon's user a member?); root and the daemon's user can still use it"
        );
    }
    tracing::info!(path = %shown, "control socket listening");
    Ok(listener)
}

/// Removes the socket file at shutdown.
pub fn remove(path: &PathBuf) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Accepts callers until `stop`; `status` is answered here, everything else by the
/// daemon's loop through `jobs`.
pub async fn serve(
    listener: UnixListener,
    allowed: Allowed,
    status: Arc<Mutex<Status>>,
    store: Arc<Store>,
    jobs: mpsc::Sender<ControlJob>,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "the control socket cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            let mut stream = stream;
            let busy = Response::error(
                Exit::Failed,
                "the daemon is busy with other callers: try again",
            );
            let _ = write_response(&mut stream, &busy).await;
            continue;
        };
        let (allowed, status, store, jobs) =
            (allowed.clone(), status.clone(), store.clone(), jobs.clone());
        tokio::spawn(async move {
            let _slot = slot;
            serve_one(stream, &allowed, &status, &store, &jobs).await;
        });
    }
}

async fn serve_one(
    mut stream: UnixStream,
    allowed: &Allowed,
    status: &Mutex<Status>,
    store: &Store,
    jobs: &mpsc::Sender<ControlJob>,
) {
    let (uid, gid, pid) = match stream.peer_cred() {
        Ok(cred) => (cred.uid(), cred.gid(), cred.pid()),
        Err(e) => {
            tracing::warn!(error = %e, "control socket: cannot read the caller's credentials");
            return;
        }
    };
    if !allowed.admits(uid, gid) {
        tracing::warn!(uid, gid, pid, "control socket: caller refused");
        let refused = Response::error(
            Exit::NoPermission,
            format!(
                "the daemon refuses user id {uid}: run the command as root, as the daemon's \
                 user, or as a member of daemon.control_group"
            ),
        );
        let _ = write_response(&mut stream, &refused).await;
        return;
    }
    let envelope = match read_envelope(&mut stream).await {
        Ok(envelope) => envelope,
        Err(reason) => {
            let _ = write_response(&mut stream, &Response::error(Exit::Usage, reason)).await;
            return;
        }
    };
    tracing::info!(uid, pid, request = ?request_name(&envelope.request), "control request");
    let response = match envelope.request {
        Request::Status => daemon_status(status, store, envelope.style),
        _ => {
            let (reply, answer) = oneshot::channel();
            if jobs.send(ControlJob { envelope, reply }).await.is_err() {
                Response::error(Exit::Failed, "the daemon is stopping: nothing was done")
            } else {
                answer.await.unwrap_or_else(|_| {
                    Response::error(
                        Exit::Interrupted,
                        "the daemon stopped before it ran the request",
                    )
                })
            }
        }
    };
    let _ = write_response(&mut stream, &response).await;
}

fn request_name(r: &Request) -> &'static str {
    match r {
        Request::Status => "status",
        Request::SyncNow { .. } => "sync_now",
        Request::ReleaseHeld { .. } => "release_held",
        Request::Plan { .. } => "plan",
        Request::ApplyPlan { .. } => "apply_plan",
    }
}

async fn read_envelope(stream: &mut UnixStream) -> Result<Envelope, String> {
    let mut body = Vec::new();
    let read = tokio::time::timeout(
        REQUEST_TIMEOUT,
        (&mut *stream)
            .take(MAX_MESSAGE_BYTES + 1)
            .read_to_end(&mut body),
    )
    .await;
    match read {
        Err(_) => return Err("no request within 30 s".to_string()),
        Ok(Err(e)) => return Err(format!("reading the request failed: {e}")),
        Ok(Ok(_)) => {}
    }
    if body.len() as u64 > MAX_MESSAGE_BYTES {
        return Err(format!("a request over {MAX_MESSAGE_BYTES} bytes"));
    }
    serde_json::from_slice(&body).map_err(|e| {
        format!("not a request of this scim-sync ({e}): is the command the daemon's version?")
    })
}

async fn write_response(stream: &mut UnixStream, response: &Response) -> std::io::Result<()> {
    let body = serde_json::to_vec(response).map_err(std::io::Error::other)?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}

/// `status` from the running daemon: its health and the held deactivations.
fn daemon_status(status: &Mutex<Status>, store: &Store, style: OutputStyle) -> Response {
    let health = lock(status).health(chrono::Utc::now());
    let held = match store.held_deactivations() {
        Ok(held) => held,
        Err(e) => return Response::error(Exit::Unavailable, e),
    };
    if style.json {
        let doc = serde_json::json!({
            "daemon": "running",
            "pid": std::process::id(),
            "health": health,
            "held_deactivations": held,
        });
        return Response::new(Exit::Ok).with_stdout(format!("{doc}\n"));
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "none".to_string())
    };
    let run = |label: &str, r: &Option<super::health::RunInfo>| match r {
        Some(r) => format!(
            "{label}: #{} {} ({}), {}\n",
            r.id,
            r.result.as_str(),
            r.trigger.as_str(),
            time(r.ended_at.or(Some(r.started_at)))
        ),
        None => format!("{label}: none yet\n"),
    };
    let mut out = format!(
        "Daemon: running (pid {}), {}: {}\n",
        std::process::id(),
        health.status,
        crate::escape::text(&health.reason)
    );
    if let Some(since) = health.running_since {
        out.push_str(&format!("Cycle running since {}\n", since.to_rfc3339()));
    }
    out.push_str(&run("Last run", &health.last_run));
    out.push_str(&run("Last success", &health.last_success));
    out.push_str(&format!("Next full cycle: {}\n", time(health.next_run)));
    out.push_str(&format!("System Log: {}\n", health.system_log));
    out.push_str(&jobs::held_line(&held));
    Response::new(Exit::Ok).with_stdout(out)
}

/// A group's id by name.
fn group_id(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives it and its length is
    // given; the result is read only when getgrnam_r set it to &group.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut group,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(group.gr_gid)
}

/// Whether user `uid` is a member of group `name` (primary or supplementary), as the
/// host's user database says (getgrouplist, as `id` asks it).
fn is_member(name: &str, uid: u32) -> bool {
    let Some(gid) = group_id(name) else {
        return false;
    };
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: as in group_id.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return false;
    }
    let mut groups = vec![0 as libc::gid_t; 1024];
    let mut count = groups.len() as libc::c_int;
    // SAFETY: pw.pw_name points into buf (alive); groups has `count` slots.
    let rc = unsafe { libc::getgrouplist(pw.pw_name, pw.pw_gid, groups.as_mut_ptr(), &mut count) };
    if rc < 0 {
        return false;
    }
    groups.truncate(count.max(0) as usize);
    groups.contains(&gid)
}
