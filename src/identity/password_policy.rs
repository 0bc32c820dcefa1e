//! The password policy: which passwords may be set, in words a user understands, and passwords
//! generated to satisfy it. Built once from the configuration (`[password_policy]` plus Keystone's
//! `password_regex`) and checked wherever a password is set, for administrators too.

use rand::seq::SliceRandom;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
    Special,
}

impl Class {
    fn parse(s: &str) -> Option<Class> {
        match s {
            "upper" => Some(Class::Upper),
            "lower" => Some(Class::Lower),
            "digit" => Some(Class::Digit),
            "special" => Some(Class::Special),
            _ => None,
        }
    }

    fn of(c: char) -> Class {
        if c.is_uppercase() {
            Class::Upper
        } else if c.is_lowercase() {
            Class::Lower
        } else if c.is_numeric() {
            Class::Digit
        } else {
            Class::Special
        }
    }

    fn words(self) -> &'static str {
        match self {
            Class::Upper => "upper-case letters",
            Class::Lower => "lower-case letters",
            Class::Digit => "digits",
            Class::Special => "special characters (space included)",
        }
    }

    /// What generated passwords draw from: no look-alikes (0/O, 1/l/I), nothing a shell or a
    /// URL would mangle.
    fn alphabet(self) -> &'static [u8] {
        match self {
            Class::Upper => b"ABCDEFGHJKLMNPQRSTUVWXYZ",
            Class::Lower => b"abcdefghijkmnopqrstuvwxyz",
            Class::Digit => b"23456789",
            Class::Special => b"-_.!@#%+=?",
        }
    }
}

/// What a password must not resemble: the attributes of the user it is for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Subject<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
}

/// The rules as data, for `GET /v3/OS-PCU/password_policy` and the set-password page.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    pub min_length: usize,
    pub max_length: usize,
    pub min_character_classes: usize,
    pub character_classes: Vec<String>,
    pub forbid_user_name: bool,
    pub forbid_email: bool,
    pub forbid_phone: bool,
    pub generated_length: usize,
    pub password_regex: Option<String>,
    pub password_regex_description: Option<String>,
    /// Every rule as one sentence ("It must be 6 to 32 characters long.").
    pub rules: Vec<String>,
}

#[derive(Debug)]
pub struct PasswordPolicy {
    min_length: usize,
    max_length: usize,
    min_classes: usize,
    classes: Vec<Class>,
    forbid_user_name: bool,
    forbid_email: bool,
    forbid_phone: bool,
    generated_length: usize,
    regex: Option<fancy_regex::Regex>,
    regex_source: Option<String>,
    regex_description: Option<String>,
}

/// Digits of a phone number, when there are enough of them to mean something.
fn phone_digits(phone: &str) -> Option<String> {
    let d: String = phone.chars().filter(char::is_ascii_digit).collect();
    (d.len() >= 6).then_some(d)
}

