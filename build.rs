//! Rebuilds the crate when a migration changes: `embed_migrations!` reads the `migrations/`
//! tree at compile time, and Cargo does not watch it by itself.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
