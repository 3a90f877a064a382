//! DPoP (RFC 9449) for Okta service apps: the proof of possession Okta asks of every
//! token request and API call of an app that requires it (the default for API Services
//! apps made in the Admin Console since February 2024).
//!
//! One P-256 key per process, made at first use and never written anywhere; its public
//! half travels in each proof's header. Okta's nonce (`DPoP-Nonce`, renewed daily) is
//! kept for the process too (per org), so later token requests need no second round
//! trip.
//! Sending a proof to an app that doesn't require DPoP is harmless: Okta ignores it and
//! answers with a Bearer token.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde::Serialize;
use url::Url;

use super::OktaError;

/// The proof key of this process.
pub(super) struct DpopKey {
    signing: EncodingKey,
    /// The public key, as each proof's header carries it.
    jwk: Jwk,
}

// The key never appears in a log or an error.
impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopKey([redacted])")
    }
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: String,
    htm: &'a str,
    htu: String,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

static PROCESS_KEY: OnceLock<Result<DpopKey, String>> = OnceLock::new();
/// The last `DPoP-Nonce` of each org (by origin).
static NONCES: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

impl DpopKey {
    /// This process's key (made now if it isn't yet).
    pub(super) fn process() -> Result<&'static DpopKey, OktaError> {
        PROCESS_KEY
            .get_or_init(DpopKey::generate)
            .as_ref()
            .map_err(|e| OktaError::Config(format!("cannot make a DPoP key: {e}")))
    }

    fn generate() -> Result<DpopKey, String> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| "the system's random source failed".to_string())?;
        let signing = EncodingKey::from_ec_der(pkcs8.as_ref());
        let jwk = Jwk::from_encoding_key(&signing, Algorithm::ES256).map_err(|e| e.to_string())?;
        Ok(DpopKey { signing, jwk })
    }

    /// A proof for one request: `htm` its method, `url` its target (query and fragment
    /// are left out, as RFC 9449 says), `now` the time by Okta's clock, the nonce Okta
    /// gave last (if any), and for an API call the access token it goes with (`ath`).
    pub(super) fn proof(
        &self,
        htm: &str,
        url: &Url,
        now: SystemTime,
        access_token: Option<&str>,
    ) -> Result<String, OktaError> {
        // The target without query or fragment (RFC 9449), its path percent-decoded:
        // Okta compares `htu` with the decoded path (okta/okta-sdk-python#541: `%40` in a
        // path fails with "'htu' claim … is invalid").
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let htu = match percent_encoding::percent_decode_str(url.path()).decode_utf8() {
            Ok(path) if path != url.path() => {
                format!("{}{}", url.origin().ascii_serialization(), path)
            }
            _ => htu.to_string(),
        };
        let nonce = current_nonce(url);
        let claims = ProofClaims {
            jti: uuid::Uuid::new_v4().to_string(),
            htm,
            htu,
            iat: epoch_secs(now),
            nonce: nonce.as_deref(),
            ath: access_token.map(token_hash),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_string());
        header.jwk = Some(self.jwk.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|e| OktaError::Config(format!("cannot sign a DPoP proof: {e}")))
    }
}

/// `ath`: base64url(SHA-256(access token)).
fn token_hash(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The nonce the org of `url` gave last.
fn current_nonce(url: &Url) -> Option<String> {
    let nonces = NONCES.lock().unwrap_or_else(|p| p.into_inner());
    nonces
        .as_ref()?
        .get(&url.origin().ascii_serialization())
        .cloned()
}

/// Keeps a `DPoP-Nonce` the org of `url` sent (a nonce is an opaque, bounded server
/// value: one that is not a plain token is not kept).
pub(super) fn remember_nonce(url: &Url, nonce: &str) {
    let plain = !nonce.is_empty()
        && nonce.len() <= 512
        && nonce.bytes().all(|b| b.is_ascii_graphic() && b != b'"');
    if plain {
        NONCES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(HashMap::new)
            .insert(url.origin().ascii_serialization(), nonce.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_carries_the_public_key_and_the_claims_rfc_9449_asks_for() {
        let key = DpopKey::process().unwrap();
        let url = Url::parse("https://acme.okta.com/api/v1/apps/0oa1/users?limit=2#x").unwrap();
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let proof = key.proof("GET", &url, now, Some("tok")).unwrap();
        let header = jsonwebtoken::decode_header(&proof).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        let jwk = header.jwk.expect("the public key");
        let public = serde_json::to_value(&jwk).unwrap();
        assert!(public.get("d").is_none(), "no private part: {public}");
        let claims: serde_json::Value =
            jsonwebtoken::dangerous::insecure_decode_claims(&proof).unwrap();
        assert_eq!(claims["htm"], "GET");
        assert_eq!(
            claims["htu"],
            "https://acme.okta.com/api/v1/apps/0oa1/users"
        );
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["ath"], token_hash("tok"));
        // The signature holds with the key the header names.
        let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(
            &proof,
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            &v,
        )
        .unwrap();
        let again = key.proof("GET", &url, now, None).unwrap();
        let again: serde_json::Value =
            jsonwebtoken::dangerous::insecure_decode_claims(&again).unwrap();
        assert_ne!(again["jti"], claims["jti"], "a unique jti per proof");
        assert!(again.get("ath").is_none());
    }
}
