//! Okta's `search` / `filter` expression subset (SCIM-like): parsing and evaluation.
//!
//! Owns the grammar (`attr op "value"`, `attr pr`, `and`, `or`, `not`, parentheses), its limits and
//! comparison semantics (case-insensitive values for `search`, RFC 3339 timestamps compared as time).
//! It does not know which attributes an endpoint allows: callers pass an [`Allow`] check and a field
//! resolver.
//!
//! The parser is recursive, and so are evaluation and dropping of the tree, so input is bounded before
//! any of them runs: at most [`MAX_LEN`] bytes (checked before lexing), [`MAX_DEPTH`] levels of
//! parentheses and `not`, and [`MAX_TERMS`] comparisons. Anything past a limit is refused like any
//! other bad expression (Okta's `E0000031`), so a hostile `search=` cannot exhaust the stack.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Errors of the expression language; all become Okta's `E0000031` "Invalid search criteria".
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QueryError {
    #[error("unexpected end of expression")]
    UnexpectedEnd,
    #[error("unexpected `{0}`")]
    Unexpected(String),
    #[error("unterminated string")]
    Unterminated,
    #[error("operator `{op}` is not supported on `{attr}`")]
    NotAllowed { attr: String, op: String },
    #[error("the expression is {len} bytes long: at most {MAX_LEN}")]
    TooLong { len: usize },
    #[error("the expression nests parentheses and `not` deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the expression has more than {MAX_TERMS} comparisons")]
    TooManyTerms,
}

/// Longest expression accepted, in bytes (Okta documents no figure; real filters are far shorter).
pub(crate) const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses and `not` accepted.
pub(crate) const MAX_DEPTH: usize = 32;
/// Most comparisons in one expression; with [`MAX_DEPTH`] this bounds the tree's height.
pub(crate) const MAX_TERMS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Sw,
    Co,
    Gt,
    Ge,
    Lt,
    Le,
    Pr,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "sw" => Op::Sw,
            "co" => Op::Co,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "pr" => Op::Pr,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Sw => "sw",
            Op::Co => "co",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Pr => "pr",
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        attr: String,
        op: Op,
        value: Value,
    },
    /// `attr eq "a" or attr eq "b" or ...` over strings that are not timestamps, as one set
    /// ([`Expr::merged`]): the collector's searches join up to 200 such terms, and testing each
    /// in turn against a million users or a day of System Log is what made them slow.
    AnyOf {
        attr: String,
        /// The values as written, for case-sensitive evaluation.
        exact: HashSet<String>,
        /// The values lowercased, for case-folding evaluation (`search`).
        folded: HashSet<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn lex(input: &str) -> Result<Vec<Tok>, QueryError> {
    let mut toks = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            toks.push(Tok::Open);
        } else if c == ')' {
            chars.next();
            toks.push(Tok::Close);
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err(QueryError::Unterminated),
                    Some('\\') => match chars.next() {
                        Some(e) => s.push(e),
                        None => return Err(QueryError::Unterminated),
                    },
                    Some('"') => break,
                    Some(ch) => s.push(ch),
                }
            }
            toks.push(Tok::Str(s));
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '"' {
                    break;
                }
                w.push(ch);
                chars.next();
            }
            toks.push(Tok::Word(w));
        }
    }
    Ok(toks)
}

/// Which attribute/operator pairs an endpoint accepts.
pub(crate) type Allow<'a> = &'a dyn Fn(&str, Op) -> bool;

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    allow: Allow<'a>,
    /// Parentheses and `not` open around the current position.
    depth: usize,
    terms: usize,
}

