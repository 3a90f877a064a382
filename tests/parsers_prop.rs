//! Property tests for every parser of outside input: Okta pages, users, error and token
//! bodies; SCIM list pages, users and error bodies; invite pages; `Link`, rate-limit and
//! `Retry-After` headers; the config file; the schedule; secret files.
//!
//! Each property feeds the function the client itself calls on a response (or the CLI
//! on a file) with (a) arbitrary input and (b) mutations of a valid sample in the
//! simulators' shapes: bytes flipped, truncated, values replaced by huge numbers, very
//! long strings, deep nesting or the wrong type. Every case must return (Ok or a typed
//! Err, never a panic), within [`CASE_TIME_LIMIT`], allocating at most a bounded
//! multiple of its input (a counting allocator measures each case).
//!
//! `PROPTEST_CASES` sets the cases per property (default: a few hundred, so that the
//! file runs in seconds in CI). A long run, as recorded in README.md:
//!
//! ```sh
//! PROPTEST_CASES=1000000 cargo test --release --test parsers_prop -- --nocapture --test-threads 1
//! ```
//!
//! Each property prints its cases, wall time, slowest case and largest allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::time::{Duration, Instant, UNIX_EPOCH};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use scim_sync::config::{self, SecretError, SecretRef, SecretSource};
use scim_sync::daemon::schedule::{Schedule, Zone};
use scim_sync::http::{self, RateLimitScheme, RateWindow};
use scim_sync::kafkaman::parse as km;
use scim_sync::okta::parse as okta;

// ----- measuring each case --------------------------------------------------------------

/// Counts the bytes each thread has allocated, and the peak, so that a case can be held
/// to an allocation budget. (Frees on another thread than the allocating one only make
/// the count lower, never higher.)
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the thread-locals
// are const-initialised `Cell`s without destructors, so touching them never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The longest one case may take: far above any honest parse of these inputs (the
/// slowest case of a million in release is under a second: a schedule that never fires,
/// searched to croner's last year), with room for a debug build on a busy 2-core CI
/// machine, and far below a hang.
const CASE_TIME_LIMIT: Duration = Duration::from_secs(30);

/// What the slowest and hungriest case of a property took.
#[derive(Default)]
struct Worst {
    time: Cell<Duration>,
    bytes: Cell<usize>,
}

/// Runs `f` as one case: it must finish within [`CASE_TIME_LIMIT`] and allocate at most
/// `budget` bytes at its peak.
fn bounded<R>(worst: &Worst, budget: usize, f: impl FnOnce() -> R) -> Result<R, TestCaseError> {
    let start_live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start_live));
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    let peak = (PEAK.with(Cell::get) - start_live).max(0) as usize;
    worst.time.set(worst.time.get().max(took));
    worst.bytes.set(worst.bytes.get().max(peak));
    prop_assert!(
        took <= CASE_TIME_LIMIT,
        "one case took {took:?} (limit {CASE_TIME_LIMIT:?})"
    );
    prop_assert!(
        peak <= budget,
        "one case allocated {peak} bytes at its peak (budget {budget})"
    );
    Ok(out)
}

/// The allocation budget of parsing `len` bytes of JSON or TOML: a fixed allowance plus
/// a multiple of the input (a parsed value takes more room than its text).
fn budget(len: usize) -> usize {
    1024 * 1024 + 64 * len
}

/// Cases per property: `PROPTEST_CASES`, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Runs a property over `strategy` and prints what it took.
fn check<S: Strategy>(
    name: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value, &Worst) -> Result<(), TestCaseError>,
) where
    S::Value: Debug,
{
    let cases = cases(default_cases);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let worst = Worst::default();
    let started = Instant::now();
    let result = runner.run(&strategy, |value| test(value, &worst));
    eprintln!(
        "property {name}: {cases} cases in {:.1?}; slowest case {:.1?}, largest peak allocation {} bytes",
        started.elapsed(),
        worst.time.get(),
        worst.bytes.get()
    );
    if let Err(e) = result {
        panic!("property {name} failed: {e}");
    }
}

// ----- inputs ----------------------------------------------------------------------------

/// Arbitrary bytes, mostly short.
fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..256),
        1 => prop::collection::vec(any::<u8>(), 0..8192),
    ]
}

/// Arbitrary JSON-ish text: JSON tokens in any order, which reaches deeper into a JSON
/// parser than random bytes.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just(","),
        Just(":"),
        Just("null"),
        Just("true"),
        Just("0"),
        Just("-1"),
        Just("1e400"),
        Just("18446744073709551616"),
        Just("\"id\""),
        Just("\"userName\""),
        Just("\"active\""),
        Just("\"Resources\""),
        Just("\"totalResults\""),
        Just("\"_embedded\""),
        Just("\"user\""),
        Just("\"profile\""),
        Just("\"data\""),
        Just("\"meta\""),
        Just("\"nextCursor\""),
        Just("\"error\""),
        Just("\"errorId\""),
        Just("\"detail\""),
        Just("\"access_token\""),
        Just("\"expires_in\""),
        Just("\"x\""),
        Just("\"\\ud800\""),
        Just(" "),
    ];
    prop::collection::vec(token, 0..64).prop_map(|t| t.concat().into_bytes())
}

