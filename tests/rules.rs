//! Detection rules as code, through the binary: `rules run` on the sample
//! events and on every kind of input (Lambda events, Firehose objects,
//! JSON lines, the dry-run output, S3 through moto), `rules test` on the
//! pack, and `rules export` checked against the rule schema's
//! constraints.

mod support;

use std::path::PathBuf;
use std::process::Output;

use eks_audit_forwarder::rules::DetectionRule;
use eks_audit_forwarder::rules::pack::{load_rules, read_document};
use serde_json::{Map, Value, json};
use support::moto::Moto;
use support::{forwarder_command, payload, repo_root, write_temp};

const EXEC_RULE: &str = "Kubernetes: first exec into a pod by a user";
const PLATFORM_ADMIN: &str = "arn:aws:iam::123456789012:role/platform-admin";

fn rules_dir() -> String {
    repo_root().join("rules").display().to_string()
}

fn sample(name: &str) -> String {
    repo_root().join("events").join(name).display().to_string()
}

fn run(args: &[&str], vars: &[(&str, &str)]) -> Output {
    forwarder_command(vars)
        .current_dir(repo_root())
        .args(args)
        .output()
        .expect("the forwarder runs")
}

/// The signals `rules run` printed, one JSON object per line.
fn signals(out: &Output) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rules run failed: {stderr}");
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_rule<'a>(signals: &'a [Value], rule: &str) -> Vec<&'a Value> {
    signals.iter().filter(|s| s["rule"] == rule).collect()
}

/// An exec into a pod by `user` at `time` (RFC 3339).
fn exec_by(user: &str, time: &str) -> String {
    json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": format!("exec-{user}-{time}"), "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/pods/web-0/exec?command=sh&stdin=true&tty=true",
        "verb": "create", "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.3.4"], "userAgent": "kubectl/v1.29.3 (linux/amd64) kubernetes/6813625",
        "objectRef": {"resource": "pods", "namespace": "default", "name": "web-0", "apiVersion": "v1", "subresource": "exec"},
        "responseStatus": {"metadata": {}, "code": 101},
        "requestReceivedTimestamp": time, "stageTimestamp": time
    })
    .to_string()
}

/// The done-when: on the sample events, exactly one signal per new exec
/// user, and none on the second exec by the same user (the sample holds
/// two execs by platform-admin).
#[test]
fn the_sample_events_give_one_exec_signal_per_new_user() {
    let out = run(
        &[
            "rules",
            "run",
            &rules_dir(),
            "--on",
            &sample("eks-audit.json"),
        ],
        &[],
    );
    let all = signals(&out);
    let exec = of_rule(&all, EXEC_RULE);
    assert_eq!(exec.len(), 1, "{all:#?}");
    assert_eq!(exec[0]["new_value"], PLATFORM_ADMIN);
    assert_eq!(exec[0]["status"], "medium");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("11 events replayed (0 late"), "{summary}");

    // A second user's exec, delivered later, is one more signal; execs by
    // users already seen are none.
    let dir = tempfile::tempdir().unwrap();
    // CloudWatch dates the events: an hour after the sample's.
    let execs = [
        (PLATFORM_ADMIN, "2026-11-26T11:00:00.000000Z"),
        (
            "arn:aws:iam::123456789012:role/dev",
            "2026-11-26T11:00:01.000000Z",
        ),
        (
            "arn:aws:iam::123456789012:role/dev",
            "2026-11-26T11:00:02.000000Z",
        ),
    ];
    let log_events: Vec<Value> = execs
        .iter()
        .enumerate()
        .map(|(i, (user, time))| {
            json!({"id": format!("{i:056}"), "timestamp": 1_795_690_800_000i64 + 1000 * i as i64, "message": exec_by(user, time)})
        })
        .collect();
    let document = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": payload::AUDIT_GROUP, "logStream": payload::AUDIT_STREAM,
        "subscriptionFilters": ["eks-audit-forwarder"], "logEvents": log_events,
    });
    let later = payload::wrap(document.to_string().as_bytes());
    let later = write_temp(dir.path(), "later.json", &later);
    let out = run(
        &[
            "rules",
            "run",
            &rules_dir(),
            "--on",
            &sample("eks-audit.json"),
            later.to_str().unwrap(),
        ],
        &[],
    );
    let all = signals(&out);
    let users: Vec<&Value> = of_rule(&all, EXEC_RULE)
        .iter()
        .map(|s| &s["new_value"])
        .collect();
    assert_eq!(
        users,
        [
            &json!(PLATFORM_ADMIN),
            &json!("arn:aws:iam::123456789012:role/dev")
        ],
        "{all:#?}"
    );
}

