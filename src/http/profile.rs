//! What one API tells the transport about itself: a [`Profile`] (names, rate limits,
//! retry limits) and an [`Auth`] (how each attempt is authenticated).

use std::future::Future;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::HttpError;
use super::rate_limit::RateLimitScheme;

/// Reads a request id from an error body.
pub type BodyRequestId = fn(&[u8]) -> Option<String>;

/// One API as the transport sees it.
#[derive(Debug, Clone)]
pub struct Profile {
    /// "okta" or "kafkaman": the metrics label and the name in log lines.
    pub api: &'static str,
    /// The response header with the server's request id.
    pub request_id_header: &'static str,
    /// Where an error body holds the request id when the header is missing.
    pub request_id_in_body: Option<BodyRequestId>,
    /// `Accept`, and `Content-Type` of JSON bodies.
    pub media_type: &'static str,
    pub rate_limit: RateLimitScheme,
    /// The rate-limit window a request counts against (Okta: a bucket per path).
    pub window_of: fn(&Method, &str) -> &'static str,
    /// Share of each window this client may use (0 < share ≤ 1).
    pub share: f64,
    /// Retries of one request after failures (transport errors, 5xx); 429s don't count.
    pub max_retries: u32,
    /// The longest 429s may make one request wait, in total over its retries (429s
    /// don't count against `max_retries`); a longer wait is an error.
    pub max_rate_limit_wait: Duration,
    /// Headers that tie a retry after a 429 to it: the 429's request id and the retry
    /// count (Okta's `X-Okta-Retry-For` / `X-Okta-Retry-Count`).
    pub retry_for_headers: Option<(&'static str, &'static str)>,
}

/// A request with one attempt's credentials.
pub struct Signed {
    pub request: RequestBuilder,
    /// A credential that may be replaced when the server rejects it (401).
    pub renewable: Option<SecretString>,
}

/// How an API authenticates each attempt of a request.
pub trait Auth: Sync {
    /// The client's error type: what a failed request becomes.
    type Error: From<HttpError> + std::fmt::Display + Send;

    /// Adds this attempt's credentials to the request for `method` `url` (a proof of
    /// possession signs both).
    fn sign(
        &self,
        method: &Method,
        url: &Url,
        request: RequestBuilder,
    ) -> impl Future<Output = Result<Signed, Self::Error>> + Send;

    /// The server rejected `credential` with 401 (its answer's `headers`): true when a
    /// new one is worth one more attempt.
    fn rejected(
        &self,
        credential: &SecretString,
        headers: &HeaderMap,
    ) -> impl Future<Output = bool> + Send {
        let _ = (credential, headers);
        async { false }
    }
}

/// A fixed `Authorization: <scheme> <secret>` (Okta's SSWS token, kafkaman's Bearer key).
pub struct StaticAuth<E> {
    scheme: &'static str,
    secret: SecretString,
    error: std::marker::PhantomData<fn() -> E>,
}

impl<E> StaticAuth<E> {
    pub fn new(scheme: &'static str, secret: SecretString) -> Self {
        StaticAuth {
            scheme,
            secret,
            error: std::marker::PhantomData,
        }
    }
}

impl<E> Auth for StaticAuth<E>
where
    E: From<HttpError> + std::fmt::Display + Send,
{
    type Error = E;

    async fn sign(&self, _: &Method, _: &Url, request: RequestBuilder) -> Result<Signed, E> {
        let value = format!("{} {}", self.scheme, self.secret.expose_secret());
        let request = match HeaderValue::from_str(&value) {
            Ok(mut v) => {
                // Kept out of `Debug` output of the request.
                v.set_sensitive(true);
                request.header(AUTHORIZATION, v)
            }
            // Not a valid header value: reqwest reports that when the request is sent,
            // without the value.
            Err(_) => request.header(AUTHORIZATION, value),
        };
        Ok(Signed {
            request,
            renewable: None,
        })
    }
}
