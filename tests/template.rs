//! template.yaml: cfn-lint and `sam validate --lint` (from the test venv),
//! and the project's own checks of what the code depends on
//! (tests/template_check.py).

mod support;

use std::path::PathBuf;
use std::process::Command;

/// A tool installed in the test venv next to `EAF_PYTHON`.
fn venv_tool(name: &str) -> PathBuf {
    let python = std::env::var("EAF_PYTHON")
        .expect("EAF_PYTHON points at the test venv's python (scripts/test sets it)");
    let tool = PathBuf::from(python).with_file_name(name);
    assert!(
        tool.exists(),
        "{} is missing: pip install -r tests/requirements.txt",
        tool.display()
    );
    tool
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .current_dir(support::repo_root())
        .output()
        .expect("run the tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn cfn_lint_passes() {
    run(Command::new(venv_tool("cfn-lint")).arg("template.yaml"));
}

#[test]
fn sam_validate_lint_passes() {
    run(Command::new(venv_tool("sam"))
        .args(["validate", "--lint", "--template-file", "template.yaml"])
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("SAM_CLI_TELEMETRY", "0"));
}

#[test]
fn the_template_matches_what_the_code_depends_on() {
    let python = std::env::var("EAF_PYTHON").expect("EAF_PYTHON points at the test venv's python");
    run(Command::new(python).arg("tests/template_check.py"));
}
