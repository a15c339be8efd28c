//! A plan file as a stream (`format_version` 3, and 2 read): [`PlanWriter`] writes each subject with
//! its steps as they are decided, hashing the bytes as they go, and the summary, plan id and checksum
//! last; [`visit`] reads one subject line (a subject, then its steps) at a time, and [`read_head`]
//! everything but the subjects and steps. Neither ever holds the whole plan. The layout
//! (docs/plan-format.md):
//!
//! ```text
//! {
//!   "format_version": 3,
//!   "rulebook": {...},            one compact JSON value per top-level field
//!   "mode": "...", "now": "...", "source": {...},   (each on its own line)
//!   "conditions": {...},          each rule's condition, which matched subjects' `why` refers to
//!   "subjects": [
//!     {..., "steps": [...]},      one compact subject per line, in input order, its steps last
//!   ],
//!   "steps": [                    only when some steps do not follow their subject (below)
//!     {...},                      one compact step per line
//!   ],
//!   "summary": {...},
//!   "refused": {...},             only on a refused plan
//!   "plan_id": "plan-<12 hex>",
//!   "checksum": "<64 hex>"
//! }
//! ```
//!
//! `checksum` is the sha256 of every byte before the `"plan_id"` line, so it is computed while
//! writing and checked by reading the file once, without parsing it. A subject's `steps` (omitted
//! when it has none) are the steps planning made for it, the first depending on nothing and each
//! next one on the step before. A plan built in memory by hand may hold steps that do not follow
//! their subject so: [`super::Plan::write_to`] hands every step from the first such one on to
//! [`PlanWriter::finish`], which lists them apart in the top-level `steps` array, so no step is lost
//! and their order is kept. Readers hand each subject's steps right after it, and the steps listed
//! apart after all subjects; a reader that wants only steps parses each subject line for its `steps`
//! alone. Version 2 has no `conditions`, every subject with its `explanation` whole and no `steps`,
//! and all steps in the top-level array.
//!
//! Limits: the readers hold one subject line or one step at a time (serde_json's nesting limit, 128,
//! applies); [`super::Plan::read`] reads a whole plan only up to [`WHOLE_PLAN_LIMIT`] bytes.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

mod read;

pub use read::{
    lists_subject, probe_version, read_head, verify, visit, visit_path, Item, OnItem, Opened,
    PlanItems, Want,
};

use super::why::Shapes;
use super::{PlannedSubject, Refusal, RulebookRef, Source, Step, Summary};
use crate::engine::{RuleTrace, Verdict};
use crate::rulebook::Mode;

/// A subject as a plan file holds it (see [`super::why`]).
#[derive(Serialize)]
struct SubjectOut<'a> {
    key: &'a str,
    verdict: Verdict,
    rules: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    protected_by: Option<usize>,
    ids: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[Step]>::is_empty")]
    steps: &'a [Step],
}

/// The largest plan file read whole into memory; larger plans are read as a stream.
pub const WHOLE_PLAN_LIMIT: u64 = 64 * 1024 * 1024;

/// Everything in a plan but its subjects and steps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanHead {
    pub format_version: u32,
    pub plan_id: String,
    pub rulebook: RulebookRef,
    #[serde(with = "super::mode")]
    pub mode: Mode,
    pub now: String,
    pub source: Source,
    /// The rules' conditions a version 3 plan's `why` refers to (null in version 2).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub conditions: Value,
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    pub checksum: String,
}

/// What a writer is started with: the fields before the subjects.
pub struct Opening<'a> {
    pub rulebook: &'a RulebookRef,
    pub mode: Mode,
    pub now: &'a str,
    pub source: &'a Source,
    /// The rules' conditions (see [`super::why`]); null writes `{}`.
    pub conditions: &'a Value,
}

/// Bytes written to `W`, hashed and counted on the way.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a plan as its subjects and steps are decided. See the module documentation.
pub struct PlanWriter<W: Write> {
    /// Buffered before hashing, so the hash takes whole blocks rather than each small write.
    out: BufWriter<Hashing<W>>,
    subjects: u64,
    shapes: Shapes,
    /// A subject's bytes, built before they are written.
    line: Vec<u8>,
}

/// The separator before an array's element: a newline, after a comma unless it is the first.
fn separator(count: u64) -> &'static [u8] {
    if count == 0 {
        b"\n    "
    } else {
        b",\n    "
    }
}

/// The array's closing bracket, on its own line unless the array is empty.
fn close(count: u64) -> &'static [u8] {
    if count == 0 {
        b"]"
    } else {
        b"\n  ]"
    }
}

/// The end of the file after the checksummed bytes.
pub fn tail(checksum: &str) -> String {
    format!(
        "  \"plan_id\": \"{}\",\n  \"checksum\": \"{checksum}\"\n}}\n",
        plan_id(checksum)
    )
}

/// `plan-` and the first 12 hex digits of the checksum.
pub fn plan_id(checksum: &str) -> String {
    format!("plan-{}", checksum.get(..12).unwrap_or(checksum))
}

