//! The per-node cache of what token validation computes: the validated token (its user,
//! domains, project, roles, application credential) and what its body shows beyond it (the
//! project's catalog, the credential's access rules). Bounded in entries (`[cache]`).
//!
//! No time-to-live: an entry counts only while the change feed (`store::changes`) vouches that
//! nothing changed since it was computed. Each entry carries the feed's epoch taken *before* the
//! database was read for it; any change that can affect a token moves the epoch on this node
//! (at once for its own writes, within `TRUST_FOR` for other nodes' writes), after which the
//! entry is never served again. A node that cannot tell whether its cache is current does not
//! use it at all. What depends on time alone (token expiry, inactivity) is checked on every hit
//! by the caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use metrics::counter;

use crate::auth::caller::TokenExtras;
use crate::auth::{AppCredRef, TokenInfo};
use crate::config::CacheConfig;
use crate::error::Result;
use crate::identity::ShownUser;
use crate::resource::manage::ProjectView;
use crate::store::changes::ChangeFeed;
use crate::store::{self, DbConnection, Domain, Role};

pub const CACHE_HITS: &str = "ironstone_cache_hits_total";
pub const CACHE_MISSES: &str = "ironstone_cache_misses_total";
pub const CACHE_BYPASSED: &str = "ironstone_cache_bypassed_total";
pub const CACHE_ENTRIES: &str = "ironstone_cache_entries";

/// Proof of the epoch a computation started in: taken before reading the database, handed back
/// with the result. `None` inside: the cache is off or not current, nothing is stored.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(Option<u64>);

struct Entry<T> {
    epoch: u64,
    value: T,
}

/// One kind of entry: served only with a ticket of the epoch it was computed in.
struct Shelf<K, V> {
    kind: &'static str,
    map: moka::sync::Cache<K, Arc<Entry<V>>>,
}

