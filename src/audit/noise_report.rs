//! `eks-audit-forwarder noise-report INPUT...`: what the noise preset
//! would drop from a user's own audit logs, before they turn it on. For
//! each of the preset's classes, the events and message bytes it would
//! drop; for each clause of the guard, the events that looked like noise
//! and that it keeps; and the system-looking requests kept because they
//! came through another client than the principal's own (or from an
//! `eks:` name EKS does not have): the stolen-credential pattern.
//!
//! The classes and guard clauses are the presets' own texts, split: a
//! test checks that they make up the presets exactly.

use std::fmt::Write as _;

use super::filter::{NoiseLevel, OPERATORS, SystemClient, guard_text, system_principals_text};
use super::query::{AuditEvent, AuditQuery};
use crate::rules::input::{Input, LogReader};

/// Whose requests a class is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principals {
    /// System principals through their usual clients.
    System,
    /// Service accounts of any namespace through a client library.
    Operators,
}

/// Each class the presets drop: the preset that adds it, whose requests,
/// its name and its clause.
pub const NOISE_CLASSES: &[(NoiseLevel, Principals, &str, &str)] = &[
    (
        NoiseLevel::Standard,
        Principals::System,
        "lease heartbeats",
        r"(@objectRef.resource:leases @verb:(get OR update OR patch))",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "watches (not of secrets)",
        r"(@verb:watch -@objectRef.resource:secrets)",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "discovery and health",
        r"(@verb:get -@objectRef:* @requestURI:(/api OR /api/* OR /apis OR /apis/* OR /openapi/* OR /livez* OR /readyz* OR /healthz* OR /metrics OR /version))",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "event writes",
        r"(@objectRef.resource:events @verb:(create OR update OR patch))",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "token and access reviews",
        r"(@user.username:(system\:node\:* OR system\:serviceaccount\:kube-system\:metrics-server) @verb:create @objectRef.resource:(tokenreviews OR subjectaccessreviews))",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "kubelet token requests",
        r"(@user.username:system\:node\:* @verb:create @objectRef.resource:serviceaccounts @objectRef.subresource:token)",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "kubelet node status and gets",
        r"(@user.username:system\:node\:* @objectRef.resource:nodes (@verb:get OR (@verb:patch @objectRef.subresource:status)))",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "autoscaler reads of scale",
        r"(@verb:get @objectRef.resource:deployments @objectRef.subresource:scale)",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "metrics reads",
        r"(@verb:(get OR list) @objectRef.apiGroup:metrics.k8s.io)",
    ),
    (
        NoiseLevel::Standard,
        Principals::System,
        "autoscaler status writes",
        r"(@verb:(update OR patch) @objectRef.resource:horizontalpodautoscalers @objectRef.subresource:status)",
    ),
    (
        NoiseLevel::Standard,
        Principals::Operators,
        "operators' lease renewals",
        r"@objectRef.resource:leases @verb:(get OR update OR patch) -@objectRef.namespace:kube-system",
    ),
    (
        NoiseLevel::Aggressive,
        Principals::System,
        "gets and lists (not of secrets)",
        r"(@verb:(get OR list) -@objectRef.resource:secrets)",
    ),
    (
        NoiseLevel::Aggressive,
        Principals::System,
        "kubelet pod status patches",
        r"(@user.username:system\:node\:* @verb:patch @objectRef.resource:pods @objectRef.subresource:status)",
    ),
    (
        NoiseLevel::Aggressive,
        Principals::Operators,
        "operators' watches (not of secrets)",
        r"@verb:watch -@objectRef.resource:secrets",
    ),
];

