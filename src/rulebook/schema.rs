//! The rulebook's JSON Schema (draft 2020-12), for editors (`# yaml-language-server: $schema=...`).
//! Built from the same field, operator and action tables the loader checks against, so the published
//! schema and the loader cannot disagree. It describes shape only; the loader also checks meaning
//! (paths compile, regexes compile, ids are unique, orgs exist).

use serde_json::{json, Map, Value};

use super::action_name::{ActionName, ActionSpec};
use super::cases::{ExpectedOutcome, CASE_FIELDS, EXPECT_FIELDS};
use super::fields::{GUARD_FIELDS, RULE_FIELDS, SUBJECT_FIELDS, TOP_FIELDS};
use super::keyword::Keyword;
use super::model::{Mode, RetryMethod, SubjectKind};
use super::sections::ALWAYS;
use crate::condition::{CountField, OpName, Quantifier};

fn duration() -> Value {
    json!({ "type": "string", "pattern": "^[0-9]", "description": "a duration: a number and a unit, `30m`, `12h`, `7d`, `2w`" })
}

fn operand(op: OpName) -> Value {
    match op {
        OpName::In | OpName::NotIn => {
            json!({ "type": "array", "description": "any of these values (strict types)" })
        }
        OpName::Exists => {
            json!({ "type": "boolean", "description": "whether the path yields at least one value" })
        }
        OpName::Matches => {
            json!({ "type": "string", "description": "a regular expression (Rust regex syntax)" })
        }
        OpName::StartsWith => {
            json!({ "type": "string", "description": "a prefix of a string value" })
        }
        OpName::Gt | OpName::Gte | OpName::Lt | OpName::Lte => {
            json!({ "type": ["number", "string"], "description": "a number, or an RFC 3339 timestamp compared as time" })
        }
        OpName::OlderThan | OpName::NewerThan => {
            let mut d = duration();
            d["description"] =
                json!("the timestamp is older / newer than `now` minus this duration");
            d
        }
        OpName::Count => {
            let props: Map<String, Value> = CountField::names()
                .iter()
                .map(|f| (f.to_string(), json!({ "type": "integer", "minimum": 0 })))
                .collect();
            json!({ "type": "object", "properties": props, "additionalProperties": false, "minProperties": 1,
                    "description": "compare the number of values the path yields" })
        }
        OpName::Contains => {
            json!({ "description": "a substring of a string value, or an element of an array value" })
        }
        OpName::Equals => {
            json!({ "description": "exactly this JSON value (strict types; `null` matches a present null)" })
        }
        OpName::NotEquals => json!({ "description": "not exactly this JSON value" }),
    }
}

