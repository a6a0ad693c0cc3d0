//! The `rules` commands: `check`, `run`, `test` and `export`. Signals and
//! exports go to stdout or files; what the person at the terminal reads
//! (warnings, the summary, test results) goes to stderr.

use std::io::Write;
use std::path::PathBuf;

use super::cases::run_cases;
use super::engine::RuleEngine;
use super::export::{api_body, resource_name, terraform};
use super::input::{Input, LogReader};
use super::pack::{RuleFile, load_rules};
use super::replay::{REORDER_EVENTS, Replay, signal_json, summary_table};
use crate::shape::{LogShaper, ShapeSettings};

pub const USAGE: &str = "usage: eks-audit-forwarder rules check RULES...                 check rule files (JSON or YAML)
       eks-audit-forwarder rules run RULES... --on INPUT...      replay logs through the rules, signals as JSON lines
       eks-audit-forwarder rules test RULES...                   run each rule's cases (<stem>.test.yaml)
       eks-audit-forwarder rules export RULES... --out DIR       write each rule's API body and Terraform resource
RULES: rule files or directories of them. INPUT: files (Lambda events, Firehose objects,
JSON lines of audit events, invoke --dry-run output; gzip or not) or s3://bucket/prefix.";

/// What a `rules` command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum RulesCommand {
    Check {
        rules: Vec<PathBuf>,
    },
    Run {
        rules: Vec<PathBuf>,
        inputs: Vec<Input>,
    },
    Test {
        rules: Vec<PathBuf>,
    },
    Export {
        rules: Vec<PathBuf>,
        out: PathBuf,
    },
}

impl RulesCommand {
    /// Reads the arguments after `rules`; the error is what to print.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let Some((verb, rest)) = args.split_first() else {
            return Err(USAGE.into());
        };
        let mut rules = Vec::new();
        let mut inputs = Vec::new();
        let mut out = None;
        let mut target: Option<&str> = None;
        for arg in rest {
            match arg.as_str() {
                "--on" | "--out" => target = Some(arg.as_str()),
                option if option.starts_with("--") => {
                    return Err(format!("unknown option {option}\n{USAGE}"));
                }
                value => match target {
                    None => rules.push(PathBuf::from(value)),
                    Some("--on") => inputs.push(Input::parse(value).map_err(|e| e.to_string())?),
                    Some(_) => {
                        if out.replace(PathBuf::from(value)).is_some() {
                            return Err(format!("--out takes one directory\n{USAGE}"));
                        }
                    }
                },
            }
        }
        if rules.is_empty() {
            return Err(format!("no rule files given\n{USAGE}"));
        }
        let misplaced = |option: &str| Err(format!("{option} does not go with {verb}\n{USAGE}"));
        match verb.as_str() {
            "check" | "test" if !inputs.is_empty() => misplaced("--on"),
            "check" | "test" | "run" if out.is_some() => misplaced("--out"),
            "export" if !inputs.is_empty() => misplaced("--on"),
            "check" => Ok(Self::Check { rules }),
            "test" => Ok(Self::Test { rules }),
            "run" if inputs.is_empty() => Err(format!("rules run needs --on INPUT...\n{USAGE}")),
            "run" => Ok(Self::Run { rules, inputs }),
            "export" => match out {
                Some(out) => Ok(Self::Export { rules, out }),
                None => Err(format!("rules export needs --out DIR\n{USAGE}")),
            },
            _ => Err(USAGE.into()),
        }
    }

    /// Whether the command reads from S3 (and needs a client).
    pub fn reads_s3(&self) -> bool {
        matches!(self, Self::Run { inputs, .. } if inputs.iter().any(Input::is_s3))
    }
}