impl Parser<'_> {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    /// Enters one level of nesting, refusing past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(QueryError::TooDeep);
        }
        self.depth += 1;
        let out = inner(self);
        self.depth -= 1;
        out
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.peek_word("not") {
            self.pos += 1;
            return self.nested(|p| Ok(Expr::Not(Box::new(p.unary()?))));
        }
        match self.toks.get(self.pos).cloned() {
            None => Err(QueryError::UnexpectedEnd),
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.nested(Self::or)?;
                match self.toks.get(self.pos) {
                    Some(Tok::Close) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    Some(t) => Err(QueryError::Unexpected(tok_text(t))),
                    None => Err(QueryError::UnexpectedEnd),
                }
            }
            Some(Tok::Word(attr)) => {
                self.terms += 1;
                if self.terms > MAX_TERMS {
                    return Err(QueryError::TooManyTerms);
                }
                self.pos += 1;
                let op = match self.toks.get(self.pos) {
                    Some(Tok::Word(o)) => {
                        Op::parse(o).ok_or_else(|| QueryError::Unexpected(o.clone()))?
                    }
                    Some(t) => return Err(QueryError::Unexpected(tok_text(t))),
                    None => return Err(QueryError::UnexpectedEnd),
                };
                self.pos += 1;
                let value = if op == Op::Pr {
                    Value::Null
                } else {
                    let v = match self.toks.get(self.pos) {
                        Some(Tok::Str(s)) => Value::String(s.clone()),
                        Some(Tok::Word(w)) => match w.as_str() {
                            "true" => Value::Bool(true),
                            "false" => Value::Bool(false),
                            "null" => Value::Null,
                            _ => w
                                .parse::<f64>()
                                .ok()
                                .and_then(serde_json::Number::from_f64)
                                .map(Value::Number)
                                .ok_or_else(|| QueryError::Unexpected(w.clone()))?,
                        },
                        Some(t) => return Err(QueryError::Unexpected(tok_text(t))),
                        None => return Err(QueryError::UnexpectedEnd),
                    };
                    self.pos += 1;
                    v
                };
                if !(self.allow)(&attr, op) {
                    return Err(QueryError::NotAllowed {
                        attr,
                        op: op.name().into(),
                    });
                }
                Ok(Expr::Cmp { attr, op, value })
            }
            Some(t) => Err(QueryError::Unexpected(tok_text(&t))),
        }
    }
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Open => "(".into(),
        Tok::Close => ")".into(),
    }
}

/// Parses an expression within the limits, checking every comparison against `allow`.
pub(crate) fn parse(input: &str, allow: Allow<'_>) -> Result<Expr, QueryError> {
    if input.len() > MAX_LEN {
        return Err(QueryError::TooLong { len: input.len() });
    }
    let mut p = Parser {
        toks: lex(input)?,
        pos: 0,
        allow,
        depth: 0,
        terms: 0,
    };
    let e = p.or()?;
    match p.toks.get(p.pos) {
        None => Ok(e),
        Some(t) => Err(QueryError::Unexpected(tok_text(t))),
    }
}

