//! Writing a `remedy snapshot` file: a header line recording where and when the subjects were
//! collected, then one subject per line. Reading it back is `offline`'s (and `subject`'s).

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use crate::collect::Collection;

/// Writes `collection`, collected at `now`, to `path` as JSON Lines behind a `remedy_snapshot` header.
pub fn write_snapshot(
    path: &Path,
    collection: &Collection,
    now: DateTime<Utc>,
) -> Result<(), std::io::Error> {
    let header = json!({ "remedy_snapshot": {
        "format_version": 1,
        "now": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "source": collection.source,
    } });
    let mut text = serde_json::to_string(&header)?;
    text.push('\n');
    for s in &collection.subjects {
        text.push_str(&serde_json::to_string(s)?);
        text.push('\n');
    }
    super::write_private(path, text.as_bytes())
}
