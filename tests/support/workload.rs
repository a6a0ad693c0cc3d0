//! Generated audit traffic for benchmarks, deterministic for a seed.
//!
//! The reference payload of issue 7: 4,700 audit events in one subscription
//! document, most of them ~1.2 KB `Metadata` events of a busy control plane
//! (lease renewals, watches, gets by nodes and controllers), every 97th a
//! `RequestResponse` `list` of 200 pods. Identifiers (uids, IPs, pod names,
//! timestamps) vary the way they do in real traffic, so gzip sees realistic
//! entropy, not repeated text.

use std::fmt::Write as _;
use std::io::Write as _;

use base64::Engine;
use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};

pub const GROUP: &str = "/aws/eks/bench/cluster";
pub const STREAM: &str = "kube-apiserver-audit-5a6b7c8d9e0f11223344556677889900";
/// 2026-11-26T10:00:00Z.
const BASE_MS: u64 = 1_795_687_200_000;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub events: usize,
    /// Every `large_every`-th event is a RequestResponse list of
    /// `pods_per_list` pods; 0 for none.
    pub large_every: usize,
    pub pods_per_list: usize,
}

impl Mix {
    /// The reference payload: 4,700 events, every 97th a list of 200 pods.
    pub const REFERENCE: Mix = Mix {
        events: 4_700,
        large_every: 97,
        pods_per_list: 200,
    };
    /// Small Metadata events only.
    pub const METADATA_ONLY: Mix = Mix {
        events: 4_700,
        large_every: 0,
        pods_per_list: 0,
    };
    /// Mostly large RequestResponse events.
    pub const LARGE_EVENTS: Mix = Mix {
        events: 120,
        large_every: 1,
        pods_per_list: 200,
    };
}

/// The cluster the traffic comes from: nodes and pods keep their names
/// and uids from event to event, as they do in a real cluster.
struct Cluster {
    nodes: Vec<(String, String)>,
    pods: Vec<(String, String)>,
}

struct Gen {
    rng: fastrand::Rng,
    now_us: u64,
    cluster: Cluster,
}

impl Gen {
    fn new(seed: u64) -> Self {
        let mut g = Gen {
            rng: fastrand::Rng::with_seed(seed),
            now_us: 0,
            cluster: Cluster {
                nodes: Vec::new(),
                pods: Vec::new(),
            },
        };
        let nodes = (0..40)
            .map(|_| {
                let name = format!(
                    "ip-10-0-{}-{}.eu-west-1.compute.internal",
                    g.rng.u8(1..4),
                    g.rng.u8(2..250)
                );
                (name, g.uid())
            })
            .collect();
        let pods = (0..200)
            .map(|i| {
                let app = ["web", "api", "worker", "cache"][i % 4];
                (g.pod_name(app), g.uid())
            })
            .collect();
        g.cluster = Cluster { nodes, pods };
        g
    }

    fn uid(&mut self) -> String {
        let mut s = String::with_capacity(36);
        for (i, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
            if i > 0 {
                s.push('-');
            }
            for _ in 0..len {
                s.push(char::from_digit(self.rng.u32(0..16), 16).unwrap());
            }
        }
        s
    }

