//! Request bodies of `/Users`: attribute lookup (case-insensitive), types, and PATCH operations as changes.

use super::*;

pub(super) fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

pub(super) fn opt_string(v: Option<&Value>, attr: &str) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::bad_request(
            "invalidValue",
            format!("Attribute '{attr}' must be a string"),
        )),
    }
}

pub(super) fn boolean(v: &Value, attr: &str) -> Result<bool, ScimError> {
    v.as_bool().ok_or_else(|| {
        ScimError::bad_request(
            "invalidValue",
            format!("Attribute '{attr}' must be a boolean"),
        )
    })
}

/// `name` as (givenName, familyName); other sub-attributes aren't stored.
pub(super) fn name_parts(v: Option<&Value>) -> Result<(Option<String>, Option<String>), ScimError> {
    match v {
        None | Some(Value::Null) => Ok((None, None)),
        Some(Value::Object(n)) => Ok((
            opt_string(get_ci(n, "givenName"), "name.givenName")?,
            opt_string(get_ci(n, "familyName"), "name.familyName")?,
        )),
        Some(_) => Err(ScimError::bad_request(
            "invalidValue",
            "Attribute 'name' must be an object",
        )),
    }
}

pub(super) fn require_schema(body: &Map<String, Value>, urn: &str) -> Result<(), ScimError> {
    let ok = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        });
    if ok {
        Ok(())
    } else {
        Err(ScimError::bad_request(
            "invalidSyntax",
            format!("The request's 'schemas' must include {urn}"),
        ))
    }
}

pub(super) fn user_name_of(body: &Map<String, Value>) -> Result<String, ScimError> {
    match get_ci(body, "userName") {
        Some(Value::String(u)) if !u.trim().is_empty() => Ok(u.trim().to_string()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ScimError::bad_request(
            "invalidValue",
            "Attribute 'userName' is required",
        )),
        Some(_) => Err(ScimError::bad_request(
            "invalidValue",
            "Attribute 'userName' must be a string",
        )),
    }
}

pub(super) fn change_for(top: &str, sub: Option<&str>, value: &Value) -> Result<Change, ScimError> {
    let top_lc = top.to_lowercase();
    let sub_lc = sub.map(str::to_lowercase);
    let path = match sub {
        Some(s) => format!("{top}.{s}"),
        None => top.to_string(),
    };
    let invalid_path = || {
        ScimError::bad_request(
            "invalidPath",
            format!("Attribute path '{path}' is not supported"),
        )
    };
    if top_lc == EXT_USER.to_lowercase() {
        return Ok(Change::ReadOnly(path.clone()));
    }
    match (top_lc.as_str(), sub_lc.as_deref()) {
        ("active", None) => Ok(Change::Active(boolean(value, "active")?)),
        ("name", None) => {
            let (given, family) = name_parts(Some(value))?;
            Ok(Change::Name { given, family })
        }
        ("name", Some("givenname")) => Ok(Change::GivenName(opt_string(Some(value), &path)?)),
        ("name", Some("familyname")) => Ok(Change::FamilyName(opt_string(Some(value), &path)?)),
        ("username", None) => match value {
            Value::String(u) => Ok(Change::UserName(u.clone())),
            _ => Err(ScimError::bad_request(
                "invalidValue",
                "Attribute 'userName' must be a string",
            )),
        },
        ("externalid", None) => Ok(Change::ExternalId(opt_string(Some(value), "externalId")?)),
        ("displayname", None) => Ok(Change::DisplayName(opt_string(Some(value), &path)?)),
        ("locale", None) => Ok(Change::Locale(opt_string(Some(value), &path)?)),
        ("emails" | "id" | "meta", _) => Ok(Change::ReadOnly(path.clone())),
        _ => Err(invalid_path()),
    }
}

/// Splits a PATCH path into (top, sub), dropping an optional schema URN prefix.
pub(super) fn split_path(path: &str) -> Result<(String, Option<String>), ScimError> {
    let p = path.trim();
    if p.contains('[') {
        // Value filters select items of multi-valued attributes; only `emails` is
        // multi-valued here and it is readOnly.
        let top = p.split('[').next().unwrap_or("");
        if top.eq_ignore_ascii_case("emails") {
            return Ok(("emails".to_string(), None));
        }
        return Err(ScimError::bad_request(
            "invalidPath",
            format!("Attribute path '{p}' is not supported"),
        ));
    }
    let lc = p.to_lowercase();
    let ext = EXT_USER.to_lowercase();
    if lc == ext || lc.starts_with(&format!("{ext}:")) {
        return Ok((EXT_USER.to_string(), None));
    }
    let core = format!("{}:", CORE_USER.to_lowercase());
    let rest = if lc.starts_with(&core) {
        &p[core.len()..]
    } else {
        p
    };
    Ok(match rest.split_once('.') {
        Some((t, s)) => (t.to_string(), Some(s.to_string())),
        None => (rest.to_string(), None),
    })
}

/// The changes of a PatchOp body (RFC 7644 §3.5.2; kafkaman supports `replace` only).
pub(super) fn patch_changes(body: &Map<String, Value>) -> Result<Vec<Change>, ScimError> {
    require_schema(body, PATCH_OP)?;
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ScimError::bad_request("invalidSyntax", "'Operations' must be a non-empty array")
        })?;
    let mut changes = Vec::new();
    for op in ops {
        let op = op.as_object().ok_or_else(|| {
            ScimError::bad_request("invalidSyntax", "Each operation must be an object")
        })?;
        let kind = get_ci(op, "op").and_then(Value::as_str).unwrap_or("");
        if !kind.eq_ignore_ascii_case("replace") {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                format!("Unsupported PATCH operation {kind:?}: only \"replace\" is supported"),
            ));
        }
        let value = get_ci(op, "value")
            .ok_or_else(|| ScimError::bad_request("invalidSyntax", "A replace needs a 'value'"))?;
        match get_ci(op, "path").and_then(Value::as_str) {
            Some(path) => {
                let (top, sub) = split_path(path)?;
                changes.push(change_for(&top, sub.as_deref(), value)?);
            }
            None => {
                let obj = value.as_object().ok_or_else(|| {
                    ScimError::bad_request(
                        "invalidValue",
                        "A replace without 'path' needs an object 'value'",
                    )
                })?;
                for (k, v) in obj {
                    if k.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let (top, sub) = split_path(k)?;
                    changes.push(change_for(&top, sub.as_deref(), v)?);
                }
            }
        }
    }
    Ok(changes)
}
