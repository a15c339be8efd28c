//! Where each node of a YAML document is: a map from a node's path (keys and indexes) to the
//! positions of its key and its value, and the keys written twice in one mapping. Built from
//! saphyr-parser's marked events, because serde's data model carries no positions; it knows nothing
//! about what the nodes mean.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use super::limits::MAX_DEPTH;
use crate::diagnostic::Position;

/// One step in a path from the document root to a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root, e.g. `rules[2].when.all[0].path`.
pub type NodePath = Vec<Seg>;

/// Renders a node path for messages: `rules[2].when`.
pub fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Loc {
    key: Option<Position>,
    value: Position,
}

enum Frame {
    Map {
        path: NodePath,
        key: Option<(String, Position)>,
        /// Scalar keys met so far, to spot a key written twice.
        seen: HashMap<String, Position>,
    },
    Seq {
        path: NodePath,
        next: usize,
    },
}

impl Frame {
    /// Takes `text` as the key of the next entry when this is a mapping waiting for one (recording
    /// a repeat in `duplicates`); `false` when `text` is a value.
    fn takes_key(&mut self, text: &str, at: Position, duplicates: &mut Vec<DuplicateKey>) -> bool {
        let Frame::Map { path, key, seen } = self else {
            return false;
        };
        if key.is_some() {
            return false;
        }
        match seen.get(text) {
            Some(first) => duplicates.push(DuplicateKey {
                mapping: path.clone(),
                key: text.to_string(),
                first: *first,
                again: at,
            }),
            None => {
                seen.insert(text.to_string(), at);
            }
        }
        *key = Some((text.to_string(), at));
        true
    }

    /// The path of the next node inside this one, and where its key is (for a mapping entry).
    fn next_child(&mut self) -> (NodePath, Option<Position>) {
        match self {
            Frame::Map { path, key, .. } => {
                let mut p = path.clone();
                match key.take() {
                    Some((k, kp)) => {
                        p.push(Seg::Key(k));
                        (p, Some(kp))
                    }
                    // A complex (non-scalar) key: positions below it are not tracked.
                    None => {
                        p.push(Seg::Key("?".into()));
                        (p, None)
                    }
                }
            }
            Frame::Seq { path, next } => {
                let mut p = path.clone();
                p.push(Seg::Index(*next));
                *next += 1;
                (p, None)
            }
        }
    }
}

/// A key written twice in one mapping. serde_yaml rejects it but only locates the mapping, so the
/// locator keeps both places for a diagnostic that points at the repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The mapping holding the key.
    pub mapping: NodePath,
    pub key: String,
    pub first: Position,
    pub again: Position,
}

/// Positions of every node of one YAML document.
#[derive(Debug, Default)]
pub struct Locator {
    nodes: HashMap<NodePath, Loc>,
    duplicates: Vec<DuplicateKey>,
    /// Where nesting first went deeper than [`MAX_DEPTH`]; indexing stopped there.
    too_deep: Option<Position>,
}

impl Locator {
    /// Indexes `source`. A document saphyr cannot parse yields a partial index; the syntax error itself
    /// is reported by the serde parser, so nothing is lost. Indexing stops at the first node nested
    /// deeper than [`MAX_DEPTH`] (see [`Locator::too_deep`]), which keeps it linear in the input.
    pub fn new(source: &str) -> Self {
        let mut nodes = HashMap::new();
        let mut duplicates = Vec::new();
        let mut too_deep = None;
        let mut stack: Vec<Frame> = Vec::new();
        let mut root_seen = false;
        for item in Parser::new_from_str(source) {
            let Ok((event, span)) = item else { break };
            let at = Position {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            let starts_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
                    | Event::Alias(_)
            );
            if starts_node {
                // A scalar where a mapping expects a key is the key itself.
                if let (Some(frame), Event::Scalar(text, ..)) = (stack.last_mut(), &event) {
                    if frame.takes_key(text, at, &mut duplicates) {
                        continue;
                    }
                }
                if stack.len() >= MAX_DEPTH {
                    too_deep = Some(at);
                    break;
                }
                let (path, key_pos) = match stack.last_mut() {
                    Some(frame) => frame.next_child(),
                    None if root_seen => break, // only the first document is indexed
                    None => {
                        root_seen = true;
                        (Vec::new(), None)
                    }
                };
                nodes.insert(
                    path.clone(),
                    Loc {
                        key: key_pos,
                        value: at,
                    },
                );
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map {
                        path,
                        key: None,
                        seen: HashMap::new(),
                    }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                    _ => {}
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            }
        }
        Locator {
            nodes,
            duplicates,
            too_deep,
        }
    }

    /// Where nesting first went deeper than [`MAX_DEPTH`], if it did.
    pub fn too_deep(&self) -> Option<Position> {
        self.too_deep
    }

    /// Whether a node exists at `path` (e.g. `rules[10000]`, to count rules before checking them).
    pub fn has(&self, path: &[Seg]) -> bool {
        self.nodes.contains_key(path)
    }

    /// Keys written twice in one mapping, in document order.
    pub fn duplicates(&self) -> &[DuplicateKey] {
        &self.duplicates
    }

    /// Where the value at `path` starts; falls back to the nearest located ancestor.
    pub fn value(&self, path: &[Seg]) -> Position {
        let mut p = path;
        loop {
            if let Some(loc) = self.nodes.get(p) {
                return loc.value;
            }
            match p.split_last() {
                Some((_, rest)) => p = rest,
                None => return Position { line: 1, column: 1 },
            }
        }
    }

    /// Where the key of the entry at `path` is (for "unknown field" messages); the value otherwise.
    pub fn key(&self, path: &[Seg]) -> Position {
        match self.nodes.get(path).and_then(|l| l.key) {
            Some(k) => k,
            None => self.value(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_and_values() {
        let src = "a: 1\nrules:\n  - id: x\n    when: { path: $.a, equals: 'q' }\n";
        let loc = Locator::new(src);
        let p = |segs: &[Seg]| segs.to_vec();
        let when = p(&[
            Seg::Key("rules".into()),
            Seg::Index(0),
            Seg::Key("when".into()),
        ]);
        assert_eq!(loc.key(&when), Position { line: 4, column: 5 });
        assert_eq!(
            loc.value(&when),
            Position {
                line: 4,
                column: 11
            }
        );
        let mut eq = when.clone();
        eq.push(Seg::Key("equals".into()));
        assert_eq!(
            loc.value(&eq),
            Position {
                line: 4,
                column: 32
            }
        );
        assert_eq!(display_path(&eq), "rules[0].when.equals");
    }

    #[test]
    fn finds_keys_written_twice() {
        let src = "a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\na: 4\n";
        let loc = Locator::new(src);
        let found: Vec<(String, usize, usize)> = loc
            .duplicates()
            .iter()
            .map(|d| (d.key.clone(), d.first.line, d.again.line))
            .collect();
        assert_eq!(found, vec![("c".into(), 3, 5), ("a".into(), 1, 6)]);
        assert_eq!(loc.duplicates()[0].mapping, vec![Seg::Key("b".into())]);
        assert!(Locator::new("a: 1\nb: {a: 1}\n").duplicates().is_empty());
    }
}
