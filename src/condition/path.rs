//! JSONPath queries compiled once at load time, remembering their source text. Simple paths (names,
//! `[*]`, indexes) are walked directly; everything else goes through jsonpath-rust.

use std::fmt;

use jsonpath_rust::parser::model::JpQuery;
use serde_json::Value;

/// A JSONPath query compiled once, remembering its source text.
#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    query: JpQuery,
    /// The same query as plain steps when it only uses names and `[*]` (most rulebook paths), walked
    /// directly: jsonpath-rust builds a normalized path string for every value it visits, which
    /// dominates evaluation time on large inputs.
    simple: Option<Vec<Step>>,
}

/// One step of a simple path.
#[derive(Debug, Clone)]
enum Step {
    Name(String),
    Wildcard,
    Index(i64),
}

fn simple_steps(query: &JpQuery) -> Option<Vec<Step>> {
    use jsonpath_rust::parser::model::{Segment, Selector};
    query
        .segments
        .iter()
        .map(|seg| match seg {
            Segment::Selector(Selector::Name(n)) => {
                Some(Step::Name(n.trim_matches(['\'', '"']).to_string()))
            }
            Segment::Selector(Selector::Wildcard) => Some(Step::Wildcard),
            Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
            _ => None,
        })
        .collect()
}

fn walk<'a>(v: &'a Value, steps: &[Step], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = steps.split_first() else {
        out.push(v);
        return;
    };
    match (first, v) {
        (Step::Name(n), Value::Object(m)) => {
            if let Some(child) = m.get(n) {
                walk(child, rest, out);
            }
        }
        (Step::Wildcard, Value::Object(m)) => m.values().for_each(|c| walk(c, rest, out)),
        (Step::Wildcard, Value::Array(a)) => a.iter().for_each(|c| walk(c, rest, out)),
        (Step::Index(i), Value::Array(a)) => {
            let idx = if *i < 0 { a.len() as i64 + i } else { *i };
            if let Some(child) = usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                walk(child, rest, out);
            }
        }
        _ => {}
    }
}

/// Why a JSONPath does not compile, with the 1-based character column inside the path when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPathSyntaxError {
    pub column: Option<usize>,
    pub message: String,
}

impl JsonPath {
    pub fn compile(source: &str) -> Result<Self, JsonPathSyntaxError> {
        if !source.starts_with('$') {
            return Err(JsonPathSyntaxError {
                column: Some(1),
                message: "a path must start at the subject root `$`".into(),
            });
        }
        match jsonpath_rust::parser::parse_json_path(source) {
            Ok(query) => Ok(JsonPath {
                source: source.to_string(),
                simple: simple_steps(&query),
                query,
            }),
            Err(jsonpath_rust::parser::errors::JsonPathError::PestError(e)) => {
                let column = match e.line_col {
                    pest::error::LineColLocation::Pos((_, c)) => c,
                    pest::error::LineColLocation::Span((_, c), _) => c,
                };
                let expected = match &e.variant {
                    pest::error::ErrorVariant::ParsingError { positives, .. }
                        if !positives.is_empty() =>
                    {
                        format!(
                            "expected {}",
                            positives
                                .iter()
                                .map(|r| format!("{r:?}").replace('_', " "))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        )
                    }
                    pest::error::ErrorVariant::CustomError { message } => message.clone(),
                    _ => "unexpected input".to_string(),
                };
                Err(JsonPathSyntaxError {
                    column: Some(column),
                    message: expected,
                })
            }
            Err(other) => Err(JsonPathSyntaxError {
                column: None,
                message: other.to_string().to_lowercase(),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every value the path yields on `subject` (none when the path is missing).
    pub fn query<'a>(&self, subject: &'a Value) -> Vec<&'a Value> {
        if let Some(steps) = &self.simple {
            let mut out = Vec::new();
            walk(subject, steps, &mut out);
            return out;
        }
        match jsonpath_rust::query::js_path_process(&self.query, subject) {
            Ok(refs) => refs.into_iter().map(|r| r.val()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The path as field steps (`None` for a name, `Some` wildcard for `[*]` or an index), when it
    /// has only those; `None` for filters, slices, unions and recursive descent.
    pub fn field_steps(&self) -> Option<Vec<Option<String>>> {
        self.simple.as_ref().map(|steps| {
            steps
                .iter()
                .map(|s| match s {
                    Step::Name(n) => Some(n.clone()),
                    Step::Wildcard | Step::Index(_) => None,
                })
                .collect()
        })
    }

    /// The leading chain of plain field names (`$.user.profile.login` → user, profile, login), which is
    /// what a subject must keep for this path to see the same values. A wildcard, filter or recursive
    /// descent stops the chain, meaning "keep the whole subtree from here".
    pub fn field_prefix(&self) -> Vec<String> {
        use jsonpath_rust::parser::model::{Segment, Selector};
        let mut out = Vec::new();
        for seg in &self.query.segments {
            match seg {
                Segment::Selector(Selector::Name(n)) => {
                    out.push(n.trim_matches(['\'', '"']).to_string())
                }
                _ => break,
            }
        }
        out
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