/// A raw JSON fragment to put where a value was: huge or odd numbers, the wrong type,
/// very long strings, deep nesting, many elements, odd escapes.
fn json_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop_oneof![
            Just("null"),
            Just("true"),
            Just("0"),
            Just("-1"),
            Just("1.5"),
            Just("-0"),
            Just("18446744073709551615"),
            Just("18446744073709551616"),
            Just("9223372036854775807"),
            Just("9223372036854775808"),
            Just("-9223372036854775809"),
            Just("1e400"),
            Just("-1e400"),
            Just("1e-400"),
            Just("[]"),
            Just("{}"),
            Just("\"\""),
            Just("\"\\ud800\""),
            Just("\"\\u0000\\u001b[2J\""),
            Just("{\"id\":\"a\",\"id\":\"b\"}"),
        ]
        .prop_map(str::to_string),
        2 => any::<String>().prop_map(|s| serde_json::Value::String(s).to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (0usize..400).prop_map(|n| "9".repeat(n)),
        1 => (0usize..2000).prop_map(|n| format!("\"{}\"", "a".repeat(n))),
        1 => (0usize..300_000).prop_map(|n| format!("\"{}\"", "é".repeat(n / 2))),
        1 => (0usize..5000).prop_map(|n| "[".repeat(n) + &"]".repeat(n)),
        1 => (0usize..5000).prop_map(|n| "{\"a\":".repeat(n) + "1" + &"}".repeat(n)),
        1 => (0usize..5000).prop_map(|n| format!("[{}]", vec!["{}"; n].join(","))),
    ]
}

/// One change to a sample.
#[derive(Debug, Clone)]
enum Edit {
    /// Put a fragment where the `node`-th value (pre-order, modulo the count) was.
    Replace {
        node: usize,
        with: String,
    },
    Flip {
        at: usize,
        xor: u8,
    },
    Truncate {
        at: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), json_fragment()).prop_map(|(node, with)| Edit::Replace { node, with }),
        2 => (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Edit::Flip { at, xor }),
        1 => any::<usize>().prop_map(|at| Edit::Truncate { at }),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
    ]
}

/// Pointers (RFC 6901) to every value of `v`, pre-order.
fn pointers(v: &serde_json::Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match v {
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{here}/{i}"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{here}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// `sample` with `edits` applied: value replacements first (each fragment goes in as
/// raw text, so it may be JSON no `Value` can hold), then the byte edits.
fn mutate_json(sample: &str, edits: &[Edit]) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_str(sample).expect("samples are JSON");
    let mut fragments = Vec::new();
    for e in edits {
        if let Edit::Replace { node, with } = e {
            let mut all = Vec::new();
            pointers(&value, String::new(), &mut all);
            let target = &all[node % all.len()];
            let marker = format!("\u{1}fragment{}\u{1}", fragments.len());
            if target.is_empty() {
                value = serde_json::Value::String(marker.clone());
            } else if let Some(slot) = value.pointer_mut(target) {
                *slot = serde_json::Value::String(marker.clone());
            }
            fragments.push((serde_json::Value::String(marker).to_string(), with));
        }
    }
    let mut text = value.to_string();
    for (marker, with) in &fragments {
        text = text.replacen(marker.as_str(), with, 1);
    }
    let mut bytes = text.into_bytes();
    for e in edits {
        apply_byte_edit(&mut bytes, e);
    }
    bytes
}

fn apply_byte_edit(bytes: &mut Vec<u8>, e: &Edit) {
    match e {
        Edit::Replace { .. } => {}
        Edit::Flip { at, xor } => {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] ^= xor;
            }
        }
        Edit::Truncate { at } => {
            let keep = at % (bytes.len() + 1);
            bytes.truncate(keep);
        }
        Edit::Insert { at, bytes: new } => {
            let i = at % (bytes.len() + 1);
            bytes.splice(i..i, new.iter().copied());
        }
    }
}

/// Arbitrary input, JSON-ish input, or a mutation of one of `samples`.
fn json_input(samples: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (0..samples.len(), prop::collection::vec(edit(), 1..4))
        .prop_map(move |(i, edits)| mutate_json(samples[i], &edits));
    prop_oneof![
        1 => any_bytes(),
        1 => jsonish(),
        1 => (0..samples.len()).prop_map(move |i| samples[i].as_bytes().to_vec()),
        6 => mutated,
    ]
}

// ----- samples, in the simulators' shapes ---------------------------------------------

const OKTA_APP_USERS_PAGE: &str = r#"[
 {"id":"00u1a2b3c4d5e6f7g8h9","externalId":"6f1c2d3e","created":"2024-01-02T03:04:05.000Z",
  "lastUpdated":"2024-01-02T03:04:05.000Z","scope":"USER","status":"PROVISIONED",
  "statusChanged":"2024-01-02T03:04:05.000Z","passwordChanged":null,"syncState":"DISABLED",
  "credentials":{"userName":"ada@example.com"},
  "profile":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace"},
  "_links":{"app":{"href":"https://acme.okta.com/api/v1/apps/0oa1"},
            "user":{"href":"https://acme.okta.com/api/v1/users/00u1a2b3c4d5e6f7g8h9"}},
  "_embedded":{"user":{"id":"00u1a2b3c4d5e6f7g8h9","status":"ACTIVE",
    "created":"2023-01-02T03:04:05.000Z","activated":"2023-01-02T03:04:05.000Z",
    "statusChanged":null,"lastLogin":null,"lastUpdated":"2024-01-02T03:04:05.000Z",
    "passwordChanged":null,"type":{"id":"otysimdefault00000001"},
    "profile":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com",
               "login":"ada@example.com","department":["R&D"],"costCenter":null},
    "credentials":{"provider":{"type":"OKTA","name":"OKTA"}},
    "_links":{"self":{"href":"https://acme.okta.com/api/v1/users/00u1a2b3c4d5e6f7g8h9"}}}}},
 {"id":"00u9z8y7x6w5v4u3t2s1","created":"2024-01-02T03:04:05.000Z",
  "lastUpdated":"2024-01-02T03:04:05.000Z","scope":"GROUP","status":"ACTIVE",
  "statusChanged":"2024-01-02T03:04:05.000Z","passwordChanged":null,"syncState":"DISABLED",
  "credentials":{"userName":"grace@example.com"},
  "profile":{"email":"grace@example.com","firstName":"Grace","lastName":"Hopper"},
  "_links":{"group":{"href":"https://acme.okta.com/api/v1/groups/00g1"}},
  "_embedded":{"user":{"id":"00u9z8y7x6w5v4u3t2s1","status":"SUSPENDED",
    "lastUpdated":"2024-01-02T03:04:05.000Z",
    "profile":{"firstName":"Grace","lastName":"Hopper","email":"grace@example.com",
               "login":"grace@example.com"}}}}
]"#;

