//! JSONPath queries compiled once at load time, remembering their source text. Simple paths (names,
//! `[*]`, indexes, and filters that compare a relative path with a literal: `[?@.a.b == 'x']`,
//! joined by `&&`, `||`, `!`) are walked directly; everything else goes through jsonpath-rust.

use std::fmt;

use jsonpath_rust::parser::model::JpQuery;
use serde_json::Value;

/// A JSONPath query compiled once, remembering its source text.
#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    query: JpQuery,
    /// The same query as plain steps when it only uses names, `[*]`, indexes and simple filters
    /// (most rulebook paths), walked directly: jsonpath-rust builds a normalized path string for
    /// every value it visits, which dominates evaluation time on large inputs.
    simple: Option<Vec<Step>>,
}

/// One step of a simple path.
#[derive(Debug, Clone)]
enum Step {
    Name(String),
    Wildcard,
    Index(i64),
    /// `[?...]`: the children (array elements or object values) for which the predicate holds.
    Filter(Pred),
}

/// A filter predicate walked directly, with RFC 9535's semantics as jsonpath-rust implements them
/// (a differential test holds the two together): a comparison of a relative path of names
/// (`@.a.b`) with a literal, where a missing path equals nothing and numbers compare by value;
/// `&&`, `||` and `!`.
#[derive(Debug, Clone)]
enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Equals {
        path: Vec<String>,
        literal: Value,
        negate: bool,
    },
}

impl Pred {
    fn compile(f: &jsonpath_rust::parser::model::Filter) -> Option<Pred> {
        use jsonpath_rust::parser::model::{Comparison, Filter, FilterAtom};
        match f {
            Filter::Or(fs) => Some(Pred::Or(
                fs.iter().map(Pred::compile).collect::<Option<_>>()?,
            )),
            Filter::And(fs) => Some(Pred::And(
                fs.iter().map(Pred::compile).collect::<Option<_>>()?,
            )),
            Filter::Atom(FilterAtom::Filter { expr, not }) => {
                let p = Pred::compile(expr)?;
                Some(if *not { Pred::Not(Box::new(p)) } else { p })
            }
            Filter::Atom(FilterAtom::Comparison(c)) => match &**c {
                Comparison::Eq(a, b) => Pred::equals(a, b, false),
                Comparison::Ne(a, b) => Pred::equals(a, b, true),
                _ => None,
            },
            Filter::Atom(FilterAtom::Test { .. }) => None,
        }
    }

    fn equals(
        a: &jsonpath_rust::parser::model::Comparable,
        b: &jsonpath_rust::parser::model::Comparable,
        negate: bool,
    ) -> Option<Pred> {
        use jsonpath_rust::parser::model::{
            Comparable, Literal, SingularQuery, SingularQuerySegment,
        };
        let (segments, literal) = match (a, b) {
            (Comparable::SingularQuery(SingularQuery::Current(s)), Comparable::Literal(l))
            | (Comparable::Literal(l), Comparable::SingularQuery(SingularQuery::Current(s))) => {
                (s, l)
            }
            _ => return None,
        };
        let path = segments
            .iter()
            .map(|s| match s {
                SingularQuerySegment::Name(n) => Some(n.clone()),
                SingularQuerySegment::Index(_) => None,
            })
            .collect::<Option<Vec<_>>>()?;
        let literal = match literal {
            Literal::Int(i) => Value::from(*i),
            Literal::Float(f) => Value::Number(serde_json::Number::from_f64(*f)?),
            Literal::String(s) => Value::String(s.clone()),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => Value::Null,
        };
        Some(Pred::Equals {
            path,
            literal,
            negate,
        })
    }

    fn test(&self, v: &Value) -> bool {
        match self {
            Pred::And(ps) => ps.iter().all(|p| p.test(v)),
            Pred::Or(ps) => ps.iter().any(|p| p.test(v)),
            Pred::Not(p) => !p.test(v),
            Pred::Equals {
                path,
                literal,
                negate,
            } => {
                let found = path
                    .iter()
                    .try_fold(v, |cur, name| cur.as_object().and_then(|m| member(m, name)));
                let equal = found.is_some_and(|found| match (found.as_f64(), literal.as_f64()) {
                    (Some(a), Some(b)) => (a - b).abs() < f64::EPSILON,
                    _ => found == literal,
                });
                equal != *negate
            }
        }
    }

    /// The relative paths the predicate reads, as names.
    fn reads<'p>(&'p self, out: &mut Vec<&'p [String]>) {
        match self {
            Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| p.reads(out)),
            Pred::Not(p) => p.reads(out),
            Pred::Equals { path, .. } => out.push(path),
        }
    }
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
            Segment::Selector(Selector::Filter(f)) => Pred::compile(f).map(Step::Filter),
            _ => None,
        })
        .collect()
}

/// Objects of at most this many members are searched in order rather than through their hash index.
const SCANNED_MEMBERS: usize = 12;

/// The member `name` of an object. Subjects are pruned to the few fields a rulebook reads, so most
/// objects here are small, and comparing a handful of keys is cheaper than hashing the name (the
/// ordered map serde_json uses hashes with SipHash); larger objects use the index.
pub fn member<'a>(m: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    if m.len() <= SCANNED_MEMBERS {
        m.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    } else {
        m.get(name)
    }
}

