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
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::why::Shapes;
use super::{PlanError, PlannedSubject, Refusal, RulebookRef, Source, Step, Summary};
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

/// A subject as read from a plan file, before its `why` is expanded.
#[derive(Deserialize)]
struct SubjectIn<S> {
    key: String,
    verdict: Verdict,
    rules: Vec<String>,
    #[serde(default)]
    protected_by: Option<usize>,
    #[serde(default)]
    ids: BTreeMap<String, String>,
    #[serde(default)]
    why: Option<Value>,
    #[serde(default)]
    explanation: Option<Value>,
    /// Its steps (format 3; a format 2 plan lists them apart): `Vec<Step>`, or `IgnoredAny` for a
    /// reader that wants none.
    #[serde(default)]
    steps: S,
}

/// Only the steps of a subject line, for a reader that wants no subjects.
#[derive(Deserialize)]
struct StepsIn {
    #[serde(default)]
    steps: Vec<Step>,
}

impl<S> SubjectIn<S> {
    fn expand(self, shapes: &Shapes) -> Result<(PlannedSubject, S), String> {
        let explanation = match (self.why, self.explanation) {
            (Some(why), None) => shapes
                .expand(&self.rules, &why)
                .map_err(|e| format!("subject `{}`: {e}", self.key))?,
            (None, Some(e)) => e,
            _ => {
                return Err(format!(
                    "subject `{}` needs one of `why` and `explanation`",
                    self.key
                ))
            }
        };
        let subject = PlannedSubject {
            key: self.key,
            verdict: self.verdict,
            rules: self.rules,
            protected_by: self.protected_by,
            ids: self.ids,
            explanation,
        };
        Ok((subject, self.steps))
    }
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

fn read_err(path: &Path, message: impl std::fmt::Display) -> PlanError {
    PlanError::Read {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// The `format_version` a plan file starts with (both versions write it first).
pub fn probe_version(path: &Path) -> Result<u32, PlanError> {
    let mut head = Vec::with_capacity(256);
    File::open(path)
        .and_then(|f| f.take(256).read_to_end(&mut head))
        .map_err(|e| read_err(path, e))?;
    let text = String::from_utf8_lossy(&head);
    let after = text
        .split_once("\"format_version\"")
        .map(|(_, rest)| rest.trim_start().trim_start_matches(':').trim_start())
        .ok_or_else(|| read_err(path, "not a plan: no `format_version` at its start"))?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .map_err(|_| read_err(path, "not a plan: `format_version` is not a number"))
}

/// Checks a version 2 or 3 plan's checksum by hashing the file once, without parsing it.
pub fn verify(path: &Path) -> Result<(), PlanError> {
    let mut file = File::open(path).map_err(|e| read_err(path, e))?;
    let len = file.metadata().map_err(|e| read_err(path, e))?.len();
    let tail_len = tail(&"0".repeat(64)).len() as u64;
    let tampered = || PlanError::Tampered {
        path: path.display().to_string(),
    };
    let body = len.checked_sub(tail_len).ok_or_else(tampered)?;
    let mut hash = Sha256::new();
    let mut reader = BufReader::with_capacity(1 << 16, (&mut file).take(body));
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(|e| read_err(path, e))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    let mut found = Vec::new();
    file.read_to_end(&mut found)
        .map_err(|e| read_err(path, e))?;
    if found != tail(&hex::encode(hash.finalize())).as_bytes() {
        return Err(tampered());
    }
    Ok(())
}

/// One subject or step, as [`visit`] hands them over.
pub enum Item {
    Subject(PlannedSubject),
    Step(Step),
}

/// Which arrays [`visit`] parses (the others are skipped without being kept).
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub subjects: bool,
    pub steps: bool,
}

/// What [`visit`] hands each item to: `Ok(true)` to go on, `Ok(false)` to stop reading there, an
/// error to stop with it.
pub type OnItem<'a> = &'a mut dyn FnMut(Item) -> Result<bool, String>;

type Inner<'a> = &'a mut dyn FnMut(Item) -> Result<(), String>;

/// Parses the plan from `input` once, handing each wanted subject and step to `on`, and returns the
/// rest (`None` when `on` stopped the reading early). Does not check the checksum.
pub fn visit(
    path: &Path,
    input: impl Read,
    want: Want,
    on: OnItem<'_>,
) -> Result<Option<PlanHead>, PlanError> {
    let stopped = std::cell::Cell::new(false);
    let mut inner = |item: Item| match on(item) {
        Ok(true) => Ok(()),
        Ok(false) => {
            stopped.set(true);
            Err("stopped".to_string())
        }
        Err(e) => Err(e),
    };
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, input));
    let parsed = serde::Deserializer::deserialize_map(
        &mut de,
        Top {
            want,
            on: &mut inner,
        },
    );
    if stopped.get() {
        return Ok(None);
    }
    let head = parsed.map_err(|e| read_err(path, format!("not a plan: {e}")))?;
    de.end()
        .map_err(|e| read_err(path, format!("not a plan: {e}")))?;
    Ok(Some(head))
}

