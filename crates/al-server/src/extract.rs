//! Extraction: the bearer key, the JSON body (with its media type and size
//! limit) and strict query strings. Nothing here decides anything about
//! governance; it only turns HTTP into the engine's inputs.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, Limited};

use crate::error::{ApiError, cut};

/// The bearer token of `Authorization: Bearer <key>`.
///
/// # Errors
/// `401 UNAUTHORIZED` when the header is missing or not a bearer token.
/// Unknown keys are the engine's to refuse.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing `Authorization: Bearer <key>` header",
        ));
    };
    let v = v
        .to_str()
        .map_err(|_| ApiError::unauthorized("`Authorization` header is not printable ASCII"))?;
    let (scheme, key) = v.split_once(' ').unwrap_or((v, ""));
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(ApiError::unauthorized(
            "`Authorization` must be `Bearer <key>`",
        ));
    }
    Ok(key)
}

/// An optional header as text.
///
/// # Errors
/// `400 INVALID_REQUEST` naming the header when it is not printable ASCII.
pub fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::invalid(name, "must be printable ASCII"))
        })
        .transpose()
}

/// What a route's body may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json`, required.
    Json,
    /// A policy manifest: `application/json` or YAML
    /// (`application/yaml`, `application/x-yaml`, `text/yaml`).
    Manifest,
}

/// The format of a body that was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Read a request body: check its media type (`415`), its size (`413`)
/// and that it is UTF-8 (`400`).
///
/// # Errors
/// `415 UNSUPPORTED_MEDIA_TYPE`, `413 TOO_LARGE`, `400 INVALID_JSON`.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    kind: BodyKind,
    limit: usize,
) -> Result<(String, BodyFormat), ApiError> {
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let media = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned());
    let format = match (media.as_deref(), kind) {
        (None, _) => {
            return Err(unsupported("a body needs `Content-Type: application/json`"));
        }
        (Some(m), _) => media_format(m, kind)?,
    };
    if let Some(n) = declared_len
        && n > limit as u64
    {
        return Err(too_large(limit));
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large(limit)),
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                format!("could not read the body: {e}"),
            ));
        }
    };
    match String::from_utf8(bytes.to_vec()) {
        Ok(s) => Ok((s, format)),
        Err(e) => {
            let good = e
                .as_bytes()
                .get(..e.utf8_error().valid_up_to())
                .unwrap_or_default();
            let text = std::str::from_utf8(good).unwrap_or_default();
            let at = al_types::Location::of_offset(text, text.len());
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                format!("body {at}: invalid UTF-8"),
            ))
        }
    }
}

fn media_format(value: &str, kind: BodyKind) -> Result<BodyFormat, ApiError> {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k.trim().eq_ignore_ascii_case("charset")
            && !v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err(unsupported(format!(
                "only UTF-8 bodies are accepted, not `{}`",
                cut(v.trim())
            )));
        }
    }
    match (essence.as_str(), kind) {
        ("application/json", _) => Ok(BodyFormat::Json),
        ("application/yaml" | "application/x-yaml" | "text/yaml", BodyKind::Manifest) => {
            Ok(BodyFormat::Yaml)
        }
        (_, BodyKind::Manifest) => Err(unsupported(format!(
            "`Content-Type: {}` is not accepted; send `application/json` or `application/yaml`",
            cut(value)
        ))),
        _ => Err(unsupported(format!(
            "`Content-Type: {}` is not accepted; send `application/json`",
            cut(value)
        ))),
    }
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        message,
    )
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "TOO_LARGE",
        format!("the body is larger than the limit of {limit} bytes"),
    )
}

