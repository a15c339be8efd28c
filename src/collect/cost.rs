//! The collector's cost model: for each read it needs, the cheapest form of Okta call for the
//! situation. At scale Okta's rate limits, not the CPU, set how long a plan takes, so every request
//! counts. The System Log stays the list of work (log-first): it names the N users whose assignments
//! failed; the model only decides how to read those N assignments and their hub users.
//!
//! The model, its table of reads and the forms Okta offers for each, is written down in
//! docs/cost-model.md ("Collecting"); this file implements it.

use crate::subject::shape::HubKey;

/// How one kind of read is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadForm {
    /// Chosen by the model.
    #[default]
    Auto,
    /// One ID lookup per item (the form before the cost model, kept for comparisons).
    Lookups,
    /// Batched: the page scan for assignments, `search` for hub users; never abandoned for lookups.
    Batched,
}

/// The model's settings. [`CostModel::default`] is what the product uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostModel {
    /// How assignments are read.
    pub assignments: ReadForm,
    /// How hub users are read.
    pub hub_users: ReadForm,
    /// Fewer wanted assignments than this are looked up without probing the page scan: a probe that
    /// finds the app large wastes one request, at most 1/8 of the lookups here.
    pub probe_min: usize,
    /// Longest `search` expression sent, in characters.
    pub max_search_len: usize,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            assignments: ReadForm::Auto,
            hub_users: ReadForm::Auto,
            probe_min: 8,
            max_search_len: MAX_SEARCH_LEN,
        }
    }
}

/// Default bound of one `search` expression (see the module documentation).
pub const MAX_SEARCH_LEN: usize = 2_000;
/// Most terms in one `search`: one page of users (Okta's largest `limit` for users is 200).
pub const MAX_SEARCH_TERMS: usize = 200;
/// Page size of the assignment scan (Okta's largest `limit` for app users).
pub const SCAN_PAGE: u32 = 500;
/// Page size of a hub user search.
pub const SEARCH_PAGE: u32 = 200;

impl CostModel {
    /// Every read one ID lookup at a time (what the collector did before this model).
    pub fn lookups_only() -> Self {
        Self {
            assignments: ReadForm::Lookups,
            hub_users: ReadForm::Lookups,
            ..Self::default()
        }
    }

    /// Whether to start the page scan for `wanted` assignments.
    pub(super) fn scan_assignments(&self, wanted: usize) -> bool {
        match self.assignments {
            ReadForm::Auto => wanted >= self.probe_min.max(2),
            ReadForm::Lookups => false,
            ReadForm::Batched => wanted > 0,
        }
    }

    /// After `pages` pages of the scan found `found` of the wanted assignments with `remaining` still
    /// unseen: whether reading the next page is expected to cost less than looking the rest up.
    pub(super) fn keep_scanning(&self, pages: usize, found: usize, remaining: usize) -> bool {
        remaining > 0
            && match self.assignments {
                ReadForm::Batched => true,
                _ => found > pages,
            }
    }

    /// Whether to search for `keys` hub users rather than look each up.
    pub(super) fn search_hub_users(&self, keys: usize) -> bool {
        match self.hub_users {
            ReadForm::Auto => keys >= 2,
            ReadForm::Lookups => false,
            ReadForm::Batched => keys > 0,
        }
    }
}

/// The `search` term matching one key, or `None` when the key cannot be quoted safely.
pub(super) fn search_term(key: &HubKey) -> Option<String> {
    let value = key.as_str();
    if value.is_empty()
        || value
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return None;
    }
    Some(match key {
        HubKey::Id(id) => format!("id eq \"{id}\""),
        HubKey::Login(login) => format!("profile.login eq \"{login}\""),
    })
}

/// One `search` request: the expression and the keys it looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Batch {
    pub(super) keys: Vec<HubKey>,
    pub(super) terms: Vec<String>,
}

impl Batch {
    pub(super) fn expression(&self) -> String {
        self.terms.join(" or ")
    }

    /// The two halves of a batch Okta refused as too long or complex; the batch itself when it has
    /// a single term.
    pub(super) fn split(self) -> Result<(Batch, Batch), Batch> {
        if self.keys.len() < 2 {
            return Err(self);
        }
        let mid = self.keys.len() / 2;
        let (mut keys, mut terms) = (self.keys, self.terms);
        let right = Batch {
            keys: keys.split_off(mid),
            terms: terms.split_off(mid),
        };
        Ok((Batch { keys, terms }, right))
    }
}