/// Runs the command; the exit code is 0 on success, 1 on failure (a
/// failed case, an unreadable file), 2 for a bad command line.
pub async fn run(
    command: RulesCommand,
    mut reader: LogReader,
    s3: Option<aws_sdk_s3::Client>,
) -> u8 {
    let rules_of = |paths: &[PathBuf]| -> Result<Vec<RuleFile>, u8> {
        let files = load_rules(paths).map_err(|e| {
            eprintln!("{e}");
            1
        })?;
        for file in &files {
            for warning in &file.rule.warnings {
                eprintln!("{}: warning: {warning}", file.path.display());
            }
        }
        Ok(files)
    };
    match command {
        RulesCommand::Check { rules } => match rules_of(&rules) {
            Ok(files) => {
                // Compiling the queries checks them too.
                let names: Vec<_> = files.iter().map(|f| f.rule.clone()).collect();
                match RuleEngine::new(names) {
                    Ok(_) => {
                        eprintln!("{} rules checked", files.len());
                        0
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        1
                    }
                }
            }
            Err(code) => code,
        },
        RulesCommand::Run { rules, inputs } => {
            let files = match rules_of(&rules) {
                Ok(f) => f,
                Err(code) => return code,
            };
            replay(&files, &inputs, &mut reader, s3.as_ref()).await
        }
        RulesCommand::Test { rules } => {
            let files = match rules_of(&rules) {
                Ok(f) => f,
                Err(code) => return code,
            };
            // Cases pass or fail the same on every machine: the logs get
            // the default shape, whatever DD_SOURCE or DD_TAGS say here.
            let mut pinned = LogReader::new(
                LogShaper::new(&ShapeSettings {
                    forwarder_name: crate::FORWARDER_NAME.to_owned(),
                    ..ShapeSettings::default()
                }),
                reader.max_value_bytes(),
            );
            test(&files, &mut pinned).await
        }
        RulesCommand::Export { rules, out } => {
            let files = match rules_of(&rules) {
                Ok(f) => f,
                Err(code) => return code,
            };
            export(&files, &out)
        }
    }
}

async fn replay(
    files: &[RuleFile],
    inputs: &[Input],
    reader: &mut LogReader,
    s3: Option<&aws_sdk_s3::Client>,
) -> u8 {
    let names: Vec<String> = files.iter().map(|f| f.rule.name.clone()).collect();
    let mut engine = match RuleEngine::new(files.iter().map(|f| f.rule.clone()).collect()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let mut signals = vec![0u64; files.len()];
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_failed = false;
    let tally = {
        let mut replay = Replay::new(&mut engine, REORDER_EVENTS, |s| {
            signals[s.rule_index] += 1;
            if writeln!(out, "{}", signal_json(&s)).is_err() {
                write_failed = true;
            }
        });
        for input in inputs {
            if let Err(e) = reader.read(input, s3, &mut |e| replay.push(e)).await {
                eprintln!("{e}");
                return 1;
            }
        }
        replay.finish()
    };
    if out.flush().is_err() || write_failed {
        eprintln!("writing the signals to stdout failed");
        return 1;
    }
    drop(out);
    eprint!("{}", summary_table(&names, &tally, &signals, &reader.tally));
    0
}

async fn test(files: &[RuleFile], reader: &mut LogReader) -> u8 {
    let (mut passed, mut failed, mut untested) = (0, 0, Vec::new());
    for file in files {
        let Some(test_file) = file.test_file() else {
            untested.push(file.path.display().to_string());
            continue;
        };
        match run_cases(file, &test_file, reader).await {
            Ok(outcomes) => {
                for outcome in outcomes {
                    match outcome.failure {
                        None => {
                            passed += 1;
                            eprintln!("ok    {} :: {}", file.rule.name, outcome.name);
                        }
                        Some(why) => {
                            failed += 1;
                            eprintln!("FAIL  {} :: {}\n      {why}", file.rule.name, outcome.name);
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("FAIL  {}: {e}", file.rule.name);
            }
        }
    }
    for path in &untested {
        eprintln!("FAIL  {path}: no test file (<stem>.test.yaml) next to it");
    }
    eprintln!(
        "{passed} cases passed, {failed} failed, {} rules without cases",
        untested.len()
    );
    if failed == 0 && untested.is_empty() {
        0
    } else {
        1
    }
}

fn export(files: &[RuleFile], out: &std::path::Path) -> u8 {
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("{}: cannot create it: {e}", out.display());
        return 1;
    }
    let mut refused = false;
    for file in files {
        // Queries are compiled as `check` does; fields the replay does not
        // run are no reason to refuse an export.
        let mut checked = file.rule.clone();
        checked.warnings.clear();
        if let Err(e) = RuleEngine::new(vec![checked]) {
            eprintln!("{}: {e}", file.path.display());
            refused = true;
            continue;
        }
        let stem = file.stem();
        let (resource, left) = terraform(&file.rule, &resource_name(&stem));
        if !left.is_empty() {
            for field in left {
                eprintln!(
                    "{}: {field} has no attribute in the Terraform resource, which would deploy another rule; not exported",
                    file.path.display()
                );
            }
            refused = true;
            continue;
        }
        let writes = [
            (out.join(format!("{stem}.rule.json")), api_body(&file.rule)),
            (out.join(format!("{stem}.tf.json")), resource),
        ];
        for (path, value) in writes {
            let text = serde_json::to_string_pretty(&value).expect("a JSON value serializes");
            if let Err(e) = std::fs::write(&path, text + "\n") {
                eprintln!("{}: cannot write it: {e}", path.display());
                return 1;
            }
            eprintln!("wrote {}", path.display());
        }
    }
    u8::from(refused)
}