const OKTA_USERS_PAGE: &str = r#"[
 {"id":"00u1a2b3c4d5e6f7g8h9","status":"DEPROVISIONED","created":"2023-01-02T03:04:05.000Z",
  "lastUpdated":"2024-01-02T03:04:05.000Z","type":{"id":"otysimdefault00000001"},
  "profile":{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","login":"ada@example.com"},
  "credentials":{"provider":{"type":"OKTA","name":"OKTA"}},
  "_links":{"self":{"href":"https://acme.okta.com/api/v1/users/00u1a2b3c4d5e6f7g8h9"}}}
]"#;

const OKTA_ERROR: &str = r#"{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: 0oa1 (AppInstance)","errorLink":"E0000007","errorId":"oaeAbCdEfGhIjKlMnOpQrStUv","errorCauses":[{"errorSummary":"more"}]}"#;

const OKTA_TOKEN: &str = r#"{"token_type":"Bearer","expires_in":3600,"access_token":"eyJraWQiOiJzaW0iLCJhbGciOiJSUzI1NiJ9.e30.c2ln","scope":"okta.users.read okta.apps.read"}"#;

const OKTA_TOKEN_ERROR: &str = r#"{"error":"invalid_client","error_description":"The client_assertion signature is invalid."}"#;

const SCIM_LIST: &str = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
 "totalResults":2,"startIndex":1,"itemsPerPage":2,"Resources":[
 {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:kafkaman:2.0:User"],
  "id":"km_u_1","externalId":"00u1a2b3c4d5e6f7g8h9","userName":"ada@example.com",
  "name":{"givenName":"Ada","familyName":"Lovelace"},"displayName":"Ada Lovelace","locale":"en",
  "active":true,"emails":[{"value":"ada@example.com","type":"work","primary":true}],
  "meta":{"resourceType":"User","created":"2024-01-02T03:04:05.000Z",
          "lastModified":"2024-01-02T03:04:05.000Z","location":"https://api.kafkaman.co/scim/v2/Users/km_u_1"},
  "urn:ietf:params:scim:schemas:extension:kafkaman:2.0:User":{"membership":"active","role":"developer"}},
 {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"km_u_2","userName":"grace@example.com",
  "active":false,"urn:ietf:params:scim:schemas:extension:kafkaman:2.0:User":{"membership":"deactivated","role":null}}
]}"#;

const SCIM_USER: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"km_u_1","externalId":"00u1","userName":"ada@example.com","name":{"givenName":"Ada","familyName":"Lovelace"},"active":true,"meta":{"resourceType":"User"},"urn:ietf:params:scim:schemas:extension:kafkaman:2.0:User":{"membership":"invited","role":"developer"}}"#;

const SCIM_ERROR: &str = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"A pending invite exists for this email"}"#;

const TEAM_ERROR: &str = r#"{"error":{"name":"forbidden","message":"SCIM provisioning is not enabled for this team","details":{}}}"#;

const INVITES_PAGE: &str = r#"{"data":[
 {"id":"inv_1","email":"ada@example.com","source":"admin","status":"pending","invitedBy":"owner@example.com",
  "createdAt":"2024-01-02T03:04:05.000Z","expiresAt":"2024-02-02T03:04:05.000Z"},
 {"id":"inv_2","email":"grace@example.com","source":"scim","status":"pending","invitedBy":null,
  "createdAt":"2024-01-02T03:04:05.000Z","expiresAt":null}
],"meta":{"nextCursor":"eyJvZmZzZXQiOjJ9"}}"#;

// ----- Okta ------------------------------------------------------------------------------

/// A listing page (`decode_page`) and each item as an AppUser (`parse_app_user`) or a
/// User (`parse_user`), as the client reads them.
#[test]
fn okta_pages() {
    check(
        "okta_pages",
        256,
        json_input(&[OKTA_APP_USERS_PAGE, OKTA_USERS_PAGE]),
        |body, worst| {
            bounded(
                worst,
                budget(body.len()),
                || -> Result<(), TestCaseError> {
                    let Ok(items) = okta::decode_page(&body) else {
                        return Ok(());
                    };
                    for item in items {
                        if let Ok(u) = okta::parse_app_user(item.clone()) {
                            // The one check beyond the types: the embedded user is this one.
                            prop_assert_eq!(&u.id, &u.user.id);
                        }
                        let _ = okta::parse_user(item);
                    }
                    Ok(())
                },
            )?
        },
    );
}

/// A System Log page (`decode_page`) and each item as a LogEvent (`parse_event`), as the
/// incremental read takes them.
#[test]
fn okta_system_log_pages() {
    check(
        "okta_system_log_pages",
        256,
        json_input(&[OKTA_LOG_PAGE]),
        |body, worst| {
            bounded(
                worst,
                budget(body.len()),
                || -> Result<(), TestCaseError> {
                    let Ok(items) = okta::decode_page(&body) else {
                        return Ok(());
                    };
                    for item in items {
                        if let Ok(e) = okta::parse_event(item) {
                            // Only what Okta sent: no event without its uuid and type.
                            prop_assert!(!e.uuid.is_empty() && !e.event_type.is_empty());
                        }
                    }
                    Ok(())
                },
            )?
        },
    );
}

/// A System Log page in Okta's shape (docs/sim-okta.md): one assignment event.
const OKTA_LOG_PAGE: &str = r#"[{"uuid":"6f1d0c57-3d2c-11ef-8b59-4b7a2f0e9a10","published":"2026-12-02T15:00:00.123Z","eventType":"application.user_membership.add","displayMessage":"Add user to application membership","severity":"INFO","actor":{"id":"00uadmin","type":"User","alternateId":"admin@example.com","displayName":"Admin"},"outcome":{"result":"SUCCESS"},"target":[{"id":"0uaabc","type":"AppUser","alternateId":"ada@example.com","displayName":"Ada"},{"id":"0oakafkaman0000000001","type":"AppInstance","alternateId":"kafkaman","displayName":"kafkaman"},{"id":"00uada","type":"User","alternateId":"ada@example.com","displayName":"Ada Lovelace"}],"transaction":{"type":"WEB","id":"abc","detail":{}}}]"#;

