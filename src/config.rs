//! Configuration: `labrun.toml`, found by walking up from the document's directory.
//!
//! In: the document's path. Out: [`Config`]: where snapshots live, the user's masks, and
//! where a run starts (later stages). Unknown keys are an error naming the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::normalize::UserMask;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Snapshot directory, relative to the configuration file (default `snapshots`).
    #[serde(default)]
    pub snapshots: Option<PathBuf>,
    /// Directory a run starts in, relative to the configuration file.
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    #[serde(default, rename = "mask")]
    pub masks: Vec<UserMask>,
    /// The directory holding the configuration file (the project root).
    #[serde(skip)]
    pub root: PathBuf,
}

impl Config {
    /// The nearest `labrun.toml` at or above the document's directory; defaults (rooted at the
    /// current directory) when there is none.
    pub fn for_document(document: &Path) -> Result<Config> {
        let start = std::fs::canonicalize(document)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        for dir in start.ancestors() {
            let file = dir.join("labrun.toml");
            if file.is_file() {
                let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
                let mut cfg: Config = toml::from_str(&text).map_err(|e| {
                    let line = e
                        .span()
                        .map_or(0, |s| text[..s.start].matches('\n').count() + 1);
                    Error::input(&file, line, e.message().to_string())
                })?;
                cfg.root = dir.to_path_buf();
                return Ok(cfg);
            }
        }
        Ok(Config {
            root: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            ..Config::default()
        })
    }

    pub fn snapshot_dir(&self) -> PathBuf {
        self.root
            .join(self.snapshots.as_deref().unwrap_or(Path::new("snapshots")))
    }
}
