//! Query strings of list requests: Keystone's filters, `marker`/`limit`, and list envelopes with
//! `links`.

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::ListConfig;
use crate::error::{Error, Result};
use crate::store::filter::{TextFilter, TextOp};

pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn of(req: &HttpRequest) -> Query {
        Query {
            pairs: url::form_urlencoded::parse(req.query_string().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// `field=v` or `field__contains=v` (and the other suffixes).
    pub fn text(&self, field: &str) -> Option<TextFilter> {
        self.pairs.iter().find_map(|(k, v)| {
            let (f, op) = TextFilter::parse_key(k);
            (f == field).then(|| TextFilter {
                op,
                value: v.clone(),
            })
        })
    }

    /// An exact-match filter only.
    pub fn exact(&self, field: &str) -> Option<String> {
        self.text(field)
            .filter(|t| t.op == TextOp::Equals)
            .map(|t| t.value)
    }

    /// Keystone's booleans: `true`/`false`/`1`/`0`/`yes`/`no`; a bare key is true.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "" | "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(Error::validation(format!(
                    "Invalid value for query parameter '{key}': expecting true or false, not {v:?}."
                ))),
            },
        }
    }

    pub fn flag(&self, key: &str) -> Result<bool> {
        Ok(self.bool(key)?.unwrap_or(false))
    }

    pub fn limit(&self) -> Result<Option<usize>> {
        match self.get("limit") {
            None => Ok(None),
            Some(v) => v.parse::<usize>().ok().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                Error::validation(format!(
                    "Invalid value for query parameter 'limit': expecting a positive integer, not {v:?}."
                ))
            }),
        }
    }

    pub fn marker(&self) -> Option<String> {
        self.get("marker")
    }

    /// Comma-separated values (`tags=a,b`).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A tag filter (`tags=a,b`): each value a valid tag, each once, at most `MAX_TAGS` of them.
    pub fn tags(&self, key: &str) -> Result<Vec<String>> {
        let mut out: Vec<String> = vec![];
        for t in self.list(key) {
            if t.chars().count() > 255 {
                return Err(Error::validation(format!(
                    "Invalid value for query parameter '{key}': a tag has at most 255 characters."
                )));
            }
            if !out.contains(&t) {
                out.push(t);
            }
        }
        let max = crate::resource::manage::MAX_TAGS;
        if out.len() > max {
            return Err(Error::validation(format!(
                "Invalid value for query parameter '{key}': at most {max} tags."
            )));
        }
        Ok(out)
    }

    fn without(&self, key: &str) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| k != key)
            .cloned()
            .collect()
    }
}

fn url_with(base: &str, path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        format!("{base}{path}")
    } else {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("{base}{path}?{q}")
    }
}

/// The page a list request asks for, within the server's `[list]` limits. Lists are sorted by id;
/// the store fetches the rows after `marker`, one more than the page holds, so that a cut list
/// is known without counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub marker: Option<String>,
    /// Entities on this page; `None`: all of them.
    pub limit: Option<usize>,
    /// The limit is the server's (`default_limit`, or `max_limit` capping the request's), not
    /// the one the request asked for: a list it cuts is `truncated` (Keystone's `list_limit`).
    server_limit: bool,
}

/// How a page ends: where the next one starts, and whether the server's limit cut the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageEnd {
    pub next_marker: Option<String>,
    pub truncated: bool,
}

impl Paging {
    pub fn of(q: &Query, limits: &ListConfig) -> Result<Paging> {
        let asked = q.limit()?;
        let (limit, server_limit) = match (asked, limits.max_limit) {
            (Some(n), Some(max)) if n > max => (Some(max), true),
            (Some(n), _) => (Some(n), false),
            (None, _) => (limits.default_limit.or(limits.max_limit), true),
        };
        Ok(Paging {
            marker: q.marker(),
            limit,
            server_limit,
        })
    }

    /// Rows the store should return: one more than the page, to see whether more follow.
    pub fn fetch(&self) -> Option<i64> {
        self.limit
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX - 1).saturating_add(1))
    }

    /// Cuts rows fetched with `fetch()` (after the marker, sorted by `id`) to the page.
    pub fn cut<T>(&self, mut items: Vec<T>, id: impl Fn(&T) -> &str) -> (Vec<T>, PageEnd) {
        let mut end = PageEnd::default();
        if let Some(n) = self.limit {
            if items.len() > n {
                items.truncate(n);
                end.next_marker = items.last().map(|t| id(t).to_string());
                end.truncated = self.server_limit;
            }
        }
        (items, end)
    }
}

