//! Simulator tests over HTTP. Every Okta response the harness receives is validated against the spec
//! schema of its operation (`tests/fixtures/okta-schemas/okta-sim-operations.json`, trimmed from
//! Okta's spec by `scripts/sim-trim-schemas.py`), error bodies against `Error` plus Okta's five keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Hostile filters and fault settings, refused cleanly.
mod bounds;
// `remedy sim` as a black box.
mod cli;
// Every implemented operation's success and error bodies against the spec.
mod fidelity;
// Rate limits, concurrency cap and fault injection, deterministic under a seed.
mod limits;
// OAuth 2.0 client credentials with private-key JWT and DPoP.
mod oauth;
// The Org2Org remediation stories, through HTTP alone.
mod org2org;
// Okta event hooks: verification, delivery with the secret, duplicates, retries.
mod hooks;
// Percent-encoded path parameters and `If-Match`.
mod requests;
// Users completing their password resets over time.
mod resets;
// Seed files: the committed demo seed, load and dump.
mod seedfile;
// New failing assignments while the simulator runs.
mod trickle;
// Users API semantics: pagination, search, filter, lifecycle, logs, control API, generator.
mod users;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use okta_remedy::sim::{OrgName, Scenario, SeedData, Sim, SimConfig};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

/// The trimmed spec and compiled validators per (operation, status).
struct Spec {
    doc: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/okta-schemas/okta-sim-operations.json"
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        Spec {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

impl Spec {
    /// The operation id whose method and path template match.
    fn operation(&self, method: &Method, path: &str) -> Option<String> {
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let ops = self.doc["operations"].as_object()?;
        ops.iter()
            .find(|(_, op)| {
                let tpl: Vec<&str> = op["path"].as_str().unwrap_or("").split('/').collect();
                op["method"].as_str() == Some(&method.as_str().to_lowercase())
                    && tpl.len() == segs.len()
                    && tpl
                        .iter()
                        .zip(&segs)
                        .all(|(t, s)| t.starts_with('{') || t == s)
            })
            .map(|(id, _)| id.clone())
    }

    fn validator(&self, pointer: &str) -> std::sync::Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        cache
            .entry(pointer.to_string())
            .or_insert_with(|| {
                let mut root = self.doc.clone();
                root["$ref"] = json!(format!("#{pointer}"));
                let v = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft4)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("schema {pointer}: {e}"));
                std::sync::Arc::new(v)
            })
            .clone()
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            schema = self.doc.pointer(r.trim_start_matches('#')).unwrap();
        }
        schema
    }

    /// Every branch of a schema (itself, its `allOf`/`anyOf`/`oneOf`), references resolved.
    fn branches<'a>(&'a self, schema: &'a Value, out: &mut Vec<&'a Value>) {
        let schema = self.resolve(schema);
        out.push(schema);
        for key in ["allOf", "anyOf", "oneOf"] {
            for b in schema
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.branches(b, out);
            }
        }
    }

    /// Object keys of `inst` that no branch of `schema` declares (where extra keys are not allowed):
    /// a validator accepts them, but they would be fields Okta does not send.
    fn unknown_keys(&self, schema: &Value, inst: &Value, at: String, out: &mut Vec<String>) {
        let mut branches = Vec::new();
        self.branches(schema, &mut branches);
        // A discriminated schema (Application by `signOnMode`): the mapped subtype applies too, and a
        // validator ignores `discriminator`, so validate against the subtype here.
        let subtypes: Vec<String> = branches
            .iter()
            .filter_map(|b| {
                let d = b.get("discriminator")?;
                let tag = inst.get(d["propertyName"].as_str()?)?.as_str()?;
                d["mapping"][tag].as_str().map(str::to_string)
            })
            .collect();
        for target in &subtypes {
            let pointer = target.trim_start_matches('#');
            let v = self.validator(pointer);
            out.extend(
                v.iter_errors(inst)
                    .map(|e| format!("{at}{}: {e}", e.instance_path)),
            );
            self.branches(self.doc.pointer(pointer).unwrap(), &mut branches);
        }
        match inst {
            Value::Object(obj) => {
                let open = branches.iter().find_map(|b| b.get("additionalProperties"));
                let declared: Vec<&serde_json::Map<String, Value>> = branches
                    .iter()
                    .filter_map(|b| b.get("properties").and_then(Value::as_object))
                    // `properties: {}` declares nothing (Okta's `_embedded` maps say so).
                    .filter(|p| !p.is_empty())
                    .collect();
                for (k, v) in obj {
                    match declared.iter().find_map(|p| p.get(k)) {
                        Some(sub) => self.unknown_keys(sub, v, format!("{at}/{k}"), out),
                        None => match open {
                            Some(Value::Bool(false)) | None if !declared.is_empty() => {
                                out.push(format!("{at}/{k}"))
                            }
                            Some(extra @ Value::Object(_)) => {
                                self.unknown_keys(extra, v, format!("{at}/{k}"), out)
                            }
                            _ => {}
                        },
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = branches.iter().find_map(|b| b.get("items")) {
                    for (i, v) in items.iter().enumerate() {
                        self.unknown_keys(item_schema, v, format!("{at}/{i}"), out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Validates one response; returns the operation id when the path is a spec operation.
    fn check(&self, method: &Method, path: &str, status: u16, body: &Value) -> Option<String> {
        let op = self.operation(method, path)?;
        if status == 304 {
            // Not Modified has no body; the spec does not list it.
            assert!(body.is_null(), "{method} {path} 304 with a body");
            return Some(op);
        }
        let responses = &self.doc["operations"][&op]["responses"];
        let key = status.to_string();
        let pointer = if status >= 400 {
            assert_error_body(body, &format!("{method} {path}"));
            "/components/schemas/Error".to_string()
        } else {
            match responses.get(&key) {
                Some(Value::Null) => {
                    assert!(
                        body.is_null() || body == &json!({}),
                        "{method} {path} {status}: the spec has no body, got {body}"
                    );
                    return Some(op);
                }
                Some(_) => format!("/operations/{op}/responses/{key}"),
                None => panic!("{method} {path}: status {status} is not in the spec for {op}"),
            }
        };
        let mut unknown = Vec::new();
        let schema = self
            .resolve(&json!({ "$ref": format!("#{pointer}") }))
            .clone();
        self.unknown_keys(&schema, body, String::new(), &mut unknown);
        // Fields real Okta sends that the spec does not declare.
        unknown.retain(|at| !KNOWN_UNDECLARED.iter().any(|k| at.ends_with(k)));
        assert!(
            unknown.is_empty(),
            "{method} {path} {status} ({op}) sends fields the spec does not define: {unknown:?}"
        );
        let v = self.validator(&pointer);
        let errors: Vec<String> = v
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} ({op}) does not match the spec:\n{}\nbody: {body}",
            errors.join("\n")
        );
        Some(op)
    }
}

/// Okta sends these, the spec omits them: an app instance's own settings (`settings.app`, where
/// Org2Org keeps the hub's URL).
const KNOWN_UNDECLARED: &[&str] = &["/settings/app"];

fn assert_error_body(body: &Value, what: &str) {
    for key in [
        "errorCode",
        "errorSummary",
        "errorLink",
        "errorId",
        "errorCauses",
    ] {
        assert!(
            body.get(key).is_some(),
            "{what}: error body lacks `{key}`: {body}"
        );
    }
}

/// One response as the tests see it.
#[derive(Debug)]
pub(crate) struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The `rel="next"` URL of the `Link` headers.
    pub(crate) fn next(&self) -> Option<String> {
        self.headers.get_all("link").iter().find_map(|h| {
            let h = h.to_str().ok()?;
            h.strip_suffix("; rel=\"next\"")
                .map(|u| u.trim_start_matches('<').trim_end_matches('>').to_string())
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A running simulator with an HTTP client that validates every response.
pub(crate) struct Harness {
    pub sim: Sim,
    pub http: reqwest::Client,
    /// (operation id, success?) pairs validated so far.
    pub covered: Mutex<BTreeSet<(String, bool)>>,
}

impl Harness {
    pub(crate) async fn start(config: SimConfig) -> Harness {
        Harness {
            sim: Sim::start(config).await.unwrap(),
            http: reqwest::Client::new(),
            covered: Mutex::new(BTreeSet::new()),
        }
    }

    pub(crate) async fn seeded(seed: SeedData) -> Harness {
        Harness::start(SimConfig {
            scenario: Scenario::Seed(seed),
            ..SimConfig::default()
        })
        .await
    }

    pub(crate) fn base(&self, org: OrgName) -> String {
        self.sim.url(org)
    }

    pub(crate) fn token(&self, org: OrgName) -> &str {
        match org {
            OrgName::Hub => self.sim.hub_token(),
            OrgName::Spoke => self.sim.spoke_token(),
        }
    }

    /// Sends a request with the org's SSWS token; `target` is a path (with query) or a full URL.
    pub(crate) async fn try_send(
        &self,
        org: OrgName,
        method: Method,
        target: &str,
        body: Option<Value>,
        auth: Option<&str>,
    ) -> Result<Resp, reqwest::Error> {
        let url = if target.starts_with("http") {
            target.to_string()
        } else {
            format!("{}{target}", self.base(org))
        };
        let auth = auth
            .map(str::to_string)
            .unwrap_or_else(|| format!("SSWS {}", self.token(org)));
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("authorization", auth)
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{url}: not JSON ({e})"))
        };
        let path = url::Url::parse(&url).unwrap().path().to_string();
        if !path.starts_with("/__sim/") {
            assert!(
                headers.get("x-okta-request-id").is_some(),
                "{url}: no X-Okta-Request-Id"
            );
            if let Some(op) = spec().check(&method, &path, status, &body) {
                self.covered.lock().unwrap().insert((op, status < 400));
            }
        }
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub(crate) async fn send(
        &self,
        org: OrgName,
        method: Method,
        target: &str,
        body: Option<Value>,
    ) -> Resp {
        self.try_send(org, method, target, body, None)
            .await
            .unwrap()
    }

    pub(crate) async fn get(&self, org: OrgName, target: &str) -> Resp {
        self.send(org, Method::GET, target, None).await
    }

    pub(crate) async fn post(&self, org: OrgName, target: &str, body: Value) -> Resp {
        self.send(org, Method::POST, target, Some(body)).await
    }

    pub(crate) async fn delete(&self, org: OrgName, target: &str) -> Resp {
        self.send(org, Method::DELETE, target, None).await
    }

    /// Follows `Link: rel="next"` from `target` and returns every item.
    pub(crate) async fn get_all(&self, org: OrgName, target: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = Some(target.to_string());
        while let Some(url) = next {
            let r = self.get(org, &url).await;
            assert_eq!(r.status, 200, "{url}: {}", r.body);
            let page = r.body.as_array().unwrap().clone();
            pages += 1;
            next = if page.is_empty() { None } else { r.next() };
            items.extend(page);
        }
        (items, pages)
    }

    /// The Org2Org app id of the spoke, found the way a client does.
    pub(crate) async fn org2org_app(&self) -> String {
        let r = self
            .get(
                OrgName::Spoke,
                "/api/v1/apps?filter=name%20eq%20%22okta_org2org%22",
            )
            .await;
        assert_eq!(r.status, 200);
        r.body[0]["id"].as_str().unwrap().to_string()
    }
}

/// Loads a seed file from `tests/fixtures/sim/`.
pub(crate) fn fixture(name: &str) -> SeedData {
    let path = format!("{}/tests/fixtures/sim/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}
