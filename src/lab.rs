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
    pub snapshot_path: PathBuf,
    pub snapshot: Option<Snapshot>,
}

impl Lab {
    pub fn open(path: &Path) -> Result<Lab> {
        let doc = document::load(path)?;
        let steps = steps::split_checked(&doc)?;
        let config = Config::for_document(path)?;
        let norm = Normalizer::new(&config.masks)
            .map_err(|m| Error::input(config.root.join("labrun.toml"), 0, m))?;
        let snapshot_path = snapshot::path_for(&config.snapshot_dir(), path);
        let snapshot = snapshot::load(&snapshot_path)?;
        Ok(Lab {
            doc,
            steps,
            config,
            norm,
            snapshot_path,
            snapshot,
        })
    }

    pub fn step_ids(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.id.clone()).collect()
    }

    /// The snapshot, or a new empty one for this document.
    pub fn snapshot_or_new(&self) -> Snapshot {
        self.snapshot.clone().unwrap_or_else(|| Snapshot {
            document: self.doc.path.display().to_string(),
            entries: Vec::new(),
        })
    }
}