/// Packs the keys that can be searched into batches under `max_len` characters and
/// [`MAX_SEARCH_TERMS`] terms, in order; returns the keys that must be looked up instead.
pub(super) fn search_batches(keys: &[HubKey], max_len: usize) -> (Vec<Batch>, Vec<HubKey>) {
    const OR: usize = " or ".len();
    let mut batches = Vec::new();
    let mut lookups = Vec::new();
    let mut current = Batch {
        keys: Vec::new(),
        terms: Vec::new(),
    };
    let mut len = 0;
    for key in keys {
        let Some(term) = search_term(key) else {
            lookups.push(key.clone());
            continue;
        };
        let added = if current.terms.is_empty() {
            term.len()
        } else {
            OR + term.len()
        };
        if !current.terms.is_empty()
            && (len + added > max_len || current.terms.len() == MAX_SEARCH_TERMS)
        {
            batches.push(std::mem::replace(
                &mut current,
                Batch {
                    keys: Vec::new(),
                    terms: Vec::new(),
                },
            ));
            len = 0;
        }
        len += if current.terms.is_empty() {
            term.len()
        } else {
            OR + term.len()
        };
        current.keys.push(key.clone());
        current.terms.push(term);
    }
    if !current.terms.is_empty() {
        batches.push(current);
    }
    (batches, lookups)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn login(i: usize) -> HubKey {
        HubKey::Login(format!("user{i:04}@example.com"))
    }

    #[test]
    fn batches_respect_the_length_and_term_bounds_and_keep_every_key() {
        let keys: Vec<HubKey> = (0..1000).map(login).collect();
        let (batches, lookups) = search_batches(&keys, MAX_SEARCH_LEN);
        assert!(lookups.is_empty());
        for b in &batches {
            assert!(
                b.expression().len() <= MAX_SEARCH_LEN,
                "{}",
                b.expression().len()
            );
            assert!(b.terms.len() <= MAX_SEARCH_TERMS);
        }
        let back: Vec<HubKey> = batches.iter().flat_map(|b| b.keys.clone()).collect();
        assert_eq!(back, keys);
        // As few queries as the bound allows: every query but the last is full.
        let term = search_term(&keys[0]).unwrap().len();
        let per_query = (MAX_SEARCH_LEN + 4) / (term + 4);
        assert_eq!(batches[0].terms.len(), per_query);
        assert_eq!(batches.len(), keys.len().div_ceil(per_query));
        let (batches, _) = search_batches(&keys, 1_000_000);
        assert_eq!(batches.len(), 5, "at most 200 terms a query");
    }

    #[test]
    fn keys_that_cannot_be_quoted_are_looked_up() {
        let keys = vec![
            HubKey::Id("00u1".into()),
            HubKey::Login("a\"b@example.com".into()),
            HubKey::Login("c\\d".into()),
            HubKey::Login(String::new()),
        ];
        let (batches, lookups) = search_batches(&keys, MAX_SEARCH_LEN);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].expression(), "id eq \"00u1\"");
        assert_eq!(lookups.len(), 3);
    }

    #[test]
    fn a_refused_batch_splits_in_halves_down_to_one_term() {
        let keys: Vec<HubKey> = (0..5).map(login).collect();
        let (mut batches, _) = search_batches(&keys, MAX_SEARCH_LEN);
        let (left, right) = batches.remove(0).split().unwrap();
        assert_eq!((left.keys.len(), right.keys.len()), (2, 3));
        assert_eq!(left.terms.len(), 2);
        let (one, _) = left.split().unwrap();
        assert!(one.split().is_err());
    }

    #[test]
    fn the_scan_continues_only_while_pages_pay_for_themselves() {
        let m = CostModel::default();
        assert!(!m.scan_assignments(7));
        assert!(m.scan_assignments(8));
        assert!(m.keep_scanning(1, 300, 900));
        assert!(
            !m.keep_scanning(1, 1, 9),
            "a page that found one is no better than a lookup"
        );
        assert!(!m.keep_scanning(3, 0, 10));
        assert!(!m.keep_scanning(1, 300, 0), "everything found: stop");
        let lookups = CostModel::lookups_only();
        assert!(!lookups.scan_assignments(10_000));
        assert!(!lookups.search_hub_users(10_000));
    }
}