struct Top<'a> {
    want: Want,
    on: Inner<'a>,
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = PlanHead;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a plan object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PlanHead, A::Error> {
        let mut fields = serde_json::Map::new();
        // `conditions` comes before the subjects whose `why` refers to it.
        let mut shapes = Shapes::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                // A format 3 subject carries its steps.
                "subjects" if self.want.subjects && self.want.steps => {
                    let shapes = &shapes;
                    map.next_value_seed(Each {
                        on: &mut *self.on,
                        wrap: &|s: SubjectIn<Vec<Step>>| {
                            let (subject, own) = s.expand(shapes)?;
                            let own = own.into_iter().map(Item::Step);
                            Ok(std::iter::once(Item::Subject(subject)).chain(own).collect())
                        },
                    })?
                }
                "subjects" if self.want.subjects => {
                    let shapes = &shapes;
                    map.next_value_seed(Each {
                        on: &mut *self.on,
                        wrap: &|s: SubjectIn<IgnoredAny>| {
                            Ok(vec![Item::Subject(s.expand(shapes)?.0)])
                        },
                    })?
                }
                "subjects" if self.want.steps => map.next_value_seed(Each {
                    on: &mut *self.on,
                    wrap: &|s: StepsIn| Ok(s.steps.into_iter().map(Item::Step).collect()),
                })?,
                "steps" if self.want.steps => map.next_value_seed(Each {
                    on: &mut *self.on,
                    wrap: &|s| Ok(vec![Item::Step(s)]),
                })?,
                "subjects" | "steps" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    let v: Value = map.next_value()?;
                    if key == "conditions" {
                        shapes = Shapes::new(&v)
                            .map_err(|e| serde::de::Error::custom(format!("`conditions`: {e}")))?;
                    }
                    fields.insert(key, v);
                }
            }
        }
        serde_json::from_value(Value::Object(fields)).map_err(serde::de::Error::custom)
    }
}

/// Turns one element of an array into items (or says why it cannot).
type Wrap<'w, T> = &'w dyn Fn(T) -> Result<Vec<Item>, String>;

/// Each element of an array, handed to `on` as it is parsed.
struct Each<'a, 'o, 'w, T> {
    on: &'o mut (dyn FnMut(Item) -> Result<(), String> + 'a),
    wrap: Wrap<'w, T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Each<'_, '_, '_, T> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Each<'_, '_, '_, T> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(x) = seq.next_element::<T>()? {
            for item in (self.wrap)(x).map_err(serde::de::Error::custom)? {
                (self.on)(item).map_err(serde::de::Error::custom)?;
            }
        }
        Ok(())
    }
}

/// A plan file opened for streaming: version checked and checksum verified. A version 1 plan (pretty
/// JSON, written whole by earlier releases) is read whole, within [`WHOLE_PLAN_LIMIT`].
#[derive(Debug)]
pub enum Opened {
    Small(Box<super::Plan>),
    Stream {
        path: std::path::PathBuf,
        head: Box<PlanHead>,
    },
}

impl Opened {
    /// Opens and verifies the plan at `path` (checksum and version) before anything is read from it.
    pub fn open(path: &Path) -> Result<Opened, PlanError> {
        match probe_version(path)? {
            1 => Ok(Opened::Small(Box::new(super::Plan::read(path)?))),
            2 | super::FORMAT_VERSION => {
                verify(path)?;
                let head = match quick_head(path)? {
                    Some(head) => head,
                    None => visit_path(path, Want::default(), &mut |_| Ok(true))?
                        .ok_or_else(|| read_err(path, "not a plan"))?,
                };
                Ok(Opened::Stream {
                    path: path.to_path_buf(),
                    head: Box::new(head),
                })
            }
            found => Err(PlanError::Version {
                path: path.display().to_string(),
                found,
            }),
        }
    }

