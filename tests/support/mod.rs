//! Test support: the intake emulator, a Runtime API endpoint, payload
//! builders and a handle on the forwarder process.
//!
//! What most test files use is declared here. The rest is declared by the
//! few targets that use it, with `#[path]`, so the others do not compile
//! it: `traffic.rs` (the noise test, the process benchmark),
//! `workload.rs` (the Lambda runtime test, the benchmarks), `proxy.rs` and
//! `s3_faults.rs` (the intake, spill and fault tests).
#![allow(dead_code)] // each test file uses a different part

pub mod in_process;
pub mod intake;
pub mod moto;
pub mod payload;
pub mod runtime_api;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const BINARY: &str = env!("CARGO_BIN_EXE_eks-audit-forwarder");

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared corpus beside the repository (`../shared/corpus`), or where
/// `EAF_CORPUS_DIR` points.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("EAF_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/corpus"))
}

/// The forwarder binary with a clean environment plus `vars`.
pub fn forwarder_command(vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(vars.iter().copied());
    cmd
}

/// A running forwarder, killed on drop; its stderr is collected by a
/// thread as it comes, so the process never blocks on a full pipe.
pub struct ForwarderProcess {
    child: Child,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl ForwarderProcess {
    pub fn start_lambda(runtime_api: &str, vars: &[(&str, &str)]) -> Self {
        let mut all = vec![
            ("AWS_LAMBDA_RUNTIME_API", runtime_api),
            ("AWS_LAMBDA_FUNCTION_NAME", "EKS-Audit-Forwarder"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/eks-audit-forwarder",
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/26/[$LATEST]0123"),
        ];
        all.extend_from_slice(vars);
        let mut child = forwarder_command(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the forwarder binary");
        let mut pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        Self {
            child,
            stderr: Some(stderr),
        }
    }

    /// Stops the process and returns everything it wrote to stderr.
    /// The process id, for reading `/proc/<pid>/...`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far (`VmHWM`), in MB.
    pub fn peak_rss_mb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kb / 1024
    }

    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for ForwarderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn write_temp(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}
