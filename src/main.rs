//! `eks-audit-forwarder`: with no arguments, the Lambda runtime loop;
//! `eks-audit-forwarder invoke [--dry-run] FILE...`, a local run of sample
//! events; `eks-audit-forwarder rules ...`, detection rules as code. Everything the process holds is built here, once: the
//! configuration, the API key, the one AWS SDK configuration and its
//! clients, and the forwarder.

use std::path::PathBuf;
use std::process::ExitCode;

use eks_audit_forwarder::api_key::{ApiKeySource, fetch_api_key};
use eks_audit_forwarder::audit::filter::NoiseLevel;
use eks_audit_forwarder::audit::noise_report;
use eks_audit_forwarder::group_tags::GroupTagCache;
use eks_audit_forwarder::rules::cli::{RulesCommand, USAGE as RULES_USAGE};
use eks_audit_forwarder::rules::input::{Input, LogReader};
use eks_audit_forwarder::shape::LogShaper;
use eks_audit_forwarder::spill::SpillStore;
use eks_audit_forwarder::{Config, Destination, Forwarder, aws, lambda, local, logging};

const USAGE: &str = "usage: eks-audit-forwarder                            run as an AWS Lambda function (Runtime API loop)
       eks-audit-forwarder invoke [--dry-run] FILE... run Lambda event files locally
                                                      (a dry run to stdout with --dry-run or without an API key)
       eks-audit-forwarder rules check|run|test|export ...  detection rules as code (rules --help)
       eks-audit-forwarder noise-report [--level standard|aggressive] INPUT...
                                                      what the noise preset would drop from these audit logs
                                                      (files of any kind rules run reads, or s3://bucket/prefix)";

/// What the command line asks for.
enum Command {
    Lambda,
    Invoke {
        files: Vec<PathBuf>,
        dry_run: bool,
    },
    Rules(RulesCommand),
    NoiseReport {
        level: Option<NoiseLevel>,
        inputs: Vec<Input>,
    },
}

/// Keeps freed memory in the process instead of giving it back to the
/// kernel between invocations. glibc returns a freed block over its mmap
/// threshold (and the top of the heap past its trim threshold) at once, so
/// every invocation paid again for the same ~8 MB of buffers: about 2,000
/// fresh pages, each zeroed by the kernel. The warm process keeps its
/// high-water mark instead. Blocks over 32 MiB (the largest payloads) are
/// still mapped and returned, free memory past 48 MiB at the top of the
/// heap is still trimmed (a 128 MB function must keep room), and two
/// arenas at most serve the runtime's and the resolver's threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 48 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() -> ExitCode {
    keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match args.split_first() {
        None => Command::Lambda,
        Some((cmd, _)) if cmd == "-h" || cmd == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some((cmd, rest)) if cmd == "invoke" => {
            // `--dry-run` anywhere; any other option is refused before
            // anything is read, let alone sent.
            let dry_run = rest.iter().any(|a| a == "--dry-run");
            let unknown = rest
                .iter()
                .find(|a| a.starts_with("--") && *a != "--dry-run");
            let files: Vec<PathBuf> = rest
                .iter()
                .filter(|a| *a != "--dry-run")
                .map(PathBuf::from)
                .collect();
            if let Some(option) = unknown {
                eprintln!("unknown option {option}\n{USAGE}");
                return ExitCode::from(2);
            }
            if files.is_empty() {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
            Command::Invoke { files, dry_run }
        }
        Some((cmd, rest)) if cmd == "noise-report" => match noise_report_args(rest) {
            Ok(command) => command,
            Err(message) => {
                eprintln!("{message}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        Some((cmd, rest)) if cmd == "rules" => {
            if rest.first().is_some_and(|a| a == "--help" || a == "-h") {
                println!("{RULES_USAGE}");
                return ExitCode::SUCCESS;
            }
            match RulesCommand::parse(rest) {
                Ok(command) => Command::Rules(command),
                Err(message) => {
                    eprintln!("{message}");
                    return ExitCode::from(2);
                }
            }
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
    if matches!(command, Command::Lambda)
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
    // One SDK configuration for every AWS client, loaded when first used;
    // it makes no network call (credentials load on the first request).
    let sdk = aws::SharedSdk::new(&config.proxy);

    let command = match command {
        Command::Rules(command) => return run_rules(command, &config, &runtime, &sdk),
        Command::NoiseReport { level, inputs } => {
            return run_noise_report(level, &inputs, &config, &runtime, &sdk);
        }
        other => other,
    };

    // The destination is chosen here, explicitly: a dry run only when
    // asked for, or locally with no key at all.
    let dry_run = match &command {
        Command::Lambda | Command::Rules(_) | Command::NoiseReport { .. } => false,
        Command::Invoke { dry_run, .. } => *dry_run || config.api_key == ApiKeySource::Unset,
    };
    let destination = if dry_run {
        Destination::stdout()
    } else {
        // The only network call at start-up: the key, when it is in a store.
        let key = match &config.api_key {
            ApiKeySource::Value(key) => key.clone(),
            ApiKeySource::Store(store) => {
                match runtime.block_on(async { fetch_api_key(store, sdk.get().await).await }) {
                    Ok(key) => key,
                    Err(e) => return startup_failure(&e.to_string()),
                }
            }
            ApiKeySource::Unset => {
                return startup_failure("no API key is configured (DD_API_KEY)");
            }
        };
        match Destination::intake(&config.intake, key, &config.proxy) {
            Ok(d) => d,
            Err(e) => return startup_failure(&format!("building the HTTP client failed: {e}")),
        }
    };

    // The spill store's S3 client also reads the objects of S3 triggers.
    let spill_s3 = config
        .spill
        .as_ref()
        .map(|_| runtime.block_on(async { aws::s3_client(sdk.get().await) }));
    let mut forwarder = Forwarder::new(&config, destination)
        .with_s3_reader(aws::ObjectReaderClient::new(sdk.clone(), spill_s3.clone()));
    if let (Some(spill), Some(s3)) = (&config.spill, spill_s3) {
        forwarder = forwarder.with_spill(SpillStore::new(
            s3,
            spill.bucket.clone(),
            spill.forwarder_name.clone(),
        ));
    }
    if let Some(ttl) = config.log_group_tags_ttl {
        let tags = runtime.block_on(async { GroupTagCache::for_sdk(sdk.get().await, ttl) });
        forwarder = forwarder.with_group_tags(tags);
    }
    match command {
        Command::Lambda => match runtime.block_on(lambda::run(forwarder)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => startup_failure(&format!("the Lambda runtime loop stopped: {e}")),
        },
        Command::Invoke { files, dry_run } => {
            match runtime.block_on(local::invoke_files(&forwarder, &files, dry_run)) {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            }
        }
        Command::Rules(command) => run_rules(command, &config, &runtime, &sdk),
        Command::NoiseReport { level, inputs } => {
            run_noise_report(level, &inputs, &config, &runtime, &sdk)
        }
    }
}

/// The `rules` commands. The shaping settings give the logs their
/// source, service and tags, as the forwarder would send them; S3 is read
/// only when an input is there.
fn run_rules(
    command: RulesCommand,
    config: &Config,
    runtime: &tokio::runtime::Runtime,
    sdk: &aws::SharedSdk,
) -> ExitCode {
    let reader = LogReader::new(LogShaper::new(&config.shape), config.max_decompressed_bytes);
    let s3 = command
        .reads_s3()
        .then(|| runtime.block_on(async { aws::s3_client(sdk.get().await) }));
    ExitCode::from(runtime.block_on(eks_audit_forwarder::rules::cli::run(command, reader, s3)))
}

/// `noise-report [--level standard|aggressive] INPUT...`.
fn noise_report_args(args: &[String]) -> Result<Command, String> {
    let mut level = None;
    let mut inputs = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--level" => {
                level = Some(match rest.next().map(String::as_str) {
                    Some("standard") => NoiseLevel::Standard,
                    Some("aggressive") => NoiseLevel::Aggressive,
                    _ => return Err("--level takes standard or aggressive".into()),
                });
            }
            option if option.starts_with("--") => return Err(format!("unknown option {option}")),
            input => inputs.push(Input::parse(input).map_err(|e| e.to_string())?),
        }
    }
    if inputs.is_empty() {
        return Err("noise-report needs INPUT...".into());
    }
    Ok(Command::NoiseReport { level, inputs })
}

/// The noise report, with the deployment's own settings of the preset
/// (`DD_AUDIT_INTERNAL_NETWORKS`, `DD_AUDIT_SYSTEM_CLIENTS`).
fn run_noise_report(
    level: Option<NoiseLevel>,
    inputs: &[Input],
    config: &Config,
    runtime: &tokio::runtime::Runtime,
    sdk: &aws::SharedSdk,
) -> ExitCode {
    let report = config.audit.audit_filter.noise_report(level);
    let mut reader = LogReader::new(LogShaper::new(&config.shape), config.max_decompressed_bytes);
    let s3 = inputs
        .iter()
        .any(Input::is_s3)
        .then(|| runtime.block_on(async { aws::s3_client(sdk.get().await) }));
    ExitCode::from(runtime.block_on(noise_report::run(report, inputs, &mut reader, s3.as_ref())))
}

/// A start-up failure as one JSON line on stderr (Lambda shows it with the
/// `Runtime.ExitError`), then a non-zero exit.
fn startup_failure(message: &str) -> ExitCode {
    let line =
        serde_json::json!({"level": "ERROR", "message": "start-up failed", "error": message});
    eprintln!("{line}");
    ExitCode::FAILURE
}
