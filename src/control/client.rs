//! The caller's side of the control socket.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::{Envelope, MAX_MESSAGE_BYTES, Response};

/// Whether a daemon answered.
#[derive(Debug)]
pub enum Reach {
    Daemon(Response),
    /// No daemon listens there (no socket, or one left by a daemon that stopped).
    NoDaemon,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(
        "the daemon's control socket {path} does not let this user in ({source}): run the \
         command as root, as the user the daemon runs as (`sudo -u scim-sync …`), or as a \
         member of daemon.control_group"
    )]
    Refused {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to the daemon at {path} failed: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon at {path} answered something that is not a scim-sync answer: {reason}")]
    Malformed { path: String, reason: String },
}

/// Sends one request to the daemon listening at `path` and waits for its answer (as
/// long as the work takes: a cycle may run for minutes).
pub async fn ask(path: &Path, envelope: &Envelope) -> Result<Reach, ControlError> {
    let shown = path.display().to_string();
    let io = |source| ControlError::Io {
        path: shown.clone(),
        source,
    };
    let mut stream = match UnixStream::connect(path).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(Reach::NoDaemon);
        }
        Err(source) if source.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(ControlError::Refused {
                path: shown,
                source,
            });
        }
        Err(source) => return Err(io(source)),
    };
    let body = serde_json::to_vec(envelope).map_err(|e| io(std::io::Error::other(e)))?;
    stream.write_all(&body).await.map_err(io)?;
    stream.shutdown().await.map_err(io)?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(MAX_MESSAGE_BYTES + 1)
        .read_to_end(&mut answer)
        .await
        .map_err(io)?;
    if answer.len() as u64 > MAX_MESSAGE_BYTES {
        return Err(ControlError::Malformed {
            path: shown,
            reason: format!("an answer over {MAX_MESSAGE_BYTES} bytes"),
        });
    }
    serde_json::from_slice(&answer)
        .map(Reach::Daemon)
        .map_err(|e| ControlError::Malformed {
            path: shown,
            reason: e.to_string(),
        })
}
