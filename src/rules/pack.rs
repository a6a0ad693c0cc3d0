//! Rule files on disk: a file, or a directory's `*.json`, `*.yaml` and
//! `*.yml` files, read in name order. A rule's test cases sit next to it
//! as `<stem>.test.yaml` (or `.test.yml`, `.test.json`); files named so
//! are never read as rules.

use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use super::file::{DetectionRule, RuleError, yaml_value};

/// Why rule files could not be read.
#[derive(Debug, Error)]
pub enum PackError {
    #[error("{path}: cannot read it: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Rule { path: String, source: RuleError },
    #[error("{path}: no rule files (*.json, *.yaml, *.yml) in it")]
    Empty { path: String },
    #[error("{path}: {problem}")]
    Document { path: String, problem: String },
}

/// A rule and where it was read from.
#[derive(Debug, Clone)]
pub struct RuleFile {
    pub path: PathBuf,
    pub rule: DetectionRule,
}

impl RuleFile {
    /// The file's name without its extension: the export's names.
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "rule".into())
    }

    /// The rule's test file, when it has one.
    pub fn test_file(&self) -> Option<PathBuf> {
        let dir = self.path.parent().unwrap_or(Path::new(""));
        let stem = self.stem();
        ["test.yaml", "test.yml", "test.json"]
            .iter()
            .map(|ext| dir.join(format!("{stem}.{ext}")))
            .find(|p| p.is_file())
    }
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [".test.yaml", ".test.yml", ".test.json"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

fn is_rule_file(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str());
    matches!(ext, Some("json" | "yaml" | "yml")) && !is_test_file(path)
}

/// A JSON or YAML file (by its extension) as a JSON value.
pub fn read_document(path: &Path) -> Result<Value, PackError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PackError::Read {
        path: shown.clone(),
        source,
    })?;
    if is_yaml(path) {
        yaml_value(&text).map_err(|problem| PackError::Document {
            path: shown,
            problem: format!("not YAML: {problem}"),
        })
    } else {
        serde_json::from_str(&text).map_err(|e| PackError::Document {
            path: shown,
            problem: format!("not JSON: {e}"),
        })
    }
}

/// Reads the rules `paths` name, files or directories.
pub fn load_rules(paths: &[PathBuf]) -> Result<Vec<RuleFile>, PackError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| PackError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_rule_file(p))
                .collect();
            if found.is_empty() {
                return Err(PackError::Empty {
                    path: path.display().to_string(),
                });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|path| {
            let body = read_document(&path)?;
            let rule = DetectionRule::from_body(body).map_err(|source| PackError::Rule {
                path: path.display().to_string(),
                source,
            })?;
            Ok(RuleFile { path, rule })
        })
        .collect()
}
