//! How scim-sync authenticates to Okta: an SSWS API token, or an OAuth 2.0 service app
//! (client credentials with a `private_key_jwt` assertion, the access token cached and
//! renewed once when Okta rejects it). Every token request carries a DPoP proof
//! ([`super::dpop`]): an app that requires DPoP (Okta's default for new API Services apps)
//! answers with a DPoP-bound token, used with a fresh proof on every call; one that
//! doesn't ignores the proof and answers with a Bearer token. Assertions and proofs are
//! dated by Okta's clock (its `Date`) once one response has told it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::OktaError;
use super::dpop::{self, DpopKey};
use crate::http::{Auth, Request, Signed, StaticAuth, Transport};

/// How scim-sync authenticates to Okta.
#[derive(Clone)]
pub enum OktaAuth {
    /// `Authorization: SSWS <token>`.
    Ssws(SecretString),
    /// An OAuth 2.0 service app: client credentials with a `private_key_jwt` assertion.
    Oauth {
        client_id: String,
        private_key_pem: SecretString,
        key_id: Option<String>,
        scopes: Vec<String>,
    },
}

impl std::fmt::Debug for OktaAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OktaAuth::Ssws(_) => f.write_str("Ssws([redacted])"),
            OktaAuth::Oauth {
                client_id,
                key_id,
                scopes,
                ..
            } => f
                .debug_struct("Oauth")
                .field("client_id", client_id)
                .field("private_key_pem", &"[redacted]")
                .field("key_id", key_id)
                .field("scopes", scopes)
                .finish(),
        }
    }
}

/// The credentials of a built client.
pub(super) enum AuthState {
    Ssws(StaticAuth<OktaError>),
    // Boxed: the key and the token cache dwarf the SSWS variant.
    Oauth(Box<OauthState>),
}

pub(super) struct OauthState {
    client_id: String,
    key: jsonwebtoken::EncodingKey,
    key_id: Option<String>,
    scopes: Vec<String>,
    token_url: Url,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    /// The client's own transport: token requests pace and count with the API calls.
    transport: Arc<Transport>,
}

struct CachedToken {
    access_token: SecretString,
    refresh_at: Instant,
    /// `token_type: DPoP`: bound to this process's key, sent as `DPoP <token>` with a
    /// proof; else a Bearer token.
    dpop: bool,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct TokenErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

impl AuthState {
    /// Checks the settings and prepares the key; `org_url` is the org's origin.
    pub(super) fn new(
        auth: OktaAuth,
        org_url: &Url,
        transport: Arc<Transport>,
    ) -> Result<AuthState, OktaError> {
        match auth {
            OktaAuth::Ssws(token) => {
                if token.expose_secret().trim().is_empty() {
                    return Err(OktaError::Config("okta.api_token is empty".to_string()));
                }
                Ok(AuthState::Ssws(StaticAuth::new("SSWS", token)))
            }
            OktaAuth::Oauth {
                client_id,
                private_key_pem,
                key_id,
                scopes,
            } => {
                let key = jsonwebtoken::EncodingKey::from_rsa_pem(
                    private_key_pem.expose_secret().as_bytes(),
                )
                .map_err(|e| {
                    OktaError::Config(format!(
                        "okta private key is not a usable RSA PEM key ({e}): check okta.oauth.private_key"
                    ))
                })?;
                if scopes.is_empty() {
                    return Err(OktaError::Config(
                        "okta.oauth.scopes is empty: the service app needs e.g. okta.apps.read okta.users.read okta.groups.read".to_string(),
                    ));
                }
                let token_url = org_url
                    .join("/oauth2/v1/token")
                    .map_err(|e| OktaError::Config(format!("cannot build the token URL: {e}")))?;
                Ok(AuthState::Oauth(Box::new(OauthState {
                    client_id,
                    key,
                    key_id,
                    scopes,
                    token_url,
                    token: tokio::sync::Mutex::new(None),
                    transport,
                })))
            }
        }
    }

    pub(super) fn is_oauth(&self) -> bool {
        matches!(self, AuthState::Oauth(_))
    }
}

impl Auth for AuthState {
    type Error = OktaError;

    async fn sign(
        &self,
        method: &Method,
        url: &Url,
        request: RequestBuilder,
    ) -> Result<Signed, OktaError> {
        let oauth = match self {
            AuthState::Ssws(ssws) => return ssws.sign(method, url, request).await,
            AuthState::Oauth(oauth) => oauth,
        };
        let (token, dpop) = oauth.access_token().await?;
        let request = if dpop {
            let proof = DpopKey::process()?.proof(
                method.as_str(),
                url,
                oauth.now(),
                Some(token.expose_secret()),
            )?;
            request
                .header(
                    reqwest::header::AUTHORIZATION,
                    sensitive(&format!("DPoP {}", token.expose_secret())),
                )
                .header("DPoP", proof)
        } else {
            request.bearer_auth(token.expose_secret())
        };
        Ok(Signed {
            request,
            renewable: Some(token),
        })
    }

