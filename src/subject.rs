//! Reading subjects from files: a JSON array or JSON Lines, streamed one subject at a time so memory
//! stays flat in the file size. Optionally prunes each subject to the fields a rulebook can read, so
//! parsing (where most of the planning time goes) builds only what conditions look at. Building
//! subjects from live orgs is `collect`'s job. A JSON Lines subject is at most [`MAX_LINE_BYTES`];
//! every error names its line.

mod prune;
pub mod shape;

pub use prune::FieldTree;
use prune::Pruned;

use std::cell::Cell;
use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;

/// The first line of a file written by `remedy snapshot` starts with this; it records where the subjects
/// came from (see [`read_snapshot_header`]) and is not a subject.
pub const SNAPSHOT_HEADER_PREFIX: &str = "{\"remedy_snapshot\":";

/// A JSON Lines subject (and a snapshot header) is at most 64 MiB.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// The `remedy_snapshot` header of a subjects file, if it has one. Reads no further than the
/// header's prefix when the file has none, and at most [`MAX_LINE_BYTES`] when it has.
pub fn read_snapshot_header(path: &std::path::Path) -> Result<Option<Value>, SubjectError> {
    let file = path.display().to_string();
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let mut start = vec![0u8; SNAPSHOT_HEADER_PREFIX.len()];
    let mut filled = 0;
    while filled < start.len() {
        let n = reader.read(&mut start[filled..])?;
        if n == 0 {
            return Ok(None);
        }
        filled += n;
    }
    if start != SNAPSHOT_HEADER_PREFIX.as_bytes() {
        return Ok(None);
    }
    let mut line = start;
    if !read_line_limited(&mut reader, &mut line)? {
        return Err(SubjectError::LineTooLong { file, line: 1 });
    }
    let text = utf8_str(&line, &file, 1)?;
    let v: Value = serde_json::from_str(text).map_err(|e| SubjectError::Malformed {
        file: file.clone(),
        line: 1,
        message: e.to_string(),
    })?;
    Ok(v.get("remedy_snapshot").cloned())
}

/// Appends the rest of the current line (with its `\n`) to `buf`; `false` when the line is longer
/// than [`MAX_LINE_BYTES`] (reading stops just past the limit, so memory stays bounded).
fn read_line_limited(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let room = (MAX_LINE_BYTES + 1).saturating_sub(buf.len()) as u64;
    reader.by_ref().take(room).read_until(b'\n', buf)?;
    Ok(buf.len() <= MAX_LINE_BYTES)
}

/// A line's bytes as text, or an error naming the line and where the invalid UTF-8 starts.
fn utf8_str<'b>(bytes: &'b [u8], file: &str, line: usize) -> Result<&'b str, SubjectError> {
    std::str::from_utf8(bytes).map_err(|e| SubjectError::Malformed {
        file: file.to_string(),
        line,
        message: format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
    })
}

/// Why a subjects file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    #[error("cannot read subjects: {0}")]
    Io(#[from] std::io::Error),
    #[error("{file}:{line}: malformed subject: {message}")]
    Malformed {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}: the line is longer than the limit of {MAX_LINE_BYTES} bytes")]
    LineTooLong { file: String, line: usize },
    #[error("{file}:{line}: a subject must be a JSON object, found {found}")]
    NotObject {
        file: String,
        line: usize,
        found: &'static str,
    },
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Streams every subject of `input` (a JSON array or JSON Lines) to `each`, pruned to `fields`.
/// `each` gets the subject's 0-based position. Stops at the first malformed subject, naming its line.
pub fn for_each<R: Read, E: From<SubjectError>>(
    input: R,
    file: &str,
    fields: &FieldTree,
    mut each: impl FnMut(usize, Value) -> Result<(), E>,
) -> Result<usize, E> {
    for_each_staged(input, file, fields, fields, |i, staged| {
        each(i, staged.into_value())
    })
}

/// A subject read to decide on (pruned to `quick`), and on demand read again pruned to `full`, for
/// the subjects that are shown. When most subjects are shown, [`for_each_staged`] reads each in full
/// at once and the second read is free.
pub struct Staged<'a> {
    value: Value,
    full: bool,
    reread: &'a mut dyn FnMut() -> Result<Value, SubjectError>,
    rereads: &'a Cell<usize>,
}

impl Staged<'_> {
    /// The subject as read to decide on.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The subject as read to decide on, owned.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// The subject pruned to the full set of fields.
    pub fn into_full(self) -> Result<Value, SubjectError> {
        self.rereads.set(self.rereads.get() + 1);
        if self.full {
            Ok(self.value)
        } else {
            (self.reread)()
        }
    }
}

