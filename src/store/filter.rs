//! Keystone list filters (`name=x`, `name__icontains=x`, ...) turned into SQL.

/// How a string attribute is compared, from the query-parameter suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    IContains,
    IStartsWith,
    IEndsWith,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFilter {
    pub op: TextOp,
    pub value: String,
}

impl TextFilter {
    pub fn eq(value: impl Into<String>) -> Self {
        TextFilter {
            op: TextOp::Equals,
            value: value.into(),
        }
    }

    /// Splits `name__icontains` into (`name`, IContains); `name` alone is Equals.
    pub fn parse_key(key: &str) -> (&str, TextOp) {
        const SUFFIXES: [(&str, TextOp); 6] = [
            ("__icontains", TextOp::IContains),
            ("__istartswith", TextOp::IStartsWith),
            ("__iendswith", TextOp::IEndsWith),
            ("__contains", TextOp::Contains),
            ("__startswith", TextOp::StartsWith),
            ("__endswith", TextOp::EndsWith),
        ];
        for (suffix, op) in SUFFIXES {
            if let Some(field) = key.strip_suffix(suffix) {
                return (field, op);
            }
        }
        (key, TextOp::Equals)
    }

    pub fn case_insensitive(&self) -> bool {
        matches!(
            self.op,
            TextOp::IContains | TextOp::IStartsWith | TextOp::IEndsWith
        )
    }

    /// The LIKE pattern (with `\` escaping), lower-cased for the case-insensitive forms.
    pub fn like_pattern(&self) -> String {
        let v = if self.case_insensitive() {
            self.value.to_lowercase()
        } else {
            self.value.clone()
        };
        let escaped = v
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        match self.op {
            TextOp::Equals => escaped,
            TextOp::Contains | TextOp::IContains => format!("%{escaped}%"),
            TextOp::StartsWith | TextOp::IStartsWith => format!("{escaped}%"),
            TextOp::EndsWith | TextOp::IEndsWith => format!("%{escaped}"),
        }
    }
}

#[diesel::declare_sql_function]
extern "SQL" {
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Adds `column <op> filter` to a boxed query.
macro_rules! filter_text {
    ($query:expr, $column:expr, $filter:expr) => {{
        let f: &$crate::store::filter::TextFilter = $filter;
        match f.op {
            $crate::store::filter::TextOp::Equals => $query.filter($column.eq(f.value.clone())),
            _ if f.case_insensitive() => $query.filter(
                $crate::store::filter::lower($column)
                    .like(f.like_pattern())
                    .escape('\\'),
            ),
            _ => $query.filter($column.like(f.like_pattern()).escape('\\')),
        }
    }};
}
pub(crate) use filter_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_parse() {
        assert_eq!(
            TextFilter::parse_key("name__icontains"),
            ("name", TextOp::IContains)
        );
        assert_eq!(
            TextFilter::parse_key("email__endswith"),
            ("email", TextOp::EndsWith)
        );
        assert_eq!(TextFilter::parse_key("name"), ("name", TextOp::Equals));
    }

    #[test]
    fn like_metacharacters_are_escaped() {
        let f = TextFilter {
            op: TextOp::Contains,
            value: "a%b_c\\".into(),
        };
        assert_eq!(f.like_pattern(), "%a\\%b\\_c\\\\%");
        let f = TextFilter {
            op: TextOp::IStartsWith,
            value: "PCU-".into(),
        };
        assert_eq!(f.like_pattern(), "pcu-%");
    }
}
