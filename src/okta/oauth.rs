//! How scim-sync authenticates to Okta: an SSWS API token, or an OAuth 2.0 service app
//! (client credentials with a `private_key_jwt` assertion, the access token cached and
//! renewed once when Okta rejects it).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::OktaError;
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
                        "okta private key is not a usable RSA PEM key ({e}): check okta.private_key"
                    ))
                })?;
                if scopes.is_empty() {
                    return Err(OktaError::Config(
                        "okta.scopes is empty: the service app needs e.g. okta.apps.read okta.users.read okta.groups.read".to_string(),
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

    async fn sign(&self, request: RequestBuilder) -> Result<Signed, OktaError> {
        let oauth = match self {
            AuthState::Ssws(ssws) => return ssws.sign(request).await,
            AuthState::Oauth(oauth) => oauth,
        };
        let bearer = oauth.access_token().await?;
        Ok(Signed {
            request: request.bearer_auth(bearer.expose_secret()),
            renewable: Some(bearer),
        })
    }

    /// Drops the cached token if it is the one that was rejected (another task may
    /// already have replaced it); the next attempt fetches a new one.
    async fn rejected(&self, credential: &SecretString) -> bool {
        let AuthState::Oauth(oauth) = self else {
            return false;
        };
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
    /// The cached access token, or a new one when it is due for refresh.
    async fn access_token(&self) -> Result<SecretString, OktaError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.access_token.clone());
        }
        let fresh = self.fetch_token().await?;
        let bearer = fresh.access_token.clone();
        *cached = Some(fresh);
        Ok(bearer)
    }

    /// Client credentials grant with a `private_key_jwt` assertion. Repeating it changes
    /// nothing on Okta's side, so it is retried like a read.
    async fn fetch_token(&self) -> Result<CachedToken, OktaError> {
        let started = Instant::now();
        let reply = self
            .transport
            .execute(
                &ClientAssertion(self),
                Request::new(&Method::POST, &self.token_url).repeatable(),
            )
            .await?;
        let status = reply.status;
        if !status.is_success() {
            let (error, description) = decode_token_error(&reply.body);
            return Err(reply.failed(OktaError::Token {
                status: status.as_u16(),
                error,
                description,
                request_id: reply.request_id.clone(),
            }));
        }
        let grant =
            decode_token_response(&reply.body, started).map_err(|reason| OktaError::Malformed {
                path: reply.path().to_string(),
                status: status.as_u16(),
                request_id: reply.request_id.clone(),
                reason,
            })?;
        tracing::debug!(
            lifetime_s = grant.lifetime.as_secs(),
            "obtained an Okta OAuth access token"
        );
        Ok(CachedToken {
            access_token: grant.access_token,
            refresh_at: grant.refresh_at,
        })
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

/// Signs a token request: a fresh assertion per attempt, since Okta accepts each `jti`
/// once.
struct ClientAssertion<'a>(&'a OauthState);

impl Auth for ClientAssertion<'_> {
    type Error = OktaError;

    async fn sign(&self, request: RequestBuilder) -> Result<Signed, OktaError> {
        let o = self.0;
        let now = SystemTime::now()
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
        Ok(Signed {
            request: request.form(&form),
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
