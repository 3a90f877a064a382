//! `POST /oauth2/v1/token` of the org authorization server: client credentials for
//! service apps authenticated with a `private_key_jwt` client assertion, and DPoP
//! (required by default, as for API Services apps made in Okta's Admin Console).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::dpop;
use super::error::oauth_error;
use super::org::random_base62;
use super::{BearerGrant, Shared};
use crate::common::lock;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Okta's access tokens for service apps live one hour, fixed.
const TOKEN_LIFETIME_SECS: u64 = 3600;
/// The furthest ahead an assertion's `exp` may be.
const MAX_ASSERTION_LIFETIME_SECS: u64 = 3600;

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    exp: u64,
    #[serde(default)]
    jti: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UnverifiedClaims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
}

fn bad_client(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_client", description)
}

/// Parameters come from the form body or, as Okta also accepts (and Okta's Python SDK
/// sends them), from the query string; the body wins.
pub async fn token(
    State(s): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    if let Some(q) = query {
        form.extend(url::form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    match get("grant_type") {
        "client_credentials" => {}
        "" => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The token request must specify a 'grant_type'. Valid values: [client_credentials]",
            );
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].",
            );
        }
    }
    let assertion = get("client_assertion");
    if get("client_assertion_type") != JWT_BEARER || assertion.is_empty() {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed. Either the client or the client credentials are invalid.",
        );
    }
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return bad_client("The client_assertion token is malformed.");
    };
    let Ok(unverified) =
        jsonwebtoken::dangerous::insecure_decode_claims::<UnverifiedClaims>(assertion)
    else {
        return bad_client("The client_assertion token is malformed.");
    };
    let client_id = match get("client_id") {
        "" => unverified.iss.or(unverified.sub).unwrap_or_default(),
        id => id.to_string(),
    };
    let Some(app) = s.service_apps.iter().find(|a| a.client_id == client_id) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid value for 'client_id' parameter.",
        );
    };
    if let (Some(want), Some(got)) = (&app.kid, &header.kid)
        && want != got
    {
        return bad_client("The client_assertion signature is invalid.");
    }
    let key = match DecodingKey::from_rsa_pem(app.public_key_pem.as_bytes()) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(client_id = %app.client_id, error = %e, "okta sim: service app public key is not a usable RSA PEM");
            return bad_client("The client_assertion signature is invalid.");
        }
    };
    let aud = format!("{}/oauth2/v1/token", s.base());
    let mut v = Validation::new(Algorithm::RS256);
    v.algorithms = vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];
    v.leeway = 0;
    // `exp` against this org's clock (below), not the host's.
    v.validate_exp = false;
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.set_audience(&[aud.as_str()]);
    v.set_issuer(&[client_id.as_str()]);
    v.sub = Some(client_id.clone());
    let claims = match jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v) {
        Ok(d) => d.claims,
        Err(e) => {
            let why = match e.kind() {
                ErrorKind::ExpiredSignature => "The client_assertion token is expired.".to_string(),
                ErrorKind::InvalidAudience => {
                    "The audience claim for client_assertion must be the endpoint invoked for the request.".to_string()
                }
                ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => {
                    "The issuer and subject claims for client_assertion must be the client_id.".to_string()
                }
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    "The client_assertion signature is invalid.".to_string()
                }
                ErrorKind::MissingRequiredClaim(c) => {
                    format!("The client_assertion token is missing the '{c}' claim.")
                }
                _ => "The client_assertion token is invalid.".to_string(),
            };
            return bad_client(&why);
        }
    };
    let now = s.now_secs();
    if claims.exp <= now {
        return bad_client("The client_assertion token is expired.");
    }
    if claims.exp > now + MAX_ASSERTION_LIFETIME_SECS {
        return bad_client("The client_assertion token has an expiration too far into the future.");
    }
    if let Some(jti) = &claims.jti {
        let mut used = lock(&s.used_jtis);
        used.retain(|_, exp| *exp >= now);
        let key = format!("{client_id}\u{0}{jti}");
        if used.contains_key(&key) {
            return bad_client("The client_assertion token has already been used.");
        }
        used.insert(key, claims.exp);
    }
    // DPoP, after the assertion: Okta spends its `jti` even when it asks for a nonce.
    let proof = headers.get("dpop").and_then(|v| v.to_str().ok());
    if proof.is_none() {
        s.proofless_token_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let dpop = match proof {
        Some(proof) => {
            let htu = format!("{}/oauth2/v1/token", s.base());
            let expect = dpop::Expect {
                htm: "POST",
                htu: &htu,
                access_token: None,
                now,
            };
            match dpop::verify(proof, &expect, &mut lock(&s.used_proof_jtis)) {
                Ok(proof) if !app.require_dpop => {
                    // Okta ignores a proof the app doesn't ask for: a Bearer token.
                    let _ = proof;
                    None
                }
                Ok(proof) if proof.nonce.as_deref() != Some(s.dpop_nonce.as_str()) => {
                    let mut resp = oauth_error(
                        StatusCode::BAD_REQUEST,
                        "use_dpop_nonce",
                        "Authorization server requires nonce in DPoP proof.",
                    );
                    if let Ok(v) = HeaderValue::from_str(&s.dpop_nonce) {
                        resp.headers_mut().insert("dpop-nonce", v);
                    }
                    return resp;
                }
                Ok(proof) => Some(proof.jkt),
                Err(why) => {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", why);
                }
            }
        }
        None if app.require_dpop => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                "The DPoP proof JWT header is missing.",
            );
        }
        None => None,
    };
    let requested: Vec<String> = get("scope")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if requested.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        );
    }
    // Okta grants what the app was granted of what it asked for (a token without the
    // rest, okta/okta-sdk-golang#145); none of it is `consent_required`
    // (okta/okta-sdk-java#822).
    let requested: Vec<String> = requested
        .into_iter()
        .filter(|r| app.scopes.contains(r))
        .collect();
    if requested.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "consent_required",
            "You are not allowed any of the requested scopes.",
        );
    }
    let access_token = random_base62(64);
    lock(&s.bearer).insert(
        access_token.clone(),
        BearerGrant {
            scopes: requested.clone(),
            expires_at: now + TOKEN_LIFETIME_SECS,
            jkt: dpop.clone(),
        },
    );
    tracing::debug!(client_id = %client_id, scopes = %requested.join(" "), dpop = dpop.is_some(), "okta sim: issued access token");
    let mut resp = axum::Json(json!({
        "token_type": if dpop.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": TOKEN_LIFETIME_SECS,
        "access_token": access_token,
        "scope": requested.join(" "),
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}
