//! The fields allowed at each level of a rulebook, checked by the loader ("unknown field ... did you
//! mean") and published by `remedy schema`, so the two cannot disagree. Fields are not keywords of an
//! enum: each is read by its own check in `sections`.

pub const TOP_FIELDS: &[&str] = &[
    "version",
    "name",
    "description",
    "mode",
    "subjects",
    "guards",
    "rules",
    "tests",
];
pub const SUBJECT_FIELDS: &[&str] = &["kind", "org", "hub", "spoke", "since", "app"];
pub const GUARD_FIELDS: &[&str] = &["max_actions", "max_destructive", "protect"];
pub const RULE_FIELDS: &[&str] = &["id", "description", "priority", "when", "then"];
