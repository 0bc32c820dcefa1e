//! Configuration: defaults, then a TOML file (`--config` / `IRONSTONE_CONFIG`), then `IRONSTONE_*`
//! environment variables. Unknown keys in the file are an error. Secrets may come from `*_FILE`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded database and the key repository live by default.
    pub data_dir: PathBuf,
    /// `postgres://...` or `sqlite://PATH`; default `sqlite://<data_dir>/ironstone.db`.
    pub database_url: Option<String>,
    pub bind: String,
    /// The URL clients reach this server at, without `/v3`; default `http://<bind>`.
    pub public_url: Option<String>,
    pub key_repository: Option<PathBuf>,
    /// Keys that encrypt stored credential blobs (Keystone's `[credential] key_repository`);
    /// default `<data_dir>/credential-keys`.
    pub credential_key_repository: Option<PathBuf>,
    /// Largest accepted request body, in bytes (Keystone's `max_request_body_size`).
    pub max_request_body_size: usize,
    pub database_pool_size: u32,
    pub token: TokenConfig,
    pub fernet: FernetConfig,
    pub password_hashing: PasswordHashingConfig,
    pub identity: IdentityConfig,
    pub security_compliance: SecurityComplianceConfig,
    pub password_policy: PasswordPolicyConfig,
    pub metrics: MetricsConfig,
    pub links: LinksConfig,
    pub list: ListConfig,
    pub smtp: SmtpConfig,
    pub cache: CacheConfig,
    pub totp: TotpConfig,
    pub receipt: ReceiptConfig,
}

/// One-time links (set a password, accept an invitation) sent by email.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinksConfig {
    /// How long a link stays valid, in seconds (default 24 h); also the longest `expires_in` a
    /// request may ask for.
    pub ttl_seconds: u64,
    /// The URL links start with (without `/account/link/...`); default `public_url`.
    pub base_url: Option<String>,
}

impl Default for LinksConfig {
    fn default() -> Self {
        LinksConfig {
            ttl_seconds: 86_400,
            base_url: None,
        }
    }
}

/// How many entities a list answers at most (Keystone's `list_limit`). A list cut by these limits
/// says `"truncated": true` and links to the next page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListConfig {
    /// Entities per page when the request gives no `limit`; none (the default): every entity,
    /// as Keystone does without `list_limit`.
    pub default_limit: Option<usize>,
    /// The largest page, whatever `limit` asks for; none (the default): no cap.
    pub max_limit: Option<usize>,
}

/// `[smtp]`: the mail server that set-password links and invitations go out through. No `host`:
/// no mail server; the API then hands the link's URL to the administrator instead.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: Option<String>,
    /// Default: 25 for `none`, 587 for `starttls`, 465 for `tls`.
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// Or `password_file` / `IRONSTONE_SMTP_PASSWORD` / `IRONSTONE_SMTP_PASSWORD_FILE`.
    pub password: Option<secrecy::SecretString>,
    pub password_file: Option<PathBuf>,
    /// The sender, e.g. `"Example Cloud <noreply@cloud.example>"`.
    pub from: String,
    pub timeout_seconds: u64,
    /// A directory whose files replace the built-in templates of the same name
    /// (`set_password.subject`, `set_password.txt`, `set_password.html`, ...).
    pub templates_dir: Option<PathBuf>,
    /// How messages name the cloud.
    pub cloud_name: String,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a test sink.
    None,
    /// Plain connection upgraded with STARTTLS; refused if the server does not offer it.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: None,
            port: None,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            password_file: None,
            from: "OpenStack <noreply@localhost>".into(),
            timeout_seconds: 10,
            templates_dir: None,
            cloud_name: "OpenStack".into(),
        }
    }
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

/// The per-node cache of what token validation computes (`crate::cache`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Off: every validation reads the database (as with one node and no cache).
    pub enabled: bool,
    /// Most validated tokens kept (each about 2 KiB), and as many role sets of (user, project,
    /// application credential); catalogs and access rules, projects and domains are kept for at
    /// most a tenth as many each; listed users for at most this many KiB.
    pub max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            max_entries: 10_000,
        }
    }
}

/// The `totp` auth method (RFC 6238: SHA-1, 6 digits, 30 s steps, as Keystone).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TotpConfig {
    /// Steps before and after the current one whose passcode is also accepted (clock skew).
    pub skew_steps: u32,
}