impl PasswordPolicy {
    /// Checks the configuration as a whole: start-up stops with a message naming the setting.
    pub fn from_config(config: &Config) -> Result<PasswordPolicy> {
        let p = &config.password_policy;
        let bad = |m: String| Err(Error::validation(m));
        let mut classes = vec![];
        for c in &p.character_classes {
            match Class::parse(c) {
                Some(k) if !classes.contains(&k) => classes.push(k),
                Some(_) => return bad(format!("password_policy.character_classes lists {c:?} twice")),
                None => {
                    return bad(format!(
                        "password_policy.character_classes: unknown class {c:?} (known: upper, lower, digit, special)"
                    ))
                }
            }
        }
        if classes.is_empty() {
            return bad("password_policy.character_classes must list at least one class".into());
        }
        if p.min_character_classes > classes.len() {
            return bad(format!(
                "password_policy.min_character_classes ({}) exceeds the {} classes in password_policy.character_classes",
                p.min_character_classes,
                classes.len()
            ));
        }
        if p.min_length == 0 || p.min_length > p.max_length {
            return bad(format!(
                "password_policy.min_length ({}) must be at least 1 and at most password_policy.max_length ({})",
                p.min_length, p.max_length
            ));
        }
        // The hasher limits bytes; a character takes at most 4.
        let byte_cap = config.password_hashing.max_password_length;
        if p.max_length.saturating_mul(4) > byte_cap {
            return bad(format!(
                "password_policy.max_length ({}) may need more than password_hashing.max_password_length ({byte_cap}) bytes; lower it to at most {}",
                p.max_length,
                byte_cap / 4
            ));
        }
        if p.generated_length < p.min_length
            || p.generated_length > p.max_length
            || p.generated_length < classes.len()
        {
            return bad(format!(
                "password_policy.generated_length ({}) must lie between password_policy.min_length and max_length and be at least the number of character classes",
                p.generated_length
            ));
        }
        let sc = &config.security_compliance;
        let regex = match &sc.password_regex {
            Some(r) => Some(fancy_regex::Regex::new(r).map_err(|e| {
                Error::validation(format!(
                    "security_compliance.password_regex does not compile: {e}"
                ))
            })?),
            None => None,
        };
        let policy = PasswordPolicy {
            min_length: p.min_length,
            max_length: p.max_length,
            min_classes: p.min_character_classes,
            classes,
            forbid_user_name: p.forbid_user_name,
            forbid_email: p.forbid_email,
            forbid_phone: p.forbid_phone,
            generated_length: p.generated_length,
            regex,
            regex_source: sc.password_regex.clone(),
            regex_description: sc.password_regex_description.clone(),
        };
        if policy.regex.is_some() && policy.generate(&Subject::default()).is_err() {
            return bad("security_compliance.password_regex refuses every password Ironstone generates (from the classes in password_policy.character_classes, password_policy.generated_length long); loosen one of them".into());
        }
        Ok(policy)
    }

    fn class_sentence(&self) -> String {
        let words: Vec<&str> = self.classes.iter().map(|c| c.words()).collect();
        if self.classes.len() == 1 {
            format!("it must contain {}", words[0])
        } else if self.min_classes == self.classes.len() {
            format!("it must contain each of: {}", words.join(", "))
        } else {
            format!(
                "it must contain at least {} of these kinds of characters: {}",
                self.min_classes,
                words.join(", ")
            )
        }
    }

    fn regex_sentence(&self) -> Option<String> {
        let source = self.regex_source.as_ref()?;
        Some(match &self.regex_description {
            Some(d) => format!("it must satisfy the rule: {d}"),
            None => format!("it must match the pattern {source}"),
        })
    }

    /// Every rule, one sentence each.
    pub fn rules(&self) -> Vec<String> {
        let mut r = vec![format!(
            "it must be {} to {} characters long",
            self.min_length, self.max_length
        )];
        if self.min_classes > 0 {
            r.push(self.class_sentence());
        }
        if self.forbid_user_name {
            r.push("it must not be the user name, nor the user name reversed".into());
        }
        if self.forbid_email {
            r.push("it must not contain the user's email address".into());
        }
        if self.forbid_phone {
            r.push("it must not contain the user's phone number".into());
        }
        r.extend(self.regex_sentence());
        r
    }