/// An error body: Okta's error object, or None; its `errorId` is the request id.
#[test]
fn okta_error_bodies() {
    check(
        "okta_error_bodies",
        256,
        json_input(&[OKTA_ERROR]),
        |body, worst| {
            let (parsed, id) = bounded(worst, budget(body.len()), || {
                (okta::parse_error_body(&body), okta::error_id(&body))
            })?;
            prop_assert_eq!(parsed.and_then(|b| b.error_id), id);
            Ok(())
        },
    );
}

/// A token response: any `expires_in` gives a refresh time no later than the expiry;
/// a refused token request's body gives its error, if any.
#[test]
fn okta_token_responses() {
    check(
        "okta_token_responses",
        256,
        json_input(&[OKTA_TOKEN, OKTA_TOKEN_ERROR]),
        |body, worst| {
            let sent = Instant::now();
            let (grant, _) = bounded(worst, budget(body.len()), || {
                (
                    okta::decode_token_response(&body, sent),
                    okta::decode_token_error(&body),
                )
            })?;
            if let Ok(grant) = grant {
                prop_assert!(grant.refresh_at >= sent);
                if let Some(expiry) = sent.checked_add(grant.lifetime) {
                    prop_assert!(grant.refresh_at <= expiry);
                }
            }
            Ok(())
        },
    );
}

// ----- kafkaman ----------------------------------------------------------------------------

/// A SCIM ListResponse page (`decode_user_page`) and a single User (`decode_scim_user`).
#[test]
fn scim_pages_and_users() {
    check(
        "scim_pages_and_users",
        256,
        json_input(&[SCIM_LIST, SCIM_USER]),
        |body, worst| {
            let (page, user) = bounded(worst, budget(body.len()), || {
                (km::decode_user_page(&body), km::decode_scim_user(&body))
            })?;
            // Compared with a plain JSON reading where one is possible (a `Value` holds
            // no number beyond f64, which an ignored attribute may be).
            let v = serde_json::from_slice::<serde_json::Value>(&body).ok();
            if let (Ok(page), Some(v)) = (page, &v) {
                let listed = v
                    .get("Resources")
                    .and_then(|r| r.as_array())
                    .map_or(0, Vec::len);
                prop_assert_eq!(page.users.len(), listed);
            }
            if let (Ok(user), Some(v)) = (user, &v) {
                prop_assert_eq!(Some(user.id.as_str()), v["id"].as_str());
            }
            Ok(())
        },
    );
}

/// A team invites page: a page without `meta.nextCursor` is an error, not the end.
#[test]
fn invite_pages() {
    check(
        "invite_pages",
        256,
        json_input(&[INVITES_PAGE]),
        |body, worst| {
            let page = bounded(worst, budget(body.len()), || km::decode_invite_page(&body))?;
            if let (Ok(page), Ok(v)) = (page, serde_json::from_slice::<serde_json::Value>(&body)) {
                prop_assert!(v["meta"].get("nextCursor").is_some());
                prop_assert_eq!(
                    page.next_cursor.as_deref(),
                    v["meta"]["nextCursor"].as_str()
                );
                prop_assert_eq!(Some(page.invites.len()), v["data"].as_array().map(Vec::len));
            }
            Ok(())
        },
    );
}

/// SCIM and team API error bodies: whatever the body, the detail shown is short.
#[test]
fn scim_and_team_error_bodies() {
    check(
        "scim_and_team_error_bodies",
        256,
        json_input(&[SCIM_ERROR, TEAM_ERROR]),
        |body, worst| {
            let (code, detail) = bounded(worst, budget(body.len()), || km::error_details(&body))?;
            let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
            if !is_json {
                // Not JSON: at most the first 120 characters and an ellipsis.
                prop_assert!(code.is_none());
                prop_assert!(detail.as_ref().is_none_or(|d| d.chars().count() <= 121));
            }
            Ok(())
        },
    );
}

// ----- HTTP headers ------------------------------------------------------------------------

/// A header value as a server might send it: printable ASCII (what `to_str` accepts),
/// sometimes with bytes it does not.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[ -~]{0,80}",
        1 => "[\t -~\u{80}-\u{10ffff}]{0,40}",
    ]
}

fn header_map(pairs: &[(&str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            h.append(name, value);
        }
    }
    h
}

/// Pieces of `Link` headers, in any order.
fn link_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<".to_string()),
        Just(">".to_string()),
        Just(",".to_string()),
        Just(";".to_string()),
        Just("\"".to_string()),
        Just("=".to_string()),
        Just(" ".to_string()),
        Just("rel".to_string()),
        Just("next".to_string()),
        Just("NeXt".to_string()),
        Just("rel=\"next\"".to_string()),
        Just("rel=next".to_string()),
        Just("<https://acme.okta.com/api/v1/apps/0oa1/users?after=00u2&limit=2>".to_string()),
        "[ -~]{0,12}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

/// `next_link` on arbitrary `Link` headers: a found target is text between `<` and `>`
/// of one of the values, and no longer than it.
#[test]
fn link_headers_arbitrary() {
    let values = prop::collection::vec(prop_oneof![header_text(), link_soup()], 0..4);
    check("link_headers_arbitrary", 512, values, |values, worst| {
        let pairs: Vec<_> = values.iter().map(|v| ("link", v.clone())).collect();
        let h = header_map(&pairs);
        let len: usize = values.iter().map(String::len).sum();
        let next = bounded(worst, budget(len), || http::next_link(&h))?;
        if let Some(target) = next {
            prop_assert!(!target.contains('>'));
            prop_assert!(
                values.iter().any(|v| v.contains(&target)),
                "target {target:?} is not from the headers"
            );
        }
        Ok(())
    });
}

