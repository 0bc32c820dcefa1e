//! Generated user names: a prefix (`PCU-` by default) and random characters that cannot be
//! misread (no 0/O, no 1/I/L), unique in the domain.

use rand::Rng;

use crate::error::{Error, Result};
use crate::store::{self, DbConnection};

/// A fresh name, not taken in `domain_id`. With 31^8 possibilities a collision is rare; a few
/// retries make it vanishingly so.
pub fn unused(c: &mut DbConnection, domain_id: &str, prefix: &str, len: usize) -> Result<String> {
    for _ in 0..8 {
        let name = generate(prefix, len);
        if store::get_user_by_name(c, domain_id, &name)?.is_none() {
            return Ok(name);
        }
    }
    Err(Error::Conflict(
        "Could not find an unused generated user name; raise identity.generated_name_length."
            .into(),
    ))
}

pub fn generate(prefix: &str, len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    let mut name = String::with_capacity(prefix.len() + len);
    name.push_str(prefix);
    for _ in 0..len {
        name.push(unambiguous_char(&mut rng));
    }
    name
}

/// A random character from the unambiguous alphabet (no 0/O, 1/I/L).
fn unambiguous_char(rng: &mut impl Rng) -> char {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    ALPHABET[rng.gen_range(0..ALPHABET.len())] as char
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_have_prefix_length_and_no_ambiguous_characters() {
        for _ in 0..200 {
            let n = generate("PCU-", 8);
            let tail = n.strip_prefix("PCU-").expect("prefix");
            assert_eq!(tail.len(), 8, "{n}");
            assert!(
                tail.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
                "{n}"
            );
            assert!(!tail.contains(['0', 'O', '1', 'I', 'L']), "{n}");
        }
        assert_ne!(generate("PCU-", 8), generate("PCU-", 8));
        assert!(generate("acme-", 6).starts_with("acme-"));
    }
}
