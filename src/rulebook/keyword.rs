//! Keywords of the rulebook language: every closed set of names a rulebook can write (actions,
//! operators, modes, subject kinds, retry methods, quantifiers...) is an enum implementing
//! [`Keyword`], so parsing, the JSON schema and "did you mean" hints all read the same list. Strings
//! appear only here, where a name is parsed or rendered.

/// A closed set of names written in a rulebook, one enum variant each.
pub trait Keyword: Sized + Copy + 'static {
    /// Every variant, in the order the documentation and the schema list them.
    const ALL: &'static [Self];

    /// The name as written in a rulebook.
    fn as_str(self) -> &'static str;

    /// The variant written as `name`, if any.
    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// Every name, for suggestions and the schema.
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.as_str()).collect()
    }
}

/// Implements [`Keyword`] for a type with inherent `ALL` and `as_str` (defined next to the type,
/// outside the rulebook module).
macro_rules! keyword_from_inherent {
    ($t:ty) => {
        impl Keyword for $t {
            const ALL: &'static [Self] = <$t>::ALL;
            fn as_str(self) -> &'static str {
                <$t>::as_str(self)
            }
        }
    };
}

keyword_from_inherent!(crate::condition::OpName);
keyword_from_inherent!(crate::condition::Quantifier);
keyword_from_inherent!(crate::condition::Combinator);
keyword_from_inherent!(crate::condition::CountField);
