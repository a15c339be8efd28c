//! What of a subject a rulebook reads: a tree of field names ([`FieldTree`]), and the deserializer
//! that keeps only those fields while reading a subject's JSON ([`Pruned`]), skipping the rest
//! without building it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::condition::JsonPath;

/// Which fields of a subject to keep: a tree of field names; a leaf keeps the whole subtree.
#[derive(Debug, Clone, Default)]
pub struct FieldTree {
    keep_all: bool,
    /// Keep only the value's shape here (scalars whole, objects as `{}`, arrays element by element),
    /// for conditions that look at presence, count or null-ness, not content.
    shape: bool,
    children: BTreeMap<String, FieldTree>,
    /// What to keep under every array element and every other key (from `[*]` and indexes).
    any: Option<Box<FieldTree>>,
}

/// A node that keeps no field of an object and the shape of every array element: what a
/// shape-only read keeps below itself.
static SHAPE_ELEMENTS: FieldTree = FieldTree {
    keep_all: false,
    shape: false,
    children: BTreeMap::new(),
    any: None,
};

static EVERYTHING: FieldTree = FieldTree {
    keep_all: true,
    shape: false,
    children: BTreeMap::new(),
    any: None,
};

impl FieldTree {
    /// Keeps everything (no pruning).
    pub fn everything() -> Self {
        FieldTree {
            keep_all: true,
            shape: false,
            children: BTreeMap::new(),
            any: None,
        }
    }

    /// The fields the given paths can read. Paths of names, `[*]`, indexes and simple filters keep
    /// exactly what they reach (whole subtrees below their last step) and what their filters compare;
    /// other paths keep the whole subtree below their leading names. Every value a path yields is
    /// kept complete, so explanations do not depend on pruning.
    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a JsonPath>) -> Self {
        Self::from_reads(paths.into_iter().map(|p| (p, true)))
    }

    /// Like [`FieldTree::from_paths`], but a path read only for its presence, count or null-ness
    /// (`content` false) keeps just the shape of what it reaches, unless another path needs more.
    pub fn from_reads<'a>(reads: impl IntoIterator<Item = (&'a JsonPath, bool)>) -> Self {
        let mut root = FieldTree::default();
        for (p, content) in reads {
            // A path's own steps keep what it reaches (its content, or only its shape); what a filter
            // reads is always kept in full. A path too complex to follow keeps the whole subtree
            // below its leading names, content included: a shape would hide what it filters on.
            let steps: Vec<(Vec<Option<String>>, bool)> = match p.field_reads() {
                Some(reads) => reads
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| (r, content || i > 0))
                    .collect(),
                None => vec![(p.field_prefix().into_iter().map(Some).collect(), true)],
            };
            for (steps, content) in steps {
                if steps.is_empty() {
                    return FieldTree::everything();
                }
                root.keep(steps, content);
            }
        }
        root
    }

    /// The node kept under the key `name`, if any. Called for every key of every object kept, so it
    /// compares lengths before bytes: a map's search compared bytes at each step (`memcmp` was 6% of
    /// planning time in profiles), and nodes have few children.
    fn child(&self, name: &str) -> Option<&FieldTree> {
        if self.children.len() > 16 {
            return self.children.get(name);
        }
        self.children
            .iter()
            .find(|(k, _)| k.len() == name.len() && k.as_str() == name)
            .map(|(_, v)| v)
    }

    /// Keeps what `steps` reach: in full when `content`, else only its shape (unless kept in full).
    fn keep(&mut self, steps: Vec<Option<String>>, content: bool) {
        let mut node = self;
        for step in steps {
            if node.keep_all {
                break;
            }
            node = match step {
                Some(name) => node.children.entry(name).or_default(),
                None => node.any.get_or_insert_with(Default::default),
            };
        }
        if content {
            node.keep_all = true;
            node.shape = false;
            node.children.clear();
            node.any = None;
        } else if !node.keep_all {
            node.shape = true;
        }
    }
}

pub(super) struct Pruned<'t>(pub(super) &'t FieldTree);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.keep_all {
            return <Value as serde::Deserialize>::deserialize(d);
        }
        if self.0.shape && self.0.children.is_empty() && self.0.any.is_none() {
            return d.deserialize_any(Pruned(&SHAPE_ELEMENTS));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        // Keys are borrowed from the input where they can be, so a skipped key costs no allocation.
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let child = match (self.0.child(&k), self.0.any.as_deref()) {
                (Some(c), None) | (None, Some(c)) => Some(c),
                // A name and a wildcard both reach this key: keep it whole rather than merge.
                (Some(_), Some(_)) => Some(&EVERYTHING),
                (None, None) => None,
            };
            match child {
                Some(child) => {
                    let v = map.next_value_seed(Pruned(child))?;
                    if out.is_empty() && self.0.any.is_none() {
                        // Sized once for the names this node keeps, rather than grown key by key.
                        out = Map::with_capacity(self.0.children.len());
                    }
                    out.insert(k.into_owned(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        let each = self.0.any.as_deref().unwrap_or(self.0);
        while let Some(v) = seq.next_element_seed(Pruned(each))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// An object key, borrowed from the input when it has no escapes (JSON Lines are parsed from a line
/// held in memory), else owned.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}
