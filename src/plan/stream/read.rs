//! Reading a plan file as a stream: its version and checksum checked first ([`probe_version`],
//! [`verify`]), then one subject or step at a time ([`visit`], [`Opened`]), a matched subject's
//! `why` expanded against the plan's `conditions` as it is read. Format 2 files (every step listed
//! apart, every explanation whole) are read by the same code.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::why::Shapes;
use super::super::{PlanError, PlannedSubject, Step};
use super::{tail, PlanHead};
use crate::engine::Verdict;

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
    Small(Box<super::super::Plan>),
    Stream {
        path: std::path::PathBuf,
        head: Box<PlanHead>,
    },
}

impl Opened {
    /// Opens and verifies the plan at `path` (checksum and version) before anything is read from it.
    pub fn open(path: &Path) -> Result<Opened, PlanError> {
        match probe_version(path)? {
            1 => Ok(Opened::Small(Box::new(super::super::Plan::read(path)?))),
            2 | super::super::FORMAT_VERSION => {
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

impl PlanItems for super::super::Plan {
    fn head(&self) -> PlanHead {
        super::super::Plan::head(self)
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
