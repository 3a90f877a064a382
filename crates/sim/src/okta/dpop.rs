//! DPoP (RFC 9449) as Okta checks it: the proof on a token request of a service app that
//! requires DPoP, and the proof on every API call made with a DPoP-bound token. Sources
//! are in `docs/sim-okta.md` ("DPoP").

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The algorithms Okta's resource server lists in `WWW-Authenticate: DPoP algs="…"`.
pub const ALGS: &str = "RS256 RS384 RS512 ES256 ES384 ES512";
/// How far a proof's `iat` may be from the server's clock.
const IAT_WINDOW_SECS: u64 = 60;

#[derive(Debug, Deserialize)]
struct ProofClaims {
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    htm: Option<String>,
    #[serde(default)]
    htu: Option<String>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    ath: Option<String>,
}

/// A proof that checked out.
#[derive(Debug)]
pub struct Proof {
    /// RFC 7638 thumbprint of its key: what a token it earns is bound to (`cnf.jkt`).
    pub jkt: String,
    pub nonce: Option<String>,
}

/// What the request the proof is attached to must match.
pub struct Expect<'a> {
    pub htm: &'a str,
    /// The target URI without query or fragment; the path percent-decoded, as Okta
    /// compares it.
    pub htu: &'a str,
    /// For an API call: the access token, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    pub now: u64,
}

/// Checks `proof` (the `DPoP` header). `used` holds the `jti`s seen (with when they may be
/// forgotten). The error is Okta's `error_description`.
pub fn verify(
    proof: &str,
    expect: &Expect<'_>,
    used: &mut HashMap<String, u64>,
) -> Result<Proof, &'static str> {
    const UNPARSEABLE: &str = "DPoP proof JWT cannot be parsed.";
    let header = jsonwebtoken::decode_header(proof).map_err(|_| UNPARSEABLE)?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err("The DPoP proof JWT 'typ' header is invalid.");
    }
    let asymmetric = matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
    );
    if !asymmetric {
        return Err("The DPoP proof JWT 'alg' header is invalid.");
    }
    let jwk: Jwk = header
        .jwk
        .ok_or("The DPoP proof JWT 'jwk' header is missing.")?;
    // A public key only: a private member in the header is refused (RFC 9449 §4.2).
    let raw = serde_json::to_value(&jwk).map_err(|_| UNPARSEABLE)?;
    if ["d", "p", "q", "dp", "dq", "qi"]
        .iter()
        .any(|k| raw.get(k).is_some())
    {
        return Err("The DPoP proof JWT 'jwk' header is invalid.");
    }
    let key =
        DecodingKey::from_jwk(&jwk).map_err(|_| "The DPoP proof JWT 'jwk' header is invalid.")?;
    let mut v = Validation::new(header.alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &v)
        .map_err(|_| "The DPoP proof JWT signature is invalid.")?
        .claims;
    if claims.htm.as_deref() != Some(expect.htm) {
        return Err("'htm' claim in the DPoP proof JWT is invalid.");
    }
    if claims.htu.as_deref() != Some(expect.htu) {
        return Err("'htu' claim in the DPoP proof JWT is invalid.");
    }
    let fresh = claims.iat.is_some_and(|iat| {
        iat + IAT_WINDOW_SECS >= expect.now && iat <= expect.now + IAT_WINDOW_SECS
    });
    if !fresh {
        return Err("'iat' claim in the DPoP proof JWT is invalid.");
    }
    let Some(jti) = claims.jti.filter(|j| !j.is_empty()) else {
        return Err("'jti' claim in the DPoP proof JWT is missing.");
    };
    if let Some(token) = expect.access_token {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        if claims.ath.as_deref() != Some(URL_SAFE_NO_PAD.encode(digest.as_ref()).as_str()) {
            return Err("'ath' claim in the DPoP proof JWT is invalid.");
        }
    }
    used.retain(|_, until| *until >= expect.now);
    if used.contains_key(&jti) {
        return Err("'jti' claim in the DPoP proof JWT has already been used.");
    }
    used.insert(jti, expect.now + 2 * IAT_WINDOW_SECS);
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| "The DPoP proof JWT 'jwk' header is invalid.")?;
    Ok(Proof {
        jkt,
        nonce: claims.nonce,
    })
}
