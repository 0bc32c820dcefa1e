//! Reading a submitted account form (`application/x-www-form-urlencoded`). The body is read here,
//! not by an actix extractor, so that every refusal is a page the browser can show rather than
//! an API error.

use actix_web::web;
use futures_util::StreamExt;
use secrecy::SecretString;

/// A form is three short fields; anything larger is not one of ours.
pub const MAX_BODY: usize = 16 * 1024;

/// What the account forms submit. No `Debug`: it carries passwords.
#[derive(Default)]
pub struct Submission {
    pub csrf_token: Option<String>,
    pub password: Option<SecretString>,
    pub confirm: Option<SecretString>,
    /// The two-factor page: which step, who signs in, the first passcode.
    pub step: Option<String>,
    pub user_name: Option<String>,
    pub domain: Option<String>,
    pub project: Option<String>,
    pub credential_id: Option<String>,
    pub passcode: Option<SecretString>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    /// The connection failed or the body is not a form.
    Unreadable,
}

pub async fn read(mut payload: web::Payload) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `%XX` and `+` decoding of one form component; a malformed escape or a result that is not
/// UTF-8 is refused rather than repaired (a repaired password would not be the one typed).
fn decode(raw: &str) -> Result<String, BodyError> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or(BodyError::Unreadable)?;
                let hex = std::str::from_utf8(hex).map_err(|_| BodyError::Unreadable)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| BodyError::Unreadable)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| BodyError::Unreadable)
}

/// The fields of a form body; unknown fields are ignored (browsers may add the button's), a
/// repeated field keeps its first value.
pub fn parse(body: &[u8]) -> Result<Submission, BodyError> {
    let body = std::str::from_utf8(body).map_err(|_| BodyError::Unreadable)?;
    let mut s = Submission::default();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        match k.as_str() {
            "csrf_token" if s.csrf_token.is_none() => s.csrf_token = Some(v),
            "password" if s.password.is_none() => s.password = Some(SecretString::from(v)),
            "confirm" if s.confirm.is_none() => s.confirm = Some(SecretString::from(v)),
            "step" if s.step.is_none() => s.step = Some(v),
            "user_name" if s.user_name.is_none() => s.user_name = Some(v),
            "domain" if s.domain.is_none() => s.domain = Some(v),
            "project" if s.project.is_none() => s.project = Some(v),
            "credential_id" if s.credential_id.is_none() => s.credential_id = Some(v),
            "passcode" if s.passcode.is_none() => s.passcode = Some(SecretString::from(v)),
            _ => {}
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn fields_are_decoded() {
        let s = parse(b"csrf_token=abc&password=p%26ss+w%C3%B6rd&confirm=x&submit=").unwrap();
        assert_eq!(s.csrf_token.as_deref(), Some("abc"));
        assert_eq!(s.password.unwrap().expose_secret(), "p&ss w\u{f6}rd");
        assert_eq!(s.confirm.unwrap().expose_secret(), "x");
    }

    #[test]
    fn the_first_value_counts() {
        let s = parse(b"password=a&password=b").unwrap();
        assert_eq!(s.password.unwrap().expose_secret(), "a");
        assert!(s.csrf_token.is_none());
    }

    #[test]
    fn not_text_is_refused() {
        for body in [
            &b"password=\xff"[..],
            b"password=%FF",
            b"password=%C3",
            b"password=%zz",
            b"a=%4",
        ] {
            assert_eq!(parse(body).err(), Some(BodyError::Unreadable), "{body:?}");
        }
    }
}
