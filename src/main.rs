//! `eks-audit-forwarder`: with no arguments, the Lambda runtime loop;
//! `eks-audit-forwarder invoke FILE...`, a local run of sample events.

use std::path::PathBuf;
use std::process::ExitCode;

use eks_audit_forwarder::api_key::resolve_api_key;
use eks_audit_forwarder::group_tags::GroupTagCache;
use eks_audit_forwarder::spill::SpillStore;
use eks_audit_forwarder::{Config, Forwarder, lambda, local, logging};

const USAGE: &str =
    "usage: eks-audit-forwarder                  run as an AWS Lambda function (Runtime API loop)
       eks-audit-forwarder invoke FILE...   run Lambda event files locally
                                            (dry run to stdout unless DD_API_KEY is set)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files: Option<Vec<PathBuf>> = match args.split_first() {
        None => None,
        Some((cmd, rest)) if cmd == "invoke" && !rest.is_empty() => {
            Some(rest.iter().map(PathBuf::from).collect())
        }
        Some((cmd, _)) if cmd == "-h" || cmd == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(_) => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };

    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return startup_failure(&e.to_string()),
    };
    logging::init(config.log_level);
    config.log_warnings();
    if files.is_none()
        && let Err(e) = config.require_api_key()
    {
        return startup_failure(&e.to_string());
    }
    // One thread: a 128 MB function has a fraction of a vCPU, and a
    // current-thread runtime starts faster and costs less than a pool.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return startup_failure(&format!("starting the async runtime failed: {e}")),
    };
    // The only network call at start-up: the key, when it is in a store.
    let mut config = config;
    match runtime.block_on(resolve_api_key(&config)) {
        Ok(key) => config.api_key = key,
        Err(e) => return startup_failure(&e.to_string()),
    }
    let mut forwarder = match Forwarder::new(&config) {
        Ok(f) => f,
        Err(e) => return startup_failure(&format!("building the HTTP client failed: {e}")),
    };
    if let Some(bucket) = &config.spill_bucket {
        let store = runtime.block_on(SpillStore::from_env(
            bucket.clone(),
            config.forwarder_name.clone(),
            &config.proxy,
        ));
        forwarder = forwarder.with_spill(store);
    }
    if let Some(ttl) = config.log_group_tags_ttl {
        forwarder = forwarder
            .with_group_tags(runtime.block_on(GroupTagCache::from_env(ttl, &config.proxy)));
    }
    match files {
        None => match runtime.block_on(lambda::run(forwarder)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => startup_failure(&format!("the Lambda runtime loop stopped: {e}")),
        },
        Some(files) => match runtime.block_on(local::invoke_files(&forwarder, &files)) {
            0 => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        },
    }
}

/// A start-up failure as one JSON line on stderr (Lambda shows it with the
/// `Runtime.ExitError`), then a non-zero exit.
fn startup_failure(message: &str) -> ExitCode {
    let line =
        serde_json::json!({"level": "ERROR", "message": "start-up failed", "error": message});
    eprintln!("{line}");
    ExitCode::FAILURE
}