/// A query string decoded strictly: each parameter at most once, only the
/// route's own parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decode `query` allowing only `allowed` names.
    ///
    /// # Errors
    /// `400 INVALID_REQUEST` naming a repeated or unknown parameter.
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Query, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !allowed.contains(&k.as_ref()) {
                let expected = if allowed.is_empty() {
                    "this route takes no query parameters".to_owned()
                } else {
                    format!(
                        "expected {}",
                        allowed
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                return Err(ApiError::invalid(
                    &k,
                    format!("unknown query parameter; {expected}"),
                ));
            }
            if pairs.iter().any(|(p, _)| *p == k) {
                return Err(ApiError::invalid(
                    &k,
                    "query parameter given more than once",
                ));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Query { pairs })
    }

    /// A parameter's value.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter: `true` or `false` (absent = `default`).
    ///
    /// # Errors
    /// `400 INVALID_REQUEST` naming the parameter.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(ApiError::invalid(
                name,
                format!("`{}` is not `true` or `false`", cut(v)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_forms() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer al_live_x")])).unwrap(),
            "al_live_x"
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer  k ")])).unwrap(),
            "k"
        );
        for bad in ["Basic abc", "Bearer", "Bearer ", "al_live_x"] {
            assert_eq!(
                bearer(&headers(&[("authorization", bad)]))
                    .unwrap_err()
                    .status,
                401,
                "{bad}"
            );
        }
        assert_eq!(
            bearer(&HeaderMap::new()).unwrap_err().code(),
            "UNAUTHORIZED"
        );
    }

    #[test]
    fn queries_are_strict() {
        let q = Query::parse(Some("scope=org&limit=5"), &["scope", "limit"]).unwrap();
        assert_eq!(
            (q.get("scope"), q.get("limit"), q.get("x")),
            (Some("org"), Some("5"), None)
        );
        let e = Query::parse(Some("scope=org&scope=own"), &["scope"]).unwrap_err();
        assert!(e.to_string().contains("`scope`"), "{e}");
        let e = Query::parse(Some("scop=org"), &["scope"]).unwrap_err();
        assert!(
            e.to_string().contains("`scop`") && e.to_string().contains("`scope`"),
            "{e}"
        );
        assert_eq!(
            Query::parse(Some("a%20b=c+d"), &["a b"])
                .unwrap()
                .get("a b"),
            Some("c d")
        );
        let q = Query::parse(None, &[]).unwrap();
        assert!(q.flag("dry_run", false).is_ok());
        let q = Query::parse(Some("dry_run=yes"), &["dry_run"]).unwrap();
        assert_eq!(
            q.flag("dry_run", false).unwrap_err().code(),
            "INVALID_REQUEST"
        );
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn bodies_media_types_sizes_and_utf8() {
        let json = headers(&[("content-type", "application/json; charset=UTF-8")]);
        let (s, f) = run(read_body(&json, Body::from("{}"), BodyKind::Json, 10)).unwrap();
        assert_eq!((s.as_str(), f), ("{}", BodyFormat::Json));
        let e = run(read_body(
            &json,
            Body::from("{\"a\":\"0123456789\"}"),
            BodyKind::Json,
            10,
        ))
        .unwrap_err();
        assert_eq!((e.status.as_u16(), e.code()), (413, "TOO_LARGE"));
        let e = run(read_body(
            &json,
            Body::from(vec![b'"', 0xff, b'"']),
            BodyKind::Json,
            10,
        ))
        .unwrap_err();
        assert_eq!((e.status.as_u16(), e.code()), (400, "INVALID_JSON"));
        for (ct, kind) in [
            ("text/plain", BodyKind::Json),
            ("application/yaml", BodyKind::Json),
            ("application/json; charset=latin1", BodyKind::Json),
            ("text/html", BodyKind::Manifest),
        ] {
            let h = headers(&[("content-type", ct)]);
            let e = run(read_body(&h, Body::from("{}"), kind, 10)).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code()),
                (415, "UNSUPPORTED_MEDIA_TYPE"),
                "{ct}"
            );
        }
        let e = run(read_body(
            &HeaderMap::new(),
            Body::from("{}"),
            BodyKind::Json,
            10,
        ))
        .unwrap_err();
        assert_eq!(e.status.as_u16(), 415);
        let yaml = headers(&[("content-type", "application/x-yaml")]);
        let (_, f) = run(read_body(
            &yaml,
            Body::from("version: 1"),
            BodyKind::Manifest,
            100,
        ))
        .unwrap();
        assert_eq!(f, BodyFormat::Yaml);
        let big = headers(&[
            ("content-type", "application/json"),
            ("content-length", "11"),
        ]);
        let e = run(read_body(&big, Body::from("{}"), BodyKind::Json, 10)).unwrap_err();
        assert_eq!(e.status.as_u16(), 413);
    }
}