    fn pod_name(&mut self, app: &str) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut s = format!("{app}-");
        s.push_str("7d4b9c5f8-");
        for _ in 0..5 {
            s.push(ALPHABET[self.rng.usize(0..ALPHABET.len())] as char);
        }
        s
    }

    fn resource_version(&mut self) -> String {
        self.rng.u64(480_000_000..480_999_999).to_string()
    }

    fn stamp(&self, us: u64) -> String {
        let total = us / 1_000_000;
        let (h, m, s) = (10 + total / 3600, (total / 60) % 60, total % 60);
        format!("2026-11-26T{h:02}:{m:02}:{s:02}.{:06}Z", us % 1_000_000)
    }

    /// One Metadata event of the kinds that dominate EKS audit traffic.
    fn metadata_event(&mut self) -> Value {
        self.now_us += self.rng.u64(50..900);
        let received = self.now_us;
        let done = received + self.rng.u64(300..9_000);
        let kind = self.rng.u32(0..100);
        let (node, node_uid) = self.cluster.nodes[self.rng.usize(0..40)].clone();
        let rv = self.resource_version();
        let (user, groups, agent, verb, uri, object_ref, reason) = match kind {
            // A kubelet renews its node lease.
            0..=44 => (
                format!("system:node:{node}"),
                json!(["system:nodes", "system:authenticated"]),
                "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46".to_owned(),
                "update",
                format!(
                    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s"
                ),
                json!({"resource": "leases", "namespace": "kube-node-lease", "name": node, "uid": node_uid, "apiGroup": "coordination.k8s.io", "apiVersion": "v1", "resourceVersion": rv}),
                "",
            ),
            // A DaemonSet's service account watches what it follows.
            45..=79 => {
                let resource =
                    ["pods", "endpointslices", "services", "nodes"][self.rng.usize(0..4)];
                let sa = [
                    "aws-node",
                    "kube-proxy",
                    "ebs-csi-node",
                    "eks-pod-identity-agent",
                ][self.rng.usize(0..4)];
                (
                    format!("system:serviceaccount:kube-system:{sa}"),
                    json!([
                        "system:serviceaccounts",
                        "system:serviceaccounts:kube-system",
                        "system:authenticated"
                    ]),
                    format!("{sa}/v1.19.0 (linux/amd64) kubernetes/$Format"),
                    "watch",
                    format!(
                        "/api/v1/{resource}?allowWatchBookmarks=true&resourceVersion={rv}&timeout=8m{}s&timeoutSeconds=503&watch=true",
                        self.rng.u8(0..60)
                    ),
                    json!({"resource": resource, "apiVersion": "v1"}),
                    "RBAC: allowed by ClusterRoleBinding \"system:node-proxier\" of ClusterRole \"system:node-proxier\" to ServiceAccount \"kube-proxy/kube-system\"",
                )
            }
            // A controller reads a pod.
            _ => {
                let (pod, pod_uid) = self.cluster.pods[self.rng.usize(0..200)].clone();
                (
                    "system:serviceaccount:kube-system:replicaset-controller".to_owned(),
                    json!(["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]),
                    "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/system:serviceaccount:kube-system:replicaset-controller".to_owned(),
                    "get",
                    format!("/api/v1/namespaces/default/pods/{pod}"),
                    json!({"resource": "pods", "namespace": "default", "name": pod, "uid": pod_uid, "apiVersion": "v1"}),
                    "RBAC: allowed by ClusterRoleBinding \"system:controller:replicaset-controller\" of ClusterRole \"system:controller:replicaset-controller\" to ServiceAccount \"replicaset-controller/kube-system\"",
                )
            }
        };
        let node_ip = node
            .trim_start_matches("ip-")
            .split('.')
            .next()
            .unwrap_or("")
            .replace('-', ".");
        json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "auditID": self.uid(), "stage": "ResponseComplete", "requestURI": uri, "verb": verb,
            "user": {"username": user, "groups": groups},
            "sourceIPs": [node_ip],
            "userAgent": agent, "objectRef": object_ref,
            "responseStatus": {"metadata": {}, "code": 200},
            "requestReceivedTimestamp": self.stamp(received), "stageTimestamp": self.stamp(done),
            "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": reason}
        })
    }

    /// A RequestResponse list of the first `pods` pods (object metadata).
    fn pod_list_event(&mut self, pods: usize) -> Value {
        self.now_us += self.rng.u64(50..900);
        let received = self.now_us;
        let items: Vec<Value> = self.cluster.pods[..pods.min(200)]
            .iter()
            .map(|(name, _)| json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": name.split('-').next().unwrap_or("")}}}))
            .collect();
        json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
            "auditID": self.uid(), "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/pods?limit=500", "verb": "list",
            "user": {"username": "system:serviceaccount:kube-system:cluster-autoscaler", "groups": ["system:serviceaccounts", "system:authenticated"]},
            "sourceIPs": ["10.0.3.4"], "userAgent": "cluster-autoscaler/v1.31.0 (linux/amd64) kubernetes/$Format",
            "objectRef": {"resource": "pods", "namespace": "default", "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": 200},
            "requestObject": {"kind": "ListOptions", "apiVersion": "meta.k8s.io/v1", "limit": 500},
            "responseObject": {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": self.resource_version()}, "items": items},
            "requestReceivedTimestamp": self.stamp(received), "stageTimestamp": self.stamp(received + 180_000),
            "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding \"cluster-autoscaler\" of ClusterRole \"cluster-autoscaler\" to ServiceAccount \"cluster-autoscaler/kube-system\""}
        })
    }
}

/// The audit events of `mix` as JSON text, one string per event.
pub fn audit_messages(mix: Mix, seed: u64) -> Vec<String> {
    let mut g = Gen::new(seed);
    (0..mix.events)
        .map(|i| {
            let large = mix.large_every > 0 && i % mix.large_every == mix.large_every - 1;
            let event = if large {
                g.pod_list_event(mix.pods_per_list)
            } else {
                g.metadata_event()
            };
            event.to_string()
        })
        .collect()
}

/// The decoded subscription document holding `messages`.
pub fn document(messages: &[String]) -> String {
    document_of("123456789012", GROUP, messages)
}

/// The decoded subscription document of `owner`'s `log_group` holding
/// `messages`.
pub fn document_of(owner: &str, log_group: &str, messages: &[String]) -> String {
    let mut doc = String::with_capacity(messages.iter().map(|m| m.len() + 200).sum());
    write!(
        doc,
        r#"{{"messageType":"DATA_MESSAGE","owner":"{owner}","logGroup":"{log_group}","logStream":"{STREAM}","subscriptionFilters":["eks-audit-forwarder"],"logEvents":["#
    )
    .unwrap();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            doc.push(',');
        }
        let message = serde_json::to_string(m).unwrap();
        write!(
            doc,
            r#"{{"id":"{:056}","timestamp":{},"message":{message}}}"#,
            38_000_000_000u64 + i as u64,
            BASE_MS + i as u64 / 10
        )
        .unwrap();
    }
    doc.push_str("]}");
    doc
}

/// gzip (level 6, as CloudWatch Logs sends it) of `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The Lambda event for a gzip document.
pub fn lambda_event(gz: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(gz);
    format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#)
}

/// The largest subscription event: about 1 MB of base64 whose document
/// inflates to just under `cap` bytes (repetitive lease renewals, which
/// compress the most), and how many events it holds.
pub fn largest_event(cap: usize) -> (String, usize) {
    let lease = audit_messages(
        Mix {
            events: 1,
            large_every: 0,
            pods_per_list: 0,
        },
        7,
    )
    .remove(0);
    let one = document(std::slice::from_ref(&lease)).len();
    let per = document(&[lease.clone(), lease.clone()]).len() - one;
    let n = (cap - one) / per;
    let doc = document(&vec![lease; n]);
    assert!(doc.len() <= cap, "{} > {cap}", doc.len());
    (lambda_event(&gzip(doc.as_bytes())), n)
}
