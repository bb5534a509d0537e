// Migrations are embedded with `sqlx::migrate!`; without this, adding a migration file would not
// rebuild the binary that embeds them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