/// The pack's own cases pass, as `scripts/test` runs them.
#[test]
fn the_rule_pack_passes_its_cases() {
    let out = run(&["rules", "test", &rules_dir()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(" 0 failed, 0 rules without cases"),
        "{stderr}"
    );
    assert!(!stderr.contains("FAIL"), "{stderr}");
}

/// A case whose expectation is wrong fails `rules test`, naming the case
/// and what the rule raised; so does a rule without cases.
#[test]
fn rules_test_fails_on_a_wrong_expectation_or_a_rule_without_cases() {
    let dir = tempfile::tempdir().unwrap();
    let rule = std::fs::read_to_string(repo_root().join("rules/pod-exec-new-user.yaml")).unwrap();
    write_temp(dir.path(), "exec.yaml", &rule);
    let sample_path = sample("eks-audit.json");
    let cases = format!(
        "cases:\n  - name: expects two signals where there is one\n    files: [{sample_path:?}]\n    expect: [{{new_value: a}}, {{new_value: b}}]\n  - name: right\n    files: [{sample_path:?}]\n    expect: [{{new_value: {PLATFORM_ADMIN:?}}}]\n"
    );
    write_temp(dir.path(), "exec.test.yaml", &cases);
    let out = run(&["rules", "test", dir.path().to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAIL  Kubernetes: first exec into a pod by a user :: expects two signals where there is one\n      1 signals, expected 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ok    Kubernetes: first exec into a pod by a user :: right"),
        "{stderr}"
    );

    // A case with nothing to replay, or with an event that is not an
    // object, cannot pass.
    write_temp(
        dir.path(),
        "exec.test.yaml",
        "cases:\n  - {name: empty, expect: []}\n",
    );
    let out = run(&["rules", "test", dir.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no events and no files"));
    write_temp(
        dir.path(),
        "exec.test.yaml",
        "cases:\n  - {name: junk, events: [[1, 2]], expect: []}\n",
    );
    let out = run(&["rules", "test", dir.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of its events are not JSON objects"));

    std::fs::remove_file(dir.path().join("exec.test.yaml")).unwrap();
    let out = run(&["rules", "test", dir.path().to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no test file"), "{stderr}");
}

/// Every input kind gives the same signals as the Lambda event does: the
/// forwarder's own dry-run output, JSON lines of audit events, and a
/// Firehose object (gzip), read locally.
#[test]
fn every_input_kind_gives_the_same_signals() {
    let reference = signals(&run(
        &[
            "rules",
            "run",
            &rules_dir(),
            "--on",
            &sample("eks-audit.json"),
        ],
        &[],
    ));
    let dir = tempfile::tempdir().unwrap();
    let dry = run(&["invoke", "--dry-run", &sample("eks-audit.json")], &[]);
    assert!(dry.status.success());
    let dry_run = dir.path().join("dry-run.jsonl");
    std::fs::write(&dry_run, &dry.stdout).unwrap();
    let from_dry_run = signals(&run(
        &[
            "rules",
            "run",
            &rules_dir(),
            "--on",
            dry_run.to_str().unwrap(),
        ],
        &[],
    ));
    assert_eq!(from_dry_run, reference);

    // The archived forms carry the same events; their times come from the
    // audit events (lines) or CloudWatch (Firehose).
    for input in ["s3/eks-audit.jsonl", "s3/firehose-eks-audit.gz"] {
        let all = signals(&run(
            &["rules", "run", &rules_dir(), "--on", &sample(input)],
            &[],
        ));
        let exec = of_rule(&all, EXEC_RULE);
        assert_eq!(exec.len(), 1, "{input}: {all:#?}");
        assert_eq!(exec[0]["new_value"], PLATFORM_ADMIN, "{input}");
        let rules: Vec<&Value> = all.iter().map(|s| &s["rule"]).collect();
        let expected: Vec<&Value> = reference.iter().map(|s| &s["rule"]).collect();
        assert_eq!(rules, expected, "{input}");
    }
}

/// `s3://bucket/prefix` reads every object under the prefix from S3
/// (moto), whatever its form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_are_read_from_s3() {
    let moto = Moto::start();
    let s3 = moto.create_bucket("audit-archive").await;
    for (key, file) in [
        ("eks/2026/11/26/firehose-1.gz", "s3/firehose-eks-audit.gz"),
        ("eks/2026/11/26/lines.jsonl", "s3/eks-audit.jsonl"),
    ] {
        s3.put_object()
            .bucket("audit-archive")
            .key(key)
            .body(std::fs::read(sample(file)).unwrap().into())
            .send()
            .await
            .unwrap();
    }
    let vars = moto.env();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(
        &[
            "rules",
            "run",
            &rules_dir(),
            "--on",
            "s3://audit-archive/eks/",
        ],
        &vars,
    );
    let all = signals(&out);
    // Both objects hold the same eleven events: the exec user is new once.
    let exec = of_rule(&all, EXEC_RULE);
    assert_eq!(exec.len(), 1, "{all:#?}");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("22 events replayed"), "{summary}");
    assert!(
        summary.contains("read from 0 files and 2 S3 objects"),
        "{summary}"
    );

    let out = run(
        &[
            "rules",
            "run",
            &rules_dir(),
            "--on",
            "s3://no-such-bucket/x",
        ],
        &vars,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listing s3://no-such-bucket/x failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Terraform resource back into the API body: the inverse of the
/// export's renaming, for the check below.
fn body_from_terraform(resource: &Value) -> Value {
    fn back(object: &Value, names: &[(&str, &str)]) -> Map<String, Value> {
        object
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let api = names
                    .iter()
                    .find(|(_, tf)| tf == k)
                    .unwrap_or_else(|| panic!("no API name for {k}"))
                    .0;
                (api.to_owned(), v.clone())
            })
            .collect()
    }
    let rules = resource["resource"]["datadog_security_monitoring_rule"]
        .as_object()
        .unwrap();
    assert_eq!(rules.len(), 1);
    let tf = rules.values().next().unwrap().as_object().unwrap().clone();
    let mut top = Map::new();
    for (k, v) in &tf {
        match k.as_str() {
            "query" => {
                let names = [
                    ("name", "name"),
                    ("query", "query"),
                    ("aggregation", "aggregation"),
                    ("groupByFields", "group_by_fields"),
                    ("distinctFields", "distinct_fields"),
                    ("metric", "metric"),
                    ("metrics", "metrics"),
                ];
                let items = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| Value::Object(back(q, &names)));
                top.insert("queries".into(), Value::Array(items.collect()));
            }
            "case" => {
                let names = [
                    ("name", "name"),
                    ("status", "status"),
                    ("condition", "condition"),
                    ("notifications", "notifications"),
                ];
                let items = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| Value::Object(back(c, &names)));
                top.insert("cases".into(), Value::Array(items.collect()));
            }
            "options" => {
                let block = &v.as_array().unwrap()[0];
                let mut options = Map::new();
                for (ok, ov) in block.as_object().unwrap() {
                    let api = match ok.as_str() {
                        "detection_method" => "detectionMethod",
                        "evaluation_window" => "evaluationWindow",
                        "keep_alive" => "keepAlive",
                        "max_signal_duration" => "maxSignalDuration",
                        "new_value_options" => {
                            let names = [
                                ("learningDuration", "learning_duration"),
                                ("learningMethod", "learning_method"),
                                ("learningThreshold", "learning_threshold"),
                                ("forgetAfter", "forget_after"),
                            ];
                            options.insert(
                                "newValueOptions".into(),
                                Value::Object(back(&ov.as_array().unwrap()[0], &names)),
                            );
                            continue;
                        }
                        other => panic!("unexpected option {other}"),
                    };
                    options.insert(api.into(), ov.clone());
                }
                top.insert("options".into(), Value::Object(options));
            }
            "enabled" => {
                top.insert("isEnabled".into(), v.clone());
            }
            "name" | "message" | "tags" | "type" => {
                top.insert(k.clone(), v.clone());
            }
            other => panic!("unexpected attribute {other}"),
        }
    }
    Value::Object(top)
}

/// Every rule of the pack exports to an API body that passes the schema's
/// constraints and is the file as written, and to a Terraform resource
/// that carries the same body.
#[test]
fn every_rule_exports_to_a_valid_body_and_the_same_terraform_resource() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = run(
        &[
            "rules",
            "export",
            &rules_dir(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let pack = load_rules(&[PathBuf::from(rules_dir())]).unwrap();
    assert_eq!(pack.len(), 8);
    for file in &pack {
        let stem = file.stem();
        let body_text = std::fs::read_to_string(out_dir.join(format!("{stem}.rule.json"))).unwrap();
        let exported = DetectionRule::parse(&body_text).unwrap_or_else(|e| {
            panic!("{stem}: the exported body fails the schema's constraints: {e}")
        });
        assert!(
            exported.warnings.is_empty(),
            "{stem}: {:?}",
            exported.warnings
        );
        assert_eq!(exported, file.rule, "{stem}");
        let written = read_document(&file.path).unwrap();
        assert_eq!(exported.body, written, "{stem}");

        let resource = read_document(&out_dir.join(format!("{stem}.tf.json"))).unwrap();
        let from_terraform = body_from_terraform(&resource);
        assert_eq!(
            from_terraform, written,
            "{stem}: the Terraform resource differs"
        );
        let name = resource["resource"]["datadog_security_monitoring_rule"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        assert_eq!(name, stem, "{stem}");
    }
}

/// The export deploys the rule that was tested: a new value rule's
/// options are written out whole (the provider's defaults differ from
/// the API's), and Terraform's template syntax in strings is escaped.
#[test]
fn the_export_resolves_defaults_and_escapes_templates() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = read_document(&repo_root().join("rules/pod-exec-new-user.yaml")).unwrap();
    body["options"]
        .as_object_mut()
        .unwrap()
        .remove("newValueOptions");
    body["message"] = json!("see ${var.runbook} and %{ if x }");
    let file = write_temp(dir.path(), "exec.json", &body.to_string());
    let out_dir = dir.path().join("out");
    let out = run(
        &[
            "rules",
            "export",
            file.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = read_document(&out_dir.join("exec.rule.json")).unwrap();
    assert_eq!(
        exported["options"]["newValueOptions"],
        json!({"learningDuration": 0, "learningMethod": "duration", "learningThreshold": 0, "forgetAfter": 28})
    );
    assert_eq!(exported["message"], body["message"]);
    let tf = read_document(&out_dir.join("exec.tf.json")).unwrap();
    let resource = &tf["resource"]["datadog_security_monitoring_rule"]["exec"];
    assert_eq!(resource["message"], "see $${var.runbook} and %%{ if x }");
    assert_eq!(
        resource["options"][0]["new_value_options"][0]["learning_duration"],
        0
    );

    // A field with no Terraform attribute stops that rule's export.
    body["referenceTables"] = json!([]);
    let file = write_temp(dir.path(), "tables.json", &body.to_string());
    let out = run(
        &[
            "rules",
            "export",
            file.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("referenceTables has no attribute"));
    assert!(!out_dir.join("tables.rule.json").exists());
}

/// Wrong rule files and command lines get errors that name the problem;
/// nothing panics.
#[test]
fn bad_rules_and_command_lines_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bad =
        |name: &str, body: Value| -> PathBuf { write_temp(dir.path(), name, &body.to_string()) };
    let base = read_document(&repo_root().join("rules/pod-exec-threshold.yaml")).unwrap();
    let mut window = base.clone();
    window["options"]["evaluationWindow"] = json!(120);
    let mut query = base.clone();
    query["queries"][0]["query"] = json!("source:kubernetes.audit @verb:(get");
    let mut group = base.clone();
    group["queries"][0]["groupByFields"] = json!(["@usr..name"]);
    let mut status = base.clone();
    status["queries"][0]["query"] = json!("source:kubernetes.audit status:error");
    let mut grouped = base.clone();
    grouped["groupSignalsBy"] = json!(["@usr.name"]);
    let mut metrics = read_document(&repo_root().join("rules/pod-exec-new-user.yaml")).unwrap();
    metrics["queries"][0]["metrics"] = json!(["@usr.name", "@network.client.ip"]);
    let cases: [(PathBuf, &str); 6] = [
        (
            bad("window.json", window),
            "options.evaluationWindow is 120; it accepts one of 0, 60, 300",
        ),
        (bad("query.json", query), "queries[0].query: at character"),
        (bad("group.json", group), "queries[0] field \"@usr..name\""),
        (
            bad("status.json", status),
            "status: is not set on audit logs",
        ),
        (
            bad("grouped.json", grouped),
            "groupSignalsBy changes what the rule detects",
        ),
        (bad("metrics.json", metrics), "give one metric"),
    ];
    for (path, expected) in &cases {
        let out = run(&["rules", "check", path.to_str().unwrap()], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{path:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let yaml = write_temp(dir.path(), "broken.yaml", "name: [unclosed\n");
    let out = run(&["rules", "check", yaml.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not YAML"));

    for (args, expected) in [
        (vec!["rules", "run", "rules/"], "rules run needs --on"),
        (
            vec!["rules", "export", "rules/"],
            "rules export needs --out",
        ),
        (
            vec!["rules", "test", "rules/", "--on", "x"],
            "--on does not go with test",
        ),
        (vec!["rules", "run", "--on", "x"], "no rule files given"),
        (
            vec!["rules", "run", "rules/", "--fast"],
            "unknown option --fast",
        ),
    ] {
        let out = run(&args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }

    // An input that is not logs fails with its name and offset.
    let junk = write_temp(dir.path(), "junk.txt", "{\"a\":1}\nnot json at all\n");
    let out = run(
        &["rules", "run", &rules_dir(), "--on", junk.to_str().unwrap()],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("junk.txt"), "{stderr}");
}
