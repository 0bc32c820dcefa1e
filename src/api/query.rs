//! Query strings of list requests: Keystone's filters, `marker`/`limit`, and list envelopes with
//! `links`.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

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

/// A page of a list sorted by id: items after `marker`, at most `limit`. Returns the page and the
/// marker for the next page when there is one.
pub fn page<T>(
    items: Vec<T>,
    id: impl Fn(&T) -> &str,
    q: &Query,
) -> Result<(Vec<T>, Option<String>)> {
    let limit = q.limit()?;
    let marker = q.marker();
    let mut items: Vec<T> = match &marker {
        Some(m) => items.into_iter().filter(|t| id(t) > m.as_str()).collect(),
        None => items,
    };
    let mut next = None;
    if let Some(n) = limit {
        if items.len() > n {
            items.truncate(n);
            next = items.last().map(|t| id(t).to_string());
        }
    }
    Ok((items, next))
}

/// `{"<key>": [...], "links": {"self", "previous", "next"}}`.
pub fn list_response(
    req: &HttpRequest,
    base: &str,
    key: &str,
    items: Vec<Value>,
    next_marker: Option<String>,
) -> HttpResponse {
    let q = Query::of(req);
    let path = req.path();
    let next = next_marker.map(|m| {
        let mut pairs = q.without("marker");
        pairs.push(("marker".into(), m));
        url_with(base, path, &pairs)
    });
    let mut body = serde_json::Map::new();
    body.insert(key.into(), Value::Array(items));
    body.insert(
        "links".into(),
        json!({"self": url_with(base, path, &q.pairs), "previous": null, "next": next}),
    );
    HttpResponse::Ok().json(Value::Object(body))
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