/// `{"<key>": [...], "links": {"self", "previous", "next"}}`.
pub fn list_response(
    req: &HttpRequest,
    base: &str,
    key: &str,
    items: Vec<Value>,
    next_marker: Option<String>,
) -> HttpResponse {
    page_response(
        req,
        base,
        key,
        items,
        PageEnd {
            next_marker,
            truncated: false,
        },
    )
}

/// What one listed entity usually takes in JSON (a user with links is about 450 bytes).
const ITEM_BYTES: usize = 512;

/// A list page: as `list_response`, plus Keystone's `"truncated": true` when the server's limit
/// cut the list. `items` is serialized straight into the answer (no intermediate `Value`).
pub fn page_response<T: Serialize>(
    req: &HttpRequest,
    base: &str,
    key: &str,
    items: Vec<T>,
    end: PageEnd,
) -> HttpResponse {
    let PageEnd {
        next_marker,
        truncated,
    } = end;
    let q = Query::of(req);
    let path = req.path();
    let next = next_marker.map(|m| {
        let mut pairs = q.without("marker");
        pairs.push(("marker".into(), m));
        url_with(base, path, &pairs)
    });
    let page = Page {
        key,
        items,
        links: json!({"self": url_with(base, path, &q.pairs), "previous": null, "next": next}),
        truncated,
    };
    // Sized for the page up front: grown by doubling, a 200-user answer (~90 KB) was copied
    // five times over on its way.
    let mut body = Vec::with_capacity(1024 + ITEM_BYTES * page.items.len());
    match serde_json::to_writer(&mut body, &page) {
        Ok(()) => HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            .body(body),
        Err(e) => actix_web::ResponseError::error_response(&Error::internal(e)),
    }
}

struct Page<'a, T> {
    key: &'a str,
    items: Vec<T>,
    links: Value,
    truncated: bool,
}

impl<T: Serialize> Serialize for Page<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(self.key, &self.items)?;
        m.serialize_entry("links", &self.links)?;
        if self.truncated {
            m.serialize_entry("truncated", &true)?;
        }
        m.end()
    }
}

pub fn created(key: &str, v: Value) -> HttpResponse {
    HttpResponse::Created().json(json!({ key: v }))
}

pub fn ok(key: &str, v: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({ key: v }))
}

pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(s: &str) -> Query {
        Query {
            pairs: url::form_urlencoded::parse(s.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    fn limits(default_limit: Option<usize>, max_limit: Option<usize>) -> ListConfig {
        ListConfig {
            default_limit,
            max_limit,
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:03}")).collect()
    }

    #[test]
    fn without_limits_a_list_is_whole_and_never_truncated() {
        let p = Paging::of(&query(""), &limits(None, None)).unwrap();
        assert_eq!(p.fetch(), None);
        let (items, end) = p.cut(ids(5), |s| s);
        assert_eq!(items.len(), 5);
        assert_eq!(end, PageEnd::default());
    }

    #[test]
    fn the_callers_limit_pages_without_truncated() {
        let p = Paging::of(&query("limit=2&marker=x"), &limits(None, Some(10))).unwrap();
        assert_eq!((p.marker.as_deref(), p.fetch()), (Some("x"), Some(3)));
        let (items, end) = p.cut(ids(3), |s| s);
        assert_eq!(items, ids(2));
        assert_eq!(end.next_marker.as_deref(), Some("001"));
        assert!(!end.truncated);
        // Exactly a page: no next page.
        let (_, end) = p.cut(ids(2), |s| s);
        assert_eq!(end, PageEnd::default());
    }

    #[test]
    fn the_servers_limits_cut_and_say_truncated() {
        // default_limit applies without `limit`.
        let p = Paging::of(&query(""), &limits(Some(2), Some(4))).unwrap();
        let (items, end) = p.cut(ids(3), |s| s);
        assert_eq!((items.len(), end.truncated), (2, true));
        // max_limit caps a larger `limit` and alone applies without `limit`.
        let p = Paging::of(&query("limit=100"), &limits(None, Some(4))).unwrap();
        assert_eq!(p.fetch(), Some(5));
        let (items, end) = p.cut(ids(9), |s| s);
        assert_eq!(items.len(), 4);
        assert!(end.truncated);
        assert_eq!(end.next_marker.as_deref(), Some("003"));
        let p = Paging::of(&query(""), &limits(None, Some(4))).unwrap();
        assert!(p.cut(ids(5), |s| s).1.truncated);
        // Nothing cut, nothing truncated.
        assert!(!p.cut(ids(4), |s| s).1.truncated);
    }

    #[test]
    fn a_bad_limit_is_a_400_that_names_it() {
        for bad in ["limit=0", "limit=-1", "limit=ten"] {
            let err = Paging::of(&query(bad), &limits(None, None))
                .unwrap_err()
                .to_string();
            assert!(err.contains("'limit'"), "{bad}: {err}");
        }
    }
}