fn action(spec: ActionSpec) -> Value {
    let mut props = Map::new();
    props.insert(
        "action".into(),
        json!({ "const": spec.name, "description": spec.description }),
    );
    props.insert(
        "org".into(),
        json!({ "type": "string", "description": "the org to act on (defaults per action)" }),
    );
    let mut required = vec![json!("action")];
    for param in spec.params {
        let (name, desc) = (param.name, param.description);
        let schema = match name {
            "send_email" => json!({ "type": "boolean", "description": desc }),
            "until" => json!({ "$ref": "#/$defs/condition", "description": desc }),
            "timeout" => {
                let mut d = duration();
                d["description"] = json!(desc);
                d
            }
            "method" => json!({ "enum": RetryMethod::names(), "description": desc }),
            _ => json!({ "type": "string", "description": desc }),
        };
        props.insert(name.to_string(), schema);
        if param.required {
            required.push(json!(name));
        }
    }
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

/// The schema of a condition: a combinator or a leaf with exactly one operator.
fn condition_schema() -> Value {
    let mut leaf_props = Map::new();
    leaf_props.insert("path".into(), json!({ "type": "string", "pattern": "^\\$", "description": "an RFC 9535 JSONPath over the subject" }));
    leaf_props.insert("quantifier".into(), json!({ "enum": Quantifier::names(), "description": "how many values must satisfy the operator (default any)" }));
    for &op in OpName::ALL {
        leaf_props.insert(op.as_str().to_string(), operand(op));
    }
    let one_operator: Vec<Value> = OpName::ALL
        .iter()
        .map(|op| json!({ "required": ["path", op.as_str()] }))
        .collect();
    let condition = json!({
        "oneOf": [
            { "type": "object", "properties": { "all": { "type": "array", "items": { "$ref": "#/$defs/condition" } } }, "required": ["all"], "additionalProperties": false },
            { "type": "object", "properties": { "any": { "type": "array", "items": { "$ref": "#/$defs/condition" } } }, "required": ["any"], "additionalProperties": false },
            { "type": "object", "properties": { "not": { "$ref": "#/$defs/condition" } }, "required": ["not"], "additionalProperties": false },
            { "type": "object", "properties": leaf_props, "oneOf": one_operator, "additionalProperties": false }
        ]
    });
    condition
}

/// The schema of one test case.
fn case_schema() -> Value {
    let expect_props: Map<String, Value> = EXPECT_FIELDS
        .iter()
        .map(|f| {
            let s = match *f {
                "rule" => json!({ "type": "string" }),
                "outcome" => json!({ "enum": ExpectedOutcome::names() }),
                _ => json!({ "type": "array", "items": { "type": "string" } }),
            };
            (f.to_string(), s)
        })
        .collect();
    let case = object(
        CASE_FIELDS,
        json!({
            "name": { "type": "string" },
            "subject": { "type": "object", "description": "the subject inline" },
            "subject_file": { "type": "string", "description": "a JSON file holding the subject, relative to this file" },
            "now": { "type": "string", "format": "date-time" },
            "expect": { "oneOf": [ { "enum": ["no_match", "protected"] },
                { "type": "object", "properties": expect_props, "additionalProperties": false } ] }
        }),
    );
    let mut case = case;
    case["required"] = json!(["name", "expect"]);
    case
}

/// An object schema with exactly these `props`, no others.
fn object(fields: &[&str], props: Value) -> Value {
    debug_assert!(props.as_object().is_some_and(|p| p.len() == fields.len()));
    json!({ "type": "object", "properties": props, "additionalProperties": false })
}

/// The JSON Schema of a rulebook.
pub fn rulebook_schema() -> Value {
    let condition = condition_schema();
    let actions: Vec<Value> = ActionName::ALL.iter().map(|a| action(a.spec())).collect();
    let obj = object;
    let subjects = obj(
        SUBJECT_FIELDS,
        json!({
            "kind": { "enum": SubjectKind::names(), "description": "what a subject is" },
            "org": { "type": "string", "description": "for `user`: the org whose users are read" },
            "hub": { "type": "string", "description": "the hub org's name in config (default hub)" },
            "spoke": { "type": "string", "description": "the spoke org's name in config (default spoke)" },
            "since": duration(),
            "app": { "type": "string", "description": "the spoke's Org2Org app (API name or label; default okta_org2org)" }
        }),
    );
    let mut subjects = subjects;
    subjects["required"] = json!(["kind"]);
    let guards = obj(
        GUARD_FIELDS,
        json!({
            "max_actions": { "type": "integer", "minimum": 0, "description": "refuse a plan with more changing steps" },
            "max_destructive": { "type": "integer", "minimum": 0, "description": "refuse a plan with more destructive steps" },
            "protect": { "type": "array", "items": { "$ref": "#/$defs/condition" }, "description": "subjects matching any of these are never acted on" }
        }),
    );
    let rule = obj(
        RULE_FIELDS,
        json!({
            "id": { "type": "string", "description": "unique rule id" },
            "description": { "type": "string" },
            "priority": { "type": "integer", "description": "higher is tried first (default 0); ties keep file order" },
            "when": { "oneOf": [ { "$ref": "#/$defs/condition" },
                { "const": ALWAYS, "description": "matches every subject (a deliberate catch-all)" } ] },
            "then": { "type": "array", "items": { "$ref": "#/$defs/action" } }
        }),
    );
    let mut rule = rule;
    // A rule without `when` matches every subject but gets a warning (`when: always` says it on
    // purpose); `id` and `then` are required.
    rule["required"] = json!(["id", "then"]);
    let case = case_schema();
    let top = obj(
        TOP_FIELDS,
        json!({
            "version": { "const": 1 },
            "name": { "type": "string" },
            "description": { "type": "string" },
            "mode": { "enum": Mode::names(), "description": "first_match (default) or all_matches" },
            "subjects": subjects,
            "guards": guards,
            "rules": { "type": "array", "items": rule, "minItems": 1 },
            "tests": { "type": "array", "items": case }
        }),
    );
    let mut schema = top;
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema["title"] = json!("okta-remedy rulebook");
    schema["required"] = json!(["version", "name", "subjects", "rules"]);
    schema["$defs"] = json!({ "condition": condition, "action": { "oneOf": actions } });
    schema
}