    /// The plan without its subjects and steps.
    pub fn head(&self) -> PlanHead {
        match self {
            Opened::Small(p) => p.head(),
            Opened::Stream { head, .. } => (**head).clone(),
        }
    }

    /// Hands each wanted subject and step to `on`, in file order (in format 3 each subject, then its
    /// steps; in format 2 all subjects, then all steps),
    /// until `on` says stop.
    pub fn each(&self, want: Want, on: OnItem<'_>) -> Result<(), PlanError> {
        match self {
            Opened::Small(p) => p.each(want, on),
            Opened::Stream { path, .. } => visit_path(path, want, on).map(|_| ()),
        }
    }
}

/// What renderings and the executor read a plan through: a plan in memory, or a plan file read as a
/// stream.
pub trait PlanItems {
    /// The plan without its subjects and steps.
    fn head(&self) -> PlanHead;
    /// Hands each wanted subject and step to `on` until `on` says stop: each subject before its
    /// steps (a plan in memory hands all subjects, then all steps).
    fn each(&self, want: Want, on: OnItem<'_>) -> Result<(), PlanError>;
}

impl PlanItems for super::Plan {
    fn head(&self) -> PlanHead {
        super::Plan::head(self)
    }
    fn each(&self, want: Want, on: OnItem<'_>) -> Result<(), PlanError> {
        let stop = |m: String| PlanError::Read {
            path: self.plan_id.clone(),
            message: m,
        };
        if want.subjects {
            for s in &self.subjects {
                if !on(Item::Subject(s.clone())).map_err(stop)? {
                    return Ok(());
                }
            }
        }
        if want.steps {
            for s in &self.steps {
                if !on(Item::Step(s.clone())).map_err(stop)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl PlanItems for Opened {
    fn head(&self) -> PlanHead {
        Opened::head(self)
    }
    fn each(&self, want: Want, on: OnItem<'_>) -> Result<(), PlanError> {
        Opened::each(self, want, on)
    }
}

/// How far from each end of a plan file [`quick_head`] looks for the fields around the arrays.
const QUICK_HEAD_BYTES: u64 = 1 << 20;

/// Everything but the subjects and steps of a checked version 2 or 3 plan, from its first lines (up to
/// `"subjects"`) and its last ones (from `"summary"`), without reading the arrays between: the
/// format writes one top-level field per line. `None` when either end is not where it should be
/// (then the caller reads the whole file).
fn quick_head(path: &Path) -> Result<Option<PlanHead>, PlanError> {
    let mut file = File::open(path).map_err(|e| read_err(path, e))?;
    let len = file.metadata().map_err(|e| read_err(path, e))?.len();
    let mut start = Vec::new();
    (&mut file)
        .take(QUICK_HEAD_BYTES)
        .read_to_end(&mut start)
        .map_err(|e| read_err(path, e))?;
    let from = len.saturating_sub(QUICK_HEAD_BYTES);
    file.seek(SeekFrom::Start(from))
        .map_err(|e| read_err(path, e))?;
    let mut end = Vec::new();
    file.read_to_end(&mut end).map_err(|e| read_err(path, e))?;
    let (start, end) = (
        String::from_utf8_lossy(&start),
        String::from_utf8_lossy(&end),
    );
    let Some(before) = start.find("\n  \"subjects\": [").map(|i| &start[..i]) else {
        return Ok(None);
    };
    let Some(after) = end.rfind("\n  \"summary\": ").map(|i| &end[i..]) else {
        return Ok(None);
    };
    let text = format!("{},{after}", before.trim_end_matches(','));
    Ok(serde_json::from_str(&text).ok())
}

/// [`visit`] of the plan file at `path` (its checksum is not checked: see [`Opened::open`]).
pub fn visit_path(path: &Path, want: Want, on: OnItem<'_>) -> Result<Option<PlanHead>, PlanError> {
    let file = File::open(path).map_err(|e| read_err(path, e))?;
    visit(path, file, want, on)
}

/// The plan at `path` without its subjects and steps, its checksum checked.
pub fn read_head(path: &Path) -> Result<PlanHead, PlanError> {
    Ok(Opened::open(path)?.head())
}

/// Whether the plan at `path` lists a subject `key` (read as a stream).
pub fn lists_subject(path: &Path, key: &str) -> Result<bool, PlanError> {
    let mut found = false;
    let want = Want {
        subjects: true,
        steps: false,
    };
    Opened::open(path)?.each(want, &mut |item| {
        if let Item::Subject(s) = item {
            found |= s.key == key;
        }
        Ok(!found)
    })?;
    Ok(found)
}
