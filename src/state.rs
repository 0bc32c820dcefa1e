//! Everything a request needs, built once at start-up and shared by all workers.

use std::sync::{Arc, OnceLock};

use crate::auth::password::PasswordHasher;
use crate::cache::ValidationCache;
use crate::config::Config;
use crate::credential::secret_hash::SecretKey;
use crate::error::Result;
use crate::identity::password_policy::PasswordPolicy;
use crate::mail::Mailer;
use crate::realm::Realm;
use crate::store::Store;
use crate::token::{KeyRepository, KeyRing, TokenProvider};
use crate::web::csrf::PageOrigins;

pub struct State {
    pub config: Arc<Config>,
    pub store: Store,
    pub tokens: TokenProvider,
    pub hasher: PasswordHasher,
    /// Encrypts stored credential blobs (EC2 secrets); not the token keys, which rotate fast.
    pub credential_keys: KeyRing,
    /// The operator's realm (the admin project, by id).
    pub realm: Arc<Realm>,
    /// Which passwords may be set (`[password_policy]` and `password_regex`).
    pub password_policy: PasswordPolicy,
    /// The key of generated application-credential secrets' hashes, once this node has read it
    /// (`credential::secret_hash`).
    pub app_cred_secret_key: OnceLock<Arc<SecretKey>>,
    /// Sends set-password links and invitations (`[smtp]`); unconfigured: links go to the admin.
    pub mailer: Mailer,
    /// What token validation computed, while the change feed vouches for it (`[cache]`).
    pub cache: std::sync::Arc<ValidationCache>,
    /// The origins the account pages accept forms from, and their cookies' `Secure` flag.
    pub page_origins: PageOrigins,
}

impl State {
    pub fn new(config: Config, store: Store) -> Result<State> {
        let repo = KeyRepository::new(config.key_repository(), config.fernet.max_active_keys);
        let tokens = TokenProvider::new(KeyRing::open(repo)?, config.token.methods.clone());
        let hasher = PasswordHasher::new(&config.password_hashing)?;
        let credential_repo = KeyRepository::new(
            config.credential_key_repository(),
            config.fernet.max_active_keys,
        );
        // The embedded store (one node) creates it on first use; several nodes on PostgreSQL
        // must share one, created when the store is bootstrapped (`cli::serve::key_repositories`).
        if store.backend() == crate::store::Backend::Sqlite {
            credential_repo.setup()?;
        }
        let credential_keys = KeyRing::open(credential_repo)?;
        let realm = Arc::new(Realm::load(&store)?);
        let password_policy = PasswordPolicy::from_config(&config)?;
        let mailer = Mailer::from_config(&config.smtp)?;
        let cache = std::sync::Arc::new(ValidationCache::new(
            &config.cache,
            store.change_feed().clone(),
        ));
        let page_origins = PageOrigins::from_config(&config);
        Ok(State {
            page_origins,
            mailer,
            cache,
            password_policy,
            config: Arc::new(config),
            store,
            tokens,
            hasher,
            credential_keys,
            realm,
            app_cred_secret_key: OnceLock::new(),
        })
    }

    pub fn public_url(&self) -> String {
        self.config.public_url()
    }
}