impl Default for TotpConfig {
    fn default() -> Self {
        TotpConfig { skew_steps: 1 }
    }
}

/// Auth receipts: what a login that satisfied only part of a user's MFA rules gets back
/// (Keystone's `[receipt]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptConfig {
    /// Receipt lifetime in seconds (Keystone's default: 300).
    pub expiration: u64,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        ReceiptConfig { expiration: 300 }
    }
}

/// `/metrics` (Prometheus) is served only on a listener of its own, never on the public API port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where the metrics listener binds (e.g. `127.0.0.1:9100`); none (the default): no listener.
    pub bind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Token lifetime in seconds (Keystone's `[token] expiration`).
    pub expiration: u64,
    /// How long after expiry a service may still validate with `?allow_expired=1`.
    pub allow_expired_window: u64,
    /// Auth method order; bit `2^i` in a token's method mask is `methods[i]`. Must match every
    /// service that shares the key repository (Keystone's `[auth] methods`).
    pub methods: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FernetConfig {
    pub max_active_keys: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordHashingConfig {
    /// Argon2id memory cost in KiB (OWASP minimum: 19456).
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Longer passwords are refused before hashing (Keystone's `max_password_length`).
    pub max_password_length: usize,
    /// Hashing runs at once, each on its own thread with its own `memory_kib` buffer
    /// (default: the number of CPUs, less one on machines with more than one).
    pub max_concurrent: usize,
    /// Hashing runs that may wait for a thread; beyond it a request is answered 503 with
    /// `Retry-After` at once (default: 16 per thread, at least 64).
    pub max_queue: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Prefix of generated user names (`PCU-` + random characters).
    pub generated_name_prefix: String,
    pub generated_name_length: usize,
}

/// Keystone's `[security_compliance]`, with its names and semantics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityComplianceConfig {
    pub lockout_failure_attempts: Option<u32>,
    /// Seconds an account stays locked after too many failures.
    pub lockout_duration: Option<u64>,
    pub password_expires_days: Option<u32>,
    /// A self-service change may not reuse any of the last N passwords (the current one
    /// included); 0 turns the check off. Passwords an administrator sets are recorded, not checked.
    pub unique_last_password_count: u32,
    /// Days a password the user chose must be kept before the user may change it again.
    pub minimum_password_age: u32,
    /// Every password an administrator sets (create, update) must be changed at first use.
    pub change_password_upon_first_use: bool,
    /// Users that have not authenticated for this many days count as disabled.
    pub disable_user_account_days_inactive: Option<u32>,
    /// Passwords must match this regular expression (lookarounds allowed).
    pub password_regex: Option<String>,
    /// What `password_regex` asks for, in words a user understands.
    pub password_regex_description: Option<String>,
}

/// Ironstone's password rules (beyond Keystone's regex); the defaults are the rules public
/// clouds publish: 6 to 32 characters, two character classes, not the name, email or phone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicyConfig {
    /// Characters (not bytes).
    pub min_length: usize,
    pub max_length: usize,
    /// How many of `character_classes` a password must use.
    pub min_character_classes: usize,
    /// Which classes count: `upper`, `lower`, `digit`, `special` (anything else, space included).
    pub character_classes: Vec<String>,
    /// Refuse the user name and the user name reversed (case-insensitively).
    pub forbid_user_name: bool,
    /// Refuse passwords that contain the user's email address.
    pub forbid_email: bool,
    /// Refuse passwords that contain the user's phone number.
    pub forbid_phone: bool,
    /// Length of generated passwords.
    pub generated_length: usize,
}

impl Default for PasswordPolicyConfig {
    fn default() -> Self {
        PasswordPolicyConfig {
            min_length: 6,
            max_length: 32,
            min_character_classes: 2,
            character_classes: ["upper", "lower", "digit", "special"]
                .map(String::from)
                .to_vec(),
            forbid_user_name: true,
            forbid_email: true,
            forbid_phone: true,
            generated_length: 16,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("ironstone-data"),
            database_url: None,
            bind: "127.0.0.1:5000".into(),
            public_url: None,
            key_repository: None,
            credential_key_repository: None,
            max_request_body_size: 114_688,
            database_pool_size: 10,
            token: TokenConfig::default(),
            fernet: FernetConfig::default(),
            password_hashing: PasswordHashingConfig::default(),
            identity: IdentityConfig::default(),
            security_compliance: SecurityComplianceConfig::default(),
            password_policy: PasswordPolicyConfig::default(),
            metrics: MetricsConfig::default(),
            links: LinksConfig::default(),
            list: ListConfig::default(),
            smtp: SmtpConfig::default(),
            cache: CacheConfig::default(),
            totp: TotpConfig::default(),
            receipt: ReceiptConfig::default(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            expiration: 3600,
            allow_expired_window: 172_800,
            methods: [
                "external",
                "password",
                "token",
                "oauth1",
                "mapped",
                "application_credential",
                "ec2credential",
                "totp",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Default for FernetConfig {
    fn default() -> Self {
        FernetConfig { max_active_keys: 3 }
    }
}

impl Default for PasswordHashingConfig {
    fn default() -> Self {
        PasswordHashingConfig {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_password_length: 4096,
            max_concurrent: default_hashing_threads(),
            max_queue: (16 * default_hashing_threads()).max(64),
        }
    }
}

/// One hashing thread per CPU, leaving one CPU to request handling where there is more than one.
fn default_hashing_threads() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    cpus.saturating_sub(1).max(1)
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            generated_name_prefix: "PCU-".into(),
            generated_name_length: 8,
        }
    }
}

/// A source of environment variables; a parameter so that tests don't touch the process env.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Config {
    /// Defaults, then `file` (or `IRONSTONE_CONFIG`), then the environment.
    pub fn load(file: Option<&Path>, env: &dyn Env) -> Result<Config> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env.var("IRONSTONE_CONFIG").map(PathBuf::from));
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::validation(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str::<Config>(&text).map_err(|e| {
                    Error::validation(format!("config file {}: {}", path.display(), e.message()))
                })?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: &dyn Env) -> Result<()> {
        if let Some(v) = env.var("IRONSTONE_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = secret_var(env, "IRONSTONE_DATABASE_URL")? {
            self.database_url = Some(v);
        }
        if let Some(v) = env.var("IRONSTONE_BIND") {
            self.bind = v;
        }
        if let Some(v) = env.var("IRONSTONE_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = env.var("IRONSTONE_KEY_REPOSITORY") {
            self.key_repository = Some(PathBuf::from(v));
        }
        if let Some(v) = env.var("IRONSTONE_CREDENTIAL_KEY_REPOSITORY") {
            self.credential_key_repository = Some(PathBuf::from(v));
        }
        for (name, slot) in [
            ("IRONSTONE_LIST_DEFAULT_LIMIT", &mut self.list.default_limit),
            ("IRONSTONE_LIST_MAX_LIMIT", &mut self.list.max_limit),
        ] {
            if let Some(v) = env.var(name) {
                *slot = Some(v.parse().map_err(|_| {
                    Error::validation(format!("{name} must be a positive whole number, got {v:?}"))
                })?);
            }
        }
        if let Some(v) = env.var("IRONSTONE_METRICS_BIND") {
            self.metrics.bind = Some(v);
        }
        if let Some(v) = env.var("IRONSTONE_SMTP_HOST") {
            self.smtp.host = Some(v);
        }
        if let Some(v) = env.var("IRONSTONE_SMTP_PORT") {
            self.smtp.port = Some(v.parse().map_err(|_| {
                Error::validation(format!(
                    "IRONSTONE_SMTP_PORT must be a port number, got {v:?}"
                ))
            })?);
        }
        if let Some(v) = env.var("IRONSTONE_SMTP_USERNAME") {
            self.smtp.username = Some(v);
        }
        if let Some(v) = secret_var(env, "IRONSTONE_SMTP_PASSWORD")? {
            self.smtp.password = Some(v.into());
        }
        if let Some(path) = self.smtp.password_file.take() {
            if self.smtp.password.is_some() {
                return Err(Error::validation(
                    "smtp.password and smtp.password_file are both set; keep one",
                ));
            }
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::validation(format!(
                    "cannot read smtp.password_file ({}): {e}",
                    path.display()
                ))
            })?;
            self.smtp.password = Some(text.trim_end_matches(['\n', '\r']).to_string().into());
        }
        if let Some(v) = env.var("IRONSTONE_CACHE_ENABLED") {
            self.cache.enabled = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(Error::validation(format!(
                        "IRONSTONE_CACHE_ENABLED must be true or false, got {v:?}"
                    )))
                }
            };
        }
        if let Some(v) = env.var("IRONSTONE_TOKEN_EXPIRATION") {
            self.token.expiration = v.parse().map_err(|_| {
                Error::validation(format!(
                    "IRONSTONE_TOKEN_EXPIRATION must be whole seconds, got {v:?}"
                ))
            })?;
        }
        Ok(())
    }

    /// Every number and duration within bounds, so that no absurd value reaches a request
    /// (e.g. a token expiration that overflows a timestamp); the message names the key.
    fn validate(&self) -> Result<()> {
        const DAY: u64 = 86_400;
        let t = &self.token;
        bounded("token.expiration (seconds)", t.expiration, 1, 366 * DAY)?;
        bounded("totp.skew_steps", self.totp.skew_steps as u64, 0, 10)?;
        bounded(
            "receipt.expiration (seconds)",
            self.receipt.expiration,
            1,
            DAY,
        )?;
        bounded(
            "token.allow_expired_window (seconds)",
            t.allow_expired_window,
            0,
            366 * DAY,
        )?;
        bounded(
            "fernet.max_active_keys",
            self.fernet.max_active_keys as u64,
            2,
            1000,
        )
        .map_err(|_| {
            Error::validation(
                "fernet.max_active_keys must be between 2 (a staged and a primary key) and 1000",
            )
        })?;
        bounded(
            "max_request_body_size (bytes)",
            self.max_request_body_size as u64,
            1024,
            1 << 30,
        )?;
        bounded("cache.max_entries", self.cache.max_entries, 10, 10_000_000)?;
        bounded(
            "database_pool_size",
            self.database_pool_size.into(),
            1,
            1000,
        )?;
        let h = &self.password_hashing;
        bounded(
            "password_hashing.memory_kib",
            h.memory_kib.into(),
            8,
            4 << 20,
        )?;
        bounded("password_hashing.iterations", h.iterations.into(), 1, 1000)?;
        bounded("password_hashing.parallelism", h.parallelism.into(), 1, 64)?;
        if u64::from(h.memory_kib) < 8 * u64::from(h.parallelism) {
            return Err(Error::validation(
                "password_hashing.memory_kib must be at least 8 x password_hashing.parallelism",
            ));
        }
        bounded(
            "password_hashing.max_password_length",
            h.max_password_length as u64,
            1,
            1 << 20,
        )?;
        bounded(
            "password_hashing.max_concurrent",
            h.max_concurrent as u64,
            1,
            1024,
        )?;
        bounded(
            "password_hashing.max_queue",
            h.max_queue as u64,
            1,
            1_000_000,
        )?;
        let sc = &self.security_compliance;
        if let Some(n) = sc.lockout_failure_attempts {
            bounded(
                "security_compliance.lockout_failure_attempts",
                n.into(),
                1,
                1_000_000,
            )?;
        }
        if let Some(d) = sc.lockout_duration {
            bounded(
                "security_compliance.lockout_duration (seconds)",
                d,
                1,
                3660 * DAY,
            )?;
        }
        if let Some(d) = sc.password_expires_days {
            bounded(
                "security_compliance.password_expires_days",
                d.into(),
                1,
                36_600,
            )?;
        }
        bounded(
            "security_compliance.unique_last_password_count",
            sc.unique_last_password_count.into(),
            0,
            1000,
        )?;
        bounded(
            "security_compliance.minimum_password_age (days)",
            sc.minimum_password_age.into(),
            0,
            36_600,
        )?;
        if let Some(d) = sc.disable_user_account_days_inactive {
            bounded(
                "security_compliance.disable_user_account_days_inactive",
                d.into(),
                1,
                36_600,
            )?;
        }
        if sc.password_regex_description.is_some() && sc.password_regex.is_none() {
            return Err(Error::validation(
                "security_compliance.password_regex_description needs security_compliance.password_regex",
            ));
        }
        crate::identity::password_policy::PasswordPolicy::from_config(self)?;
        bounded(
            "identity.generated_name_length",
            self.identity.generated_name_length as u64,
            4,
            64,
        )?;
        let m = &self.smtp;
        bounded("smtp.timeout_seconds", m.timeout_seconds, 1, 600)?;
        if m.host.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return Err(Error::validation(
                "smtp.host is empty; remove it to run without a mail server",
            ));
        }
        if m.password.is_some() && m.username.is_none() {
            return Err(Error::validation(
                "smtp.password is set without smtp.username",
            ));
        }
        if m.username.is_some() && m.password.is_none() {
            return Err(Error::validation(
                "smtp.username is set without smtp.password (or smtp.password_file); AUTH needs both",
            ));
        }
        if m.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(Error::validation(format!(
                "smtp.from must be an address such as \"Example Cloud <noreply@cloud.example>\", got {:?}",
                m.from
            )));
        }
        if self.identity.generated_name_prefix.chars().count() > 64 {
            return Err(Error::validation(
                "identity.generated_name_prefix must be at most 64 characters",
            ));
        }
        for needed in ["password", "token", "application_credential"] {
            if !self.token.methods.iter().any(|m| m == needed) {
                return Err(Error::validation(format!(
                    "token.methods must include {needed:?}"
                )));
            }
        }
        if self.token.methods.len() > 31 {
            return Err(Error::validation(
                "token.methods may list at most 31 methods",
            ));
        }
        for (key, v) in [
            ("list.default_limit", self.list.default_limit),
            ("list.max_limit", self.list.max_limit),
        ] {
            if v == Some(0) {
                return Err(Error::validation(format!(
                    "{key} must be a positive number of entities (leave it out for no limit)"
                )));
            }
        }
        if let (Some(d), Some(m)) = (self.list.default_limit, self.list.max_limit) {
            if d > m {
                return Err(Error::validation(format!(
                    "list.default_limit ({d}) must not exceed list.max_limit ({m})"
                )));
            }
        }
        if let Some(m) = &self.metrics.bind {
            if m.trim() == self.bind.trim() && !m.trim().ends_with(":0") {
                return Err(Error::validation(format!(
                    "metrics.bind ({m}) must differ from bind: /metrics is never served on the public API port"
                )));
            }
        }
        bounded("links.ttl_seconds", self.links.ttl_seconds, 60, 366 * DAY)?;
        if let Some(b) = &self.links.base_url {
            let u = url::Url::parse(b).map_err(|e| {
                Error::validation(format!("links.base_url {b:?} is not a URL: {e}"))
            })?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(Error::validation(format!(
                    "links.base_url {b:?} must be an http or https URL"
                )));
            }
        }
        url::Url::parse(&self.public_url()).map_err(|e| {
            Error::validation(format!(
                "public_url {:?} is not a URL: {e}",
                self.public_url()
            ))
        })?;
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("ironstone.db").display()))
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_string()
    }

    /// Where one-time links point: `links.base_url`, else `public_url`; no trailing slash.
    pub fn links_base_url(&self) -> String {
        self.links
            .base_url
            .clone()
            .unwrap_or_else(|| self.public_url())
            .trim_end_matches('/')
            .to_string()
    }

    pub fn key_repository(&self) -> PathBuf {
        self.key_repository
            .clone()
            .unwrap_or_else(|| self.data_dir.join("fernet-keys"))
    }

    pub fn credential_key_repository(&self) -> PathBuf {
        self.credential_key_repository
            .clone()
            .unwrap_or_else(|| self.data_dir.join("credential-keys"))
    }
}