fn json_err(e: serde_json::Error) -> std::io::Error {
    std::io::Error::other(e)
}

impl<W: Write> PlanWriter<W> {
    /// Starts the plan on `out`.
    pub fn start(out: W, opening: &Opening<'_>) -> std::io::Result<Self> {
        let mut w = PlanWriter {
            out: BufWriter::with_capacity(
                1 << 16,
                Hashing {
                    inner: out,
                    hash: Sha256::new(),
                },
            ),
            subjects: 0,
            shapes: Shapes::new(opening.conditions).map_err(std::io::Error::other)?,
            line: Vec::new(),
        };
        write!(
            w.out,
            "{{\n  \"format_version\": {},\n",
            super::FORMAT_VERSION
        )?;
        w.field("rulebook", opening.rulebook)?;
        w.field("mode", &opening.mode)?;
        w.field("now", opening.now)?;
        w.field("source", opening.source)?;
        match opening.conditions {
            Value::Null => w.field("conditions", &serde_json::Map::new())?,
            c => w.field("conditions", c)?,
        }
        w.out.write_all(b"  \"subjects\": [")?;
        Ok(w)
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, v: &T) -> std::io::Result<()> {
        write!(self.out, "  \"{name}\": ")?;
        serde_json::to_writer(&mut self.out, v).map_err(json_err)?;
        self.out.write_all(b",\n")
    }

    /// Writes the next subject with its steps: a matched one's explanation as `why` when it can be.
    pub fn subject(&mut self, s: &PlannedSubject, steps: &[Step]) -> std::io::Result<()> {
        let why = match s.verdict {
            Verdict::Matched => self.shapes.compress(&s.rules, &s.explanation),
            _ => None,
        };
        let wire = SubjectOut {
            key: &s.key,
            verdict: s.verdict,
            rules: &s.rules,
            protected_by: s.protected_by,
            ids: &s.ids,
            explanation: why.is_none().then_some(&s.explanation),
            why,
            steps,
        };
        self.out.write_all(separator(self.subjects))?;
        serde_json::to_writer(&mut self.out, &wire).map_err(json_err)?;
        self.subjects += 1;
        Ok(())
    }

    /// Writes the next subject, matched by the rules of `traces`, and its steps straight from
    /// them: the bytes [`PlanWriter::subject`] writes for it, without building its explanation.
    /// `false` (nothing written) when its explanation cannot be `why`: then write it with
    /// [`PlanWriter::subject`].
    pub fn matched_subject(
        &mut self,
        key: &str,
        traces: &[&RuleTrace],
        ids: &BTreeMap<String, String>,
        steps: &[Step],
    ) -> std::io::Result<bool> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        line.extend_from_slice(b"{\"key\":");
        serde_json::to_writer(&mut line, key).map_err(json_err)?;
        line.extend_from_slice(b",\"verdict\":\"matched\",\"rules\":[");
        for (i, t) in traces.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            serde_json::to_writer(&mut line, &t.rule.0).map_err(json_err)?;
        }
        line.extend_from_slice(b"],\"ids\":");
        serde_json::to_writer(&mut line, ids).map_err(json_err)?;
        line.push(b',');
        let fits = self.shapes.write_why(&mut line, traces);
        if fits && !steps.is_empty() {
            line.extend_from_slice(b",\"steps\":");
            serde_json::to_writer(&mut line, steps).map_err(json_err)?;
        }
        line.push(b'}');
        let written = if fits {
            self.out.write_all(separator(self.subjects))?;
            self.out.write_all(&line)?;
            self.subjects += 1;
            true
        } else {
            false
        };
        self.line = line;
        Ok(written)
    }

    /// Writes the steps not listed with a subject (`apart`: none when the plan is written as it is
    /// made), then the summary and the seal. Returns the checksum and the output.
    pub fn finish(
        mut self,
        apart: &[Step],
        summary: &Summary,
        refused: Option<&Refusal>,
    ) -> std::io::Result<(String, W)> {
        self.out.write_all(close(self.subjects))?;
        self.out.write_all(b",\n")?;
        if !apart.is_empty() {
            self.out.write_all(b"  \"steps\": [")?;
            for (i, st) in apart.iter().enumerate() {
                self.out.write_all(separator(i as u64))?;
                serde_json::to_writer(&mut self.out, st).map_err(json_err)?;
            }
            self.out.write_all(close(apart.len() as u64))?;
            self.out.write_all(b",\n")?;
        }
        self.field("summary", summary)?;
        if let Some(r) = refused {
            self.field("refused", r)?;
        }
        let mut hashed = self.out.into_inner().map_err(|e| e.into_error())?;
        let checksum = hex::encode(hashed.hash.finalize_reset());
        hashed.inner.write_all(tail(&checksum).as_bytes())?;
        hashed.inner.flush()?;
        Ok((checksum, hashed.inner))
    }
}