/// One link of a header: target and its parameters.
#[derive(Debug, Clone)]
struct Link {
    target: String,
    params: Vec<String>,
    next: bool,
}

fn link() -> impl Strategy<Value = Link> {
    let param = prop_oneof![
        Just(("rel=\"next\"", true)),
        Just(("rel=next", true)),
        Just(("REL=\"prefetch NEXT\"", true)),
        Just(("rel=\"self\"", false)),
        Just(("rel=prev", false)),
        Just(("rel=\"nextish\"", false)),
        Just(("title=\"a, b = c\"", false)),
        Just(("type=\"text/html\"", false)),
    ];
    (
        "[a-z0-9:/?&=,.%-]{0,40}",
        prop::collection::vec(param, 0..3),
    )
        .prop_map(|(target, params)| Link {
            target,
            next: params.iter().any(|p| p.1),
            params: params.iter().map(|p| p.0.to_string()).collect(),
        })
}

/// `next_link` on well-formed headers of up to thousands of links, several per line
/// or one per line: exactly the first `rel="next"` target, in time and space linear in
/// the header.
#[test]
fn link_headers_many_entries() {
    let lines = prop::collection::vec(prop::collection::vec(link(), 0..8), 0..4);
    let huge = (0usize..5000, any::<prop::sample::Index>()).prop_map(|(n, at)| {
        let mut links: Vec<Link> = (0..n)
            .map(|i| Link {
                target: format!("https://acme.okta.com/api/v1/apps/0oa1/users?after={i}"),
                params: vec!["rel=\"self\"".to_string()],
                next: false,
            })
            .collect();
        if n > 0 {
            let i = at.index(n);
            links[i].params = vec!["rel=\"next\"".to_string()];
            links[i].next = true;
        }
        vec![links]
    });
    check(
        "link_headers_many_entries",
        256,
        prop_oneof![3 => lines, 1 => huge],
        |lines, worst| {
            let values: Vec<String> = lines
                .iter()
                .map(|links| {
                    links
                        .iter()
                        .map(|l| {
                            let mut s = format!("<{}>", l.target);
                            for p in &l.params {
                                s.push_str("; ");
                                s.push_str(p);
                            }
                            s
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            let pairs: Vec<_> = values.iter().map(|v| ("link", v.clone())).collect();
            let h = header_map(&pairs);
            let len: usize = values.iter().map(String::len).sum();
            let found = bounded(worst, budget(len), || http::next_link(&h))?;
            let expected = lines
                .iter()
                .flatten()
                .find(|l| l.next)
                .map(|l| l.target.clone());
            prop_assert_eq!(found, expected);
            Ok(())
        },
    );
}

/// A number as a header may carry it: small, any u64, longer than any u64, signed,
/// padded, or not a number.
fn header_number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u64..100_000).prop_map(|n| n.to_string()),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        2 => "[0-9]{15,40}",
        1 => " {0,2}[-+]?[0-9]{1,25} {0,2}",
        1 => header_text(),
    ]
}

/// An HTTP date, anywhere httpdate can write one, or not a date.
fn header_date() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u64..253_402_300_800)
            .prop_map(|s| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s))),
        1 => Just("Thu, 01 Jan 1970 00:00:00 GMT".to_string()),
        1 => Just("Fri, 31 Dec 9999 23:59:59 GMT".to_string()),
        1 => header_text(),
    ]
}