    /// Drops the cached token if it is the one that was rejected (another task may
    /// already have replaced it); the next attempt fetches a new one. A resource server
    /// that asks for a DPoP nonce (RFC 9449 §9) gets it in the next proof.
    async fn rejected(&self, credential: &SecretString, headers: &HeaderMap) -> bool {
        let AuthState::Oauth(oauth) = self else {
            return false;
        };
        if let Some(nonce) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            dpop::remember_nonce(&oauth.token_url, nonce);
        }
        let mut cached = oauth.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.access_token.expose_secret() == credential.expose_secret())
        {
            *cached = None;
        }
        true
    }
}

impl OauthState {
    /// The cached access token (and whether it is DPoP-bound), or a new one when it is
    /// due for refresh.
    async fn access_token(&self) -> Result<(SecretString, bool), OktaError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok((t.access_token.clone(), t.dpop));
        }
        let fresh = self.fetch_token().await?;
        let token = (fresh.access_token.clone(), fresh.dpop);
        *cached = Some(fresh);
        Ok(token)
    }

    /// Now, by Okta's clock once a response has told it (its `Date`, this client's, or an
    /// earlier client's of this process): a host whose clock is off still sends
    /// assertions and proofs Okta accepts.
    fn now(&self) -> SystemTime {
        self.okta_now().unwrap_or_else(SystemTime::now)
    }

    /// Okta's clock, when a response of this process has told it.
    fn okta_now(&self) -> Option<SystemTime> {
        self.transport
            .server_time()
            .or_else(|| clock::okta_now(&self.token_url))
    }

    /// Client credentials grant with a `private_key_jwt` assertion and a DPoP proof.
    /// Repeating it changes nothing on Okta's side, so it is retried like a read. Okta
    /// answers a proof without its current nonce with `400 use_dpop_nonce` and the nonce
    /// (`DPoP-Nonce`): the request goes once more, with the nonce in a new proof and a
    /// new assertion (Okta spends each assertion's `jti`, even on that 400). The first
    /// request of a process is dated by the local clock; when Okta refuses it and its
    /// `Date` says the clocks differ, it goes once more, dated by Okta's.
    async fn fetch_token(&self) -> Result<CachedToken, OktaError> {
        let mut nonce_retried = false;
        let mut clock_retried = false;
        loop {
            let dated_by_okta = self.okta_now().is_some();
            let started = Instant::now();
            let reply = self
                .transport
                .execute(
                    &ClientAssertion(self),
                    Request::new(&Method::POST, &self.token_url).repeatable(),
                )
                .await?;
            if let Some(okta) = self.transport.server_time() {
                clock::remember(&self.token_url, okta);
            }
            if let Some(nonce) = reply
                .headers
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
            {
                dpop::remember_nonce(&self.token_url, nonce);
            }
            let status = reply.status;
            if status.is_success() {
                return self.grant(&reply, started);
            }
            let (error, description) = decode_token_error(&reply.body);
            if error == "use_dpop_nonce" && !nonce_retried {
                nonce_retried = true;
                continue;
            }
            if !dated_by_okta && !clock_retried && self.clocks_differ() {
                clock_retried = true;
                tracing::info!(
                    "this host's clock differs from Okta's; dating the client assertion by Okta's"
                );
                continue;
            }
            return Err(reply.failed(OktaError::Token {
                status: status.as_u16(),
                error,
                description,
                request_id: reply.request_id.clone(),
            }));
        }
    }

    /// Okta's clock (its last `Date`) is more than a minute from this host's.
    fn clocks_differ(&self) -> bool {
        let (Some(okta), local) = (self.okta_now(), SystemTime::now()) else {
            return false;
        };
        let apart = okta
            .duration_since(local)
            .or_else(|_| local.duration_since(okta))
            .unwrap_or_default();
        apart > Duration::from_secs(60)
    }

    /// The token of a successful answer.
    fn grant(
        &self,
        reply: &crate::http::Reply,
        started: Instant,
    ) -> Result<CachedToken, OktaError> {
        let status = reply.status;
        let grant =
            decode_token_response(&reply.body, started).map_err(|reason| OktaError::Malformed {
                path: reply.path().to_string(),
                status: status.as_u16(),
                request_id: reply.request_id.clone(),
                reason,
            })?;
        tracing::debug!(
            lifetime_s = grant.lifetime.as_secs(),
            dpop = grant.dpop,
            "obtained an Okta OAuth access token"
        );
        Ok(CachedToken {
            access_token: grant.access_token,
            refresh_at: grant.refresh_at,
            dpop: grant.dpop,
        })
    }
}

/// Okta's clock as this process last saw it, per org: clients are built anew every
/// cycle, and each one's first token request is dated by it.
mod clock {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    use url::Url;

    /// Okta's clock minus this host's, in milliseconds, per origin.
    static OFFSETS: Mutex<Option<HashMap<String, i64>>> = Mutex::new(None);