/// `key` must lie in `min..=max`, or start-up stops with a message naming it.
fn bounded(key: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "{key} must be between {min} and {max}, got {value}"
        )))
    }
}

/// `NAME` or the contents of the file named by `NAME_FILE` (trailing newline removed).
pub fn secret_var(env: &dyn Env, name: &str) -> Result<Option<String>> {
    if let Some(v) = env.var(name) {
        return Ok(Some(v));
    }
    match env.var(&format!("{name}_FILE")) {
        Some(path) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
            .map_err(|e| Error::validation(format!("cannot read {name}_FILE ({path}): {e}"))),
        None => Ok(None),
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, String>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn env(pairs: &[(&'static str, &str)]) -> MapEnv {
        MapEnv(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
    }

    #[test]
    fn defaults_derive_from_data_dir_and_bind() {
        let c = Config::load(None, &env(&[("IRONSTONE_DATA_DIR", "/srv/ids")])).unwrap();
        assert_eq!(c.database_url(), "sqlite:///srv/ids/ironstone.db");
        assert_eq!(c.key_repository(), PathBuf::from("/srv/ids/fernet-keys"));
        assert_eq!(c.public_url(), "http://127.0.0.1:5000");
        assert_eq!(c.token.expiration, 3600);
    }

    #[test]
    fn file_then_env_layering() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ironstone.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:5001\"\n[token]\nexpiration = 600\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&path),
            &env(&[("IRONSTONE_PUBLIC_URL", "https://id.example.com/")]),
        )
        .unwrap();
        assert_eq!(c.bind, "0.0.0.0:5001");
        assert_eq!(c.token.expiration, 600);
        assert_eq!(c.public_url(), "https://id.example.com");
    }

    #[test]
    fn unknown_key_in_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bnid = \"x\"\n").unwrap();
        let err = Config::load(Some(&path), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bnid"), "{err}");
    }

    #[test]
    fn secrets_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("url");
        std::fs::write(&path, "postgres://u:pw@db/ks\n").unwrap();
        let c = Config::load(
            None,
            &env(&[("IRONSTONE_DATABASE_URL_FILE", path.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.database_url(), "postgres://u:pw@db/ks");
        assert_eq!(redact_url(&c.database_url()), "postgres://u:***@db/ks");
    }

    #[test]
    fn smtp_settings_are_checked_and_the_password_never_shows() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("smtp-pw");
        std::fs::write(&pw, "hunter2-smtp\n").unwrap();
        let c = Config::load(
            None,
            &env(&[
                ("IRONSTONE_SMTP_HOST", "mail.example.com"),
                ("IRONSTONE_SMTP_USERNAME", "ids"),
                ("IRONSTONE_SMTP_PASSWORD_FILE", pw.to_str().unwrap()),
            ]),
        )
        .unwrap();
        assert_eq!(c.smtp.port(), 587, "STARTTLS by default");
        use secrecy::ExposeSecret;
        assert_eq!(
            c.smtp.password.as_ref().unwrap().expose_secret(),
            "hunter2-smtp"
        );
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "Debug hides the password"
        );
        for (toml, needle) in [
            ("[smtp]\nfrom = \"not an address\"", "smtp.from"),
            ("[smtp]\nhost = \"x\"\npassword = \"p\"", "smtp.username"),
            ("[smtp]\nhost = \"x\"\nusername = \"u\"", "smtp.password"),
            ("[smtp]\ntls = \"ssl\"", "ssl"),
            ("[smtp]\ntimeout_seconds = 0", "smtp.timeout_seconds"),
        ] {
            let err = load_toml(toml).unwrap_err().to_string();
            assert!(err.contains(needle), "{toml}: {err}");
        }
    }

    fn load_toml(text: &str) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path), &env(&[]))
    }

    #[test]
    fn zero_or_absurd_numbers_are_refused_naming_the_key() {
        for (toml, key) in [
            ("[token]\nexpiration = 0", "token.expiration"),
            (
                "[token]\nexpiration = 9223372036854775807",
                "token.expiration",
            ),
            (
                "[token]\nallow_expired_window = 9223372036854775807",
                "token.allow_expired_window",
            ),
            (
                "[security_compliance]\nlockout_duration = 9223372036854775807",
                "security_compliance.lockout_duration",
            ),
            (
                "[security_compliance]\npassword_expires_days = 4294967295",
                "security_compliance.password_expires_days",
            ),
            (
                "[security_compliance]\nlockout_failure_attempts = 0",
                "security_compliance.lockout_failure_attempts",
            ),
            (
                "[password_hashing]\nmax_concurrent = 0",
                "password_hashing.max_concurrent",
            ),
            (
                "[password_hashing]\nmax_concurrent = 100000",
                "password_hashing.max_concurrent",
            ),
            (
                "[password_hashing]\nmax_queue = 0",
                "password_hashing.max_queue",
            ),
            (
                "[password_hashing]\nmemory_kib = 4294967295",
                "password_hashing.memory_kib",
            ),
            (
                "[password_hashing]\niterations = 0",
                "password_hashing.iterations",
            ),
            (
                "[password_hashing]\nmax_password_length = 0",
                "password_hashing.max_password_length",
            ),
            ("[fernet]\nmax_active_keys = 1", "fernet.max_active_keys"),
            ("database_pool_size = 0", "database_pool_size"),
            ("max_request_body_size = 0", "max_request_body_size"),
            (
                "[identity]\ngenerated_name_length = 100000000",
                "identity.generated_name_length",
            ),
        ] {
            let err = load_toml(toml)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains(key),
                "{toml:?}: expected an error naming {key}, got {err:?}"
            );
        }
        let err = Config::load(
            None,
            &env(&[("IRONSTONE_TOKEN_EXPIRATION", "99999999999999")]),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("token.expiration"), "{err}");
    }

    #[test]
    fn list_limits_are_off_by_default_and_checked() {
        assert_eq!(Config::default().list.default_limit, None);
        assert_eq!(Config::default().list.max_limit, None);
        let c = load_toml("[list]\ndefault_limit = 100\nmax_limit = 500\n").unwrap();
        assert_eq!(
            (c.list.default_limit, c.list.max_limit),
            (Some(100), Some(500))
        );
        let c = Config::load(None, &env(&[("IRONSTONE_LIST_MAX_LIMIT", "7")])).unwrap();
        assert_eq!(c.list.max_limit, Some(7));
        for (toml, key) in [
            ("[list]\ndefault_limit = 0", "list.default_limit"),
            ("[list]\nmax_limit = 0", "list.max_limit"),
            ("[list]\ndefault_limit = 9\nmax_limit = 8", "list.max_limit"),
        ] {
            let err = load_toml(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml:?}: {err}");
        }
        let err = Config::load(None, &env(&[("IRONSTONE_LIST_DEFAULT_LIMIT", "ten")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("IRONSTONE_LIST_DEFAULT_LIMIT"), "{err}");
    }

    #[test]
    fn metrics_listener_is_off_by_default_and_set_by_file_or_env() {
        assert_eq!(Config::default().metrics.bind, None);
        let c = load_toml("[metrics]\nbind = \"127.0.0.1:9100\"\n").unwrap();
        assert_eq!(c.metrics.bind.as_deref(), Some("127.0.0.1:9100"));
        let c = Config::load(None, &env(&[("IRONSTONE_METRICS_BIND", "0.0.0.0:9200")])).unwrap();
        assert_eq!(c.metrics.bind.as_deref(), Some("0.0.0.0:9200"));
        let err = load_toml("[metrics]\nbind = \"127.0.0.1:9100\"\npath = \"/m\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("path"), "{err}");
        let err = load_toml("[metrics]\nbind = \"127.0.0.1:5000\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("metrics.bind"), "{err}");
    }

    #[test]
    fn links_ttl_and_base_url() {
        let c = Config::default();
        assert_eq!(c.links.ttl_seconds, 86_400);
        assert_eq!(c.links_base_url(), "http://127.0.0.1:5000");
        let c = load_toml("[links]\nttl_seconds = 600\nbase_url = \"https://id.example.com/\"\n")
            .unwrap();
        assert_eq!(c.links.ttl_seconds, 600);
        assert_eq!(c.links_base_url(), "https://id.example.com");
        for (toml, key) in [
            ("[links]\nttl_seconds = 0", "links.ttl_seconds"),
            ("[links]\nbase_url = \"ftp://x\"", "links.base_url"),
            ("[links]\nbase_url = \"not a url\"", "links.base_url"),
        ] {
            let err = load_toml(toml)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(key), "{toml:?}: {err:?}");
        }
    }

    #[test]
    fn cache_is_on_by_default_and_set_by_file_or_env() {
        let d = Config::default().cache;
        assert!(d.enabled && d.max_entries == 10_000);
        let c = load_toml("[cache]\nenabled = false\nmax_entries = 500\n").unwrap();
        assert!(!c.cache.enabled);
        assert_eq!(c.cache.max_entries, 500);
        let c = Config::load(None, &env(&[("IRONSTONE_CACHE_ENABLED", "off")])).unwrap();
        assert!(!c.cache.enabled);
        let err = Config::load(None, &env(&[("IRONSTONE_CACHE_ENABLED", "maybe")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("IRONSTONE_CACHE_ENABLED"), "{err}");
        let err = load_toml("[cache]\nmax_entries = 0\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("cache.max_entries"), "{err}");
        let err = load_toml("[cache]\nttl = 5\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("ttl"), "{err}");
    }

    #[test]
    fn hashing_pool_options_are_read() {
        let c = load_toml("[password_hashing]\nmax_concurrent = 3\nmax_queue = 7\n").unwrap();
        assert_eq!(c.password_hashing.max_concurrent, 3);
        assert_eq!(c.password_hashing.max_queue, 7);
        let d = Config::default().password_hashing;
        assert!(d.max_concurrent >= 1 && d.max_queue >= d.max_concurrent);
    }
}
