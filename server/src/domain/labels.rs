//! Labels across the book: what renaming or removing one does to an entry.

use super::entry::EntryContent;
use super::search::fold;

impl EntryContent {
    /// This content with its label that folds to `from` (already folded, as the `label` filter
    /// compares) renamed to `to`, or removed when `to` is `None`; `None` when no label of it
    /// folds to `from`, so nothing changes. A rename onto a label the entry already has (in any
    /// case) keeps that one, once, where it was: labels never repeat.
    pub fn relabeled(&self, from: &str, to: Option<&str>) -> Option<Self> {
        let at = self.labels.iter().position(|label| fold(label) == from)?;
        let mut labels = self.labels.clone();
        match to {
            Some(to)
                if labels
                    .iter()
                    .enumerate()
                    .any(|(i, l)| i != at && fold(l) == fold(to)) =>
            {
                labels.remove(at);
            }
            Some(to) => labels[at] = to.to_owned(),
            None => {
                labels.remove(at);
            }
        }
        Some(Self {
            labels,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(labels: &[&str]) -> EntryContent {
        EntryContent {
            full_name: "Irene Adler".into(),
            addresses: Vec::new(),
            phone_numbers: Vec::new(),
            fax_numbers: Vec::new(),
            emails: Vec::new(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    fn labels(content: Option<EntryContent>) -> Option<Vec<String>> {
        content.map(|c| c.labels)
    }

    #[test]
    fn a_rename_keeps_the_place_and_a_removal_keeps_the_rest() {
        let entry = labelled(&["Family", "Clients", "Opera"]);
        assert_eq!(
            labels(entry.relabeled("clients", Some("Customers"))),
            Some(vec!["Family".into(), "Customers".into(), "Opera".into()])
        );
        assert_eq!(
            labels(entry.relabeled("clients", None)),
            Some(vec!["Family".into(), "Opera".into()])
        );
        assert_eq!(
            labels(entry.relabeled("clients", Some("CLIENTS"))),
            Some(vec!["Family".into(), "CLIENTS".into(), "Opera".into()]),
            "a new spelling of the same label"
        );
    }

    #[test]
    fn a_rename_onto_a_label_the_entry_has_merges_them() {
        let entry = labelled(&["Family", "Clients"]);
        assert_eq!(
            labels(entry.relabeled("clients", Some("family"))),
            Some(vec!["Family".into()])
        );
    }

    #[test]
    fn an_entry_without_the_label_is_left_alone() {
        let entry = labelled(&["Family"]);
        assert_eq!(entry.relabeled("clients", Some("Customers")), None);
        assert_eq!(entry.relabeled("fam", None), None, "labels match whole");
    }
}