fn walk<'a>(v: &'a Value, steps: &[Step], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = steps.split_first() else {
        out.push(v);
        return;
    };
    match (first, v) {
        (Step::Name(n), Value::Object(m)) => {
            if let Some(child) = member(m, n) {
                walk(child, rest, out);
            }
        }
        (Step::Wildcard, Value::Object(m)) => m.values().for_each(|c| walk(c, rest, out)),
        (Step::Wildcard, Value::Array(a)) => a.iter().for_each(|c| walk(c, rest, out)),
        (Step::Filter(p), Value::Object(m)) => m
            .values()
            .filter(|c| p.test(c))
            .for_each(|c| walk(c, rest, out)),
        (Step::Filter(p), Value::Array(a)) => a
            .iter()
            .filter(|c| p.test(c))
            .for_each(|c| walk(c, rest, out)),
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

    /// What the path reads, as field steps (`Some` name, `None` for any element or key: `[*]`, an
    /// index, a filter), when it is simple; `None` for slices, unions, recursive descent and filters
    /// beyond simple comparisons. The first entry is the path itself; each further entry is a
    /// relative path a filter reads, behind the steps leading to the filter.
    pub fn field_reads(&self) -> Option<Vec<Vec<Option<String>>>> {
        let steps = self.simple.as_ref()?;
        let mut main = Vec::new();
        let mut reads = vec![Vec::new()];
        for s in steps {
            match s {
                Step::Name(n) => main.push(Some(n.clone())),
                Step::Wildcard | Step::Index(_) => main.push(None),
                Step::Filter(p) => {
                    main.push(None);
                    let mut rel = Vec::new();
                    p.reads(&mut rel);
                    for r in rel {
                        let mut read = main.clone();
                        read.extend(r.iter().cloned().map(Some));
                        reads.push(read);
                    }
                }
            }
        }
        reads[0] = main;
        Some(reads)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The direct walk of simple filters must yield exactly what jsonpath-rust yields.
    #[test]
    fn members_are_found_in_small_and_large_objects_alike() {
        for n in [0, 1, SCANNED_MEMBERS, SCANNED_MEMBERS + 1, 40] {
            let mut m = serde_json::Map::new();
            for i in 0..n {
                m.insert(format!("k{i}"), Value::from(i));
            }
            for i in 0..n {
                assert_eq!(
                    member(&m, &format!("k{i}")),
                    Some(&Value::from(i)),
                    "{n} members"
                );
            }
            assert_eq!(member(&m, "k"), None);
            assert_eq!(member(&m, &format!("k{n}")), None);
        }
    }

    #[test]
    fn simple_filters_agree_with_jsonpath_rust() {
        let doc = json!({"events": [
            {"outcome": {"result": "FAILURE", "reason": "a"}, "n": 1},
            {"outcome": {"result": "SUCCESS", "reason": "a"}, "n": 1.0},
            {"outcome": {"result": "FAILURE"}, "n": 2, "flag": true, "nothing": null},
            {"outcome": "FAILURE", "n": "1"},
            ["FAILURE"],
            7
        ], "byKey": {"x": {"s": "A"}, "y": {"s": "B"}, "z": 3}});
        let paths = [
            "$.events[?@.outcome.result == 'FAILURE'].outcome.reason",
            "$.events[?@.outcome.result == 'FAILURE']",
            "$.events[?@.outcome.result != 'FAILURE']",
            "$.events[?'FAILURE' == @.outcome.result].n",
            "$.events[?@.n == 1]",
            "$.events[?@.n == 1.0].outcome",
            "$.events[?@.n != 1]",
            "$.events[?@.flag == true]",
            "$.events[?@.nothing == null]",
            "$.events[?@.missing == null]",
            "$.events[?@.outcome.result == 'FAILURE' && @.n == 2]",
            "$.events[?@.outcome.result == 'SUCCESS' || @.n == 2].n",
            "$.events[?!(@.outcome.result == 'FAILURE')]",
            "$.events[?@['outcome']['result'] == \"FAILURE\"].outcome.reason",
            "$.byKey[?@.s == 'A']",
            "$.byKey[?@.s != 'A']",
        ];
        for p in paths {
            let path = JsonPath::compile(p).unwrap();
            assert!(path.simple.is_some(), "{p} is walked directly");
            let direct: Vec<&Value> = path.query(&doc);
            let reference: Vec<&Value> = jsonpath_rust::query::js_path_process(&path.query, &doc)
                .unwrap()
                .into_iter()
                .map(|r| r.val())
                .collect();
            assert_eq!(direct, reference, "{p}");
        }
        // Filters beyond comparisons with literals still go through jsonpath-rust.
        for p in [
            "$.events[?@.n > 1]",
            "$.events[?@.flag]",
            "$.events[?search(@.outcome.reason, 'a')]",
        ] {
            assert!(JsonPath::compile(p).unwrap().simple.is_none(), "{p}");
        }
    }

    #[test]
    fn a_filter_reads_what_it_compares_and_what_follows_it() {
        let path = JsonPath::compile(
            "$.events[?@.outcome.result == 'FAILURE' && @.kind != 'x'].outcome.reason",
        )
        .unwrap();
        let s = |v: &[Option<&str>]| v.iter().map(|x| x.map(String::from)).collect::<Vec<_>>();
        assert_eq!(
            path.field_reads().unwrap(),
            vec![
                s(&[Some("events"), None, Some("outcome"), Some("reason")]),
                s(&[Some("events"), None, Some("outcome"), Some("result")]),
                s(&[Some("events"), None, Some("kind")]),
            ]
        );
    }
}