    pub(super) fn remember(url: &Url, okta: SystemTime) {
        let local = SystemTime::now();
        let ms = match okta.duration_since(local) {
            Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
            Err(behind) => -i64::try_from(behind.duration().as_millis()).unwrap_or(i64::MAX),
        };
        OFFSETS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(HashMap::new)
            .insert(url.origin().ascii_serialization(), ms);
    }

    pub(super) fn okta_now(url: &Url) -> Option<SystemTime> {
        let offsets = OFFSETS.lock().unwrap_or_else(|p| p.into_inner());
        let ms = *offsets.as_ref()?.get(&url.origin().ascii_serialization())?;
        let now = SystemTime::now();
        let by = Duration::from_millis(ms.unsigned_abs());
        if ms >= 0 {
            now.checked_add(by)
        } else {
            now.checked_sub(by)
        }
    }
}

/// An `Authorization` value kept out of `Debug` output of the request.
fn sensitive(value: &str) -> reqwest::header::HeaderValue {
    match reqwest::header::HeaderValue::from_str(value) {
        Ok(mut v) => {
            v.set_sensitive(true);
            v
        }
        // A token that is no header value: the request fails as sent, without the value.
        Err(_) => reqwest::header::HeaderValue::from_static(""),
    }
}

/// The longest a token is used: Okta's access tokens live an hour (at most a day on a
/// custom authorization server); a longer `expires_in`, up to u64::MAX, is read as a day.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What a token response grants.
pub struct TokenGrant {
    pub access_token: SecretString,
    /// `expires_in` (an hour when absent, a day at most).
    pub lifetime: Duration,
    /// When to fetch a new token: a few minutes before it expires.
    pub refresh_at: Instant,
    /// `token_type: DPoP` (case-insensitive): the token is bound to the proof key.
    pub dpop: bool,
}

/// A successful token response, for a request sent at `sent`.
pub fn decode_token_response(body: &[u8], sent: Instant) -> Result<TokenGrant, String> {
    let parsed: TokenResponse = serde_json::from_slice(body)
        .map_err(|e| format!("token response is not the expected JSON: {e}"))?;
    let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600)).min(MAX_TOKEN_LIFETIME);
    // Refresh a few minutes early so a token never expires mid-listing.
    let margin = (lifetime / 4).min(Duration::from_secs(300));
    Ok(TokenGrant {
        access_token: SecretString::from(parsed.access_token),
        lifetime,
        refresh_at: sent + lifetime - margin,
        dpop: parsed
            .token_type
            .is_some_and(|t| t.eq_ignore_ascii_case("dpop")),
    })
}

/// A refused token request's `error` ("no error code" when there is none) and
/// `error_description`.
pub fn decode_token_error(body: &[u8]) -> (String, Option<String>) {
    let body: Option<TokenErrorBody> = serde_json::from_slice(body).ok();
    (
        body.as_ref()
            .and_then(|b| b.error.clone())
            .unwrap_or_else(|| "no error code".to_string()),
        body.and_then(|b| b.error_description),
    )
}

/// Signs a token request: a fresh assertion and DPoP proof per attempt, since Okta
/// accepts each `jti` once.
struct ClientAssertion<'a>(&'a OauthState);

impl Auth for ClientAssertion<'_> {
    type Error = OktaError;

    async fn sign(
        &self,
        method: &Method,
        url: &Url,
        request: RequestBuilder,
    ) -> Result<Signed, OktaError> {
        let o = self.0;
        let at = o.now();
        let now = at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = AssertionClaims {
            aud: o.token_url.as_str(),
            iss: &o.client_id,
            sub: &o.client_id,
            iat: now,
            exp: now + 300,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = o.key_id.clone();
        let assertion = jsonwebtoken::encode(&header, &claims, &o.key).map_err(|e| {
            OktaError::Config(format!("cannot sign the OAuth client assertion: {e}"))
        })?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", &o.scopes.join(" ")),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ];
        let proof = DpopKey::process()?.proof(method.as_str(), url, at, None)?;
        Ok(Signed {
            request: request.form(&form).header("DPoP", proof),
            renewable: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by tests/parsers_prop.rs: an `expires_in` near u64::MAX overflowed the
    /// refresh `Instant`.
    #[test]
    fn a_token_said_to_live_for_ever_is_renewed_within_a_day() {
        let sent = Instant::now();
        let body = format!(r#"{{"access_token":"t","expires_in":{}}}"#, u64::MAX);
        let grant = decode_token_response(body.as_bytes(), sent).unwrap();
        assert_eq!(grant.lifetime, MAX_TOKEN_LIFETIME);
        assert!(grant.refresh_at > sent && grant.refresh_at <= sent + MAX_TOKEN_LIFETIME);
        let grant = decode_token_response(br#"{"access_token":"t"}"#, sent).unwrap();
        assert_eq!(grant.refresh_at, sent + Duration::from_secs(3600 - 300));
    }
}
