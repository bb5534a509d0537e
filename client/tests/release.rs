//! The release convention (CHANGELOG.md): the crates' version `X.Y.Z` is tagged `vX.Y.Z`, the
//! client README's git dependency line names that tag, and the changelog has its section. A
//! version raised without the other two would send users to a tag that does not exist.

const README: &str = include_str!("../README.md");
const CHANGELOG: &str = include_str!("../../CHANGELOG.md");
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn the_readme_depends_on_the_tag_of_this_version() {
    let line = README
        .lines()
        .find(|line| line.starts_with("addressbook-client = { git = "))
        .expect("the README shows a git dependency");
    let tag = format!("tag = \"v{VERSION}\"");
    assert!(line.contains(&tag), "{line:?} should name {tag}");
}

#[test]
fn the_changelog_has_a_section_for_this_version() {
    let heading = format!("## [{VERSION}] - ");
    assert!(
        CHANGELOG.lines().any(|line| line.starts_with(&heading)),
        "CHANGELOG.md has no `{heading}YYYY-MM-DD` section"
    );
    assert!(
        CHANGELOG.lines().any(|line| line == "## [Unreleased]"),
        "CHANGELOG.md has no `## [Unreleased]` section to collect the next changes"
    );
}