/// The guard's clauses, in the order of [`NEVER_DROP`], which they make
/// up joined by `\nOR `.
pub const GUARD_CLAUSES: &[(&str, &str)] = &[
    ("an error answer (>= 400)", r"@responseStatus.code:>=400"),
    (
        "a forbid decision",
        r"@annotations.authorization.k8s.io/decision:forbid",
    ),
    (
        "anonymous",
        r"@user.username:system\:anonymous OR @user.groups:system\:unauthenticated",
    ),
    ("impersonation", r"@impersonatedUser:*"),
    (
        "exec, attach, port-forward, ephemeral containers, proxy",
        r"@objectRef.subresource:(exec OR attach OR portforward OR ephemeralcontainers OR proxy)",
    ),
    ("secrets", r"@objectRef.resource:secrets"),
    (
        "a write detections key on",
        r"(@verb:(create OR update OR patch OR delete OR deletecollection) (
  (-@user.username:(system\:node\:* OR system\:kube-* OR system\:apiserver OR eks\:* OR system\:serviceaccount\:kube-system\:*) -@objectRef.resource:leases)
  OR (@verb:create @objectRef.resource:pods -@objectRef.subresource:*)
  OR @objectRef.resource:(deployments OR daemonsets OR statefulsets OR replicasets OR jobs OR cronjobs)
  OR @objectRef.resource:(roles OR clusterroles OR rolebindings OR clusterrolebindings OR namespaces OR services)
  OR @objectRef.resource:(mutatingwebhookconfigurations OR validatingwebhookconfigurations OR customresourcedefinitions OR certificatesigningrequests)
  OR (@objectRef.resource:serviceaccounts -@objectRef.subresource:token)
  OR (@objectRef.resource:configmaps @objectRef.namespace:kube-system @objectRef.name:aws-auth)
))",
    ),
    (
        "a self-subject review",
        r"(@verb:create @objectRef.resource:(selfsubjectrulesreviews OR selfsubjectaccessreviews))",
    ),
    (
        "a token request by a non-node",
        r"(@objectRef.resource:serviceaccounts @objectRef.subresource:token -@user.username:system\:node\:*)",
    ),
    (
        "an access review denied, or about kubelet access",
        r"(@objectRef.resource:subjectaccessreviews (@responseObject.status.allowed:false OR @requestObject.spec.resourceAttributes.subresource:(proxy OR exec OR attach OR portforward)))",
    ),
    (
        "a public or missing source address",
        r"PUBLIC_IP(@sourceIPs) OR -@sourceIPs:*",
    ),
];

/// Names that look like system principals, whatever their client: the
/// presets' principals before issue 17, to find requests kept because
/// they came through another client.
const SYSTEM_LOOKING: &str = r"@user.username:(system\:node\:* OR system\:kube-* OR system\:apiserver OR eks\:* OR system\:serviceaccount\:kube-system\:*)";

/// How many kept lookalikes the report lists.
const SAMPLES: usize = 20;

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    events: u64,
    bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.events += 1;
        self.bytes += bytes;
    }
}