impl<K, V> Shelf<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(kind: &'static str, capacity: u64) -> Shelf<K, V> {
        Shelf {
            kind,
            map: moka::sync::Cache::new(capacity),
        }
    }

    /// A shelf bounded in bytes (as `weight` counts them) rather than in entries: for values
    /// whose size the client decides.
    fn weighed(kind: &'static str, max_bytes: u64, weight: fn(&V) -> usize) -> Shelf<K, V> {
        Shelf {
            kind,
            map: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(move |_, e: &Arc<Entry<V>>| {
                    u32::try_from(weight(&e.value)).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    fn get<Q>(&self, ticket: Ticket, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let hit = self.lookup(ticket.0?, key);
        record(self.kind, hit.is_some());
        hit
    }

    /// The value under `key` if it was computed in `epoch`.
    fn lookup<Q>(&self, epoch: u64, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.map
            .get(key)
            .filter(|e| e.epoch == epoch)
            .map(|e| e.value.clone())
    }

    /// As `get` for many keys at once, counted once (a list page asks for hundreds).
    fn get_many<'k, Q>(&self, ticket: Ticket, keys: impl Iterator<Item = &'k Q>) -> Vec<Option<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized + 'k,
    {
        let Some(epoch) = ticket.0 else {
            return keys.map(|_| None).collect();
        };
        let found: Vec<Option<V>> = keys.map(|k| self.lookup(epoch, k)).collect();
        let hits = found.iter().filter(|f| f.is_some()).count() as u64;
        counter!(CACHE_HITS, "cache" => self.kind).increment(hits);
        counter!(CACHE_MISSES, "cache" => self.kind).increment(found.len() as u64 - hits);
        found
    }

    fn put(&self, ticket: Ticket, key: K, value: V) {
        if let Some(epoch) = ticket.0 {
            self.map.insert(key, Arc::new(Entry { epoch, value }));
        }
    }

    fn clear(&self) {
        self.map.invalidate_all();
    }

    fn count(&self) -> (&'static str, u64) {
        (self.kind, self.map.entry_count())
    }
}

/// What a token body shows beyond the token: keyed by project, credential and whether the
/// catalog was asked for.
type ExtrasKey = (String, Option<String>, bool);

/// The roles a token of (user, project, application credential) carries, and the credential.
pub type ScopedRoles = Arc<(Vec<Role>, Option<AppCredRef>)>;
type RolesKey = (String, String, Option<String>);

pub struct ValidationCache {
    feed: Arc<ChangeFeed>,
    enabled: bool,
    tokens: Shelf<String, TokenInfo>,
    extras: Shelf<ExtrasKey, Arc<TokenExtras>>,
    /// Project views (project and tags) by id, for reads.
    projects: Shelf<String, Arc<ProjectView>>,
    domains: Shelf<String, Domain>,
    roles: Shelf<RolesKey, ScopedRoles>,
    /// Users as lists show them (profile and options; not last activity), by id, bounded in
    /// bytes.
    users: Shelf<String, Arc<ShownUser>>,
    /// The epoch the caches were last emptied for: a new epoch empties them (once) so that
    /// entries that can never count again do not take the room of new ones.
    cleared_for: AtomicU64,
}

impl ValidationCache {
    pub fn new(config: &CacheConfig, feed: Arc<ChangeFeed>) -> ValidationCache {
        let small = (config.max_entries / 10).max(10);
        ValidationCache {
            feed,
            enabled: config.enabled,
            tokens: Shelf::new("token", config.max_entries),
            extras: Shelf::new("extras", small),
            projects: Shelf::new("project", small),
            domains: Shelf::new("domain", small),
            roles: Shelf::new("roles", config.max_entries),
            // About 1 KiB per user on average: 10 MiB by default, however large the extra
            // attributes of the users listed.
            users: Shelf::weighed("user", config.max_entries * 1024, |u| u.weight()),
            cleared_for: AtomicU64::new(0),
        }
    }

    /// The ticket for a computation that starts now.
    pub fn ticket(&self) -> Ticket {
        if !self.enabled {
            return Ticket(None);
        }
        if !self.feed.is_current() {
            counter!(CACHE_BYPASSED).increment(1);
            return Ticket(None);
        }
        let epoch = self.feed.epoch();
        if self.cleared_for.swap(epoch, Ordering::AcqRel) != epoch {
            self.tokens.clear();
            self.extras.clear();
            self.projects.clear();
            self.domains.clear();
            self.roles.clear();
            self.users.clear();
        }
        Ticket(Some(epoch))
    }

    /// The validated token, if it was computed in the current epoch.
    pub fn token(&self, ticket: Ticket, token: &str) -> Option<TokenInfo> {
        self.tokens.get(ticket, token)
    }

    pub fn put_token(&self, ticket: Ticket, info: &TokenInfo) {
        self.tokens.put(ticket, info.token.clone(), info.clone());
    }

    pub fn extras(
        &self,
        ticket: Ticket,
        project_id: &str,
        app_cred_id: Option<&str>,
        with_catalog: bool,
    ) -> Option<Arc<TokenExtras>> {
        let key = (
            project_id.to_string(),
            app_cred_id.map(String::from),
            with_catalog,
        );
        self.extras.get(ticket, &key)
    }

    pub fn put_extras(
        &self,
        ticket: Ticket,
        project_id: &str,
        app_cred_id: Option<&str>,
        with_catalog: bool,
        extras: Arc<TokenExtras>,
    ) {
        let key = (
            project_id.to_string(),
            app_cred_id.map(String::from),
            with_catalog,
        );
        self.extras.put(ticket, key, extras);
    }

    /// The project (with its tags) as read in the current epoch.
    pub fn project(&self, ticket: Ticket, id: &str) -> Option<Arc<ProjectView>> {
        self.projects.get(ticket, id)
    }

    /// The user as shown (profile and options) if read in the current epoch.
    pub fn user(&self, ticket: Ticket, id: &str) -> Option<Arc<ShownUser>> {
        self.users.get(ticket, id)
    }

    fn put_project(&self, ticket: Ticket, view: Arc<ProjectView>) {
        self.projects.put(ticket, view.project.id.clone(), view);
    }

    /// Entries held now by kind, for the metrics gauge.
    pub fn entries(&self) -> [(&'static str, u64); 6] {
        [
            self.tokens.count(),
            self.extras.count(),
            self.projects.count(),
            self.domains.count(),
            self.roles.count(),
            self.users.count(),
        ]
    }

    /// Reads through this cache with `ticket`, on a connection the caller already holds.
    pub fn reader(self: &Arc<Self>, ticket: Ticket) -> Reader {
        Reader {
            cache: self.clone(),
            ticket,
        }
    }
}

/// Cached reads for code that runs on a store connection (`Send`, cheap to clone): a hit costs
/// no query, a miss reads on the caller's connection and keeps what it read, under the ticket
/// taken before the caller started reading.
#[derive(Clone)]
pub struct Reader {
    cache: Arc<ValidationCache>,
    ticket: Ticket,
}

impl Reader {
    pub fn ticket(&self) -> Ticket {
        self.ticket
    }

    pub fn domain(&self, c: &mut DbConnection, id: &str) -> Result<Option<Domain>> {
        if let Some(d) = self.cache.domains.get(self.ticket, id) {
            return Ok(Some(d));
        }
        let d = store::get_domain(c, id)?;
        if let Some(d) = &d {
            self.cache
                .domains
                .put(self.ticket, id.to_string(), d.clone());
        }
        Ok(d)
    }

    /// The project view if this node holds it for the current epoch (no connection needed).
    pub fn cached_project(&self, id: &str) -> Option<Arc<ProjectView>> {
        self.cache.projects.get(self.ticket, id)
    }

    pub fn project(&self, c: &mut DbConnection, id: &str) -> Result<Option<Arc<ProjectView>>> {
        if let Some(v) = self.cached_project(id) {
            return Ok(Some(v));
        }
        let Some(project) = store::get_project(c, id)? else {
            return Ok(None);
        };
        let tags = store::project_tags(c, id)?;
        let v = Arc::new(ProjectView { project, tags });
        self.cache.put_project(self.ticket, v.clone());
        Ok(Some(v))
    }

    /// The users `ids` as shown, in that order; `None` where there is no such user (deleted
    /// since the caller listed it). What this node does not hold for the current epoch is read
    /// on the caller's connection, all at once (profiles, then the options of those that have
    /// any), and kept.
    pub fn shown_users(
        &self,
        c: &mut DbConnection,
        ids: &[&str],
    ) -> Result<Vec<Option<Arc<ShownUser>>>> {
        let mut out = self.cache.users.get_many(self.ticket, ids.iter().copied());
        let missing: Vec<String> = ids
            .iter()
            .zip(&out)
            .filter(|(_, hit)| hit.is_none())
            .map(|(id, _)| id.to_string())
            .collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let profiles = store::user_profiles(c, &missing)?;
        let with_options: Vec<String> = profiles
            .iter()
            .filter(|(_, has)| *has)
            .map(|(p, _)| p.id.clone())
            .collect();
        let mut options = match with_options.is_empty() {
            true => Default::default(),
            false => store::user_options_of(c, &with_options)?,
        };
        let mut read: std::collections::HashMap<String, Arc<ShownUser>> = profiles
            .into_iter()
            .map(|(user, _)| {
                let options = options.remove(&user.id).unwrap_or_default();
                let shown = Arc::new(ShownUser::new(user, options));
                self.cache
                    .users
                    .put(self.ticket, shown.user.id.clone(), shown.clone());
                (shown.user.id.clone(), shown)
            })
            .collect();
        for (slot, id) in out.iter_mut().zip(ids) {
            if slot.is_none() {
                *slot = read.remove(*id);
            }
        }
        Ok(out)
    }

    /// The roles of a token for (user, project, credential), computed by `load` on a miss.
    pub fn roles(
        &self,
        user_id: &str,
        project_id: &str,
        app_cred_id: Option<&str>,
        load: impl FnOnce() -> Result<(Vec<Role>, Option<AppCredRef>)>,
    ) -> Result<ScopedRoles> {
        let key = (
            user_id.to_string(),
            project_id.to_string(),
            app_cred_id.map(String::from),
        );
        if let Some(r) = self.cache.roles.get(self.ticket, &key) {
            return Ok(r);
        }
        let r = Arc::new(load()?);
        self.cache.roles.put(self.ticket, key, r.clone());
        Ok(r)
    }
}

fn record(cache: &'static str, hit: bool) {
    let name = if hit { CACHE_HITS } else { CACHE_MISSES };
    counter!(name, "cache" => cache).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn extras() -> Arc<TokenExtras> {
        Arc::new(TokenExtras {
            catalog: None,
            access_rules: vec![],
        })
    }

    fn put(cache: &ValidationCache, t: Ticket) {
        cache.put_extras(t, "p", None, false, extras());
    }

    fn get(cache: &ValidationCache) -> bool {
        cache.extras(cache.ticket(), "p", None, false).is_some()
    }

    fn cache() -> (ValidationCache, Arc<ChangeFeed>) {
        let feed = Arc::new(ChangeFeed::default());
        let config = CacheConfig {
            enabled: true,
            max_entries: 100,
        };
        (ValidationCache::new(&config, feed.clone()), feed)
    }

    #[test]
    fn nothing_is_served_before_the_feed_was_read() {
        let (cache, feed) = cache();
        let t = cache.ticket();
        put(&cache, t);
        assert!(!get(&cache));
        feed.observe(1, Instant::now());
        assert!(!get(&cache));
    }

    #[test]
    fn a_change_drops_what_was_computed_before_it() {
        let (cache, feed) = cache();
        feed.observe(1, Instant::now());
        let t = cache.ticket();
        put(&cache, t);
        assert!(get(&cache));
        feed.observe(2, Instant::now());
        assert!(!get(&cache));
    }

    #[test]
    fn a_result_computed_across_a_change_is_never_served() {
        // The computation started (ticket taken, database read) before a change; it finishes
        // after the change was seen: what it stores must not count.
        let (cache, feed) = cache();
        feed.observe(1, Instant::now());
        let before = cache.ticket();
        feed.observe(2, Instant::now());
        put(&cache, before);
        assert!(!get(&cache));
    }

    #[test]
    fn a_feed_that_cannot_be_read_is_not_trusted() {
        let (cache, feed) = cache();
        feed.observe(1, Instant::now());
        put(&cache, cache.ticket());
        feed.distrust();
        assert!(cache.ticket().0.is_none());
        assert!(!get(&cache));
        feed.observe(1, Instant::now());
        assert!(!get(&cache), "what was cached before the outage is gone");
    }

    #[test]
    fn a_disabled_cache_stores_nothing() {
        let feed = Arc::new(ChangeFeed::default());
        let cache = ValidationCache::new(
            &CacheConfig {
                enabled: false,
                max_entries: 100,
            },
            feed.clone(),
        );
        feed.observe(1, Instant::now());
        put(&cache, cache.ticket());
        assert!(!get(&cache));
    }
}