#[derive(Debug, Clone)]
struct RateHeaders {
    pairs: Vec<(&'static str, String)>,
}

fn rate_headers(names: [&'static str; 3]) -> impl Strategy<Value = RateHeaders> {
    let [limit, remaining, reset] = names;
    (
        prop::option::of(header_number()),
        prop::option::of(header_number()),
        prop::option::of(header_number()),
        prop::option::of(header_date()),
        prop::option::of(prop_oneof![header_number(), header_date()]),
    )
        .prop_map(move |(l, r, s, date, retry)| {
            let mut pairs = Vec::new();
            for (name, value) in [
                (limit, l),
                (remaining, r),
                (reset, s),
                ("date", date),
                ("retry-after", retry),
            ] {
                if let Some(v) = value {
                    pairs.push((name, v));
                }
            }
            RateHeaders { pairs }
        })
}

/// The longest a server's rate-limit headers make the client pace: windows of both APIs
/// are a minute; a reset said to be further away is read as an hour.
const MAX_PACING: Duration = Duration::from_secs(3600 + 1);

/// Reading rate-limit headers and pacing by them: never a panic, and never a pause
/// longer than [`MAX_PACING`], whatever the numbers.
fn rate_window_property(
    scheme: RateLimitScheme,
    h: &RateHeaders,
    worst: &Worst,
) -> Result<(), TestCaseError> {
    let headers = header_map(&h.pairs);
    let len: usize = h.pairs.iter().map(|(_, v)| v.len()).sum();
    bounded(worst, budget(len), || -> Result<(), TestCaseError> {
        let mut w = RateWindow::default();
        let now = std::time::Instant::now();
        // Requests in flight while the response arrives.
        for _ in 0..3 {
            let _ = w.try_reserve(1.0, now);
        }
        if let Some(seen) = scheme.read(&headers) {
            w.observe(seen);
            prop_assert!(seen.reset_in <= MAX_PACING, "reset in {:?}", seen.reset_in);
        }
        for share in [0.5, 1.0] {
            if let Err(wait) = w.try_reserve(share, Instant::now()) {
                prop_assert!(wait <= MAX_PACING, "pacing would wait {wait:?}");
            }
        }
        let _ = scheme.wait_after_429(&headers);
        Ok(())
    })?
}

/// Okta: `X-Rate-Limit-*` (epoch reset on the server's clock) and 429 waits until the
/// reset.
#[test]
fn okta_rate_limit_headers() {
    let scheme = okta::RATE_LIMIT;
    let names = [
        scheme.limit_header,
        scheme.remaining_header,
        scheme.reset_header,
    ];
    check(
        "okta_rate_limit_headers",
        512,
        rate_headers(names),
        |h, worst| {
            rate_window_property(scheme, &h, worst)?;
            let headers = header_map(&h.pairs);
            let wait = scheme.wait_after_429(&headers);
            // A window: the wait is the time to its reset (at most an hour) plus a
            // second; none (a concurrency 429): two to four seconds.
            prop_assert!(wait <= MAX_PACING + Duration::from_secs(1), "{wait:?}");
            Ok(())
        },
    );
}

/// kafkaman: `X-RateLimit-*` (reset in seconds) and `Retry-After` on 429s, in seconds
/// however many digits, or as an HTTP date against the server's `Date`.
#[test]
fn kafkaman_rate_limit_headers() {
    let scheme = km::RATE_LIMIT;
    let names = [
        scheme.limit_header,
        scheme.remaining_header,
        scheme.reset_header,
    ];
    check(
        "kafkaman_rate_limit_headers",
        512,
        rate_headers(names),
        |h, worst| {
            rate_window_property(scheme, &h, worst)?;
            let headers = header_map(&h.pairs);
            let wait = scheme.wait_after_429(&headers);
            let retry = headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::trim);
            if let Some(digits) =
                retry.filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
            {
                // Seconds, saturated: a wait longer than any limit stays longer than
                // any limit (the transport then gives up instead of waiting).
                let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
                prop_assert_eq!(wait, Duration::from_secs(secs));
            }
            Ok(())
        },
    );
}

/// A Retry-After of 10^30 seconds asks for longer than any configured wait: the client
/// must not read it as "1 s" and retry at once.
#[test]
fn a_huge_retry_after_is_a_huge_wait() {
    let h = header_map(&[("retry-after", format!("1{}", "0".repeat(30)))]);
    assert_eq!(
        km::RATE_LIMIT.wait_after_429(&h),
        Duration::from_secs(u64::MAX)
    );
}

/// A reset at the end of time with the server's clock at 1970 neither panics nor makes
/// the client pause for more than an hour.
#[test]
fn a_reset_at_the_end_of_time_is_an_hour_at_most() {
    for scheme in [okta::RATE_LIMIT, km::RATE_LIMIT] {
        let h = header_map(&[
            ("date", "Thu, 01 Jan 1970 00:00:00 GMT".to_string()),
            (scheme.limit_header, "600".to_string()),
            (scheme.remaining_header, "0".to_string()),
            (scheme.reset_header, u64::MAX.to_string()),
        ]);
        let seen = scheme.read(&h).expect("a window");
        assert_eq!(seen.reset_in, Duration::from_secs(3600));
        let mut w = RateWindow::default();
        w.observe(seen);
        let wait = w.try_reserve(0.5, Instant::now()).unwrap_err();
        assert!(wait <= Duration::from_secs(3600), "{wait:?}");
        assert!(scheme.wait_after_429(&h) <= Duration::from_secs(3601));
    }
}

// ----- config ------------------------------------------------------------------------------

const EXAMPLE_CONFIG: &str = include_str!("../config.example.toml");

/// The example config without comments and blank lines: short, so that most edits hit
/// a key.
fn compact(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The example with OAuth instead of the API token: its commented-out `[okta.oauth]`
/// table, at the end of `[okta]`.
fn oauth_example() -> String {
    let oauth: String = EXAMPLE_CONFIG
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| {
            [
                "[okta.oauth]",
                "client_id",
                "private_key",
                "key_id",
                "scopes",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    compact(EXAMPLE_CONFIG)
        .replace("[kafkaman]\n", &format!("{oauth}[kafkaman]\n"))
        .lines()
        .filter(|l| !l.starts_with("api_token"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A TOML value that is huge, odd, deeply nested or of the wrong type.
fn toml_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop_oneof![
            Just("99999999999999999999"),
            Just("9223372036854775807"),
            Just("-9223372036854775808"),
            Just("-1"),
            Just("0"),
            Just("1e400"),
            Just("nan"),
            Just("-inf"),
            Just("0x7fffffffffffffff"),
            Just("true"),
            Just("[]"),
            Just("{}"),
            Just("\"\""),
            Just("\" \""),
            Just("\"\\u0000\\u001b[2J\""),
            Just("1979-05-27T07:32:00Z"),
            Just("'''\nmulti\nline'''"),
            Just("{ file = \"\" }"),
            Just("{ env = \"aB3dE5gH7jK9mN1pQ3sT5vW7\" }"),
            Just("{ file = \"x\", env = \"Y\" }"),
            Just("\"http://[::1]:0\""),
            Just("\"*/0 * * * *\""),
            Just("\"Mars/Olympus_Mons\""),
        ]
        .prop_map(str::to_string),
        2 => "\"[ -~]{0,30}\"",
        1 => (0usize..5000).prop_map(|n| format!("\"{}\"", "x".repeat(n))),
        1 => (0usize..3000).prop_map(|n| "[".repeat(n) + &"]".repeat(n)),
        1 => (0usize..3000).prop_map(|n| "{a=".repeat(n) + "1" + &"}".repeat(n)),
        1 => (0usize..2000).prop_map(|n| format!("[{}]", vec!["1"; n].join(","))),
    ]
}

#[derive(Debug, Clone)]
enum ConfigEdit {
    SetValue { line: usize, value: String },
    Delete { line: usize },
    Duplicate { line: usize },
    Insert { line: usize, text: String },
    Flip { at: usize, xor: u8 },
    Truncate { at: usize },
}

fn config_edit() -> impl Strategy<Value = ConfigEdit> {
    prop_oneof![
        5 => (any::<usize>(), toml_fragment()).prop_map(|(line, value)| ConfigEdit::SetValue { line, value }),
        1 => any::<usize>().prop_map(|line| ConfigEdit::Delete { line }),
        1 => any::<usize>().prop_map(|line| ConfigEdit::Duplicate { line }),
        1 => (any::<usize>(), prop_oneof![
            "[ -~]{0,40}",
            "\\[[a-z._]{0,20}\\]",
            "[a-z_]{1,20} = [ -~]{0,20}",
        ]).prop_map(|(line, text)| ConfigEdit::Insert { line, text }),
        1 => (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| ConfigEdit::Flip { at, xor }),
        1 => any::<usize>().prop_map(|at| ConfigEdit::Truncate { at }),
    ]
}

fn mutate_config(sample: &str, edits: &[ConfigEdit]) -> String {
    let mut lines: Vec<String> = sample.lines().map(str::to_string).collect();
    let mut bytes_edits = Vec::new();
    for e in edits {
        let n = lines.len().max(1);
        match e {
            ConfigEdit::SetValue { line, value } => {
                if let Some(l) = lines.get_mut(line % n)
                    && let Some((key, _)) = l.split_once('=')
                {
                    *l = format!("{key}= {value}");
                }
            }
            ConfigEdit::Delete { line } => {
                if !lines.is_empty() {
                    lines.remove(line % n);
                }
            }
            ConfigEdit::Duplicate { line } => {
                if let Some(l) = lines.get(line % n).cloned() {
                    lines.insert(line % n, l);
                }
            }
            ConfigEdit::Insert { line, text } => {
                lines.insert(line % (lines.len() + 1), text.clone())
            }
            other => bytes_edits.push(other.clone()),
        }
    }
    let mut bytes = lines.join("\n").into_bytes();
    for e in bytes_edits {
        match e {
            ConfigEdit::Flip { at, xor } => apply_byte_edit(&mut bytes, &Edit::Flip { at, xor }),
            ConfigEdit::Truncate { at } => apply_byte_edit(&mut bytes, &Edit::Truncate { at }),
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `config::parse`, the function `load` calls on the file's text: Ok, or an error whose
/// line is in the file and whose message can be shown.
#[test]
fn config_files() {
    let samples = [
        compact(EXAMPLE_CONFIG),
        oauth_example(),
        EXAMPLE_CONFIG.to_string(),
    ];
    let mutated = (0..samples.len(), prop::collection::vec(config_edit(), 1..4))
        .prop_map(move |(i, edits)| mutate_config(&samples[i], &edits));
    let input = prop_oneof![
        1 => "\\PC{0,200}",
        1 => prop::collection::vec(prop_oneof![
            Just("[okta]\n"), Just("[kafkaman]\n"), Just("[[okta]]\n"), Just("a = "),
            Just("org_url = "), Just("\"x\""), Just("{"), Just("}"), Just("["), Just("]"),
            Just("="), Just("\n"), Just("1"), Just(","), Just("."),
        ], 0..60).prop_map(|p| p.concat()),
        8 => mutated,
    ];
    check("config_files", 256, input, |text, worst| {
        let result = bounded(worst, budget(text.len()), || {
            config::parse(&text, "scim-sync.toml").map_err(|e| (e.to_string(), e.line()))
        })?;
        if let Err((message, line)) = result {
            prop_assert!(message.starts_with("scim-sync.toml"), "{message}");
            if let Some(line) = line {
                prop_assert!(line >= 1 && line <= text.lines().count() + 1, "line {line}");
            }
        }
        Ok(())
    });
}

/// The samples the config mutations start from are valid, so mutations start from a
/// config that loads.
#[test]
fn config_samples_are_valid() {
    for sample in [
        compact(EXAMPLE_CONFIG),
        oauth_example(),
        EXAMPLE_CONFIG.to_string(),
    ] {
        config::parse(&sample, "scim-sync.toml").unwrap_or_else(|e| panic!("{e}\n{sample}"));
    }
}

/// `config::load` reads at most a bounded amount of a file: a gigabyte config (here a
/// sparse file of zeros) is refused without reading it in.
#[test]
fn a_huge_config_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(1 << 30).unwrap();
    let worst = Worst::default();
    let err = bounded(&worst, 4 * 1024 * 1024, || config::load(&path))
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

// ----- schedule ----------------------------------------------------------------------------

/// One crontab field: values (small, any u64, longer than any), ranges, steps, lists,
/// names and croner's extensions, or junk.
fn cron_field() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        4 => (0u64..70).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "[0-9]{20,30}",
    ];
    let atom = prop_oneof![
        3 => number.clone(),
        2 => Just("*".to_string()),
        1 => prop_oneof![
            Just("?"), Just("L"), Just("W"), Just("LW"), Just("5L"), Just("15W"), Just("1#3"),
            Just("MON"), Just("sun"), Just("JAN"), Just("dec"), Just("FOO"), Just("-"), Just(""),
        ].prop_map(str::to_string),
    ];
    let part = (
        atom.clone(),
        prop::option::of(atom),
        prop::option::of(number),
    )
        .prop_map(|(a, b, step)| {
            let mut s = a;
            if let Some(b) = b {
                s = format!("{s}-{b}");
            }
            if let Some(step) = step {
                s = format!("{s}/{step}");
            }
            s
        });
    prop_oneof![
        8 => prop::collection::vec(part, 1..4).prop_map(|p| p.join(",")),
        1 => "[ -~]{1,6}".prop_map(|s| s.replace(' ', "")),
    ]
}

fn schedule_text() -> impl Strategy<Value = String> {
    let fields = (
        prop::collection::vec(cron_field(), 0..8),
        prop_oneof![Just(" "), Just("  "), Just("\t"), Just(" \u{a0}")],
    )
        .prop_map(|(f, sep)| f.join(sep));
    prop_oneof![
        6 => fields,
        1 => prop_oneof![
            Just("@hourly"), Just("@DAILY"), Just("@reboot"), Just("@yearly 1"), Just("@"),
            Just("*/0 * * * *"), Just("0 0 30 2 *"), Just("0 0 31 4,6,9,11 *"),
            Just("0 0 29 2 *"), Just("0 0 29 2 1"), Just("59 23 31 12 7"),
        ].prop_map(str::to_string),
        2 => "\\PC{0,30}",
    ]
}

/// A time zone: one of the tz database's, or the host's.
fn zone() -> impl Strategy<Value = Zone> {
    prop_oneof![
        1 => Just(Zone::Local),
        6 => prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec()).prop_map(Zone::Named),
    ]
}

/// `Schedule::parse` on any text: Ok, or an error pointing inside the text; an accepted
/// schedule's next times are found (or known not to exist) in bounded time and come in
/// order; a step of 0 is an error.
#[test]
fn schedules() {
    let after = prop_oneof![
        3 => 1_600_000_000i64..2_100_000_000,
        1 => 0i64..253_402_300_000,
    ];
    check(
        "schedules",
        256,
        (schedule_text(), zone(), after),
        |(text, zone, after), worst| {
            let after = chrono::DateTime::from_timestamp(after, 0).unwrap();
            let out = bounded(worst, budget(text.len()), || {
                Schedule::parse(&text, zone).map(|s| (s.upcoming(after, 3), s.describe()))
            })?;
            match out {
                Ok((times, _)) => {
                    prop_assert!(
                        !text.split_whitespace().any(|f| f.split(',').any(zero_step)),
                        "a step of 0 was accepted"
                    );
                    let mut prev = after;
                    for t in times {
                        prop_assert!(t > prev, "{t} is not after {prev}");
                        prev = t;
                    }
                }
                Err(e) => {
                    let chars = text.chars().count();
                    prop_assert!(
                        e.column >= 1 && e.column <= chars + 1,
                        "column {}",
                        e.column
                    );
                    prop_assert!(e.width >= 1);
                    let _ = e.to_string();
                }
            }
            Ok(())
        },
    );
}

/// Whether a list item of a field steps by 0 (`*/0`, `1-5/00`).
fn zero_step(item: &str) -> bool {
    item.split_once('/')
        .is_some_and(|(_, step)| !step.is_empty() && step.bytes().all(|b| b == b'0'))
}

/// `*/0` in any field is an error, not a schedule that never advances.
#[test]
fn a_zero_step_is_an_error() {
    for i in 0..5 {
        let mut fields = ["*"; 5];
        fields[i] = "*/0";
        let text = fields.join(" ");
        let err = Schedule::parse(&text, Zone::Local).unwrap_err();
        assert_eq!(err.column, 2 * i + 1, "{text}: {err}");
    }
}

/// Time zone names from the config: any text is a zone or an error.
#[test]
fn time_zone_names() {
    check("time_zone_names", 512, "\\PC{0,40}", |name, worst| {
        let _ = bounded(worst, budget(name.len()), || Zone::parse(Some(&name)))?;
        Ok(())
    });
}

// ----- secrets -----------------------------------------------------------------------------

const MAX_SECRET: usize = 64 * 1024;

/// A folder for secret files: in memory where there is one (a million rewrites of a
/// file on disk are slow), else the system's temp folder.
fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

/// Secret file contents: arbitrary bytes, text wrapped in whitespace (CR LF from a
/// Windows editor, a trailing newline from `echo`), and sizes around the cap.
fn secret_content() -> impl Strategy<Value = Vec<u8>> {
    let ws = prop::collection::vec(
        prop_oneof![
            Just(" "),
            Just("\t"),
            Just("\r\n"),
            Just("\n"),
            Just("\u{a0}"),
            Just("\u{3000}")
        ],
        0..4,
    )
    .prop_map(|w| w.concat());
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..128),
        4 => (ws.clone(), "\\PC{0,60}", ws).prop_map(|(a, s, b)| format!("{a}{s}{b}").into_bytes()),
        1 => (MAX_SECRET - 3..=MAX_SECRET + 3, prop_oneof![Just(""), Just("\n"), Just("\r\n")])
            .prop_map(|(n, end)| {
                let mut v = vec![b'k'; n.saturating_sub(end.len())];
                v.extend_from_slice(end.as_bytes());
                v
            }),
    ]
}

/// `SecretRef::resolve` of a file: the text without surrounding whitespace; an error
/// for a file over the cap, not UTF-8, or blank.
#[test]
fn secret_files() {
    let dir = scratch_dir();
    let path = dir.path().join("secret");
    let secret = SecretRef {
        key: "okta.api_token".to_string(),
        source: SecretSource::File(path.clone()),
    };
    check("secret_files", 256, secret_content(), |content, worst| {
        std::fs::write(&path, &content).unwrap();
        let got = bounded(worst, budget(content.len()), || secret.resolve())?;
        match (content.len() > MAX_SECRET, std::str::from_utf8(&content)) {
            (true, _) => prop_assert!(matches!(got, Err(SecretError::TooLarge { .. })), "{got:?}"),
            (false, Err(_)) => {
                prop_assert!(matches!(got, Err(SecretError::NotUtf8 { .. })), "{got:?}")
            }
            (false, Ok(text)) if text.trim().is_empty() => {
                prop_assert!(matches!(got, Err(SecretError::Empty { .. })), "{got:?}")
            }
            (false, Ok(text)) => {
                use secrecy::ExposeSecret;
                let got = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got.expose_secret(), text.trim());
            }
        }
        Ok(())
    });
}

/// A secret file over the cap, however large (sparse files up to a terabyte), is refused
/// from its size, without reading it in.
#[test]
fn huge_secret_files() {
    let dir = scratch_dir();
    let path = dir.path().join("secret");
    let secret = SecretRef {
        key: "kafkaman.api_key".to_string(),
        source: SecretSource::File(path.clone()),
    };
    let size = prop_oneof![
        (MAX_SECRET as u64 + 1)..(MAX_SECRET as u64 * 4),
        (MAX_SECRET as u64 + 1)..(1u64 << 40),
    ];
    check("huge_secret_files", 64, size, |size, worst| {
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(size).unwrap();
        drop(f);
        let got = bounded(worst, 64 * 1024, || secret.resolve())?;
        prop_assert!(matches!(got, Err(SecretError::TooLarge { .. })), "{got:?}");
        Ok(())
    });
}
