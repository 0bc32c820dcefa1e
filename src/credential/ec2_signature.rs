//! AWS request signatures as Keystone's `/v3/ec2tokens` and `/v3/s3tokens` check them.
//!
//! EC2 (`ec2tokens`): the service forwards the request's parts (verb, host, path, query
//! parameters, headers, body hash) and the signature; the signature is recomputed with the
//! key's secret: version 2 (`HmacSHA256` or `HmacSHA1` over the canonical query) or version 4
//! (`AWS4-HMAC-SHA256`, its parameters in the query or the `Authorization` header).
//! S3 (`s3tokens`): the service forwards the string to sign itself (base64); version 2 is the
//! base64 HMAC-SHA1 of it, version 4 the hex HMAC-SHA256 with the derived signing key (scope
//! service `s3`, `iam` or `sts`).
//!
//! Every function here is pure: it answers `Some(expected signature)` or `None` when the request
//! cannot be checked (unknown version, missing part); comparison is the caller's, in constant
//! time.

use std::collections::BTreeMap;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// The parts of an EC2-style request the signature covers.
#[derive(Debug, Default, Clone)]
pub struct Ec2Request {
    pub verb: String,
    pub host: String,
    pub path: String,
    pub params: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body_hash: Option<String>,
}

// HMAC takes keys of any length, so the key errors below cannot happen; an empty result never
// matches (see `matches`).
fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => vec![],
    }
}

fn hmac1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    match HmacSha1::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => vec![],
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// RFC 3986 encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX` (upper-case hex).
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The query parameters sorted by name (byte order), each name and value encoded, `&`-joined;
/// the `Signature` parameter itself is left out.
fn canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header by name, case-insensitively.
fn header<'a>(headers: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Ec2Request {
    /// Version 4 when the `Authorization` header or the `X-Amz-Algorithm` parameter says so.
    pub fn is_v4(&self) -> bool {
        match header(&self.headers, "Authorization") {
            Some(a) => a.starts_with("AWS4-HMAC-SHA256"),
            None => {
                self.params.get("X-Amz-Algorithm").map(String::as_str) == Some("AWS4-HMAC-SHA256")
            }
        }
    }

    /// The time the signer put in the request, if any: `Timestamp` (v2) or `X-Amz-Date` (v4).
    pub fn timestamp(&self) -> Option<&str> {
        self.params
            .get("Timestamp")
            .map(String::as_str)
            .or_else(|| header(&self.headers, "X-Amz-Date"))
            .or_else(|| self.params.get("X-Amz-Date").map(String::as_str))
    }

    /// The signature this request should carry, signed with `secret`, for the given host (the
    /// caller may retry without the port, as some clients sign without it).
    pub fn expected(&self, secret: &str, host: &str) -> Option<String> {
        if let Some(version) = self.params.get("SignatureVersion") {
            return match version.as_str() {
                "2" => self.v2(secret, host),
                _ => None,
            };
        }
        if self.is_v4() {
            return self.v4(secret);
        }
        None
    }

    fn v2(&self, secret: &str, host: &str) -> Option<String> {
        // Keystone signs a request that names no method as HmacSHA256, the parameter included.
        let mut params = self.params.clone();
        let method = params
            .entry("SignatureMethod".into())
            .or_insert_with(|| "HmacSHA256".into())
            .clone();
        let to_sign = format!(
            "{}\n{}\n{}\n{}",
            self.verb,
            host,
            self.path,
            canonical_query(&params)
        );
        let mac = match method.as_str() {
            "HmacSHA256" => hmac256(secret.as_bytes(), to_sign.as_bytes()),
            "HmacSHA1" => hmac1(secret.as_bytes(), to_sign.as_bytes()),
            _ => return None,
        };
        Some(b64(&mac))
    }

    /// An `Authorization` header parameter (`Credential=...`, `SignedHeaders=...`), else the
    /// `X-Amz-<name>` query parameter.
    fn auth_param(&self, name: &str) -> Option<String> {
        match header(&self.headers, "Authorization") {
            Some(auth) => {
                let key = format!("{name}=");
                let start = auth.find(&key)? + key.len();
                Some(auth[start..].split(',').next()?.trim().to_string())
            }
            None => self.params.get(&format!("X-Amz-{name}")).cloned(),
        }
    }

    /// The host is not used: version 4 signs the `Host` header.
    fn v4(&self, secret: &str) -> Option<String> {
        let body_hash = self.body_hash.as_deref()?;
        let signed_headers = self.auth_param("SignedHeaders")?;
        let credential = self.auth_param("Credential")?;
        let date = header(&self.headers, "X-Amz-Date")
            .or_else(|| self.params.get("X-Amz-Date").map(String::as_str))?;
        // Credential = <access>/<yyyymmdd>/<region>/<service>/aws4_request
        let scope: Vec<&str> = credential.split('/').collect();
        if scope.len() != 5 || scope[4] != "aws4_request" || !date.starts_with(scope[1]) {
            return None;
        }
        let lower: BTreeMap<String, String> = self
            .headers
            .iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let old_boto = lower.get("user-agent").is_some_and(|ua| {
            let b = ua.as_bytes();
            ua.starts_with("Boto/2.")
                && b.get(7).is_some_and(u8::is_ascii_digit)
                && b.get(8) == Some(&b'.')
                && b.get(9).is_some_and(|c| (b'0'..=b'2').contains(c))
        });
        let mut canonical_headers = String::new();
        for h in signed_headers.split(';') {
            // Boto 2.x.0-2 signed the host without its port.
            let value = match lower.get(h) {
                Some(v) if h == "host" && old_boto => v.split(':').next().unwrap_or_default(),
                Some(v) => v.as_str(),
                None => continue,
            };
            canonical_headers.push_str(&format!("{h}:{value}\n"));
        }
        let query = if self.verb.eq_ignore_ascii_case("POST") {
            String::new()
        } else {
            let mut p = self.params.clone();
            p.remove("X-Amz-Signature");
            canonical_query(&p)
        };
        let canonical_request = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.verb.to_ascii_uppercase(),
            self.path,
            query,
            canonical_headers,
            signed_headers,
            body_hash
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            date,
            scope[1..].join("/"),
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let key = signing_key(secret, scope[1], scope[2], scope[3]);
        Some(hex::encode(hmac256(&key, to_sign.as_bytes())))
    }
}

