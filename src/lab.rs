//! A document opened for work: its steps, configuration, masks and snapshot, loaded once.
//!
//! In: a document path. Out: [`Lab`], which the commands (`check`, `accept`, `run`, `build`)
//! share so that each loads the same things the same way.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::document::{self, Document};
use crate::error::{Error, Result};
use crate::normalize::Normalizer;
use crate::snapshot::{self, Snapshot};
use crate::steps::{self, Step};

pub struct Lab {
    pub doc: Document,
    pub steps: Vec<Step>,
    pub config: Config,
    pub norm: Normalizer,
    /// Where the snapshot is written: `<snapshots>/<document path>.snap`.
    pub snapshot_path: PathBuf,
    /// Where the snapshot was read from, when that is the old stem-only name.
    pub legacy_snapshot: Option<PathBuf>,
    pub snapshot: Option<Snapshot>,
}

impl Lab {
    pub fn open(path: &Path) -> Result<Lab> {
        // The mask table compiles on another core while the document is parsed and split
        // (each takes milliseconds on a large document); the document's errors still come
        // first.
        let config = Config::for_document(path);
        let (doc, steps, norm) = std::thread::scope(|scope| {
            let norm = config
                .as_ref()
                .ok()
                .map(|c| scope.spawn(|| Normalizer::new(&c.masks)));
            let read = document::load(path).and_then(|doc| {
                let steps = steps::split_checked(&doc)?;
                Ok((doc, steps))
            });
            let norm = norm.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            read.map(|(doc, steps)| (doc, steps, norm))
        })?;
        let config = config?;
        let norm = norm
            .expect("compiled when the configuration was read")
            .map_err(|m| Error::input(config.root.join("labrun.toml"), 0, m))?;
        let snapshot_path = config.snapshot_path(path);
        let legacy_snapshot = config.legacy_snapshot(path);
        let mut doc = doc;
        if let Some(old) = &legacy_snapshot {
            doc.warnings.push(crate::document::Warning {
                line: 0,
                message: format!(
                    "the snapshot is at {}, the name labrun used before documents were named \
                     by their path; move it (and its .run.jsonl) to {}, or accept again",
                    old.display(),
                    snapshot_path.display()
                ),
            });
        }
        let snapshot = snapshot::load(legacy_snapshot.as_deref().unwrap_or(&snapshot_path))?;
        Ok(Lab {
            doc,
            steps,
            config,
            norm,
            snapshot_path,
            legacy_snapshot,
            snapshot,
        })
    }

    pub fn step_ids(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.id.clone()).collect()
    }

    /// The snapshot, or a new empty one for this document.
    pub fn snapshot_or_new(&self) -> Snapshot {
        self.snapshot.clone().unwrap_or_else(|| Snapshot {
            document: self.document_name(),
            run: None,
            entries: Vec::new(),
        })
    }

    /// The document as a snapshot's header names it: its path relative to the project root.
    pub fn document_name(&self) -> String {
        let canon = std::fs::canonicalize(&self.doc.path).unwrap_or_else(|_| self.doc.path.clone());
        let root =
            std::fs::canonicalize(&self.config.root).unwrap_or_else(|_| self.config.root.clone());
        canon
            .strip_prefix(&root)
            .unwrap_or(&self.doc.path)
            .display()
            .to_string()
    }
}