    /// The rules `password` breaks, in the order of `rules`; empty when it may be set.
    pub fn violations(&self, password: &str, s: &Subject) -> Vec<String> {
        let mut v = vec![];
        let length = password.chars().count();
        if length < self.min_length {
            v.push(format!(
                "it must be at least {} characters long",
                self.min_length
            ));
        }
        if length > self.max_length {
            v.push(format!(
                "it must be at most {} characters long",
                self.max_length
            ));
        }
        let used = self
            .classes
            .iter()
            .filter(|k| password.chars().any(|c| Class::of(c) == **k))
            .count();
        if used < self.min_classes {
            v.push(self.class_sentence());
        }
        let lower = password.to_lowercase();
        if self.forbid_user_name {
            if let Some(name) = s.name.filter(|n| !n.is_empty()) {
                let name = name.to_lowercase();
                let reversed: String = name.chars().rev().collect();
                if lower == name || lower == reversed {
                    v.push("it must not be the user name, nor the user name reversed".into());
                }
            }
        }
        if self.forbid_email {
            if let Some(email) = s.email.filter(|e| !e.is_empty()) {
                if lower.contains(&email.to_lowercase()) {
                    v.push("it must not contain the user's email address".into());
                }
            }
        }
        if self.forbid_phone {
            if let Some(phone) = s.phone.map(str::trim).filter(|p| !p.is_empty()) {
                let digits = phone_digits(phone);
                if password.contains(phone) || digits.is_some_and(|d| password.contains(&d)) {
                    v.push("it must not contain the user's phone number".into());
                }
            }
        }
        if let Some(re) = &self.regex {
            // A pattern that cannot decide (backtracking limit) refuses: fail closed.
            if !re.is_match(password).unwrap_or(false) {
                v.extend(self.regex_sentence());
            }
        }
        v
    }

    /// `Ok` when `password` may be set for `s`; otherwise one 400 naming every broken rule and
    /// never the password.
    pub fn check(&self, password: &SecretString, s: &Subject) -> Result<()> {
        let v = self.violations(password.expose_secret(), s);
        if v.is_empty() {
            return Ok(());
        }
        Err(Error::validation(format!(
            "The password does not meet the requirements: {}.",
            v.join("; ")
        )))
    }

    /// A random password that satisfies the policy for `s`: every counted class at least once,
    /// `generated_length` characters from alphabets without look-alikes (about 6 bits each).
    pub fn generate(&self, s: &Subject) -> Result<SecretString> {
        let mut rng = rand::rngs::OsRng;
        let pool: Vec<u8> = self
            .classes
            .iter()
            .flat_map(|c| c.alphabet().iter().copied())
            .collect();
        for _ in 0..200 {
            let mut chars: Vec<u8> = self
                .classes
                .iter()
                .map(|c| {
                    let a = c.alphabet();
                    a[rng.gen_range(0..a.len())]
                })
                .collect();
            while chars.len() < self.generated_length {
                chars.push(pool[rng.gen_range(0..pool.len())]);
            }
            chars.shuffle(&mut rng);
            let candidate = String::from_utf8(chars).expect("ASCII alphabets");
            if self.violations(&candidate, s).is_empty() {
                return Ok(SecretString::from(candidate));
            }
        }
        Err(Error::validation(
            "No password satisfying the password policy could be generated for this user; set one instead.",
        ))
    }