fn as_time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn compare(have: &Value, op: Op, want: &Value, fold_case: bool) -> bool {
    use std::cmp::Ordering;
    if op == Op::Pr {
        return !have.is_null();
    }
    let ord = match (have, want) {
        (Value::String(h), Value::String(w)) => {
            if let (Some(a), Some(b)) = (as_time(have), as_time(want)) {
                Some(a.cmp(&b))
            } else {
                let (h, w) = if fold_case {
                    (h.to_lowercase(), w.to_lowercase())
                } else {
                    (h.clone(), w.clone())
                };
                match op {
                    Op::Sw => return h.starts_with(&w),
                    Op::Co => return h.contains(&w),
                    _ => Some(h.cmp(&w)),
                }
            }
        }
        (Value::Number(h), Value::Number(w)) => h
            .as_f64()
            .zip(w.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::Bool(h), Value::Bool(w)) => Some(h.cmp(w)),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Ne, None) => true,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

impl Expr {
    /// Evaluates against a resolver that returns every value of an attribute (arrays flattened); a
    /// comparison holds when any value satisfies it, as in SCIM.
    pub(crate) fn eval(&self, resolve: &dyn Fn(&str) -> Vec<Value>, fold_case: bool) -> bool {
        match self {
            Expr::And(a, b) => a.eval(resolve, fold_case) && b.eval(resolve, fold_case),
            Expr::Or(a, b) => a.eval(resolve, fold_case) || b.eval(resolve, fold_case),
            Expr::Not(a) => !a.eval(resolve, fold_case),
            Expr::Cmp { attr, op, value } => resolve(attr)
                .iter()
                .any(|have| compare(have, *op, value, fold_case)),
            // What `compare` does for `eq` with a string that is not a timestamp: only a string
            // equals it, compared as text (lowercased when folding case).
            Expr::AnyOf {
                attr,
                exact,
                folded,
            } => resolve(attr).iter().any(|have| match have {
                Value::String(h) if fold_case => folded.contains(&h.to_lowercase()),
                Value::String(h) => exact.contains(h),
                _ => false,
            }),
        }
    }

    /// The same expression with every `or` of two or more `attr eq "text"` terms on one attribute
    /// (text that is not a timestamp) turned into one [`Expr::AnyOf`]; it evaluates alike.
    pub(crate) fn merged(self) -> Expr {
        match self {
            Expr::And(a, b) => Expr::And(Box::new(a.merged()), Box::new(b.merged())),
            Expr::Not(a) => Expr::Not(Box::new(a.merged())),
            Expr::Or(..) => {
                let mut terms = Vec::new();
                self.flatten_or(&mut terms);
                merge_terms(terms)
            }
            other => other,
        }
    }

    /// The operands of a chain of `or`, each merged.
    fn flatten_or(self, out: &mut Vec<Expr>) {
        match self {
            Expr::Or(a, b) => {
                a.flatten_or(out);
                b.flatten_or(out);
            }
            other => out.push(other.merged()),
        }
    }
}

/// One `or` over `terms`, the `eq` terms on strings grouped by attribute.
fn merge_terms(terms: Vec<Expr>) -> Expr {
    let mut sets: Vec<(String, Vec<String>)> = Vec::new();
    let mut rest = Vec::new();
    for t in terms {
        match t {
            Expr::Cmp {
                attr,
                op: Op::Eq,
                value: Value::String(v),
            } if DateTime::parse_from_rfc3339(&v).is_err() => {
                match sets.iter_mut().find(|(a, _)| *a == attr) {
                    Some((_, values)) => values.push(v),
                    None => sets.push((attr, vec![v])),
                }
            }
            other => rest.push(other),
        }
    }
    let mut out: Vec<Expr> = sets
        .into_iter()
        .map(|(attr, mut values)| match values.len() {
            1 => Expr::Cmp {
                attr,
                op: Op::Eq,
                value: Value::String(values.remove(0)),
            },
            _ => Expr::AnyOf {
                attr,
                folded: values.iter().map(|v| v.to_lowercase()).collect(),
                exact: values.into_iter().collect(),
            },
        })
        .collect();
    out.extend(rest);
    let mut iter = out.into_iter();
    let first = iter.next().unwrap_or(Expr::AnyOf {
        attr: String::new(),
        exact: HashSet::new(),
        folded: HashSet::new(),
    });
    iter.fold(first, |acc, e| Expr::Or(Box::new(acc), Box::new(e)))
}

/// Resolves a dotted path in a JSON document, flattening arrays on the way (`target.id` yields the
/// id of every target).
pub(crate) fn json_path_values(doc: &Value, path: &str) -> Vec<Value> {
    let mut current = vec![doc];
    for seg in path.split('.') {
        let mut next = Vec::new();
        for v in current {
            match v {
                Value::Array(items) => next.extend(items.iter().filter_map(|i| i.get(seg))),
                _ => next.extend(v.get(seg)),
            }
        }
        current = next;
    }
    let mut out = Vec::new();
    for v in current {
        match v {
            Value::Array(items) => out.extend(items.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn any(_: &str, _: Op) -> bool {
        true
    }

    #[test]
    fn parses_and_evaluates_precedence_and_case() {
        let e = parse(
            r#"status eq "active" and (profile.login sw "ADA" or id eq "x")"#,
            &any,
        )
        .unwrap();
        let doc = json!({"status": "ACTIVE", "id": "y", "profile": {"login": "ada@x"}});
        let r = |p: &str| json_path_values(&doc, p);
        assert!(e.eval(&r, true));
        assert!(!e.eval(&r, false));
    }

    // The merged form of an `or` of `eq` terms answers as the terms one by one: case folding,
    // timestamps, numbers, arrays, nesting under `and` and `not`.
    #[test]
    fn merged_or_of_eq_terms_evaluates_alike() {
        let docs = [
            json!({"target": [{"id": "A1"}, {"id": "b2"}], "n": 3, "t": "2024-01-01T00:00:00.000Z"}),
            json!({"target": [{"id": "c3"}], "n": "3", "t": "2024-01-01T00:00:00Z"}),
            json!({"target": {"id": "a1"}, "n": 4}),
            json!({"target": [], "x": true}),
        ];
        let exprs = [
            r#"target.id eq "a1" or target.id eq "c3""#,
            r#"target.id eq "A1" or n eq 3 or target.id eq "zz" or t eq "2024-01-01T00:00:00Z""#,
            r#"x eq true and (target.id eq "c3" or target.id eq "b2") or n eq "3" or n eq "4""#,
            r#"not (target.id eq "b2" or target.id eq "B2") and (n eq 4 or target.id eq "c3")"#,
        ];
        for text in exprs {
            let plain = parse(text, &any).unwrap();
            let merged = plain.clone().merged();
            assert_ne!(plain, merged, "{text}");
            for doc in &docs {
                let r = |p: &str| json_path_values(doc, p);
                for fold in [false, true] {
                    assert_eq!(
                        plain.eval(&r, fold),
                        merged.eval(&r, fold),
                        "{text} on {doc}"
                    );
                }
            }
        }
    }

    #[test]
    fn compares_timestamps_as_time_and_flattens_arrays() {
        let doc = json!({"t": "2024-01-01T00:00:00.000Z", "target": [{"id": "a"}, {"id": "b"}]});
        let r = |p: &str| json_path_values(&doc, p);
        let e = parse(r#"t gt "2023-12-31T23:00:00Z" and target.id eq "b""#, &any).unwrap();
        assert!(e.eval(&r, false));
    }

    #[test]
    fn rejects_disallowed_and_malformed() {
        let only_eq = |_: &str, op: Op| op == Op::Eq;
        assert!(matches!(
            parse(r#"a sw "x""#, &only_eq),
            Err(QueryError::NotAllowed { .. })
        ));
        assert_eq!(parse(r#"a eq"#, &any), Err(QueryError::UnexpectedEnd));
        assert_eq!(parse(r#"a eq "x"#, &any), Err(QueryError::Unterminated));
        assert!(parse(r#"(a eq "x""#, &any).is_err());
    }

    #[test]
    fn limits_refuse_deep_long_and_wide_expressions() {
        let deep = format!(
            "{}a eq \"x\"{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse(&deep, &any), Err(QueryError::TooDeep));
        let at_limit = format!(
            "{}a eq \"x\"{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(parse(&at_limit, &any).is_ok());
        let nots = format!("{}a pr", "not ".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&nots, &any), Err(QueryError::TooDeep));
        let open_only = "(".repeat(2_000);
        assert_eq!(parse(&open_only, &any), Err(QueryError::TooDeep));
        let long = "not ".repeat(5_000);
        assert_eq!(parse(&long, &any), Err(QueryError::TooLong { len: 20_000 }));
        let wide = vec!["a pr"; MAX_TERMS + 1].join(" or ");
        assert_eq!(parse(&wide, &any), Err(QueryError::TooManyTerms));
    }
}
