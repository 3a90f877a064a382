//! SCIM discovery documents (RFC 7643 §5–7, RFC 7644 §4): what kafkaman publishes about
//! itself. Only the attributes of the contract's User table are published.

use serde_json::{Value, json};

pub(super) const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(super) const EXT_USER: &str = "urn:ietf:params:scim:schemas:extension:kafkaman:2.0:User";
pub(super) const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub(super) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub(super) const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub(super) fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://api.kafkaman.co/docs/scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": 100},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A team SCIM API key sent as `Authorization: Bearer <key>`",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/scim/v2/ServiceProviderConfig")
        }
    })
}

pub(super) fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A member of the kafkaman team",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": EXT_USER, "required": false}],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/scim/v2/ResourceTypes/User")
        }
    })
}

fn attr(name: &str, typ: &str, mutability: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": typ,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none"
    })
}

pub(super) fn user_schema(base: &str) -> Value {
    let mut user_name = attr(
        "userName",
        "string",
        "immutable",
        "The member's email. Unique within the team, case-insensitive; can't change once created.",
    );
    user_name["required"] = json!(true);
    user_name["uniqueness"] = json!("server");
    let mut name = attr(
        "name",
        "complex",
        "readWrite",
        "The member's name; the only attribute that may change after creation.",
    );
    name["subAttributes"] = json!([
        attr("givenName", "string", "readWrite", "Given (first) name."),
        attr("familyName", "string", "readWrite", "Family (last) name."),
    ]);
    let mut emails = attr(
        "emails",
        "complex",
        "readOnly",
        "The member's emails; the primary one is always equal to userName.",
    );
    emails["multiValued"] = json!(true);
    let mut email_type = attr("type", "string", "readOnly", "Label of the email.");
    email_type["canonicalValues"] = json!(["work"]);
    emails["subAttributes"] = json!([
        attr("value", "string", "readOnly", "Email address."),
        email_type,
        attr(
            "primary",
            "boolean",
            "readOnly",
            "Whether this is the primary email."
        ),
    ]);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": CORE_USER,
        "name": "User",
        "description": "User Account",
        "attributes": [
            user_name,
            name,
            attr("displayName", "string", "immutable", "Name shown in kafkaman; readOnly after creation."),
            attr("locale", "string", "immutable", "Preferred locale; readOnly after creation."),
            attr("active", "boolean", "readWrite", "false = deactivated: removed from the team, sign-in blocked."),
            emails,
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/scim/v2/Schemas/{CORE_USER}")
        }
    })
}

pub(super) fn extension_schema(base: &str) -> Value {
    let mut membership = attr(
        "membership",
        "string",
        "readOnly",
        "Team membership: active, invited (invite sent, not yet accepted) or deactivated.",
    );
    membership["canonicalValues"] = json!(["active", "invited", "deactivated"]);
    let mut role = attr(
        "role",
        "string",
        "readOnly",
        "Team role, e.g. developer or admin.",
    );
    role["canonicalValues"] = json!(["developer", "admin"]);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": EXT_USER,
        "name": "KafkamanUser",
        "description": "kafkaman team membership",
        "attributes": [membership, role],
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/scim/v2/Schemas/{EXT_USER}")
        }
    })
}

pub(super) fn list(resources: Vec<Value>) -> Value {
    let n = resources.len();
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": n,
        "startIndex": 1,
        "itemsPerPage": n,
        "Resources": resources
    })
}
