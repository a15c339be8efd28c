//! Explanations for people: each node of a condition's explanation as one reviewable line (for
//! `remedy test`, `remedy explain` and decision snapshots), or a whole condition as one summary line
//! (for an `await` that timed out).

use serde_json::Value;

use crate::condition::{Explanation, Outcome, Quantifier};

/// A compact, reviewable form of an explanation: one line per node.
pub fn explanation_lines(e: &Explanation, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    let word = Outcome::as_str;
    match e {
        Explanation::All { outcome, children } | Explanation::Any { outcome, children } => {
            let name = if matches!(e, Explanation::All { .. }) {
                "all"
            } else {
                "any"
            };
            out.push(format!("{pad}{name}: {}", word(*outcome)));
            for c in children {
                explanation_lines(c, depth + 1, out);
            }
        }
        Explanation::Not { outcome, child } => {
            out.push(format!("{pad}not: {}", word(*outcome)));
            explanation_lines(child, depth + 1, out);
        }
        Explanation::Leaf {
            outcome,
            path,
            operator,
            expected,
            quantifier,
            seen,
            seen_count,
        } => {
            let q = match quantifier {
                Quantifier::Any => "",
                Quantifier::All => " (all values)",
                Quantifier::None => " (no value)",
            };
            let saw = if *seen_count == 0 {
                "nothing".to_string()
            } else {
                let shown: Vec<String> = seen.iter().map(short).collect();
                let more = if *seen_count > seen.len() {
                    format!(" and {} more", seen_count - seen.len())
                } else {
                    String::new()
                };
                format!("{}{more}", shown.join(", "))
            };
            out.push(format!(
                "{pad}{}: {path} {operator} {}{q}; saw {saw}",
                word(*outcome),
                short(expected)
            ));
        }
    }
}

/// A one-line summary of a condition's explanation: `$.user.status equals "ACTIVE" (saw "RECOVERY")`.
pub fn condition_summary(e: &Explanation) -> String {
    match e {
        Explanation::All { children, .. } => children
            .iter()
            .map(condition_summary)
            .collect::<Vec<_>>()
            .join(" and "),
        Explanation::Any { children, .. } => format!(
            "({})",
            children
                .iter()
                .map(condition_summary)
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        Explanation::Not { child, .. } => format!("not {}", condition_summary(child)),
        Explanation::Leaf {
            path,
            operator,
            expected,
            seen,
            seen_count,
            ..
        } => {
            let saw = if *seen_count == 0 {
                "nothing".to_string()
            } else {
                seen.iter().map(short).collect::<Vec<_>>().join(", ")
            };
            format!("{path} {operator} {} (now {saw})", short(expected))
        }
    }
}

/// A value on one line, long strings cut.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(119).collect::<String>())
    } else {
        s
    }
}