    pub fn view(&self) -> PolicyView {
        PolicyView {
            min_length: self.min_length,
            max_length: self.max_length,
            min_character_classes: self.min_classes,
            character_classes: self
                .classes
                .iter()
                .map(|c| {
                    match c {
                        Class::Upper => "upper",
                        Class::Lower => "lower",
                        Class::Digit => "digit",
                        Class::Special => "special",
                    }
                    .to_string()
                })
                .collect(),
            forbid_user_name: self.forbid_user_name,
            forbid_email: self.forbid_email,
            forbid_phone: self.forbid_phone,
            generated_length: self.generated_length,
            password_regex: self.regex_source.clone(),
            password_regex_description: self.regex_description.clone(),
            rules: self
                .rules()
                .into_iter()
                .map(|r| {
                    let mut c = r.chars();
                    let first = c.next().map(|f| f.to_uppercase().collect::<String>());
                    format!("{}{}.", first.unwrap_or_default(), c.as_str())
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(tweak: impl FnOnce(&mut Config)) -> PasswordPolicy {
        let mut c = Config::default();
        tweak(&mut c);
        PasswordPolicy::from_config(&c).unwrap()
    }

    fn broken(p: &PasswordPolicy, pw: &str, s: &Subject) -> usize {
        p.violations(pw, s).len()
    }

    #[test]
    fn defaults_are_the_published_rules() {
        let p = policy(|_| {});
        let none = Subject::default();
        assert_eq!(broken(&p, "Ab1", &none), 1, "too short");
        assert_eq!(broken(&p, "abcdef", &none), 1, "one class");
        assert_eq!(broken(&p, "abcde ", &none), 0, "space is special");
        assert_eq!(broken(&p, "abcdeF", &none), 0);
        assert_eq!(broken(&p, &"aB".repeat(16), &none), 0, "32 is allowed");
        assert_eq!(broken(&p, &"aB".repeat(17), &none), 1, "33 is not");
        assert_eq!(broken(&p, "ééééé1", &none), 0, "characters, not bytes");
        assert_eq!(broken(&p, "a", &none), 2, "every rule is reported");
    }

    #[test]
    fn the_user_is_not_the_password() {
        let p = policy(|_| {});
        let s = Subject {
            name: Some("PCU-Alice7"),
            email: Some("Alice@Example.com"),
            phone: Some("+49 170 1234567"),
        };
        assert_eq!(broken(&p, "pcu-alice7", &s), 1);
        assert_eq!(broken(&p, "7ecila-ucp", &s), 1);
        assert_eq!(broken(&p, "x-alice@example.COM", &s), 1);
        assert_eq!(broken(&p, "Pw+49 170 1234567", &s), 1);
        assert_eq!(broken(&p, "Pw491701234567", &s), 1);
        assert_eq!(
            broken(&p, "pcu-alice7!", &s),
            0,
            "the name inside is allowed"
        );
    }

    #[test]
    fn regex_with_lookahead_and_description() {
        let p = policy(|c| {
            c.security_compliance.password_regex = Some(r"^(?=.*\d)(?=.*[a-zA-Z]).{7,}$".into());
            c.security_compliance.password_regex_description =
                Some("7 characters with a letter and a digit".into());
        });
        let v = p.violations("abcdefX", &Subject::default());
        assert_eq!(
            v,
            vec!["it must satisfy the rule: 7 characters with a letter and a digit"]
        );
        assert!(p.violations("abcdef1", &Subject::default()).is_empty());
    }

    #[test]
    fn generated_passwords_satisfy_the_policy() {
        let p = policy(|_| {});
        let s = Subject {
            name: Some("bob"),
            ..Default::default()
        };
        for _ in 0..200 {
            let pw = p.generate(&s).unwrap();
            assert_eq!(pw.expose_secret().chars().count(), 16);
            assert!(p.violations(pw.expose_secret(), &s).is_empty());
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        for tweak in [
            (|c: &mut Config| c.password_policy.min_length = 0) as fn(&mut Config),
            |c| c.password_policy.min_length = 40,
            |c| c.password_policy.min_character_classes = 5,
            |c| c.password_policy.character_classes = vec!["emoji".into()],
            |c| c.password_policy.character_classes = vec![],
            |c| c.password_policy.generated_length = 3,
            |c| c.security_compliance.password_regex = Some("(".into()),
            |c| c.security_compliance.password_regex = Some("^x{100}$".into()),
        ] {
            let mut c = Config::default();
            tweak(&mut c);
            assert!(PasswordPolicy::from_config(&c).is_err());
        }
    }

    #[test]
    fn refusal_names_rules_not_the_password() {
        let p = policy(|_| {});
        let err = p
            .check(
                &SecretString::from("bob"),
                &Subject {
                    name: Some("bob"),
                    ..Default::default()
                },
            )
            .unwrap_err()
            .to_string();
        assert!(!err.contains("bob"), "{err}");
        assert!(err.contains("at least 6"), "{err}");
    }
}