fn parse_line(
    line: &str,
    tree: &FieldTree,
    file: &str,
    line_no: usize,
) -> Result<Value, SubjectError> {
    let mut de = serde_json::Deserializer::from_str(line);
    let value = Pruned(tree)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|_| v))
        .map_err(|e| SubjectError::Malformed {
            file: file.to_string(),
            line: line_no,
            message: format!("{e}").replace(" at line 1 ", " at "),
        })?;
    if !value.is_object() {
        return Err(SubjectError::NotObject {
            file: file.to_string(),
            line: line_no,
            found: kind_name(&value),
        });
    }
    Ok(value)
}

/// Subjects read before [`for_each_staged`] considers reading in full at once, and the share of
/// them (1 in this many) that must have been read again for it to do so.
const EAGER_AFTER: usize = 1024;
const EAGER_SHARE: usize = 4;

/// Like [`for_each`], pruning each subject to `quick` and letting `each` re-read it pruned to `full`.
/// JSON Lines are re-parsed from the line; a JSON array is read once, pruned to `full`.
pub fn for_each_staged<R: Read, E: From<SubjectError>>(
    input: R,
    file: &str,
    quick: &FieldTree,
    full: &FieldTree,
    mut each: impl FnMut(usize, Staged<'_>) -> Result<(), E>,
) -> Result<usize, E> {
    // Large reads: a subjects file is read once, front to back, often gigabytes of it.
    let mut reader = BufReader::with_capacity(1 << 18, input);
    // A UTF-8 byte-order mark (editors on Windows add one) is not part of the JSON.
    if reader
        .fill_buf()
        .map_err(SubjectError::Io)?
        .starts_with(&[0xEF, 0xBB, 0xBF])
    {
        reader.consume(3);
    }
    // Peek at the first non-blank byte to tell an array from JSON Lines.
    let first = loop {
        let buf = reader.fill_buf().map_err(SubjectError::Io)?;
        if buf.is_empty() {
            return Ok(0);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break buf[i],
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    if first == b'[' {
        let rereads = Cell::new(0usize);
        return for_each_in_array(reader, file, full, |i, value| {
            let staged = Staged {
                value,
                // Read in full already: `into_full` never calls this.
                full: true,
                reread: &mut || Ok(Value::Null),
                rereads: &rereads,
            };
            each(i, staged)
        });
    }
    let mut bytes = Vec::new();
    let mut line_no = 0;
    let mut count = 0;
    let rereads = Cell::new(0usize);
    loop {
        bytes.clear();
        line_no += 1;
        if !read_line_limited(&mut reader, &mut bytes).map_err(SubjectError::Io)? {
            return Err(SubjectError::LineTooLong {
                file: file.to_string(),
                line: line_no,
            }
            .into());
        }
        if bytes.is_empty() {
            break;
        }
        let line = utf8_str(&bytes, file, line_no)?;
        if line.trim().is_empty() || (line_no == 1 && line.starts_with(SNAPSHOT_HEADER_PREFIX)) {
            continue;
        }
        // When many subjects are read again (most match), reading each in full at once is cheaper
        // than a quick read followed by a full one: decisions are the same on the fuller read.
        let eager = count >= EAGER_AFTER && rereads.get() * EAGER_SHARE >= count;
        let value = parse_line(line, if eager { full } else { quick }, file, line_no)?;
        let staged = Staged {
            value,
            full: eager,
            reread: &mut || parse_line(line, full, file, line_no),
            rereads: &rereads,
        };
        each(count, staged)?;
        count += 1;
    }
    Ok(count)
}

fn for_each_in_array<R: Read, E: From<SubjectError>>(
    reader: R,
    file: &str,
    fields: &FieldTree,
    each: impl FnMut(usize, Value) -> Result<(), E>,
) -> Result<usize, E> {
    struct ArrayVisitor<'a, F, E> {
        fields: &'a FieldTree,
        each: F,
        failure: &'a mut Option<E>,
    }
    impl<'de, F: FnMut(usize, Value) -> Result<(), E>, E> Visitor<'de> for ArrayVisitor<'_, F, E> {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of subjects")
        }
        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<usize, A::Error> {
            let mut count = 0;
            while let Some(v) = seq.next_element_seed(Pruned(self.fields))? {
                if !v.is_object() {
                    return Err(de::Error::custom(format!(
                        "subject {} must be a JSON object, found {}",
                        count + 1,
                        kind_name(&v)
                    )));
                }
                if let Err(e) = (self.each)(count, v) {
                    *self.failure = Some(e);
                    return Err(de::Error::custom("stopped"));
                }
                count += 1;
            }
            Ok(count)
        }
    }
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = de::Deserializer::deserialize_seq(
        &mut de,
        ArrayVisitor {
            fields,
            each,
            failure: &mut failure,
        },
    )
    .and_then(|n| de.end().map(|_| n));
    if let Some(e) = failure {
        return Err(e);
    }
    result.map_err(|e| {
        SubjectError::Malformed {
            file: file.to_string(),
            line: e.line(),
            message: {
                let text = e.to_string();
                match text.find(" at line ") {
                    Some(i) => format!("{} (column {})", &text[..i], e.column()),
                    None => text,
                }
            },
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::JsonPath;

    fn collect(text: &str, fields: &FieldTree) -> Result<Vec<Value>, SubjectError> {
        let mut out = Vec::new();
        for_each(text.as_bytes(), "s.jsonl", fields, |_, v| {
            out.push(v);
            Ok::<(), SubjectError>(())
        })?;
        Ok(out)
    }

    /// Whether each subject was read again, and what the full read gave, over 3,000 subjects of
    /// which the first 100 are read again rarely and the rest always: the full reads are the same
    /// whether they come from a second parse or, once most subjects are read again, the first.
    #[test]
    fn staged_reads_give_the_same_full_subjects_when_most_are_read_again() {
        let status = JsonPath::compile("$.status").unwrap();
        let login = JsonPath::compile("$.login").unwrap();
        let quick = FieldTree::from_reads([(&status, true)]);
        let full = FieldTree::from_reads([(&status, true), (&login, true)]);
        let text: String = (0..3000)
            .map(|i| {
                format!(
                    "{{\"status\":\"S{}\",\"login\":\"u{i}\",\"x\":{i}}}\n",
                    i % 7
                )
            })
            .collect();
        let mut quick_seen = 0;
        let mut fulls = Vec::new();
        for_each_staged(text.as_bytes(), "s.jsonl", &quick, &full, |i, staged| {
            if staged.value().get("login").is_none() {
                quick_seen += 1;
            }
            if i >= 100 || i % 10 == 0 {
                fulls.push((i, staged.into_full()?));
            }
            Ok::<(), SubjectError>(())
        })
        .unwrap();
        assert_eq!(fulls.len(), 10 + 2900);
        for (i, v) in &fulls {
            let want =
                serde_json::json!({"status": format!("S{}", i % 7), "login": format!("u{i}")});
            assert_eq!(v, &want, "subject {i}");
        }
        // The first subjects were decided on the quick read; later ones on the full read at once.
        assert!((EAGER_AFTER..3000).contains(&quick_seen), "{quick_seen}");
    }

    #[test]
    fn shape_reads_keep_presence_count_and_null_but_not_content() {
        let user = JsonPath::compile("$.user").unwrap();
        let events = JsonPath::compile("$.events[*]").unwrap();
        let status = JsonPath::compile("$.spoke.status").unwrap();
        let tree = FieldTree::from_reads([(&user, false), (&events, false), (&status, true)]);
        let v = collect(
            r#"{"user":{"id":"00u1","profile":{"login":"a"}},"events":[{"a":1},2],"spoke":{"status":"A","x":1}}
{"user":null,"events":[]}"#,
            &tree,
        )
        .unwrap();
        assert_eq!(
            v[0],
            serde_json::json!({"user":{},"events":[{},2],"spoke":{"status":"A"}})
        );
        assert_eq!(v[1], serde_json::json!({"user":null,"events":[]}));
        // A content read of the same node wins over a shape read.
        let tree = FieldTree::from_reads([(&user, false), (&user, true)]);
        let v = collect(r#"{"user":{"id":"00u1"}}"#, &tree).unwrap();
        assert_eq!(v[0], serde_json::json!({"user":{"id":"00u1"}}));
    }

    // A count of a filter's results must still see what the filter compares (it once kept only the
    // elements' shape, so the filter found nothing and a quick verdict missed the match).
    #[test]
    fn a_counted_filter_keeps_what_it_compares() {
        let failed =
            JsonPath::compile("$.events[?@.outcome.result == 'FAILURE'].outcome.result").unwrap();
        let reason = JsonPath::compile("$.events[*].outcome.reason").unwrap();
        let tree = FieldTree::from_reads([(&failed, false), (&reason, true)]);
        let v = collect(
            r#"{"events":[{"outcome":{"result":"FAILURE","reason":"r"},"big":1}]}"#,
            &tree,
        )
        .unwrap();
        assert_eq!(
            v[0],
            serde_json::json!({"events":[{"outcome":{"result":"FAILURE","reason":"r"}}]})
        );
        assert_eq!(failed.query(&v[0]).len(), 1);
        // A path too complex to follow keeps its whole subtree, content included.
        let search =
            JsonPath::compile("$.events[?search(@.outcome.reason, 'r')].outcome.result").unwrap();
        let v = collect(
            r#"{"events":[{"outcome":{"result":"FAILURE","reason":"r"}}],"x":1}"#,
            &FieldTree::from_reads([(&search, false)]),
        )
        .unwrap();
        assert_eq!(
            v[0],
            serde_json::json!({"events":[{"outcome":{"result":"FAILURE","reason":"r"}}]})
        );
    }

    #[test]
    fn skips_a_byte_order_mark() {
        let v = collect("\u{feff}{\"a\":1}\n", &FieldTree::everything()).unwrap();
        assert_eq!(v, vec![serde_json::json!({"a": 1})]);
    }

    #[test]
    fn reads_lines_and_arrays_alike() {
        let all = FieldTree::everything();
        let lines = collect("{\"a\":1}\n\n{\"a\":2}\n", &all).unwrap();
        let array = collect(" [ {\"a\":1}, {\"a\":2} ]", &all).unwrap();
        assert_eq!(lines, array);
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn names_the_malformed_line() {
        let err = collect("{\"a\":1}\n{\"a\":\n", &FieldTree::everything()).unwrap_err();
        assert!(
            err.to_string().starts_with("s.jsonl:2: malformed subject"),
            "{err}"
        );
        let err = collect("[{\"a\":1},\n 5]", &FieldTree::everything()).unwrap_err();
        assert!(err.to_string().starts_with("s.jsonl:2:"), "{err}");
    }

    #[test]
    fn prunes_to_read_fields() {
        let p = JsonPath::compile("$.user.status").unwrap();
        let q = JsonPath::compile("$.events[*].outcome").unwrap();
        let tree = FieldTree::from_paths([&p, &q]);
        let v = collect(
            r#"{"user":{"status":"A","profile":{"x":1}},"events":[{"outcome":1,"big":2}],"junk":[1,2]}"#,
            &tree,
        )
        .unwrap();
        assert_eq!(
            v[0],
            serde_json::json!({"user":{"status":"A"},"events":[{"outcome":1}]})
        );
        // A filter path keeps the whole subtree below its leading names.
        let f = JsonPath::compile("$.events[?@.big == 2]").unwrap();
        let v = collect(
            r#"{"user":{"status":"A"},"events":[{"outcome":1,"big":2}]}"#,
            &FieldTree::from_paths([&f]),
        )
        .unwrap();
        assert_eq!(v[0], serde_json::json!({"events":[{"outcome":1,"big":2}]}));
    }

    #[test]
    fn names_the_line_with_invalid_utf8() {
        let mut input = b"{\"a\":1}\n{\"a\":\"".to_vec();
        input.extend_from_slice(&[0xff, 0xfe]);
        input.extend_from_slice(b"\"}\n");
        let mut n = 0;
        let err = for_each(&input[..], "s.jsonl", &FieldTree::everything(), |_, _| {
            n += 1;
            Ok::<(), SubjectError>(())
        })
        .unwrap_err();
        assert_eq!(n, 1);
        assert_eq!(
            err.to_string(),
            "s.jsonl:2: malformed subject: invalid UTF-8 at byte 7 of the line"
        );
    }

    #[test]
    fn a_line_too_long_is_an_error_not_an_allocation() {
        let big = vec![b' '; MAX_LINE_BYTES + 10];
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend_from_slice(&big);
        let err = collect_bytes(&input).unwrap_err();
        assert!(
            err.to_string().starts_with("s.jsonl:2: the line is longer"),
            "{err}"
        );
    }

    fn collect_bytes(input: &[u8]) -> Result<usize, SubjectError> {
        for_each(input, "s.jsonl", &FieldTree::everything(), |_, _| {
            Ok::<(), SubjectError>(())
        })
    }

    #[test]
    fn the_snapshot_header_is_read_only_when_present() {
        let dir = std::env::temp_dir().join(format!("remedy-header-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("plain.jsonl");
        std::fs::write(&plain, "{\"a\":1}\n").unwrap();
        assert_eq!(read_snapshot_header(&plain).unwrap(), None);
        let with = dir.join("with.jsonl");
        std::fs::write(&with, "{\"remedy_snapshot\":{\"now\":\"x\"}}\n{\"a\":1}\n").unwrap();
        assert_eq!(
            read_snapshot_header(&with).unwrap(),
            Some(serde_json::json!({"now": "x"}))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
