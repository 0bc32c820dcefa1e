//! The operator's realm: the admin project that bootstrap created, known by the id it recorded.
//! Its name can change; its id cannot, so every "is this the cloud's own project" question is
//! answered here from the id, never from a name.

use std::sync::RwLock;

use crate::error::Result;
use crate::store::{self, DbConnection, Store, FACT_ADMIN_PROJECT_ID};

#[derive(Default)]
pub struct Realm {
    admin_project_id: RwLock<Option<String>>,
}

impl Realm {
    /// Reads the recorded admin project (none before the first bootstrap).
    pub fn load(store: &Store) -> Result<Realm> {
        let realm = Realm::default();
        realm.refresh(&mut store.conn()?.conn)?;
        Ok(realm)
    }

    pub fn refresh(&self, conn: &mut DbConnection) -> Result<Option<String>> {
        let id = store::get_fact(conn, FACT_ADMIN_PROJECT_ID)?;
        *self
            .admin_project_id
            .write()
            .unwrap_or_else(|p| p.into_inner()) = id.clone();
        Ok(id)
    }

    /// The admin project's id, once bootstrap has recorded it. It never changes afterwards.
    pub fn admin_project_id(&self) -> Option<String> {
        self.admin_project_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The admin project's id, reading the store when this node has not seen it yet (another
    /// node may have bootstrapped the cloud after this one started).
    pub fn admin_project_id_in(&self, conn: &mut DbConnection) -> Result<Option<String>> {
        match self.admin_project_id() {
            Some(id) => Ok(Some(id)),
            None => self.refresh(conn),
        }
    }

    /// The admin project's id for async callers, reading the store only until it is known.
    pub async fn current(&self, store: &Store) -> Result<Option<String>> {
        if let Some(id) = self.admin_project_id() {
            return Ok(Some(id));
        }
        let id = store
            .run(|c| store::get_fact(c, FACT_ADMIN_PROJECT_ID))
            .await?;
        if let Some(id) = &id {
            *self
                .admin_project_id
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
        }
        Ok(id)
    }

    pub fn is_admin_project(&self, conn: &mut DbConnection, project_id: &str) -> Result<bool> {
        Ok(self
            .admin_project_id_in(conn)?
            .is_some_and(|id| id == project_id))
    }
}
