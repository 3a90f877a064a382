//! How users are rendered: SCIM timestamps, the User resource, and the `attributes` / `excludedAttributes` projection.

use super::*;

// ---- rendering ----------------------------------------------------------------------

pub(super) fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A member as a SCIM User resource.
pub(super) fn render_user(m: &Member, base: &str) -> Map<String, Value> {
    let mut u = Map::new();
    u.insert("schemas".into(), json!([CORE_USER, EXT_USER]));
    u.insert("id".into(), json!(m.id));
    if let Some(e) = &m.external_id {
        u.insert("externalId".into(), json!(e));
    }
    u.insert("userName".into(), json!(m.user_name));
    let mut name = Map::new();
    if let Some(g) = &m.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &m.family_name {
        name.insert("familyName".into(), json!(f));
    }
    if !name.is_empty() {
        u.insert("name".into(), Value::Object(name));
    }
    if let Some(d) = &m.display_name {
        u.insert("displayName".into(), json!(d));
    }
    if let Some(l) = &m.locale {
        u.insert("locale".into(), json!(l));
    }
    u.insert(
        "active".into(),
        json!(m.membership != super::super::team::Membership::Deactivated),
    );
    u.insert(
        "emails".into(),
        json!([{"value": m.user_name, "type": "work", "primary": true}]),
    );
    u.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": ts(m.created),
            "lastModified": ts(m.last_modified),
            "location": format!("{base}/scim/v2/Users/{}", m.id),
        }),
    );
    u.insert(
        EXT_USER.into(),
        json!({"membership": m.membership.as_str(), "role": m.role}),
    );
    u
}

/// An attribute reference from `attributes`/`excludedAttributes`, lowercased: the
/// top-level key as rendered (the extension URN for extension attributes) and an
/// optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AttrRef {
    top: String,
    sub: Option<String>,
}

pub(super) fn parse_attr_ref(raw: &str) -> AttrRef {
    let lc = raw.trim().to_lowercase();
    let ext = EXT_USER.to_lowercase();
    let core = CORE_USER.to_lowercase();
    if lc == ext {
        return AttrRef {
            top: ext,
            sub: None,
        };
    }
    if let Some(rest) = lc.strip_prefix(&format!("{ext}:")) {
        return AttrRef {
            top: ext,
            sub: Some(rest.to_string()),
        };
    }
    let path = lc.strip_prefix(&format!("{core}:")).unwrap_or(&lc);
    match path.split_once('.') {
        Some((t, s)) => AttrRef {
            top: t.to_string(),
            sub: Some(s.to_string()),
        },
        None => AttrRef {
            top: path.to_string(),
            sub: None,
        },
    }
}

/// Which attributes to return (RFC 7644 §3.9).
#[derive(Debug, Clone, Default)]
pub(super) struct Projection {
    include: Option<Vec<AttrRef>>,
    exclude: Vec<AttrRef>,
}

impl Projection {
    pub(super) fn from_query(q: &HashMap<String, String>) -> Projection {
        let refs = |v: &String| -> Vec<AttrRef> {
            v.split(',')
                .filter(|s| !s.trim().is_empty())
                .map(parse_attr_ref)
                .collect()
        };
        Projection {
            include: q.get("attributes").map(refs).filter(|v| !v.is_empty()),
            exclude: q.get("excludedattributes").map(refs).unwrap_or_default(),
        }
    }

    pub(super) fn apply(&self, mut user: Map<String, Value>) -> Value {
        // `id` and `schemas` are always returned.
        let always = |k: &str| k == "id" || k == "schemas";
        if let Some(include) = &self.include {
            user = user
                .into_iter()
                .filter_map(|(k, v)| {
                    if always(&k) {
                        return Some((k, v));
                    }
                    let kl = k.to_lowercase();
                    let wanted: Vec<&AttrRef> = include.iter().filter(|r| r.top == kl).collect();
                    if wanted.is_empty() {
                        return None;
                    }
                    if wanted.iter().any(|r| r.sub.is_none()) {
                        return Some((k, v));
                    }
                    match v {
                        Value::Object(obj) => {
                            let kept: Map<String, Value> = obj
                                .into_iter()
                                .filter(|(sk, _)| {
                                    wanted
                                        .iter()
                                        .any(|r| r.sub.as_deref() == Some(&sk.to_lowercase()))
                                })
                                .collect();
                            (!kept.is_empty()).then_some((k, Value::Object(kept)))
                        }
                        other => Some((k, other)),
                    }
                })
                .collect();
        }
        for r in &self.exclude {
            let Some(key) = user.keys().find(|k| k.to_lowercase() == r.top).cloned() else {
                continue;
            };
            if always(&key) {
                continue;
            }
            match &r.sub {
                None => {
                    user.remove(&key);
                }
                Some(sub) => {
                    if let Some(Value::Object(obj)) = user.get_mut(&key) {
                        obj.retain(|sk, _| sk.to_lowercase() != *sub);
                        if obj.is_empty() {
                            user.remove(&key);
                        }
                    }
                }
            }
        }
        Value::Object(user)
    }
}
