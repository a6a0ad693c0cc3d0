//! `rules test`: each rule's own cases, next to it as
//! `<stem>.test.yaml`:
//!
//! ```yaml
//! cases:
//!   - name: first exec by a user signals once
//!     events: [ {kind: Event, ...} ]     # audit events, inline
//!     files: [../events/eks-audit.json]  # and/or files, relative to this one
//!     expect:                            # the exact signals, by first seen
//!       - {case: "exec", status: high, group: {"@usr.name": alice}, new_value: alice}
//! ```
//!
//! `expect: []` expects no signal. Each expected signal compares only the
//! keys it gives. A case passes when the rule raised exactly as many
//! signals as expected and each matches its entry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use super::engine::{EngineError, LogEvent, RuleEngine, Signal};
use super::input::{Input, InputError, LogReader};
use super::pack::{PackError, RuleFile, read_document};
use super::replay::{Replay, severity_name, signal_json};

/// Why a rule's cases could not be run (as opposed to failing).
#[derive(Debug, Error)]
pub enum CaseError {
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error("{path}: {problem}")]
    Format { path: String, problem: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Input(#[from] InputError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    cases: Vec<TestCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    name: String,
    #[serde(default)]
    events: Vec<Value>,
    #[serde(default)]
    files: Vec<PathBuf>,
    expect: Vec<Expected>,
}

/// One expected signal: only the keys given are compared.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    case: Option<String>,
    status: Option<String>,
    group: Option<BTreeMap<String, String>>,
    new_value: Option<String>,
    events: Option<u64>,
}

impl Expected {
    /// What differs from `signal`, if anything.
    fn mismatch(&self, signal: &Signal) -> Option<String> {
        let mut problems = Vec::new();
        if let Some(case) = &self.case
            && *case != signal.case
        {
            problems.push(format!("case {:?}, expected {case:?}", signal.case));
        }
        if let Some(status) = &self.status
            && status != severity_name(signal.status)
        {
            problems.push(format!(
                "status {}, expected {status}",
                severity_name(signal.status)
            ));
        }
        if let Some(group) = &self.group {
            let actual: BTreeMap<String, String> = signal.group.iter().cloned().collect();
            if *group != actual {
                problems.push(format!("group {actual:?}, expected {group:?}"));
            }
        }
        if let Some(value) = &self.new_value
            && signal.new_value.as_ref() != Some(value)
        {
            problems.push(format!(
                "new value {:?}, expected {value:?}",
                signal.new_value
            ));
        }
        if let Some(events) = self.events
            && events != signal.events
        {
            problems.push(format!("{} events, expected {events}", signal.events));
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

/// The outcome of one case.
#[derive(Debug)]
pub struct CaseOutcome {
    pub name: String,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
}

/// Runs the cases of `rule` (from its test file).
pub async fn run_cases(
    rule: &RuleFile,
    test_file: &Path,
    reader: &mut LogReader,
) -> Result<Vec<CaseOutcome>, CaseError> {
    let shown = test_file.display().to_string();
    let document = read_document(test_file)?;
    let tests: TestFile = serde_json::from_value(document).map_err(|e| CaseError::Format {
        path: shown.clone(),
        problem: e.to_string(),
    })?;
    if tests.cases.is_empty() {
        return Err(CaseError::Format {
            path: shown,
            problem: "it has no cases".into(),
        });
    }
    let base = test_file.parent().unwrap_or(Path::new(""));
    let mut outcomes = Vec::with_capacity(tests.cases.len());
    for case in tests.cases {
        if case.events.is_empty() && case.files.is_empty() {
            return Err(CaseError::Format {
                path: shown,
                problem: format!("case {:?} has no events and no files", case.name),
            });
        }
        let mut events: Vec<LogEvent> = case
            .events
            .iter()
            .map(|e| reader.audit_line(e.to_string()))
            .collect();
        for file in &case.files {
            let input = Input::Local(base.join(file));
            reader.read(&input, None, &mut |e| events.push(e)).await?;
        }
        let mut engine = RuleEngine::new(vec![rule.rule.clone()])?;
        let mut signals = Vec::new();
        let mut replay = Replay::new(&mut engine, usize::MAX, |s| signals.push(s));
        events.into_iter().for_each(|e| replay.push(e));
        let tally = replay.finish();
        // Signals of one instant in a fixed order, whatever the groups'
        // order in memory.
        signals.sort_by(|a, b| {
            (a.first_seen_ms, &a.case, &a.group, &a.new_value).cmp(&(
                b.first_seen_ms,
                &b.case,
                &b.group,
                &b.new_value,
            ))
        });
        let failure = if tally.unreadable > 0 {
            Some(format!(
                "{} of its events are not JSON objects",
                tally.unreadable
            ))
        } else {
            compare(&case.expect, &signals)
        };
        outcomes.push(CaseOutcome {
            failure,
            name: case.name,
        });
    }
    Ok(outcomes)
}

fn compare(expected: &[Expected], signals: &[Signal]) -> Option<String> {
    let listing = || {
        signals
            .iter()
            .map(|s| format!("\n      {}", signal_json(s)))
            .collect::<String>()
    };
    if expected.len() != signals.len() {
        return Some(format!(
            "{} signals, expected {}:{}",
            signals.len(),
            expected.len(),
            listing()
        ));
    }
    let problems: Vec<String> = expected
        .iter()
        .zip(signals)
        .enumerate()
        .filter_map(|(i, (e, s))| e.mismatch(s).map(|p| format!("signal {}: {p}", i + 1)))
        .collect();
    (!problems.is_empty()).then(|| format!("{}{}", problems.join("; "), listing()))
}