/// A report being built, event by event.
pub struct NoiseReport {
    level: NoiseLevel,
    principals: AuditQuery,
    operators: AuditQuery,
    system_looking: AuditQuery,
    answered: AuditQuery,
    classes: Vec<(Principals, &'static str, AuditQuery)>,
    guard: Vec<(&'static str, AuditQuery)>,
    total: Tally,
    not_audit: Tally,
    dropped: Vec<Tally>,
    guarded: Vec<Tally>,
    other_client: Tally,
    samples: Vec<String>,
}

fn built_in(text: &str) -> AuditQuery {
    text.parse()
        .unwrap_or_else(|e| panic!("a built-in clause must parse: {e}: {text}"))
}

impl NoiseReport {
    /// The report for `level`, with the deployment's internal networks
    /// and its own system clients, as the filter has them.
    pub fn new(
        level: NoiseLevel,
        internal_networks: &[String],
        system_clients: &[SystemClient],
    ) -> Self {
        let classes: Vec<(Principals, &'static str, AuditQuery)> = NOISE_CLASSES
            .iter()
            .filter(|(l, ..)| *l == NoiseLevel::Standard || level == NoiseLevel::Aggressive)
            .map(|(_, who, name, text)| (*who, *name, built_in(text)))
            .collect();
        let guard_full = guard_text(internal_networks);
        let public = GUARD_CLAUSES.len() - 1;
        let guard = GUARD_CLAUSES
            .iter()
            .enumerate()
            .map(|(i, (name, text))| {
                // The public-address clause carries the internal networks.
                let text = if i == public {
                    guard_full
                        .rsplit_once("\nOR ")
                        .map_or(*text, |(_, last)| last)
                        .to_owned()
                } else {
                    (*text).to_owned()
                };
                (*name, built_in(&text))
            })
            .collect();
        Self {
            level,
            principals: built_in(&system_principals_text(system_clients)),
            operators: built_in(OPERATORS),
            system_looking: built_in(SYSTEM_LOOKING),
            answered: built_in("@responseStatus.code:[200 TO 299]"),
            dropped: vec![Tally::default(); classes.len()],
            guarded: vec![Tally::default(); GUARD_CLAUSES.len()],
            classes,
            guard,
            total: Tally::default(),
            not_audit: Tally::default(),
            other_client: Tally::default(),
            samples: Vec::new(),
        }
    }

    /// Counts one audit event, given as its JSON text.
    pub fn add(&mut self, audit: &str) {
        // The bytes the message takes in the log object.
        let bytes = crate::json::encode_literal(audit).len() as u64;
        self.total.add(bytes);
        let Some(event) = AuditEvent::parse(audit) else {
            self.not_audit.add(bytes);
            return;
        };
        if !self.answered.matches(&event) {
            return;
        }
        let system = self.principals.matches(&event);
        let operator = self.operators.matches(&event);
        let class = self.classes.iter().position(|(who, _, q)| {
            let principal = match who {
                Principals::System => system,
                Principals::Operators => operator,
            };
            principal && q.matches(&event)
        });
        let Some(class) = class else {
            // A system class's request by a system-looking name through
            // another client: what stolen credentials look like.
            let looks_like_noise = self
                .classes
                .iter()
                .any(|(who, _, q)| *who == Principals::System && q.matches(&event));
            if looks_like_noise && self.system_looking.matches(&event) {
                self.other_client.add(bytes);
                self.sample(&event, "a system-looking principal through another client, or an eks: name EKS does not have");
            }
            return;
        };
        match self.guard.iter().position(|(_, q)| q.matches(&event)) {
            Some(g) => {
                self.guarded[g].add(bytes);
                let why = format!("kept by the guard: {}", self.guard[g].0);
                self.sample(&event, &why);
            }
            None => self.dropped[class].add(bytes),
        }
    }

    fn sample(&mut self, event: &AuditEvent<'_>, why: &str) {
        if self.samples.len() >= SAMPLES {
            return;
        }
        let text = |name: &str| {
            event
                .member(name)
                .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                .unwrap_or_default()
        };
        let user = event
            .member("user")
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
            .and_then(|u| u["username"].as_str().map(str::to_owned))
            .unwrap_or_default();
        // The path without its query string: enough to recognise the
        // request, without the parameters a client put there.
        let uri = text("requestURI");
        let path = uri.split_once('?').map_or(uri.as_str(), |(p, _)| p);
        self.samples.push(format!(
            "{} {} {} {} agent={:?}: {why}",
            text("auditID"),
            user,
            text("verb"),
            path,
            text("userAgent"),
        ));
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let level = match self.level {
            NoiseLevel::Standard => "standard",
            NoiseLevel::Aggressive => "aggressive",
        };
        let share = |t: Tally| {
            (
                100.0 * t.events as f64 / self.total.events.max(1) as f64,
                100.0 * t.bytes as f64 / self.total.bytes.max(1) as f64,
            )
        };
        let mut out = String::new();
        let dropped = self.dropped.iter().fold(Tally::default(), |a, t| Tally {
            events: a.events + t.events,
            bytes: a.bytes + t.bytes,
        });
        let (de, db) = share(dropped);
        let _ = writeln!(
            out,
            "DD_AUDIT_NOISE_FILTER={level} would drop {} of {} audit events ({de:.1}%) and {} of {} message bytes ({db:.1}%)",
            dropped.events, self.total.events, dropped.bytes, self.total.bytes
        );
        let _ = writeln!(out, "\ndropped, by class:");
        let row = |out: &mut String, name: &str, t: Tally| {
            let (e, b) = share(t);
            let _ = writeln!(
                out,
                "  {name:<58} {:>9} events {e:>5.1}%  {:>12} bytes {b:>5.1}%",
                t.events, t.bytes
            );
        };
        for ((_, name, _), t) in self.classes.iter().zip(&self.dropped) {
            row(&mut out, name, *t);
        }
        let _ = writeln!(out, "\nlooked like noise, kept by the guard:");
        for ((name, _), t) in self.guard.iter().zip(&self.guarded) {
            if t.events > 0 {
                row(&mut out, name, *t);
            }
        }
        row(
            &mut out,
            "system-looking, through another client (or unknown eks:)",
            self.other_client,
        );
        if self.not_audit.events > 0 {
            row(&mut out, "not audit events (always sent)", self.not_audit);
        }
        if !self.samples.is_empty() {
            let _ = writeln!(out, "\nkept lookalikes (first {SAMPLES}):");
            for s in &self.samples {
                let _ = writeln!(out, "  {s}");
            }
        }
        out
    }
}

/// Reads `inputs` (files of any kind `rules run` reads, or
/// `s3://bucket/prefix`) into `report`, then prints it to stdout. Returns
/// the exit code: 1 when an input cannot be read.
pub async fn run(
    mut report: NoiseReport,
    inputs: &[Input],
    reader: &mut LogReader,
    s3: Option<&aws_sdk_s3::Client>,
) -> u8 {
    for input in inputs {
        if let Err(e) = reader.read(input, s3, &mut |e| report.add(&e.audit)).await {
            eprintln!("{e}");
            return 1;
        }
    }
    print!("{}", report.render());
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::filter::{NEVER_DROP, NOISE_AGGRESSIVE_EXTRA, NOISE_STANDARD, preset_text};
    use serde_json::json;

    fn presets() -> [&'static str; 3] {
        [NOISE_STANDARD, NOISE_AGGRESSIVE_EXTRA, NEVER_DROP]
    }

    /// The report's clauses are the presets', split: a change to a preset
    /// that the report does not follow fails here.
    #[test]
    fn the_classes_and_guard_clauses_make_up_the_presets() {
        let [standard, aggressive, guard] = presets();
        for (level, _, _, text) in NOISE_CLASSES {
            let preset = match level {
                NoiseLevel::Standard => standard,
                NoiseLevel::Aggressive => aggressive,
            };
            assert!(preset.contains(text), "{text}");
        }
        let joined: Vec<&str> = GUARD_CLAUSES.iter().map(|(_, t)| *t).collect();
        assert_eq!(joined.join("\nOR "), guard);
        assert_eq!(preset_text(standard, &[]), standard);
    }

    fn audit(user: &str, agent: &str, verb: &str, resource: &str) -> String {
        json!({
            "kind": "Event", "auditID": format!("{user}-{verb}-{resource}"), "verb": verb,
            "requestURI": format!("/api/v1/{resource}?watch=true"),
            "user": {"username": user}, "userAgent": agent, "sourceIPs": ["10.0.1.5"],
            "objectRef": {"resource": resource}, "responseStatus": {"code": 200},
        })
        .to_string()
    }

    #[test]
    fn the_report_counts_each_class_the_guard_and_other_clients() {
        let node = "system:node:ip-10-0-1-5.ec2.internal";
        let kubelet = "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46";
        let mut report = NoiseReport::new(NoiseLevel::Standard, &[], &[]);
        report.add(&audit(node, kubelet, "watch", "pods"));
        report.add(&audit(node, kubelet, "watch", "pods"));
        report.add(&audit(node, kubelet, "update", "leases"));
        let mut outside: serde_json::Value =
            serde_json::from_str(&audit(node, kubelet, "watch", "pods")).unwrap();
        outside["sourceIPs"] = json!(["203.0.113.9"]);
        report.add(&outside.to_string());
        report.add(&audit(node, "curl/8.5.0", "watch", "pods"));
        report.add(&audit("eks:backdoor", "curl/8.5.0", "watch", "pods"));
        report.add(&audit("alice", "kubectl/v1.31", "get", "pods"));
        report.add("not json");
        let text = report.render();
        assert!(
            text.starts_with(
                "DD_AUDIT_NOISE_FILTER=standard would drop 3 of 8 audit events (37.5%)"
            ),
            "{text}"
        );
        assert!(text.contains("watches (not of secrets)"), "{text}");
        let line = |name: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(name))
                .unwrap_or_else(|| panic!("{name}: {text}"))
                .split_whitespace()
                .find_map(|w| w.parse::<u64>().ok())
                .unwrap()
        };
        assert_eq!(line("watches (not of secrets)"), 2);
        assert_eq!(line("lease heartbeats"), 1);
        // A node's watch from a public address: kept by the guard.
        assert_eq!(line("a public or missing source address"), 1);
        assert_eq!(line("system-looking, through another client"), 2);
        assert_eq!(line("not audit events"), 1);
        assert!(text.contains("agent=\"curl/8.5.0\""), "{text}");
        // The query string of a URI is left out of the samples.
        assert!(!text.contains("watch=true"), "{text}");
    }
}