/// AWS's derived key: HMAC chain over date, region, service and `aws4_request`.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac256(&k, region.as_bytes());
    let k = hmac256(&k, service.as_bytes());
    hmac256(&k, b"aws4_request")
}

/// Decodes the base64 string to sign an S3 service forwards (URL-safe or standard alphabet,
/// padding optional).
pub fn decode_string_to_sign(token: &str) -> Option<Vec<u8>> {
    let std: String = token
        .trim()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .filter(|c| *c != '=')
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(std)
        .ok()
}

/// The signature an S3 request with this string to sign should carry.
pub fn s3_expected(secret: &str, string_to_sign: &[u8]) -> Option<String> {
    if !string_to_sign.starts_with(b"AWS4") {
        return Some(b64(&hmac1(secret.as_bytes(), string_to_sign)));
    }
    let parts: Vec<&[u8]> = string_to_sign.split(|b| *b == b'\n').collect();
    if parts.len() != 4 || parts[0] != b"AWS4-HMAC-SHA256" {
        return None;
    }
    let scope = std::str::from_utf8(parts[2]).ok()?;
    let scope: Vec<&str> = scope.split('/').collect();
    if scope.len() != 4 || scope[3] != "aws4_request" || !["s3", "iam", "sts"].contains(&scope[2]) {
        return None;
    }
    let key = signing_key(secret, scope[0], scope[1], scope[2]);
    Some(hex::encode(hmac256(&key, string_to_sign)))
}

/// Constant-time comparison of a presented signature with the expected one.
pub fn matches(presented: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty()
        && presented.len() == expected.len()
        && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's published SigV4 example (the "get-vanilla" test of the signature test suite):
    // secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1, service.
    #[test]
    fn v4_matches_the_aws_test_suite() {
        let mut headers = BTreeMap::new();
        headers.insert("Host".into(), "example.amazonaws.com".into());
        headers.insert("X-Amz-Date".into(), "20150830T123600Z".into());
        headers.insert(
            "Authorization".into(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31".into(),
        );
        let req = Ec2Request {
            verb: "GET".into(),
            host: "example.amazonaws.com".into(),
            path: "/".into(),
            params: BTreeMap::new(),
            headers,
            body_hash: Some(hex::encode(Sha256::digest(b""))),
        };
        assert!(req.is_v4());
        assert_eq!(
            req.expected(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "example.amazonaws.com"
            )
            .as_deref(),
            Some("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        );
    }

    // A vector from keystoneclient's Ec2Signer (no SignatureMethod given: it signs as
    // HmacSHA256 with the parameter added).
    #[test]
    fn v2_matches_keystoneclient() {
        let params = [
            ("Action", "DescribeInstances"),
            ("SignatureVersion", "2"),
            ("Timestamp", "2026-11-30T12:00:00Z"),
            ("Filter.1", "a b/c~*"),
        ];
        let req = Ec2Request {
            verb: "GET".into(),
            host: "ec2.example.test:8788".into(),
            path: "/services/Cloud".into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            req.expected("secret-key", &req.host).as_deref(),
            Some("SkrO6UMMLboJgTKk0FGZQ5MVmv1FI9eBJTR/AgqSlRQ=")
        );
    }

    #[test]
    fn canonical_query_encodes_like_aws() {
        let mut p = BTreeMap::new();
        p.insert("b".into(), "a b/c~".into());
        p.insert("A".into(), "1".into());
        p.insert("Signature".into(), "x".into());
        assert_eq!(canonical_query(&p), "A=1&b=a%20b%2Fc~");
    }

    #[test]
    fn s3_refuses_a_v4_scope_outside_s3_iam_sts() {
        let sts = b"AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/r/ec2/aws4_request\nabc";
        assert!(s3_expected("s", sts).is_none());
        let ok = b"AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/r/s3/aws4_request\nabc";
        assert!(s3_expected("s", ok).is_some());
    }

    #[test]
    fn string_to_sign_decodes_either_alphabet() {
        assert_eq!(decode_string_to_sign("Pz8-").as_deref(), Some(&b"??>"[..]));
        assert_eq!(decode_string_to_sign("Pz8+").as_deref(), Some(&b"??>"[..]));
        assert_eq!(decode_string_to_sign("YQ==").as_deref(), Some(&b"a"[..]));
    }
}
