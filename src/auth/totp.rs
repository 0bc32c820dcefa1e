//! TOTP as Keystone speaks it: a credential of type `totp` whose blob is the base32 secret, and
//! the `totp` auth method (RFC 6238 with Keystone's parameters: HMAC-SHA-1, 6 digits, 30 s
//! steps), with a configurable clock-skew window (`[totp] skew_steps`). A passcode is accepted
//! once: the step it was accepted for is recorded per credential in the database.

use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub const TOTP_TYPE: &str = "totp";
pub const DIGITS: usize = 6;
pub const STEP_SECONDS: u64 = 30;
/// The shortest secret accepted through the credential API: 80 bits, what authenticator apps
/// accept (the classic 16-character secrets of their documentation), so that existing secrets
/// can be brought along. RFC 4226 asks for 128 bits and recommends 160: enrolment generates
/// 160. Secrets under 80 bits are refused.
pub const MIN_SECRET_BYTES: usize = 10;
/// Longer secrets gain nothing (HMAC-SHA-1 hashes keys beyond its block size).
pub const MAX_SECRET_BYTES: usize = 64;

/// Decodes a TOTP blob: RFC 4648 base32, case-insensitive, padding optional (Keystone pads the
/// secret itself before decoding). Anything else, or a secret shorter than 128 bits, is a 400
/// that says what to send; the secret itself is never echoed.
pub fn decode_secret(field: &str, blob: &str) -> Result<Zeroizing<Vec<u8>>> {
    let bad = |why: &str| {
        Error::validation(format!(
            "Invalid input for field '{field}': a totp blob is the shared secret in base32 (RFC 4648: letters A-Z and digits 2-7, padding optional){why}."
        ))
    };
    let text = Zeroizing::new(blob.trim_end_matches('=').to_ascii_uppercase());
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    {
        return Err(bad(""));
    }
    // Base32 groups of 8 characters hold 5 bytes; a final group of 1, 3 or 6 characters is
    // no whole number of bytes.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(bad(""));
    }
    let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &text)
        .ok_or_else(|| bad(""))?;
    let bytes = Zeroizing::new(bytes);
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(bad(&format!(
            "; the secret must be at least {} bits ({} base32 characters)",
            MIN_SECRET_BYTES * 8,
            (MIN_SECRET_BYTES * 8).div_ceil(5)
        )));
    }
    if bytes.len() > MAX_SECRET_BYTES {
        return Err(bad(&format!(
            "; the secret must be at most {} bytes",
            MAX_SECRET_BYTES
        )));
    }
    Ok(bytes)
}

fn generator(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, STEP_SECONDS, secret.to_vec())
}

/// The passcode of time step `step`.
pub fn passcode_at_step(secret: &[u8], step: u64) -> String {
    generator(secret).generate(step * STEP_SECONDS)
}

/// The time step that `unix_seconds` falls in.
pub fn step_of(unix_seconds: i64) -> u64 {
    unix_seconds.max(0) as u64 / STEP_SECONDS
}

/// The step within `skew` steps of `unix_seconds` whose passcode is `passcode`, the latest one
/// when several match. Every step of the window is computed and compared in constant time, so
/// the work does not depend on which step (if any) matched.
pub fn matching_step(secret: &[u8], passcode: &str, unix_seconds: i64, skew: u32) -> Option<u64> {
    use subtle::ConstantTimeEq;
    let now = step_of(unix_seconds);
    let mut found = None;
    for step in now.saturating_sub(skew as u64)..=now + skew as u64 {
        let code = Zeroizing::new(passcode_at_step(secret, step));
        if bool::from(code.as_bytes().ct_eq(passcode.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// A new random secret of 160 bits (RFC 4226's recommendation), base32 without padding.
pub fn new_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 20]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, bytes.as_mut_slice());
    Zeroizing::new(base32::encode(
        base32::Alphabet::Rfc4648 { padding: false },
        bytes.as_slice(),
    ))
}

/// A passcode as Keystone takes it: a string of digits (leading zeros count).
pub fn check_passcode_shape(passcode: &str) -> Result<()> {
    if passcode.is_empty() || passcode.len() > 16 || !passcode.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::validation(
            "Invalid input for field 'auth.identity.totp.user.passcode': expecting the 6-digit passcode your authenticator app shows, as a string.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1, 8 digits: the last 6 digits are the 6-digit passcodes.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors() {
        for (t, code8) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(passcode_at_step(RFC_SECRET, t / 30), &code8[2..], "T={t}");
        }
    }

    #[test]
    fn secrets_must_be_base32_and_long_enough() {
        let s = base32::encode(base32::Alphabet::Rfc4648 { padding: true }, RFC_SECRET);
        assert_eq!(decode_secret("b", &s).unwrap().as_slice(), RFC_SECRET);
        assert_eq!(
            decode_secret("b", &s.to_lowercase().replace('=', ""))
                .unwrap()
                .as_slice(),
            RFC_SECRET
        );
        for bad in [
            "",
            "not base32!",
            "ABCDEFGH1",
            "MZXW6===",
            "MZXW6YTBOI",
            "AAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let e = decode_secret("credential.blob", bad).unwrap_err();
            assert!(matches!(e, Error::Validation(_)), "{bad}");
            assert!(e.to_string().contains("base32"), "{e}");
        }
        let fresh = new_secret();
        assert_eq!(decode_secret("b", &fresh).unwrap().len(), 20);
    }

    #[test]
    fn window_is_inclusive_of_skew_and_no_wider() {
        let t = 1_700_000_000i64;
        let step = step_of(t);
        for offset in -3i64..=3 {
            let code = passcode_at_step(RFC_SECRET, (step as i64 + offset) as u64);
            let hit = matching_step(RFC_SECRET, &code, t, 1);
            if offset.abs() <= 1 {
                assert_eq!(hit, Some((step as i64 + offset) as u64), "offset {offset}");
            } else {
                // A collision with a passcode of the window is possible in principle: then the
                // matched step must be one of the window's.
                if let Some(s) = hit {
                    assert!((s as i64 - step as i64).abs() <= 1);
                }
            }
        }
        assert_eq!(matching_step(RFC_SECRET, "", t, 1), None);
    }
}
