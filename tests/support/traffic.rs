//! Model EKS audit traffic, and a golden set of the events detections
//! need; both deterministic.
//!
//! [`model_mix`] draws the rows of the *model* traffic mix in
//! `AUDIT_TRAFFIC.md` (`shared/` beside the repository) with the table's
//! share of events and typical size, to measure a noise preset on.
//! [`never_drop_golden`] holds at least one event of every "never drop"
//! class of that file, and lookalikes of the noise (system principals, 2xx,
//! reads) that still belong to one: a preset must forward all of them.
//! Identifiers (uids, node and pod names, IPs, resource versions,
//! timestamps) vary as they do in a real cluster, as in `workload.rs`.
//!
//! Measured: `model_mix(20_000, 1)`: share of events and mean size per row,
//! against the table (1 KB = 1,000 bytes: the table's rows average
//! 1.08 KB and its 2.5 M events a day make 2.7 GB); the last column is the
//! mean size over `model_mix(1_000_000, 1)`, for the rare rows.
//!
//! | row                                           |    % | meas. % |  KB | meas. KB |  1 M |
//! |-----------------------------------------------|------|---------|-----|----------|------|
//! | leader-elected components, leases             | 40.7 |   41.10 | 0.9 |     1.09 | 1.09 |
//! | `system:node:*` lease update                  | 17.6 |   18.09 | 0.9 |     0.94 | 0.94 |
//! | `system:node:*` watch (2 stages)              | 15.6 |   15.66 | 1.0 |     0.87 | 0.87 |
//! | DaemonSet service accounts, watch/get/list    |  8.1 |    7.67 | 1.0 |     1.07 | 1.07 |
//! | controller service accounts, get/list/watch   | 10.2 |   10.11 | 1.0 |     1.11 | 1.11 |
//! | controller service accounts, writes           |  2.0 |    1.93 | 6.0 |     6.05 | 6.07 |
//! | `system:node:*` serviceaccounts/token         |  2.4 |    2.40 | 1.5 |     1.27 | 1.27 |
//! | `system:node:*` nodes/status, pods/status     |  1.0 |    0.99 | 3.0 |     3.02 | 3.00 |
//! | system principals, non-resource get           |  1.2 |    1.10 | 0.8 |     0.81 | 0.81 |
//! | system service accounts, token/access reviews |  0.8 |    0.77 | 1.5 |     1.50 | 1.49 |
//! | humans and CI                                 |  0.2 |    0.17 | 3.0 |     2.59 | 2.93 |
//! | denied and anonymous                          | 0.02 |    0.01 | 1.0 |     1.34 | 1.10 |
//!
//! 22,968,015 bytes in all (1.148 KB an event; the table's sizes make
//! 1.078). A real lease event cannot be much under 1 KB (its fixed fields
//! take 0.6 KB; URI, user agent and RBAC reason the rest), hence the
//! leases' 1.09; TokenRequests are logged with their request body only
//! (see `node_token`), hence 1.27. Users carry no `extra` but for IAM
//! roles, to stay near the table's sizes.
//!
//! In the mix, the controller writes hold never-drop events too: pod
//! creates by the ReplicaSet controller and Deployment status updates
//! (writes to pods and deployments, class 5), about 0.9% of events.
//!
//! Every event is `json!(..).to_string()`; keys keep the order the API
//! server writes them in (serde_json's `preserve_order` is on).

use serde_json::{Map, Value, json};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const KUBELET_AGENT: &str = "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46";
const KCM_AGENT: &str = "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46";
/// The API server's view of the control-plane instances that run
/// kube-controller-manager, the scheduler and the `eks:*` components.
const CONTROL_PLANE_IPS: [&str; 2] = ["172.16.41.183", "172.16.97.26"];
/// Filled in by [`sized`] while it measures, so that the measured length
/// is the final one (ids and timestamps have a fixed width).
const PLACEHOLDER_ID: &str = "00000000-0000-0000-0000-000000000000";
/// The node authorizer gives no reason.
const NODE_REASON: &str = "";
const DISCOVERY_REASON: &str = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"";
/// `/livez`, `/readyz`, `/healthz` and `/version` are open to everyone:
/// the reason names the group that matched.
const HEALTH_REASON: &str = "RBAC: allowed by ClusterRoleBinding \"system:public-info-viewer\" of ClusterRole \"system:public-info-viewer\" to Group \"system:authenticated\"";
const ANONYMOUS_HEALTH_REASON: &str = "RBAC: allowed by ClusterRoleBinding \"system:public-info-viewer\" of ClusterRole \"system:public-info-viewer\" to Group \"system:unauthenticated\"";
const NON_ASCII: &str = "Zoë-Ğüñ 東京";

// ---------------------------------------------------------------------
// The model mix
// ---------------------------------------------------------------------

/// One row of the *model* traffic mix table of AUDIT_TRAFFIC.md.
struct Row {
    name: &'static str,
    /// Percent of events, from the table.
    percent: f64,
    /// Typical event size, from the table.
    kb: f64,
    /// Events one draw emits on average: a watch or an exec logs two
    /// stages (EKS's policy omits only `RequestReceived`), so its row is
    /// drawn less often to keep the table's share of events.
    per_draw: f64,
    /// Builds one draw's events; the argument is the row's size in bytes.
    build: fn(&mut Gen, usize) -> Vec<Value>,
}

const ROWS: [Row; 12] = [
    Row {
        name: "leader-elected components: leases",
        percent: 40.7,
        kb: 0.9,
        per_draw: 1.0,
        build: Gen::leader_lease,
    },
    Row {
        name: "system:node: lease update",
        percent: 17.6,
        kb: 0.9,
        per_draw: 1.0,
        build: Gen::node_lease,
    },
    Row {
        name: "system:node: watch",
        percent: 15.6,
        kb: 1.0,
        per_draw: 2.0,
        build: Gen::node_watch,
    },
    Row {
        name: "DaemonSet service accounts: watch/get/list",
        percent: 8.1,
        kb: 1.0,
        // Watch draws are 2/3, of two events each: 80% of the events.
        per_draw: 5.0 / 3.0,
        build: Gen::daemonset_read,
    },
    Row {
        name: "controller service accounts: get/list/watch",
        percent: 10.2,
        kb: 1.0,
        // Watch draws are 30%, of two events each.
        per_draw: 1.3,
        build: Gen::controller_read,
    },
    Row {
        name: "controller service accounts: update/patch/create",
        percent: 2.0,
        kb: 6.0,
        per_draw: 1.0,
        build: Gen::controller_write,
    },
    Row {
        name: "system:node: serviceaccounts/token",
        percent: 2.4,
        kb: 1.5,
        per_draw: 1.0,
        build: Gen::node_token,
    },
    Row {
        name: "system:node: nodes/status, pods/status",
        percent: 1.0,
        kb: 3.0,
        per_draw: 1.0,
        build: Gen::node_status_patch,
    },
    Row {
        name: "system principals: non-resource get",
        percent: 1.2,
        kb: 0.8,
        per_draw: 1.0,
        build: Gen::non_resource_get,
    },
    Row {
        name: "system service accounts: token/access reviews",
        percent: 0.8,
        kb: 1.5,
        per_draw: 1.0,
        build: Gen::review,
    },
    Row {
        name: "humans and CI",
        percent: 0.2,
        kb: 3.0,
        // HUMAN_ACTIONS: 12 of 80 draws (exec, port-forward) log two stages.
        per_draw: 92.0 / 80.0,
        build: Gen::human,
    },
    Row {
        name: "denied and anonymous",
        percent: 0.02,
        kb: 1.0,
        per_draw: 1.0,
        build: Gen::denied,
    },
];

/// `events` audit events of the model traffic mix, as JSON text.
pub fn model_mix(events: usize, seed: u64) -> Vec<String> {
    model_mix_labelled(events, seed)
        .into_iter()
        .map(|(_, event)| event)
        .collect()
}

/// [`model_mix`] with the name of the table row each event was drawn from.
pub fn model_mix_labelled(events: usize, seed: u64) -> Vec<(&'static str, String)> {
    let mut g = Gen::new(seed);
    let weights: Vec<f64> = ROWS.iter().map(|r| r.percent / r.per_draw).collect();
    let total: f64 = weights.iter().sum();
    let mut out = Vec::with_capacity(events + 1);
    while out.len() < events {
        let mut x = g.rng.f64() * total;
        let mut row = &ROWS[0];
        for (r, w) in ROWS.iter().zip(&weights) {
            row = r;
            if x < *w {
                break;
            }
            x -= w;
        }
        // About 28 events a second, the model's 50-node cluster.
        g.now_us += g.rng.u64(10_000..72_000);
        for event in (row.build)(&mut g, (row.kb * 1000.0) as usize) {
            out.push((row.name, event.to_string()));
        }
    }
    // The last draw may have been a two-stage watch.
    out.truncate(events);
    out
}

// ---------------------------------------------------------------------
// The cluster and its principals
// ---------------------------------------------------------------------

#[derive(Clone)]
struct Node {
    name: String,
    ip: String,
    zone: &'static str,
}

#[derive(Clone)]
struct Pod {
    name: String,
    namespace: &'static str,
    app: &'static str,
    sa: &'static str,
    /// `pod-template-hash`: the ReplicaSet is `<app>-<hash>`.
    hash: String,
    uid: String,
    ip: String,
    node: usize,
}

/// Workloads of the model cluster: (namespace, app, service account).
const APPS: [(&str, &str, &str); 10] = [
    ("default", "web", "default"),
    ("payments", "payments-api", "payments-api"),
    ("payments", "ledger-worker", "ledger-worker"),
    ("storefront", "frontend", "frontend"),
    ("storefront", "cart", "cart"),
    ("search", "indexer", "indexer"),
    ("monitoring", "prometheus", "prometheus"),
    ("monitoring", "grafana", "grafana"),
    ("argocd", "argocd-repo-server", "argocd-repo-server"),
    ("kube-system", "coredns", "coredns"),
];

struct Gen {
    rng: fastrand::Rng,
    /// Microseconds after 2026-11-26T10:00:00Z of the current request.
    now_us: u64,
    nodes: Vec<Node>,
    pods: Vec<Pod>,
}

impl Gen {
    /// A 50-node cluster (the model's) running 400 pods of [`APPS`].
    fn new(seed: u64) -> Self {
        let mut g = Gen {
            rng: fastrand::Rng::with_seed(seed),
            now_us: 0,
            nodes: Vec::new(),
            pods: Vec::new(),
        };
        let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
        while g.nodes.len() < 50 {
            let z = g.nodes.len() % 3;
            let ip = format!(
                "10.0.{}.{}",
                32 * z as u8 + g.rng.u8(0..32),
                g.rng.u8(4..251)
            );
            if g.nodes.iter().any(|n| n.ip == ip) {
                continue;
            }
            let node = Node {
                name: format!("ip-{}.ec2.internal", ip.replace('.', "-")),
                zone: zones[z],
                ip,
            };
            g.nodes.push(node);
        }
        let hashes: Vec<String> = APPS.iter().map(|_| g.suffix(10)).collect();
        for i in 0..400 {
            let (namespace, app, sa) = APPS[i % APPS.len()];
            let hash = hashes[i % APPS.len()].clone();
            let node = g.rng.usize(0..g.nodes.len());
            let pod = Pod {
                name: format!("{app}-{hash}-{}", g.suffix(5)),
                namespace,
                app,
                sa,
                hash,
                uid: g.uid(),
                ip: format!("10.0.{}.{}", 96 + g.rng.u8(0..96), g.rng.u8(2..254)),
                node,
            };
            g.pods.push(pod);
        }
        g
    }

    fn uid(&mut self) -> String {
        uid_from(&mut self.rng)
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.rng.u32(0..16), 16).unwrap())
            .collect()
    }

    /// A generated-name suffix, from the alphabet Kubernetes uses.
    fn suffix(&mut self, n: usize) -> String {
        suffix_from(&mut self.rng, n)
    }

    fn rv(&mut self) -> String {
        self.rng.u64(480_000_000..480_999_999).to_string()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(0..items.len())]
    }

    fn weighted<T: Copy>(&mut self, items: &[(u32, T)]) -> T {
        let mut x = self.rng.u32(0..items.iter().map(|(w, _)| w).sum());
        for (w, item) in items {
            if x < *w {
                return *item;
            }
            x -= w;
        }
        unreachable!()
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(0..100) < percent
    }

    /// `target` ±15%, so a row's sizes spread around its mean.
    fn jitter(&mut self, target: usize) -> usize {
        target * self.rng.usize(85..116) / 100
    }

    /// What the API server adds to an object it creates now.
    fn stored(&mut self) -> Stored {
        Stored {
            uid: self.uid(),
            rv: self.rv(),
            created: stamp_s(self.now_us),
        }
    }

    fn any_node(&mut self) -> Node {
        let i = self.rng.usize(0..self.nodes.len());
        self.nodes[i].clone()
    }

    fn any_pod(&mut self) -> (Pod, Node) {
        let pod = self.pods[self.rng.usize(0..self.pods.len())].clone();
        let node = self.nodes[pod.node].clone();
        (pod, node)
    }

    /// The node that runs the Deployment `deploy` (a controller, a
    /// webhook), always the same: its pod calls from the node's IP.
    fn host_of(&self, deploy: &str) -> Node {
        self.nodes[stable_rng(deploy).usize(0..self.nodes.len())].clone()
    }

    /// A watch's query (client-go's: a random timeout of 5 to 10 minutes)
    /// and how long the watch lasts, in microseconds.
    fn watch_query(&mut self, selector: &str) -> (String, u64) {
        let secs = self.rng.u64(300..600);
        let rv = self.rv();
        let (m, s) = (secs / 60, secs % 60);
        (
            format!(
                "allowWatchBookmarks=true{selector}&resourceVersion={rv}&timeout={m}m{s}s&timeoutSeconds={secs}&watch=true"
            ),
            secs * 1_000_000,
        )
    }

    /// One event (stage `ResponseComplete`) of the call, received now.
    fn emit(&mut self, c: Call) -> Vec<Value> {
        let id = self.uid();
        let done = self.now_us + c.latency_us;
        vec![assemble(&c, &id, "ResponseComplete", self.now_us, done)]
    }

    /// The two events of a long-running call (a watch, an exec): the
    /// response starts after `started_us`, completes after its latency.
    fn emit_two(&mut self, c: Call, started_us: u64) -> Vec<Value> {
        let id = self.uid();
        let (started, done) = (self.now_us + started_us, self.now_us + c.latency_us);
        vec![
            assemble(&c, &id, "ResponseStarted", self.now_us, started),
            assemble(&c, &id, "ResponseComplete", self.now_us, done),
        ]
    }
}

/// A kubelet. EKS also gives it the `uid` and `extra` of its IAM role (as
/// [`iam_user`] does for people), which the model's sizes leave out.
fn node_user(node: &Node) -> Value {
    json!({
        "username": format!("system:node:{}", node.name),
        "groups": ["system:nodes", "system:authenticated"],
    })
}

/// A service account. Since Kubernetes 1.30 a pod's token also puts the
/// pod and node in `extra`, which the model's sizes leave out.
fn sa_user(ns: &str, name: &str) -> Value {
    json!({
        "username": format!("system:serviceaccount:{ns}:{name}"),
        "uid": stable_uid(&format!("sa/{ns}/{name}")),
        "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"],
    })
}

/// A user with no service account: `system:kube-*`, `eks:*`.
fn control_user(name: &str) -> Value {
    json!({"username": name, "groups": ["system:authenticated"]})
}

/// A person or a CI job, an IAM role mapped by aws-auth.
#[derive(Clone, Copy)]
struct Human {
    username: &'static str,
    groups: &'static [&'static str],
    role: &'static str,
    session: &'static str,
    principal: &'static str,
    key: &'static str,
    ip: &'static str,
    agent: &'static str,
    reason: &'static str,
}

const ADMIN: Human = Human {
    username: "kubernetes-admin",
    groups: &["system:masters", "system:authenticated"],
    role: "PlatformAdmin",
    session: "zoe.gunes@example.com",
    principal: "AROAYQWXK7PLATFORM4AD",
    key: "ASIAYQWXK7PL4N2JD8QF",
    ip: "198.51.100.23",
    agent: "kubectl/v1.31.1 (darwin/arm64) kubernetes/948afe5",
    reason: "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group \"system:masters\"",
};

const CI: Human = Human {
    username: "arn:aws:iam::123456789012:role/ci-deployer",
    groups: &["ci:deployers", "system:authenticated"],
    role: "ci-deployer",
    session: "gitlab-runner-8841",
    principal: "AROAYQWXK7PCIDEPLOY2X",
    key: "ASIAYQWXK7PLQ3V7H2ZB",
    ip: "10.20.3.41",
    agent: "kubectl/v1.30.4 (linux/amd64) kubernetes/6b0b5d2",
    reason: "RBAC: allowed by ClusterRoleBinding \"ci-deployer\" of ClusterRole \"cluster-admin\" to Group \"ci:deployers\"",
};

const DEV: Human = Human {
    username: "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Developer_5e2b1d8f0c4a7d31/jane.doe@example.com",
    groups: &["developers", "system:authenticated"],
    role: "AWSReservedSSO_Developer_5e2b1d8f0c4a7d31",
    session: "jane.doe@example.com",
    principal: "AROAYQWXK7PDEVSSO93KQ",
    key: "ASIAYQWXK7PLM8RT5E1C",
    ip: "198.51.100.77",
    agent: "kubectl/v1.31.0 (linux/amd64) kubernetes/7c48c2b",
    reason: "RBAC: allowed by ClusterRoleBinding \"developers-edit\" of ClusterRole \"edit\" to Group \"developers\"",
};

fn iam_user(h: &Human) -> Value {
    json!({
        "username": h.username,
        "uid": format!("aws-iam-authenticator:{ACCOUNT}:{}", h.principal),
        "groups": h.groups,
        "extra": {
            "accessKeyId": [h.key],
            "arn": [format!("arn:aws:sts::{ACCOUNT}:assumed-role/{}/{}", h.role, h.session)],
            "canonicalArn": [format!("arn:aws:iam::{ACCOUNT}:role/{}", h.role)],
            "principalId": [h.principal],
            "sessionName": [h.session],
            "sigs.k8s.io/aws-iam-authenticator/principalId": [h.principal],
        },
    })
}

// ---------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------

/// What varies between audit events; [`assemble`] adds the rest.
#[derive(Clone)]
struct Call {
    level: &'static str,
    verb: &'static str,
    uri: String,
    user: Value,
    impersonated: Option<Value>,
    /// Empty for none (the field is then left out).
    ips: Vec<String>,
    agent: String,
    object_ref: Option<Value>,
    code: u16,
    /// The whole `responseStatus` of a failure; `{metadata, code}` if none.
    status: Option<Value>,
    request: Option<Value>,
    response: Option<Value>,
    decision: &'static str,
    reason: String,
    /// Audit annotations besides the authorization ones.
    annotations: Vec<(&'static str, String)>,
    latency_us: u64,
}

impl Default for Call {
    fn default() -> Self {
        Call {
            level: "Metadata",
            verb: "get",
            uri: String::new(),
            user: Value::Null,
            impersonated: None,
            ips: Vec::new(),
            agent: String::new(),
            object_ref: None,
            code: 200,
            status: None,
            request: None,
            response: None,
            decision: "allow",
            reason: String::new(),
            annotations: Vec::new(),
            latency_us: 3_000,
        }
    }
}

/// The audit event of `c` at `stage`, in the API server's field order.
fn assemble(c: &Call, audit_id: &str, stage: &str, received_us: u64, stage_us: u64) -> Value {
    let mut e = Map::new();
    let mut put = |k: &str, v: Value| {
        e.insert(k.to_owned(), v);
    };
    put("kind", json!("Event"));
    put("apiVersion", json!("audit.k8s.io/v1"));
    put("level", json!(c.level));
    put("auditID", json!(audit_id));
    put("stage", json!(stage));
    put("requestURI", json!(c.uri));
    put("verb", json!(c.verb));
    put("user", c.user.clone());
    if let Some(u) = &c.impersonated {
        put("impersonatedUser", u.clone());
    }
    if !c.ips.is_empty() {
        put("sourceIPs", json!(c.ips));
    }
    put("userAgent", json!(c.agent));
    if let Some(o) = &c.object_ref {
        put("objectRef", o.clone());
    }
    let status = c
        .status
        .clone()
        .unwrap_or_else(|| json!({"metadata": {}, "code": c.code}));
    put("responseStatus", status);
    if let Some(r) = &c.request {
        put("requestObject", r.clone());
    }
    if let Some(r) = &c.response {
        put("responseObject", r.clone());
    }
    put("requestReceivedTimestamp", json!(stamp(received_us)));
    put("stageTimestamp", json!(stamp(stage_us)));
    let mut notes = Map::new();
    notes.insert("authorization.k8s.io/decision".into(), json!(c.decision));
    notes.insert("authorization.k8s.io/reason".into(), json!(c.reason));
    for (k, v) in &c.annotations {
        notes.insert((*k).into(), json!(v));
    }
    put("annotations", Value::Object(notes));
    Value::Object(e)
}

/// The call `make(k)` whose event comes closest to `target` bytes, `k`
/// counting some repeated part of its bodies (env vars, endpoints, ...).
fn sized(target: usize, make: impl Fn(usize) -> Call) -> Call {
    let len = |k| {
        assemble(&make(k), PLACEHOLDER_ID, "ResponseComplete", 0, 0)
            .to_string()
            .len()
    };
    let (l0, l8) = (len(0), len(8));
    if l0 >= target {
        return make(0);
    }
    let per = (l8.saturating_sub(l0) as f64 / 8.0).max(1.0);
    make(((target - l0) as f64 / per).round() as usize)
}

/// `us` microseconds after 2026-11-26T10:00:00Z, as `workload.rs` writes
/// it (the days roll over, up to the end of November).
fn stamp(us: u64) -> String {
    let total = us / 1_000_000;
    let hours = 10 + total / 3600;
    let (d, h, m, s) = (26 + hours / 24, hours % 24, (total / 60) % 60, total % 60);
    format!("2026-11-{d:02}T{h:02}:{m:02}:{s:02}.{:06}Z", us % 1_000_000)
}

/// An object timestamp (seconds), as in `metadata.creationTimestamp`.
fn stamp_s(us: u64) -> String {
    let mut s = stamp(us);
    s.truncate(19);
    s + "Z"
}

/// The `responseStatus` of a failed request.
fn failure(code: u16, reason: &str, message: String, details: Value) -> Value {
    json!({"metadata": {}, "status": "Failure", "message": message, "reason": reason, "details": details, "code": code})
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Identifiers that must stay the same for a name across events.
fn stable_rng(name: &str) -> fastrand::Rng {
    fastrand::Rng::with_seed(fnv(name))
}

fn stable_uid(name: &str) -> String {
    uid_from(&mut stable_rng(name))
}

/// A random (version 4) UUID, as Kubernetes gives objects and requests.
fn uid_from(rng: &mut fastrand::Rng) -> String {
    let mut s = String::with_capacity(36);
    for i in 0..36 {
        let c = match i {
            8 | 13 | 18 | 23 => '-',
            14 => '4',
            19 => char::from_digit(rng.u32(8..12), 16).unwrap(),
            _ => char::from_digit(rng.u32(0..16), 16).unwrap(),
        };
        s.push(c);
    }
    s
}

fn suffix_from(rng: &mut fastrand::Rng, n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..n)
        .map(|_| ALPHABET[rng.usize(0..ALPHABET.len())] as char)
        .collect()
}

/// (apiGroup, version) of the resources used here.
fn api_of(resource: &str) -> (&'static str, &'static str) {
    match resource {
        "deployments" | "replicasets" | "daemonsets" | "statefulsets" => ("apps", "v1"),
        "jobs" | "cronjobs" => ("batch", "v1"),
        "leases" => ("coordination.k8s.io", "v1"),
        "endpointslices" => ("discovery.k8s.io", "v1"),
        "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings" => {
            ("rbac.authorization.k8s.io", "v1")
        }
        "mutatingwebhookconfigurations" | "validatingwebhookconfigurations" => {
            ("admissionregistration.k8s.io", "v1")
        }
        "customresourcedefinitions" => ("apiextensions.k8s.io", "v1"),
        "certificatesigningrequests" => ("certificates.k8s.io", "v1"),
        "tokenreviews" => ("authentication.k8s.io", "v1"),
        "subjectaccessreviews" | "selfsubjectaccessreviews" | "selfsubjectrulesreviews" => {
            ("authorization.k8s.io", "v1")
        }
        "nodepools" | "nodeclaims" => ("karpenter.sh", "v1"),
        "ec2nodeclasses" => ("karpenter.k8s.aws", "v1"),
        "certificates" | "certificaterequests" | "issuers" => ("cert-manager.io", "v1"),
        "targetgroupbindings" => ("elbv2.k8s.aws", "v1beta1"),
        "applications" => ("argoproj.io", "v1alpha1"),
        _ => ("", "v1"),
    }
}

/// The API groups EKS's audit policy (upstream's) knows: reads of them
/// are logged at Request, writes at RequestResponse.
const KNOWN_GROUPS: [&str; 14] = [
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "discovery.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
];

/// The level EKS's policy logs `verb` on `resource` at: secrets,
/// configmaps and token reviews (which hold secrets), leases and custom
/// resources (unknown groups) at Metadata.
fn level(resource: &str, verb: &str) -> &'static str {
    let (group, _) = api_of(resource);
    if matches!(resource, "secrets" | "configmaps" | "tokenreviews")
        || !KNOWN_GROUPS.contains(&group)
    {
        "Metadata"
    } else if matches!(verb, "get" | "list" | "watch") {
        "Request"
    } else {
        "RequestResponse"
    }
}

/// The request path and `objectRef` of `resource`: in namespace `ns`
/// (cluster-scoped or all namespaces if `None`), object `name` (the
/// collection if `None`), subresource `sub`.
fn target(
    resource: &str,
    ns: Option<&str>,
    name: Option<&str>,
    sub: Option<&str>,
) -> (String, Value) {
    let (group, version) = api_of(resource);
    let mut path = if group.is_empty() {
        "/api/v1".to_owned()
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut r = Map::new();
    r.insert("resource".into(), json!(resource));
    if let Some(ns) = ns {
        path += &format!("/namespaces/{ns}");
        r.insert("namespace".into(), json!(ns));
    }
    path += &format!("/{resource}");
    if let Some(name) = name {
        path += &format!("/{name}");
        r.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        r.insert("apiGroup".into(), json!(group));
    }
    r.insert("apiVersion".into(), json!(version));
    if let Some(sub) = sub {
        path += &format!("/{sub}");
        r.insert("subresource".into(), json!(sub));
    }
    (path, Value::Object(r))
}

// ---------------------------------------------------------------------
// Objects, for the RequestResponse bodies
// ---------------------------------------------------------------------

const ENV: [(&str, &str); 12] = [
    ("LOG_LEVEL", "info"),
    ("LOG_FORMAT", "json"),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://otel-collector.monitoring.svc.cluster.local:4317",
    ),
    ("AWS_REGION", REGION),
    ("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
    (
        "DATABASE_HOST",
        "payments-db.cluster-c9akciq32xyz.us-east-1.rds.amazonaws.com",
    ),
    (
        "REDIS_URL",
        "redis://cache.storefront.svc.cluster.local:6379/0",
    ),
    ("HTTP_PORT", "8080"),
    ("GOMAXPROCS", "2"),
    (
        "JAVA_TOOL_OPTIONS",
        "-XX:MaxRAMPercentage=75.0 -XX:+UseG1GC",
    ),
    (
        "FEATURE_FLAGS_URL",
        "https://flags.internal.example.com/v2/environments/prod",
    ),
    ("SHUTDOWN_GRACE_PERIOD", "25s"),
];

/// `k` environment variables, the realistic ones first.
fn env(k: usize) -> Vec<Value> {
    (0..k)
        .map(|i| {
            let (name, value) = ENV[i % ENV.len()];
            let name = match i / ENV.len() {
                0 => name.to_owned(),
                n => format!("{name}_{n}"),
            };
            json!({"name": name, "value": value})
        })
        .collect()
}

fn image(app: &str) -> String {
    let tag = stable_rng(app).u32(100..999);
    format!(
        "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{app}:v2.{}.{}",
        tag / 10,
        tag % 10
    )
}

/// The application container (defaults filled in, as the API server
/// decodes it); `api_volume` mounts the service account token, as the
/// ServiceAccount admission plugin does.
fn container(app: &str, k: usize, api_volume: Option<&str>) -> Value {
    let mut c = json!({
        "name": app,
        "image": image(app),
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": env(k),
        "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
    });
    if let Some(v) = api_volume {
        c["volumeMounts"] = json!([{"name": v, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]);
    }
    c["terminationMessagePath"] = json!("/dev/termination-log");
    c["terminationMessagePolicy"] = json!("File");
    c["imagePullPolicy"] = json!("IfNotPresent");
    c
}

/// The `fieldsV1` of a managedFields entry owning every field of `v`:
/// `f:<field>` keys, list items keyed by name, type or uid.
fn fields_v1(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                .collect(),
        ),
        Value::Array(items) => {
            let mut out = Map::new();
            for item in items {
                let Some(key) = ["name", "type", "uid", "key"]
                    .into_iter()
                    .find(|k| item.get(k).is_some_and(Value::is_string))
                else {
                    continue;
                };
                let mut fields = json!({".": {}});
                if let Value::Object(m) = fields_v1(item) {
                    fields.as_object_mut().unwrap().extend(m);
                }
                out.insert(format!("k:{{\"{key}\":{}}}", item[key]), fields);
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

fn managed(
    manager: &str,
    op: &str,
    api: &str,
    time: &str,
    sub: Option<&str>,
    owns: &Value,
) -> Value {
    let mut m = json!({"manager": manager, "operation": op, "apiVersion": api, "time": time, "fieldsType": "FieldsV1"});
    m["fieldsV1"] = fields_v1(owns);
    if let Some(s) = sub {
        m["subresource"] = json!(s);
    }
    m
}

/// What the API server adds to an object it stores.
struct Stored {
    uid: String,
    rv: String,
    created: String,
}

/// A pod of `p`'s ReplicaSet with `k` env vars: as the ReplicaSet
/// controller sends it (`stored` None: audit logs the request before
/// admission), or as stored, after admission added the token volume,
/// tolerations and priority.
fn pod_object(p: &Pod, name: &str, k: usize, stored: Option<&Stored>) -> Value {
    let rs = format!("{}-{}", p.app, p.hash);
    let volume = format!("kube-api-access-{}", suffix_from(&mut stable_rng(name), 5));
    let labels = json!({"app.kubernetes.io/name": p.app, "pod-template-hash": p.hash});
    let owners = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": stable_uid(&rs), "controller": true, "blockOwnerDeletion": true}]);
    let mut meta =
        json!({"name": name, "generateName": format!("{rs}-"), "namespace": p.namespace});
    let mut spec = Map::new();
    if stored.is_some() {
        spec.insert("volumes".into(), json!([{"name": volume, "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ], "defaultMode": 420}}]));
    }
    let mount = stored.map(|_| volume.as_str());
    spec.insert("containers".into(), json!([container(p.app, k, mount)]));
    spec.insert("restartPolicy".into(), json!("Always"));
    spec.insert("terminationGracePeriodSeconds".into(), json!(30));
    spec.insert("dnsPolicy".into(), json!("ClusterFirst"));
    spec.insert("serviceAccountName".into(), json!(p.sa));
    spec.insert("serviceAccount".into(), json!(p.sa));
    spec.insert("securityContext".into(), json!({}));
    spec.insert("schedulerName".into(), json!("default-scheduler"));
    let Some(s) = stored else {
        meta["creationTimestamp"] = Value::Null;
        meta["labels"] = labels;
        meta["ownerReferences"] = owners;
        spec.insert("enableServiceLinks".into(), json!(true));
        return json!({"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": {}});
    };
    spec.insert("tolerations".into(), json!([
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    ]));
    spec.insert("priority".into(), json!(0));
    spec.insert("enableServiceLinks".into(), json!(true));
    spec.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
    meta["uid"] = json!(s.uid);
    meta["resourceVersion"] = json!(s.rv);
    meta["creationTimestamp"] = json!(s.created);
    let owned = json!({"metadata": {"generateName": {}, "labels": labels, "ownerReferences": owners}, "spec": {"containers": spec["containers"]}});
    meta["labels"] = labels;
    meta["ownerReferences"] = owners;
    meta["managedFields"] = json!([managed(
        "kube-controller-manager",
        "Update",
        "v1",
        &s.created,
        None,
        &owned
    )]);
    json!({"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": {"phase": "Pending", "qosClass": "Burstable"}})
}

/// Sidecars, for pods/status patches: (name, image).
const SIDECARS: [(&str, &str); 4] = [
    ("istio-proxy", "docker.io/istio/proxyv2:1.23.2"),
    (
        "log-router",
        "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4",
    ),
    (
        "otel-agent",
        "public.ecr.aws/aws-observability/aws-otel-collector:v0.41.1",
    ),
    ("vault-agent", "docker.io/hashicorp/vault:1.17.6"),
];

/// The kubelet's status of a running container.
fn container_status(rng: &mut fastrand::Rng, name: &str, image: &str, since: &str) -> Value {
    let mut hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(rng.u32(0..16), 16).unwrap())
            .collect()
    };
    let repo = image.rsplit_once(':').map_or(image, |(r, _)| r);
    json!({
        "containerID": format!("containerd://{}", hex(64)),
        "image": image,
        "imageID": format!("{repo}@sha256:{}", hex(64)),
        "lastState": {},
        "name": name,
        "ready": true,
        "restartCount": 0,
        "started": true,
        "state": {"running": {"startedAt": since}},
    })
}

/// The Deployment of `app`, as stored, with `k` env vars.
fn deployment_object(
    ns: &str,
    app: &str,
    k: usize,
    rv: &str,
    generation: u32,
    note: Option<&str>,
) -> Value {
    let sa = APPS.iter().find(|a| a.1 == app).map_or(app, |a| a.2);
    let labels = json!({"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": ns});
    let mut template_meta =
        json!({"creationTimestamp": null, "labels": {"app.kubernetes.io/name": app}});
    if let Some(n) = note {
        template_meta["annotations"] = json!({"kubectl.kubernetes.io/restartedAt": "2026-11-26T09:58:12Z", "example.com/owner": n});
    }
    let spec = json!({
        "replicas": 3,
        "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
        "template": {"metadata": template_meta, "spec": {
            "containers": [container(app, k, None)],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": sa, "serviceAccount": sa, "securityContext": {}, "schedulerName": "default-scheduler"
        }},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    });
    let rs = format!("{app}-{}", suffix_from(&mut stable_rng(app), 10));
    let status = json!({
        "observedGeneration": generation, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "conditions": [
            {"type": "Available", "status": "True", "lastUpdateTime": "2026-11-19T14:02:51Z", "lastTransitionTime": "2026-11-19T14:02:51Z", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True", "lastUpdateTime": "2026-11-26T09:58:40Z", "lastTransitionTime": "2026-09-14T08:21:37Z", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs}\" has successfully progressed.")}
        ],
    });
    let meta = json!({
        "name": app, "namespace": ns, "uid": stable_uid(&format!("deploy/{ns}/{app}")), "resourceVersion": rv,
        "generation": generation, "creationTimestamp": "2026-09-14T08:21:37Z", "labels": labels,
        "annotations": {"deployment.kubernetes.io/revision": (generation / 2).to_string()},
        "managedFields": [
            // The fields last set by `kubectl set image` (the rest of the
            // spec predates managedFields).
            managed("kubectl", "Update", "apps/v1", "2026-11-19T14:02:11Z", None, &json!({"spec": {"template": {"spec": {"containers": [{"name": app, "image": ""}]}}}})),
            managed("kube-controller-manager", "Update", "apps/v1", "2026-11-26T09:58:40Z", Some("status"), &json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": {}}}, "status": status})),
        ],
    });
    json!({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": meta, "spec": spec, "status": status})
}

/// A Validating- or MutatingWebhookConfiguration (`kind`) of a policy
/// engine, of `k` webhooks (at least one) that all carry its CA bundle.
fn webhook_object(kind: &str, name: &str, k: usize, stored: Option<&Stored>) -> Value {
    let ca = pem_base64("CERTIFICATE", name);
    let action = if kind.starts_with("Mutating") {
        "mutate"
    } else {
        "validate"
    };
    let webhooks: Vec<Value> = (0..k.max(1))
        .map(|i| json!({
            "name": format!("{action}-{i}.policy.example.com"),
            "clientConfig": {"service": {"namespace": "policy-system", "name": "policy-webhook", "path": format!("/{action}/{i}"), "port": 443}, "caBundle": ca},
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["", "apps", "batch"], "apiVersions": ["v1"], "resources": ["pods", "deployments", "jobs"], "scope": "*"}],
            "failurePolicy": "Fail", "matchPolicy": "Equivalent",
            "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "policy-system"]}]},
            "objectSelector": {}, "sideEffects": "None", "timeoutSeconds": 10, "admissionReviewVersions": ["v1"],
        }))
        .collect();
    let mut meta = json!({"name": name, "labels": {"app.kubernetes.io/managed-by": "Helm"}});
    if let Some(s) = stored {
        meta["uid"] = json!(s.uid);
        meta["resourceVersion"] = json!(s.rv);
        meta["generation"] = json!(3);
        meta["creationTimestamp"] = json!(s.created);
    }
    json!({"kind": kind, "apiVersion": "admissionregistration.k8s.io/v1", "metadata": meta, "webhooks": webhooks})
}

/// Base64 of a PEM block of `label` (CERTIFICATE, CERTIFICATE REQUEST)
/// whose DER is random but stable for `name`, as in a `caBundle` or a
/// CSR's `request`.
fn pem_base64(label: &str, name: &str) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let base64 = |bytes: &[u8]| -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, b| n << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..4 {
                let c = if i <= chunk.len() {
                    B64[(n >> (18 - 6 * i) & 63) as usize]
                } else {
                    b'='
                };
                out.push(c as char);
            }
        }
        out
    };
    let mut rng = stable_rng(name);
    let der: Vec<u8> = (0..780).map(|_| rng.u8(..)).collect();
    let body = base64(&der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    base64(pem.as_bytes())
}

/// The server's copy of `body`: it adds uid, resourceVersion and
/// creationTimestamp to the metadata.
fn stored_copy(body: &Value, s: &Stored) -> Value {
    let mut out = body.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("uid".into(), json!(s.uid));
        meta.insert("resourceVersion".into(), json!(s.rv));
        meta.insert("creationTimestamp".into(), json!(s.created));
    }
    out
}

// ---------------------------------------------------------------------
// Row builders, in the table's order
// ---------------------------------------------------------------------

/// A leader-elected component: who it is and the kube-system lease it
/// holds (or waits for).
#[derive(Clone, Copy)]
struct Leader {
    user: &'static str,
    lease: &'static str,
    agent: &'static str,
    reason: &'static str,
    /// The Deployment whose pods run it, if it runs in the cluster.
    deploy: Option<&'static str>,
    /// Seconds between two tries to renew or acquire the lease (client-go
    /// and controller-runtime: 2; the CSI sidecars: 5).
    retry: u32,
}

const LEADERS: [Leader; 10] = [
    Leader {
        user: "system:kube-controller-manager",
        lease: "kube-controller-manager",
        agent: "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/leader-election",
        reason: "RBAC: allowed by ClusterRoleBinding \"system:kube-controller-manager\" of ClusterRole \"system:kube-controller-manager\" to User \"system:kube-controller-manager\"",
        deploy: None,
        retry: 2,
    },
    Leader {
        user: "system:kube-scheduler",
        lease: "kube-scheduler",
        agent: "kube-scheduler/v1.31.2 (linux/amd64) kubernetes/5864a46/leader-election",
        reason: "RBAC: allowed by ClusterRoleBinding \"system:kube-scheduler\" of ClusterRole \"system:kube-scheduler\" to User \"system:kube-scheduler\"",
        deploy: None,
        retry: 2,
    },
    Leader {
        user: "eks:cloud-controller-manager",
        lease: "cloud-controller-manager",
        agent: "aws-cloud-controller-manager/v1.31.0 (linux/amd64) kubernetes/$Format/leader-election",
        reason: "RBAC: allowed by ClusterRoleBinding \"eks:cloud-controller-manager\" of ClusterRole \"eks:cloud-controller-manager\" to User \"eks:cloud-controller-manager\"",
        deploy: None,
        retry: 2,
    },
    Leader {
        user: "eks:addon-manager",
        lease: "eks-addon-manager",
        agent: "eks-addon-manager/v0.1.0 (linux/amd64) kubernetes/$Format/leader-election",
        reason: "RBAC: allowed by RoleBinding \"eks:addon-manager/kube-system\" of Role \"eks:addon-manager\" to User \"eks:addon-manager\"",
        deploy: None,
        retry: 2,
    },
    Leader {
        user: "eks:vpc-resource-controller",
        lease: "cp-vpc-resource-controller",
        agent: "controller/v0.0.0 (linux/amd64) kubernetes/$Format/leader-election",
        reason: "RBAC: allowed by RoleBinding \"eks-vpc-resource-controller-rolebinding/kube-system\" of Role \"eks-vpc-resource-controller-role\" to User \"eks:vpc-resource-controller\"",
        deploy: None,
        retry: 2,
    },
    Leader {
        user: "eks:certificate-controller",
        lease: "eks-certificates-controller",
        agent: "eks-certificates-controller/v0.0.0 (linux/amd64) kubernetes/$Format/leader-election",
        reason: "RBAC: allowed by RoleBinding \"eks:certificate-controller/kube-system\" of Role \"eks:certificate-controller\" to User \"eks:certificate-controller\"",
        deploy: None,
        retry: 2,
    },
    Leader {
        user: "system:serviceaccount:kube-system:aws-load-balancer-controller",
        lease: "aws-load-balancer-controller-leader",
        agent: "controller/v0.0.0 (linux/amd64) kubernetes/$Format/leader-election",
        reason: "RBAC: allowed by RoleBinding \"aws-load-balancer-controller-leader-election-rolebinding/kube-system\" of Role \"aws-load-balancer-controller-leader-election-role\" to ServiceAccount \"aws-load-balancer-controller/kube-system\"",
        deploy: Some("aws-load-balancer-controller"),
        retry: 2,
    },
    Leader {
        user: "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        lease: "ebs-csi-aws-com",
        agent: "csi-provisioner/v5.1.0 (linux/amd64) kubernetes/$Format",
        reason: "RBAC: allowed by RoleBinding \"ebs-csi-leases-rolebinding/kube-system\" of Role \"ebs-csi-leases-role\" to ServiceAccount \"ebs-csi-controller-sa/kube-system\"",
        deploy: Some("ebs-csi-controller"),
        retry: 5,
    },
    Leader {
        user: "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        lease: "external-attacher-leader-ebs-csi-aws-com",
        agent: "csi-attacher/v4.7.0 (linux/amd64) kubernetes/$Format",
        reason: "RBAC: allowed by RoleBinding \"ebs-csi-leases-rolebinding/kube-system\" of Role \"ebs-csi-leases-role\" to ServiceAccount \"ebs-csi-controller-sa/kube-system\"",
        deploy: Some("ebs-csi-controller"),
        retry: 5,
    },
    Leader {
        user: "system:serviceaccount:karpenter:karpenter",
        lease: "karpenter-leader-election",
        agent: "karpenter/v1.1.1 (linux/amd64) kubernetes/$Format/leader-election",
        reason: "RBAC: allowed by RoleBinding \"karpenter-lease/kube-system\" of Role \"karpenter-lease\" to ServiceAccount \"karpenter/karpenter\"",
        deploy: Some("karpenter"),
        retry: 2,
    },
];

impl Gen {
    /// Row "leader-elected components, update 55 / get 45, leases": every
    /// 2 s the leader renews its lease and the standbys read it.
    fn leader_lease(&mut self, _: usize) -> Vec<Value> {
        // Each component tries every `retry` seconds: draw it that often.
        let l = self.weighted(&LEADERS.map(|l| (10 / l.retry, l)));
        let update = self.chance(55);
        // The leader and a standby run on different hosts.
        let (user, ip) = match (l.deploy, l.user.strip_prefix("system:serviceaccount:")) {
            (Some(deploy), Some(sa)) => {
                let (ns, name) = sa.split_once(':').unwrap();
                let host = if update {
                    deploy.to_owned()
                } else {
                    format!("{deploy}-standby")
                };
                (sa_user(ns, name), self.host_of(&host).ip)
            }
            _ => (
                control_user(l.user),
                CONTROL_PLANE_IPS[usize::from(update)].to_owned(),
            ),
        };
        // An update's objectRef has the uid and resourceVersion of the
        // object it sends; a get's has neither.
        let (_, mut object_ref) = target("leases", Some("kube-system"), Some(l.lease), None);
        if update {
            let rv = self.rv();
            let o = object_ref.as_object_mut().unwrap();
            o.insert(
                "uid".into(),
                json!(stable_uid(&format!("lease/{}", l.lease))),
            );
            o.insert("resourceVersion".into(), json!(rv));
        }
        let latency_us = self.rng.u64(900..6_000);
        self.emit(Call {
            verb: if update { "update" } else { "get" },
            uri: format!(
                "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{}?timeout=5s",
                l.lease
            ),
            user,
            ips: vec![ip],
            agent: l.agent.to_owned(),
            object_ref: Some(object_ref),
            reason: l.reason.to_owned(),
            latency_us,
            ..Call::default()
        })
    }

    /// Row "`system:node:*` update leases": each kubelet renews its node
    /// lease every 10 s.
    fn node_lease(&mut self, _: usize) -> Vec<Value> {
        let node = self.any_node();
        let rv = self.rv();
        let latency_us = self.rng.u64(1_500..9_000);
        self.emit(Call {
            verb: "update",
            uri: format!(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{}?timeout=10s",
                node.name
            ),
            user: node_user(&node),
            ips: vec![node.ip.clone()],
            agent: KUBELET_AGENT.to_owned(),
            object_ref: Some(json!({
                "resource": "leases", "namespace": "kube-node-lease", "name": node.name,
                "uid": stable_uid(&format!("lease/{}", node.name)),
                "apiGroup": "coordination.k8s.io", "apiVersion": "v1", "resourceVersion": rv,
            })),
            reason: NODE_REASON.to_owned(),
            latency_us,
            ..Call::default()
        })
    }

    /// Row "`system:node:*` watch (2 stages)": a kubelet watches each
    /// configmap and secret its pods mount, one object per watch, and its
    /// pods, its node object and the services.
    fn node_watch(&mut self, _: usize) -> Vec<Value> {
        let (pod, node) = self.any_pod();
        let what = self.weighted(&[
            (35, "configmaps"),
            (25, "secrets"),
            (15, "pods"),
            (15, "nodes"),
            (10, "services"),
        ]);
        let (path, object_ref, selector) = match what {
            "configmaps" | "secrets" => {
                let name = match (what, self.rng.u8(0..3)) {
                    ("configmaps", 0) => "kube-root-ca.crt".to_owned(),
                    ("configmaps", _) => format!("{}-config", pod.app),
                    (_, 0) => format!("{}-tls", pod.app),
                    _ => format!("{}-credentials", pod.app),
                };
                let (path, r) = target(what, Some(pod.namespace), None, None);
                let mut r = r;
                r["name"] = json!(name);
                (path, r, format!("&fieldSelector=metadata.name%3D{name}"))
            }
            "pods" => {
                let (path, r) = target("pods", None, None, None);
                (
                    path,
                    r,
                    format!("&fieldSelector=spec.nodeName%3D{}", node.name),
                )
            }
            "nodes" => {
                let (path, mut r) = target("nodes", None, None, None);
                r["name"] = json!(node.name);
                (
                    path,
                    r,
                    format!("&fieldSelector=metadata.name%3D{}", node.name),
                )
            }
            _ => {
                let (path, r) = target("services", None, None, None);
                (path, r, String::new())
            }
        };
        let (query, latency_us) = self.watch_query(&selector);
        let started = self.rng.u64(400..4_000);
        self.emit_two(
            Call {
                level: level(what, "watch"),
                verb: "watch",
                uri: format!("{path}?{query}"),
                user: node_user(&node),
                ips: vec![node.ip.clone()],
                agent: KUBELET_AGENT.to_owned(),
                object_ref: Some(object_ref),
                reason: NODE_REASON.to_owned(),
                latency_us,
                ..Call::default()
            },
            started,
        )
    }

    /// Row "DaemonSet service accounts, watch 80 / get+list 20":
    /// kube-proxy, the VPC CNI and the EBS CSI node plugin on every node.
    fn daemonset_read(&mut self, _: usize) -> Vec<Value> {
        const PROXY_SELECTOR: &str = "&labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name";
        let node = self.any_node();
        // (service account, user agent, RBAC binding, what it follows).
        let (sa, agent, binding, resources): (_, _, _, &[&str]) = self.pick(&[
            (
                "kube-proxy",
                "kube-proxy/v1.31.2 (linux/amd64) kubernetes/5864a46",
                "ClusterRoleBinding \"eks:kube-proxy\" of ClusterRole \"system:node-proxier\"",
                &["endpointslices", "services", "nodes"][..],
            ),
            (
                "aws-node",
                "amazon-vpc-cni-k8s/v1.19.0 (linux/amd64) kubernetes/$Format",
                "ClusterRoleBinding \"aws-node\" of ClusterRole \"aws-node\"",
                &["pods", "nodes"][..],
            ),
            (
                "ebs-csi-node-sa",
                "aws-ebs-csi-driver/v1.37.0 (linux/amd64) kubernetes/$Format",
                "ClusterRoleBinding \"ebs-csi-node-binding\" of ClusterRole \"ebs-csi-node-role\"",
                &["nodes", "pods"][..],
            ),
        ]);
        let resource = self.pick(resources);
        let selector = match resource {
            "endpointslices" | "services" => PROXY_SELECTOR.to_owned(),
            "pods" => format!("&fieldSelector=spec.nodeName%3D{}", node.name),
            _ => format!("&fieldSelector=metadata.name%3D{}", node.name),
        };
        let mut c = Call {
            level: level(resource, "get"),
            user: sa_user("kube-system", sa),
            ips: vec![node.ip.clone()],
            agent: agent.to_owned(),
            reason: format!("RBAC: allowed by {binding} to ServiceAccount \"{sa}/kube-system\""),
            ..Call::default()
        };
        match self.rng.u8(0..6) {
            // Watches: two draws in three, two events each.
            0..4 => {
                let (path, r) = target(resource, None, None, None);
                let (query, latency_us) = self.watch_query(&selector);
                let started = self.rng.u64(400..4_000);
                c.verb = "watch";
                c.uri = format!("{path}?{query}");
                c.object_ref = Some(r);
                c.latency_us = latency_us;
                self.emit_two(c, started)
            }
            4 if resource == "nodes" => {
                let (path, r) = target("nodes", None, Some(&node.name), None);
                c.uri = path;
                c.object_ref = Some(r);
                c.latency_us = self.rng.u64(800..4_000);
                self.emit(c)
            }
            _ => {
                let (path, r) = target(resource, None, None, None);
                c.verb = "list";
                let selector = selector.trim_start_matches('&');
                c.uri = format!("{path}?{selector}&limit=500&resourceVersion=0");
                c.object_ref = Some(r);
                c.latency_us = self.rng.u64(2_000..40_000);
                self.emit(c)
            }
        }
    }

    /// Row "controller/operator service accounts, get/list/watch":
    /// controllers and operators read what they reconcile.
    fn controller_read(&mut self, _: usize) -> Vec<Value> {
        // (namespace, service account, Deployment (None: in
        // kube-controller-manager), RBAC binding, resources).
        type Controller = (
            &'static str,
            &'static str,
            Option<&'static str>,
            &'static str,
            &'static [&'static str],
        );
        const CONTROLLERS: [Controller; 6] = [
            (
                "kube-system",
                "deployment-controller",
                None,
                "ClusterRoleBinding \"system:controller:deployment-controller\" of ClusterRole \"system:controller:deployment-controller\"",
                &["deployments", "replicasets", "pods"],
            ),
            (
                "kube-system",
                "replicaset-controller",
                None,
                "ClusterRoleBinding \"system:controller:replicaset-controller\" of ClusterRole \"system:controller:replicaset-controller\"",
                &["replicasets", "pods"],
            ),
            (
                "karpenter",
                "karpenter",
                Some("karpenter"),
                "ClusterRoleBinding \"karpenter-core\" of ClusterRole \"karpenter-core\"",
                &["nodepools", "nodeclaims", "ec2nodeclasses", "pods"],
            ),
            (
                "cert-manager",
                "cert-manager",
                Some("cert-manager"),
                "ClusterRoleBinding \"cert-manager-controller-certificates\" of ClusterRole \"cert-manager-controller-certificates\"",
                &["certificates", "certificaterequests", "issuers"],
            ),
            (
                "kube-system",
                "aws-load-balancer-controller",
                Some("aws-load-balancer-controller"),
                "ClusterRoleBinding \"aws-load-balancer-controller-rolebinding\" of ClusterRole \"aws-load-balancer-controller-role\"",
                &["targetgroupbindings", "pods"],
            ),
            (
                "argocd",
                "argocd-application-controller",
                Some("argocd-application-controller"),
                "ClusterRoleBinding \"argocd-application-controller\" of ClusterRole \"argocd-application-controller\"",
                &["applications", "deployments", "replicasets"],
            ),
        ];
        let (ns, sa, deploy, binding, resources) = self.pick(&CONTROLLERS);
        let resource = self.pick(resources);
        let (user, ip, agent) = match deploy {
            Some(d) => {
                let agent = format!("{d}/v1.1.1 (linux/amd64) kubernetes/$Format");
                (sa_user(ns, sa), self.host_of(d).ip, agent)
            }
            None => {
                let ip = self.pick(&CONTROL_PLANE_IPS).to_owned();
                let agent = format!("{KCM_AGENT}/system:serviceaccount:{ns}:{sa}");
                (sa_user(ns, sa), ip, agent)
            }
        };
        let mut c = Call {
            level: level(resource, "get"),
            user,
            ips: vec![ip],
            agent,
            reason: format!("RBAC: allowed by {binding} to ServiceAccount \"{sa}/{ns}\""),
            ..Call::default()
        };
        let verb = self.weighted(&[(50, "get"), (20, "list"), (30, "watch")]);
        if verb == "get" {
            let (ns, name) = self.object_name(resource);
            let (path, r) = target(resource, ns.as_deref(), Some(&name), None);
            c.uri = path;
            c.object_ref = Some(r);
            c.latency_us = self.rng.u64(700..5_000);
            return self.emit(c);
        }
        let (path, r) = target(resource, None, None, None);
        c.object_ref = Some(r);
        if verb == "list" {
            c.verb = "list";
            c.uri = format!("{path}?limit=500&resourceVersion=0");
            c.latency_us = self.rng.u64(3_000..60_000);
            return self.emit(c);
        }
        let (query, latency_us) = self.watch_query("");
        let started = self.rng.u64(400..4_000);
        c.verb = "watch";
        c.uri = format!("{path}?{query}");
        c.latency_us = latency_us;
        self.emit_two(c, started)
    }

    /// A realistic (namespace, name) of an object of `resource`.
    fn object_name(&mut self, resource: &str) -> (Option<String>, String) {
        let (pod, _) = self.any_pod();
        let ns = Some(pod.namespace.to_owned());
        match resource {
            "deployments" => (ns, pod.app.to_owned()),
            "replicasets" => (ns, format!("{}-{}", pod.app, pod.hash)),
            "pods" => (ns, pod.name),
            "nodepools" => (
                None,
                self.pick(&["general-purpose", "system", "gpu-inference"])
                    .to_owned(),
            ),
            "nodeclaims" => (None, format!("general-purpose-{}", self.suffix(5))),
            "ec2nodeclasses" => (None, "default".to_owned()),
            "certificates" => (ns, format!("{}-tls", pod.app)),
            "certificaterequests" => (ns, format!("{}-tls-{}", pod.app, self.rng.u8(1..40))),
            "issuers" => (ns, "letsencrypt-prod".to_owned()),
            "targetgroupbindings" => (
                ns,
                format!(
                    "k8s-{}-{}-{}",
                    &pod.namespace[..pod.namespace.len().min(7)],
                    &pod.app[..pod.app.len().min(7)],
                    self.hex(10)
                ),
            ),
            "applications" => (Some("argocd".to_owned()), pod.app.to_owned()),
            _ => (ns, pod.name),
        }
    }

    /// Row "controller/operator service accounts, update/patch/create".
    /// Writes to known API groups are logged with both bodies; those to
    /// custom resources (15% here) at Metadata, about 1 KB, so the others
    /// are sized to 6.9 KB for the row to average the table's 6 KB.
    fn controller_write(&mut self, target_bytes: usize) -> Vec<Value> {
        let want = self.jitter(target_bytes * 115 / 100);
        let cp_ip = self.pick(&CONTROL_PLANE_IPS).to_owned();
        let latency_us = self.rng.u64(4_000..25_000);
        let rv = self.rv();
        let (pod, _) = self.any_pod();
        let c = match self.rng.u8(0..20) {
            // The ReplicaSet controller creates a pod.
            0..6 => {
                let name = format!("{}-{}-{}", pod.app, pod.hash, self.suffix(5));
                let s = self.stored();
                let (path, r) = target("pods", Some(pod.namespace), Some(&name), None);
                let path = path.rsplit_once('/').unwrap().0.to_owned();
                sized(want, |k| {
                    Call {
                    level: "RequestResponse",
                    verb: "create",
                    uri: path.clone(),
                    user: sa_user("kube-system", "replicaset-controller"),
                    ips: vec![cp_ip.clone()],
                    agent: format!("{KCM_AGENT}/system:serviceaccount:kube-system:replicaset-controller"),
                    object_ref: Some(r.clone()),
                    code: 201,
                    request: Some(pod_object(&pod, &name, k, None)),
                    response: Some(pod_object(&pod, &name, k, Some(&s))),
                    reason: "RBAC: allowed by ClusterRoleBinding \"system:controller:replicaset-controller\" of ClusterRole \"system:controller:replicaset-controller\" to ServiceAccount \"replicaset-controller/kube-system\"".to_owned(),
                    annotations: vec![("pod-security.kubernetes.io/enforce-policy", "privileged:latest".to_owned())],
                    latency_us,
                    ..Call::default()
                }
                })
            }
            // The Deployment controller updates a rollout's status.
            6..10 => {
                let generation = self.rng.u32(20..90);
                let (path, r) = target(
                    "deployments",
                    Some(pod.namespace),
                    Some(pod.app),
                    Some("status"),
                );
                sized(want, |k| {
                    Call {
                    level: "RequestResponse",
                    verb: "update",
                    uri: path.clone(),
                    user: sa_user("kube-system", "deployment-controller"),
                    ips: vec![cp_ip.clone()],
                    agent: format!("{KCM_AGENT}/system:serviceaccount:kube-system:deployment-controller"),
                    object_ref: Some(r.clone()),
                    request: Some(deployment_object(pod.namespace, pod.app, k, &rv, generation, None)),
                    response: Some(deployment_object(pod.namespace, pod.app, k, &(rv.clone() + "1"), generation, None)),
                    reason: "RBAC: allowed by ClusterRoleBinding \"system:controller:deployment-controller\" of ClusterRole \"system:controller:deployment-controller\" to ServiceAccount \"deployment-controller/kube-system\"".to_owned(),
                    latency_us,
                    ..Call::default()
                }
                })
            }
            // The EndpointSlice controller follows the pods of a service.
            10..17 => {
                let name = format!("{}-{}", pod.app, suffix_from(&mut stable_rng(pod.app), 5));
                let (path, r) = target("endpointslices", Some(pod.namespace), Some(&name), None);
                let members: Vec<(Pod, Node)> = (0..64).map(|_| self.any_pod()).collect();
                let changed = stamp_s(self.now_us.saturating_sub(1_000_000));
                sized(want, |k| {
                    let body =
                        endpointslice_object(&pod, &name, &members[..k.min(64)], &rv, &changed);
                    Call {
                        level: "RequestResponse",
                        verb: "update",
                        uri: path.clone(),
                        user: sa_user("kube-system", "endpointslice-controller"),
                        ips: vec![cp_ip.clone()],
                        agent: format!("{KCM_AGENT}/system:serviceaccount:kube-system:endpointslice-controller"),
                        object_ref: Some(r.clone()),
                        request: Some(body.clone()),
                        response: Some(body),
                        reason: "RBAC: allowed by ClusterRoleBinding \"system:controller:endpointslice-controller\" of ClusterRole \"system:controller:endpointslice-controller\" to ServiceAccount \"endpointslice-controller/kube-system\"".to_owned(),
                        latency_us,
                        ..Call::default()
                    }
                })
            }
            // Karpenter patches a NodePool's status (a custom resource).
            _ => {
                let pool = self.pick(&["general-purpose", "system", "gpu-inference"]);
                let (path, r) = target("nodepools", None, Some(pool), Some("status"));
                Call {
                    level: level("nodepools", "patch"),
                    verb: "patch",
                    uri: path,
                    user: sa_user("karpenter", "karpenter"),
                    ips: vec![self.host_of("karpenter").ip],
                    agent: "karpenter/v1.1.1 (linux/amd64) kubernetes/$Format".to_owned(),
                    object_ref: Some(r),
                    reason: "RBAC: allowed by ClusterRoleBinding \"karpenter-core\" of ClusterRole \"karpenter-core\" to ServiceAccount \"karpenter/karpenter\"".to_owned(),
                    latency_us,
                    ..Call::default()
                }
            }
        };
        self.emit(c)
    }

    /// Row "`system:node:*` create serviceaccounts/token": a kubelet
    /// requests a bound token for a pod it runs, about hourly per pod.
    /// Logged with the request body, not the response (the token): level
    /// Request, the nearest to the table's 1.5 KB (upstream's policy logs
    /// TokenRequests at Metadata, ~1 KB; EKS's, which has no rule for
    /// them, at RequestResponse, ~3 KB with the token).
    fn node_token(&mut self, _: usize) -> Vec<Value> {
        let (pod, node) = self.any_pod();
        let (path, r) = target(
            "serviceaccounts",
            Some(pod.namespace),
            Some(pod.sa),
            Some("token"),
        );
        let latency_us = self.rng.u64(2_000..9_000);
        let jti = self.uid();
        self.emit(Call {
            level: "Request",
            verb: "create",
            uri: path,
            user: node_user(&node),
            ips: vec![node.ip.clone()],
            agent: KUBELET_AGENT.to_owned(),
            object_ref: Some(r),
            code: 201,
            request: Some(json!({
                "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3607,
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": pod.name, "uid": pod.uid}},
                "status": {"token": "", "expirationTimestamp": null},
            })),
            reason: NODE_REASON.to_owned(),
            annotations: vec![("authentication.kubernetes.io/issued-credential-id", format!("JTI={jti}"))],
            latency_us,
            ..Call::default()
        })
    }

    /// Row "`system:node:*` patch nodes/status, pods/status": the kubelet
    /// reports its node's heartbeat (with its image list when that
    /// changed) and its pods' state. EKS's policy, like upstream's, logs
    /// these at level Request: the patch, not the object returned.
    fn node_status_patch(&mut self, target_bytes: usize) -> Vec<Value> {
        let want = self.jitter(target_bytes);
        let (pod, node) = self.any_pod();
        let latency_us = self.rng.u64(3_000..15_000);
        let now = stamp_s(self.now_us);
        let base = Call {
            level: "Request",
            verb: "patch",
            user: node_user(&node),
            ips: vec![node.ip.clone()],
            agent: KUBELET_AGENT.to_owned(),
            reason: NODE_REASON.to_owned(),
            latency_us,
            ..Call::default()
        };
        let c = if self.chance(40) {
            let (path, r) = target("nodes", None, Some(&node.name), Some("status"));
            let types = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"];
            let order: Vec<Value> = types.iter().map(|t| json!({"type": t})).collect();
            let beats: Vec<Value> = types
                .iter()
                .map(|t| json!({"lastHeartbeatTime": now, "type": t}))
                .collect();
            sized(want, |k| {
                let mut status = json!({"$setElementOrder/conditions": order, "conditions": beats});
                if k > 0 {
                    status["images"] = json!(node_images(&node, k));
                }
                Call {
                    uri: path.clone(),
                    object_ref: Some(r.clone()),
                    request: Some(json!({"status": status})),
                    ..base.clone()
                }
            })
        } else {
            let (path, r) = target("pods", Some(pod.namespace), Some(&pod.name), Some("status"));
            let since = stamp_s(self.now_us.saturating_sub(4_000_000));
            let seed = self.rng.u64(..);
            sized(want, |k| {
                let mut rng = fastrand::Rng::with_seed(seed);
                let mut statuses =
                    vec![container_status(&mut rng, pod.app, &image(pod.app), &since)];
                for i in 0..k {
                    let (name, image) = SIDECARS[i % SIDECARS.len()];
                    let name = match i / SIDECARS.len() {
                        0 => name.to_owned(),
                        n => format!("{name}-{n}"),
                    };
                    statuses.push(container_status(&mut rng, &name, image, &since));
                }
                Call {
                    uri: path.clone(),
                    object_ref: Some(r.clone()),
                    request: Some(json!({
                        "metadata": {"uid": pod.uid},
                        "status": {
                            "$setElementOrder/conditions": [{"type": "PodReadyToStartContainers"}, {"type": "Initialized"}, {"type": "Ready"}, {"type": "ContainersReady"}, {"type": "PodScheduled"}],
                            "conditions": [{"lastTransitionTime": since, "status": "True", "type": "Ready"}, {"lastTransitionTime": since, "status": "True", "type": "ContainersReady"}],
                            "containerStatuses": statuses,
                        },
                    })),
                    ..base.clone()
                }
            })
        };
        self.emit(c)
    }

    /// Row "system principals, get /api, /apis, /openapi/v3, /livez,
    /// /readyz": discovery and health checks (no objectRef).
    fn non_resource_get(&mut self, _: usize) -> Vec<Value> {
        let path = self.pick(&["/api", "/apis", "/openapi/v3", "/livez", "/readyz"]);
        let (user, ip, agent) = match self.rng.u8(0..4) {
            0 => (
                control_user("eks:k8s-metrics"),
                self.pick(&CONTROL_PLANE_IPS).to_owned(),
                "eks-k8s-metrics/v0.0.0 (linux/amd64) kubernetes/$Format".to_owned(),
            ),
            1 => (
                control_user("system:kube-controller-manager"),
                self.pick(&CONTROL_PLANE_IPS).to_owned(),
                format!("{KCM_AGENT}/system:serviceaccount:kube-system:generic-garbage-collector"),
            ),
            _ => {
                let (deploy, sa, agent) = self.pick(&[
                    (
                        "coredns",
                        "coredns",
                        "coredns/v1.11.3 (linux/amd64) kubernetes/$Format",
                    ),
                    (
                        "metrics-server",
                        "metrics-server",
                        "metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format",
                    ),
                    (
                        "aws-load-balancer-controller",
                        "aws-load-balancer-controller",
                        "controller/v0.0.0 (linux/amd64) kubernetes/$Format",
                    ),
                ]);
                (
                    sa_user("kube-system", sa),
                    self.host_of(deploy).ip,
                    agent.to_owned(),
                )
            }
        };
        let health = path.ends_with('z');
        let latency_us = self.rng.u64(300..3_000);
        self.emit(Call {
            uri: path.to_owned(),
            user,
            ips: vec![ip],
            agent,
            reason: if health {
                HEALTH_REASON
            } else {
                DISCOVERY_REASON
            }
            .to_owned(),
            latency_us,
            ..Call::default()
        })
    }

    /// Row "system service accounts, create tokenreviews,
    /// subjectaccessreviews": servers that delegate authentication and
    /// authorization to the API server (metrics-server, webhooks). Token
    /// reviews are logged at Metadata (they hold tokens), access reviews
    /// with their bodies.
    fn review(&mut self, _: usize) -> Vec<Value> {
        let (deploy, sa) = self.pick(&[
            ("metrics-server", "metrics-server"),
            (
                "aws-load-balancer-controller",
                "aws-load-balancer-controller",
            ),
            ("eks-pod-identity-webhook", "eks-pod-identity-webhook"),
        ]);
        let node = self.host_of(deploy);
        let latency_us = self.rng.u64(1_000..8_000);
        let mut c = Call {
            verb: "create",
            user: sa_user("kube-system", sa),
            ips: vec![node.ip.clone()],
            agent: format!("{deploy}/v0.7.2 (linux/amd64) kubernetes/$Format"),
            code: 201,
            reason: format!(
                "RBAC: allowed by ClusterRoleBinding \"{sa}:system:auth-delegator\" of ClusterRole \"system:auth-delegator\" to ServiceAccount \"{sa}/kube-system\""
            ),
            latency_us,
            ..Call::default()
        };
        if self.chance(55) {
            let (path, r) = target("tokenreviews", None, None, None);
            c.uri = path;
            c.object_ref = Some(r);
        } else {
            let (path, r) = target("subjectaccessreviews", None, None, None);
            let (asker, _) = self.any_pod();
            let spec = json!({
                "nonResourceAttributes": {"path": "/metrics", "verb": "get"},
                "user": format!("system:serviceaccount:{}:{}", asker.namespace, asker.sa),
                "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{}", asker.namespace), "system:authenticated"],
                "uid": stable_uid(&format!("sa/{}/{}", asker.namespace, asker.sa)),
            });
            c.level = "RequestResponse";
            c.uri = path;
            c.object_ref = Some(r);
            c.request = Some(
                json!({"kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {"creationTimestamp": null}, "spec": spec, "status": {"allowed": false}}),
            );
            c.response = Some(json!({
                "kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": null}, "spec": spec,
                "status": {"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"prometheus\" of ClusterRole \"prometheus\" to ServiceAccount \"prometheus/monitoring\""},
            }));
        }
        self.emit(c)
    }

    /// Row "humans and CI (IAM roles)": kubectl and Helm from people and
    /// pipelines; the writes carry their bodies (and non-ASCII text).
    fn human(&mut self, target_bytes: usize) -> Vec<Value> {
        /// Draw weights; exec and port-forward log two stages. The reads
        /// are 1.3-1.5 KB (the IAM identity in `user.extra`), so the
        /// bodies of the patches are sized to 7 KB for the row to average
        /// the table's 3 KB.
        const HUMAN_ACTIONS: [(u32, &str); 8] = [
            (18, "get pods"),
            (10, "list pods"),
            (8, "exec"),
            (4, "portforward"),
            (8, "get secret"),
            (20, "patch deployment"),
            (7, "create rolebinding"),
            (5, "patch webhook"),
        ];
        let who = self.pick(&[ADMIN, CI, DEV]);
        let (pod, _) = self.any_pod();
        let ns = pod.namespace;
        let write_bytes = self.jitter(target_bytes * 7 / 3);
        let latency_us = self.rng.u64(3_000..30_000);
        let rv = self.rv();
        let base = Call {
            user: iam_user(&who),
            ips: vec![who.ip.to_owned()],
            agent: who.agent.to_owned(),
            reason: who.reason.to_owned(),
            latency_us,
            ..Call::default()
        };
        match self.weighted(&HUMAN_ACTIONS) {
            "get pods" => {
                let (path, r) = target("pods", Some(ns), Some(&pod.name), None);
                self.emit(Call {
                    level: "Request",
                    uri: path,
                    object_ref: Some(r),
                    ..base
                })
            }
            "list pods" => {
                let (path, r) = target("pods", Some(ns), None, None);
                self.emit(Call {
                    level: "Request",
                    verb: "list",
                    uri: format!("{path}?limit=500"),
                    object_ref: Some(r),
                    ..base
                })
            }
            sub @ ("exec" | "portforward") => {
                let (path, r) = target("pods", Some(ns), Some(&pod.name), Some(sub));
                let uri = if sub == "exec" {
                    format!(
                        "{path}?command=sh&command=-c&command=cat+%2Fetc%2Fresolv.conf&container={}&stdin=true&stdout=true&tty=true",
                        pod.app
                    )
                } else {
                    path
                };
                let c = Call {
                    level: "RequestResponse",
                    verb: "create",
                    uri,
                    object_ref: Some(r),
                    code: 101,
                    latency_us: self.rng.u64(20_000_000..600_000_000),
                    ..base
                };
                let started = self.rng.u64(20_000..90_000);
                self.emit_two(c, started)
            }
            "get secret" => {
                let (path, r) = target(
                    "secrets",
                    Some(ns),
                    Some(&format!("{}-credentials", pod.app)),
                    None,
                );
                self.emit(Call {
                    uri: path,
                    object_ref: Some(r),
                    ..base
                })
            }
            "patch deployment" => {
                let (path, r) = target("deployments", Some(ns), Some(pod.app), None);
                let generation = self.rng.u32(20..90);
                let patch = json!({"spec": {"template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-26T09:58:12Z", "example.com/owner": NON_ASCII}},
                    "spec": {"containers": [{"name": pod.app, "image": image(pod.app)}]},
                }}});
                let c = sized(write_bytes, |k| Call {
                    level: "RequestResponse",
                    verb: "patch",
                    uri: format!("{path}?fieldManager=kubectl-patch"),
                    object_ref: Some(r.clone()),
                    request: Some(patch.clone()),
                    response: Some(deployment_object(
                        ns,
                        pod.app,
                        k,
                        &rv,
                        generation,
                        Some(NON_ASCII),
                    )),
                    ..base.clone()
                });
                self.emit(c)
            }
            "create rolebinding" => {
                let (path, r) = target("rolebindings", Some(ns), Some("oncall-view"), None);
                let s = self.stored();
                let body = rolebinding_object(ns, "oncall-view", "view", 3);
                self.emit(Call {
                    level: "RequestResponse",
                    verb: "create",
                    uri: format!(
                        "{}?fieldManager=kubectl-create&fieldValidation=Strict",
                        path.rsplit_once('/').unwrap().0
                    ),
                    object_ref: Some(r),
                    code: 201,
                    response: Some(stored_copy(&body, &s)),
                    request: Some(body),
                    ..base
                })
            }
            _ => {
                let name = "policy-validating-webhook";
                let (path, r) = target("validatingwebhookconfigurations", None, Some(name), None);
                let s = Stored {
                    uid: stable_uid(name),
                    rv: rv.clone(),
                    created: "2026-10-02T11:40:09Z".to_owned(),
                };
                let c = sized(write_bytes, |k| Call {
                    level: "RequestResponse",
                    verb: "patch",
                    uri: format!("{path}?fieldManager=helm"),
                    agent: "Helm/3.16.2".to_owned(),
                    object_ref: Some(r.clone()),
                    request: Some(webhook_object(
                        "ValidatingWebhookConfiguration",
                        name,
                        k,
                        None,
                    )),
                    response: Some(webhook_object(
                        "ValidatingWebhookConfiguration",
                        name,
                        k,
                        Some(&s),
                    )),
                    ..base.clone()
                });
                self.emit(c)
            }
        }
    }

    /// Row "denied (403) and anonymous": scanners on the public endpoint,
    /// a pod probing its permissions, a developer beyond their role.
    fn denied(&mut self, _: usize) -> Vec<Value> {
        let latency_us = self.rng.u64(300..2_000);
        let base = Call {
            code: 403,
            decision: "forbid",
            latency_us,
            ..Call::default()
        };
        let c = match self.rng.u8(0..10) {
            0..5 => {
                let ip = format!("203.0.113.{}", self.rng.u8(1..255));
                let (path, r) = target("secrets", Some("kube-system"), None, None);
                Call {
                    verb: "list",
                    uri: path,
                    user: json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]}),
                    ips: vec![ip],
                    agent: "python-requests/2.32.3".to_owned(),
                    object_ref: Some(r),
                    status: Some(failure(403, "Forbidden", "secrets is forbidden: User \"system:anonymous\" cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\"".to_owned(), json!({"kind": "secrets"}))),
                    ..base
                }
            }
            5..8 => {
                let (pod, _) = self.any_pod();
                let (path, r) = target("secrets", None, None, None);
                let who = format!("system:serviceaccount:{}:{}", pod.namespace, pod.sa);
                Call {
                    verb: "list",
                    uri: path,
                    user: sa_user(pod.namespace, pod.sa),
                    ips: vec![pod.ip.clone()],
                    agent: "kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5".to_owned(),
                    object_ref: Some(r),
                    status: Some(failure(
                        403,
                        "Forbidden",
                        format!(
                            "secrets is forbidden: User \"{who}\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"
                        ),
                        json!({"kind": "secrets"}),
                    )),
                    ..base
                }
            }
            _ => {
                let (pod, _) = self.any_pod();
                let (path, r) = target("deployments", Some(pod.namespace), Some(pod.app), None);
                Call {
                    level: level("deployments", "delete"),
                    verb: "delete",
                    uri: path,
                    user: iam_user(&DEV),
                    ips: vec![DEV.ip.to_owned()],
                    agent: DEV.agent.to_owned(),
                    object_ref: Some(r),
                    status: Some(failure(
                        403,
                        "Forbidden",
                        format!(
                            "deployments.apps \"{}\" is forbidden: User \"{}\" cannot delete resource \"deployments\" in API group \"apps\" in the namespace \"{}\"",
                            pod.app, DEV.username, pod.namespace
                        ),
                        json!({"name": pod.app, "group": "apps", "kind": "deployments"}),
                    )),
                    ..base
                }
            }
        };
        self.emit(c)
    }
}

fn endpointslice_object(
    svc: &Pod,
    name: &str,
    members: &[(Pod, Node)],
    rv: &str,
    changed: &str,
) -> Value {
    let endpoints: Vec<Value> = members
        .iter()
        .map(|(p, n)| json!({
            "addresses": [p.ip],
            "conditions": {"ready": true, "serving": true, "terminating": false},
            "nodeName": n.name,
            "targetRef": {"kind": "Pod", "namespace": p.namespace, "name": p.name, "uid": p.uid},
            "zone": n.zone,
        }))
        .collect();
    json!({
        "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {
            "name": name, "generateName": format!("{}-", svc.app), "namespace": svc.namespace,
            "uid": stable_uid(&format!("eps/{name}")), "resourceVersion": rv, "generation": 4127,
            "creationTimestamp": "2026-09-14T08:21:38Z",
            "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io", "kubernetes.io/service-name": svc.app},
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": changed},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": svc.app, "uid": stable_uid(&format!("svc/{}", svc.app)), "controller": true, "blockOwnerDeletion": true}],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
    })
}

/// `k` images of a node's `status.images`.
fn node_images(node: &Node, k: usize) -> Vec<Value> {
    const IMAGES: [(&str, &str, u64); 6] = [
        (
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni",
            "v1.19.0-eksbuild.1",
            43_185_113,
        ),
        (
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni-init",
            "v1.19.0-eksbuild.1",
            61_204_772,
        ),
        (
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy",
            "v1.31.2-minimal-eksbuild.3",
            31_072_104,
        ),
        (
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-ebs-csi-driver",
            "v1.37.0",
            41_862_950,
        ),
        (
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause",
            "3.5",
            298_689,
        ),
        (
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns",
            "v1.11.3-eksbuild.2",
            18_463_105,
        ),
    ];
    let mut rng = stable_rng(&node.name);
    (0..k)
        .map(|i| {
            let (repo, tag, size) = IMAGES[i % IMAGES.len()];
            let digest: String = (0..64).map(|_| char::from_digit(rng.u32(0..16), 16).unwrap()).collect();
            json!({"names": [format!("{repo}@sha256:{digest}"), format!("{repo}:{tag}")], "sizeBytes": size + i as u64 * 4_096})
        })
        .collect()
}

fn rolebinding_object(ns: &str, name: &str, role: &str, k: usize) -> Value {
    let subjects: Vec<Value> = (0..k)
        .map(|i| json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": format!("oncall-tier{}", i + 1)}))
        .collect();
    json!({
        "kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": null,
                     "annotations": {"example.com/description": format!("Astreinte — accès lecture ({NON_ASCII})")}},
        "subjects": subjects,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
    })
}

// ---------------------------------------------------------------------
// The golden set
// ---------------------------------------------------------------------

/// An audit event no preset may drop (nor trim its `requestObject`).
pub struct GoldenEvent {
    /// The "never drop" class of AUDIT_TRAFFIC.md the event stands for,
    /// with what makes it tricky in parentheses.
    pub class: &'static str,
    /// The audit event, as JSON text.
    pub message: String,
}

/// At least one event of every "never drop" class of AUDIT_TRAFFIC.md
/// ("Events a detection needs", 1-8), and a system principal calling from
/// a public IP; then lookalikes of the noise (system principals, 2xx,
/// reads, leases, watches) that still belong to a class, and events with
/// odd field types (a code as a string, a user without groups or username,
/// no `sourceIPs`). Some carry non-ASCII text. Deterministic.
pub fn never_drop_golden() -> Vec<GoldenEvent> {
    let mut g = Gen::new(0x0601_DE75);
    let mut out = Vec::new();
    let mut add = |class: &'static str, event: Value| {
        out.push(GoldenEvent {
            class,
            message: event.to_string(),
        })
    };
    let (app, node) = g.any_pod();
    let ns = app.namespace;
    let other = g.nodes[(app.node + 1) % g.nodes.len()].clone();
    let (admin, ci, dev) = (by(&ADMIN), by(&CI), by(&DEV));
    let anonymous = json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]});

    // 1. Responses >= 400 and denied requests.
    let (path, r) = target("deployments", Some(ns), Some("payments-api-v2"), None);
    add(
        "status>=400",
        g.one(Call {
            level: "Request",
            uri: path,
            object_ref: Some(r),
            code: 404,
            status: Some(failure(
                404,
                "NotFound",
                "deployments.apps \"payments-api-v2\" not found".to_owned(),
                json!({"name": "payments-api-v2", "group": "apps", "kind": "deployments"}),
            )),
            ..admin.clone()
        }),
    );
    let secret = format!("{}-credentials", app.app);
    let (path, r) = target("secrets", Some(ns), Some(&secret), None);
    add(
        "decision-forbid",
        g.one(Call {
            verb: "delete",
            uri: path,
            object_ref: Some(r),
            code: 403,
            decision: "forbid",
            reason: String::new(),
            status: Some(failure(403, "Forbidden", format!("secrets \"{secret}\" is forbidden: User \"{}\" cannot delete resource \"secrets\" in API group \"\" in the namespace \"{ns}\"", DEV.username), json!({"name": secret, "kind": "secrets"}))),
            ..dev.clone()
        }),
    );

    // 2. Anonymous requests: by username, by group, and both (each
    // allowed: the public health endpoints are open to everyone).
    let health = |user: Value, path: &str| Call {
        uri: path.to_owned(),
        user,
        ips: vec!["192.0.2.44".to_owned()],
        agent: "Go-http-client/1.1".to_owned(),
        reason: ANONYMOUS_HEALTH_REASON.to_owned(),
        ..Call::default()
    };
    add("anonymous-user", g.one(health(anonymous.clone(), "/livez")));
    add(
        "anonymous-user (user without groups)",
        g.one(health(json!({"username": "system:anonymous"}), "/readyz")),
    );
    add(
        "unauthenticated-group (user without username)",
        g.one(health(
            json!({"groups": ["system:unauthenticated"]}),
            "/livez?verbose",
        )),
    );

    // 3. Writes by people and pipelines, and impersonation.
    let ingress = json!({"metadata": {"annotations": {"alb.ingress.kubernetes.io/group.name": "storefront", "example.com/owner": NON_ASCII}}});
    add(
        "human-write",
        g.one(Call {
            request: Some(ingress.clone()),
            response: Some(json!({
                "kind": "Ingress", "apiVersion": "networking.k8s.io/v1",
                "metadata": {
                    "name": "frontend", "namespace": "storefront", "uid": stable_uid("ingress/frontend"),
                    "resourceVersion": "480771203", "generation": 7, "annotations": ingress["metadata"]["annotations"],
                },
                "spec": {"ingressClassName": "alb", "rules": [{"host": "shop.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "frontend", "port": {"number": 80}}}}
                ]}}]},
                "status": {"loadBalancer": {}},
            })),
            ..write(&dev, "patch", "ingresses", Some("storefront"), "frontend")
        }),
    );
    add(
        "human-write:configmaps",
        g.one(write(
            &dev,
            "update",
            "configmaps",
            Some(ns),
            &format!("{}-config", app.app),
        )),
    );
    let (path, r) = target("pods", Some(ns), None, None);
    add(
        "impersonation",
        g.one(Call {
            level: "Request",
            verb: "list",
            uri: format!("{path}?limit=500"),
            impersonated: Some(json!({"username": "jane.doe@example.com", "groups": ["developers", "system:authenticated"]})),
            object_ref: Some(r),
            ..admin.clone()
        }),
    );

    // 4. exec, attach, port-forward, ephemeral containers and proxies, at
    // every stage.
    let (path, r) = target("pods", Some(ns), Some(&app.name), Some("exec"));
    let exec = Call {
        level: "RequestResponse",
        verb: "create",
        uri: format!(
            "{path}?command=%2Fbin%2Fsh&container={}&stdin=true&stdout=true&tty=true",
            app.app
        ),
        object_ref: Some(r),
        code: 101,
        latency_us: 94_000_000,
        ..dev.clone()
    };
    let mut stages = g.two(exec, 41_000);
    add("exec ResponseStarted", stages.remove(0));
    add("exec ResponseComplete", stages.remove(0));
    for (class, sub) in [("attach", "attach"), ("portforward", "portforward")] {
        let (path, r) = target("pods", Some(ns), Some(&app.name), Some(sub));
        let query = if sub == "attach" {
            "?container=app&stdin=true&stdout=true&tty=true"
        } else {
            ""
        };
        add(
            class,
            g.one(Call {
                level: "RequestResponse",
                verb: "create",
                uri: format!("{path}{query}"),
                object_ref: Some(r),
                code: 101,
                latency_us: 310_000_000,
                ..admin.clone()
            }),
        );
    }
    let debug = json!({"spec": {"ephemeralContainers": [{
        "name": "debugger-x7k2p", "image": "busybox:1.36", "command": ["sh"], "stdin": true, "tty": true,
        "targetContainerName": app.app, "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
    }]}});
    add(
        "ephemeralcontainers",
        g.one(Call {
            request: Some(debug.clone()),
            response: Some(json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": app.name, "namespace": ns, "uid": app.uid}, "spec": debug["spec"]})),
            ..write(&dev, "patch", "pods", Some(ns), &app.name).sub("ephemeralcontainers")
        }),
    );
    let (path, r) = target(
        "services",
        Some("monitoring"),
        Some("http:grafana:80"),
        Some("proxy"),
    );
    add(
        "proxy",
        g.one(Call {
            level: "Request",
            uri: format!("{path}/api/health"),
            object_ref: Some(r),
            ..admin.clone()
        }),
    );
    let (path, r) = target("nodes", None, Some(&node.name), Some("proxy"));
    add(
        "nodes/proxy (kube-system service account)",
        g.one(Call {
            level: "Request",
            uri: format!("{path}/metrics/cadvisor"),
            object_ref: Some(r),
            ..by_sa(
                &g,
                "kube-system",
                "kube-state-metrics",
                "ClusterRoleBinding \"kube-state-metrics\" of ClusterRole \"kube-state-metrics\"",
            )
        }),
    );

    // 5. Pod creates by anyone (here privileged, on the host network, the
    // node's root mounted, in kube-system) and workload writes.
    let privileged = json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "node-shell-7f2kq", "namespace": "kube-system", "creationTimestamp": null, "annotations": {"example.com/ticket": format!("OPS-4411 {NON_ASCII}")}},
        "spec": {
            "volumes": [{"name": "host-root", "hostPath": {"path": "/", "type": ""}}],
            "containers": [{
                "name": "shell", "image": "docker.io/library/alpine:3.20",
                "command": ["nsenter", "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--", "bash", "-l"],
                "resources": {}, "volumeMounts": [{"name": "host-root", "mountPath": "/host"}],
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent", "securityContext": {"privileged": true}, "stdin": true, "tty": true,
            }],
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "dnsPolicy": "ClusterFirst", "nodeName": node.name,
            "hostNetwork": true, "hostPID": true, "hostIPC": true, "securityContext": {}, "schedulerName": "default-scheduler",
            "tolerations": [{"operator": "Exists"}], "enableServiceLinks": true,
        },
        "status": {},
    });
    let stored = g.stored();
    add(
        "pod-create",
        g.one(Call {
            request: Some(privileged.clone()),
            response: Some(stored_copy(&privileged, &stored)),
            annotations: vec![(
                "pod-security.kubernetes.io/enforce-policy",
                "privileged:latest".to_owned(),
            )],
            ..write(
                &ci,
                "create",
                "pods",
                Some("kube-system"),
                "node-shell-7f2kq",
            )
        }),
    );
    let coredns = g
        .pods
        .iter()
        .find(|p| p.namespace == "kube-system")
        .unwrap()
        .clone();
    let name = format!("coredns-{}-{}", coredns.hash, g.suffix(5));
    let stored = g.stored();
    add(
        "pod-create (replicaset-controller, kube-system)",
        g.one(Call {
            request: Some(pod_object(&coredns, &name, 2, None)),
            response: Some(pod_object(&coredns, &name, 2, Some(&stored))),
            annotations: vec![(
                "pod-security.kubernetes.io/enforce-policy",
                "privileged:latest".to_owned(),
            )],
            ..write(
                &kcm_sa(&g, "replicaset-controller"),
                "create",
                "pods",
                Some("kube-system"),
                &name,
            )
        }),
    );
    let new_image = format!(
        "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}:v2.61.0",
        app.app
    );
    let patch = json!({"spec": {"template": {
        "metadata": {"annotations": {"example.com/owner": NON_ASCII}},
        "spec": {"containers": [{"name": app.app, "image": new_image}]},
    }}});
    add(
        "workload-write:deployments",
        g.one(Call {
            request: Some(patch),
            response: Some(deployment_object(
                ns,
                app.app,
                3,
                "480912377",
                62,
                Some(NON_ASCII),
            )),
            ..write(&dev, "patch", "deployments", Some(ns), app.app)
        }),
    );
    for (class, resource, who, verb, name, body) in [
        (
            "workload-write:daemonsets",
            "daemonsets",
            &ci,
            "create",
            "node-agent",
            workload("DaemonSet", "kube-system", "node-agent", None),
        ),
        (
            "workload-write:statefulsets",
            "statefulsets",
            &ci,
            "update",
            "redis",
            workload("StatefulSet", "storefront", "redis", Some(3)),
        ),
        (
            "workload-write:replicasets (deployment-controller)",
            "replicasets",
            &kcm_sa(&g, "deployment-controller"),
            "create",
            "web-5c8f7d9b6d",
            workload("ReplicaSet", "default", "web-5c8f7d9b6d", Some(3)),
        ),
        (
            "workload-write:jobs (cronjob-controller)",
            "jobs",
            &kcm_sa(&g, "cronjob-controller"),
            "create",
            "db-backup-29412840",
            workload("Job", "payments", "db-backup-29412840", None),
        ),
        (
            "workload-write:cronjobs",
            "cronjobs",
            &ci,
            "create",
            "db-backup",
            workload("CronJob", "payments", "db-backup", None),
        ),
    ] {
        let ns = body["metadata"]["namespace"].as_str().unwrap().to_owned();
        let stored = g.stored();
        add(
            class,
            g.one(Call {
                response: Some(stored_copy(&body, &stored)),
                request: Some(body),
                ..write(who, verb, resource, Some(&ns), name)
            }),
        );
    }

    // 6. RBAC, identities, namespaces, services, admission webhooks, CRDs,
    // CSRs, aws-auth.
    let rbac = |kind: &str, name: &str, ns: Option<&str>| -> Value {
        let mut meta = json!({"name": name, "creationTimestamp": null});
        if let Some(ns) = ns {
            meta["namespace"] = json!(ns);
        }
        let mut body =
            json!({"kind": kind, "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": meta});
        if kind.ends_with("Binding") {
            body["subjects"] = json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane.doe@example.com"}]);
            body["roleRef"] = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"});
        } else {
            body["rules"] = json!([{"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["secrets"]}, {"verbs": ["create"], "apiGroups": [""], "resources": ["pods/exec"]}]);
        }
        body
    };
    let csr = json!({
        "kind": "CertificateSigningRequest", "apiVersion": "certificates.k8s.io/v1",
        "metadata": {"name": "jane-admin", "creationTimestamp": null},
        "spec": {"request": pem_base64("CERTIFICATE REQUEST", "jane-admin"), "signerName": "kubernetes.io/kube-apiserver-client", "expirationSeconds": 31_536_000, "usages": ["client auth"]},
        "status": {},
    });
    let crd = json!({
        "kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1",
        "metadata": {"name": "backups.ops.example.com", "creationTimestamp": null},
        "spec": {"group": "ops.example.com", "names": {"plural": "backups", "singular": "backup", "kind": "Backup", "listKind": "BackupList"}, "scope": "Namespaced",
                 "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
                 "conversion": {"strategy": "None"}},
        "status": {"conditions": null, "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": null},
    });
    for (class, resource, who, verb, ns, name, body) in [
        (
            "rbac-write:roles",
            "roles",
            &ci,
            "create",
            Some("payments"),
            "secret-reader",
            rbac("Role", "secret-reader", Some("payments")),
        ),
        (
            "rbac-write:clusterroles",
            "clusterroles",
            &admin,
            "create",
            None,
            "pod-exec",
            rbac("ClusterRole", "pod-exec", None),
        ),
        (
            "rbac-write:rolebindings",
            "rolebindings",
            &dev,
            "create",
            Some("payments"),
            "oncall-view",
            rolebinding_object("payments", "oncall-view", "view", 2),
        ),
        (
            "rbac-write:clusterrolebindings",
            "clusterrolebindings",
            &admin,
            "create",
            None,
            "jane-cluster-admin",
            rbac("ClusterRoleBinding", "jane-cluster-admin", None),
        ),
        (
            "rbac-write:clusterrolebindings (eks:addon-manager)",
            "clusterrolebindings",
            &eks_user("eks:addon-manager"),
            "create",
            None,
            "eks:addon-cluster-admin",
            rbac("ClusterRoleBinding", "eks:addon-cluster-admin", None),
        ),
        (
            "rbac-write:serviceaccounts",
            "serviceaccounts",
            &ci,
            "create",
            Some("payments"),
            "deployer",
            json!({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "deployer", "namespace": "payments", "creationTimestamp": null}}),
        ),
        (
            "rbac-write:namespaces",
            "namespaces",
            &dev,
            "create",
            None,
            "sandbox-jane",
            json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "sandbox-jane", "creationTimestamp": null, "annotations": {"example.com/owner": NON_ASCII}}, "spec": {}, "status": {}}),
        ),
        (
            "rbac-write:services",
            "services",
            &ci,
            "create",
            Some("storefront"),
            "cart-debug",
            json!({
                "kind": "Service", "apiVersion": "v1",
                "metadata": {"name": "cart-debug", "namespace": "storefront", "creationTimestamp": null},
                "spec": {
                    "ports": [{"protocol": "TCP", "port": 8080, "targetPort": 8080, "nodePort": 31337}],
                    "selector": {"app.kubernetes.io/name": "cart"}, "type": "NodePort",
                    "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
                },
                "status": {"loadBalancer": {}},
            }),
        ),
        (
            "rbac-write:mutatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
            &admin,
            "create",
            None,
            "sidecar-injector",
            webhook_object("MutatingWebhookConfiguration", "sidecar-injector", 1, None),
        ),
        (
            "rbac-write:validatingwebhookconfigurations",
            "validatingwebhookconfigurations",
            &ci,
            "update",
            None,
            "policy-validating-webhook",
            webhook_object(
                "ValidatingWebhookConfiguration",
                "policy-validating-webhook",
                2,
                None,
            ),
        ),
        (
            "rbac-write:customresourcedefinitions",
            "customresourcedefinitions",
            &ci,
            "create",
            None,
            "backups.ops.example.com",
            crd.clone(),
        ),
        (
            "rbac-write:certificatesigningrequests",
            "certificatesigningrequests",
            &dev,
            "create",
            None,
            "jane-admin",
            csr.clone(),
        ),
    ] {
        let stored = g.stored();
        add(
            class,
            g.one(Call {
                response: Some(stored_copy(&body, &stored)),
                request: Some(body),
                ..write(who, verb, resource, ns, name)
            }),
        );
    }
    let aws_auth = json!({
        "kind": "ConfigMap", "apiVersion": "v1",
        "metadata": {"name": "aws-auth", "namespace": "kube-system", "uid": stable_uid("cm/aws-auth"), "resourceVersion": "480002211", "creationTimestamp": "2026-09-14T08:02:10Z"},
        "data": {
            "mapRoles": format!(concat!(
                "- groups:\n  - system:bootstrappers\n  - system:nodes\n",
                "  rolearn: arn:aws:iam::{ACCOUNT}:role/eks-node-group-general\n",
                "  username: system:node:{{{{EC2PrivateDNSName}}}}\n",
                "- groups:\n  - system:masters\n",
                "  rolearn: arn:aws:iam::{ACCOUNT}:role/contractor-temp\n  username: contractor\n",
            ), ACCOUNT = ACCOUNT),
            "mapUsers": "- groups:\n  - system:masters\n  userarn: arn:aws:iam::123456789012:user/zoe\n  username: zoë\n",
        },
    });
    add(
        "aws-auth-write",
        g.one(Call {
            // EKS's policy logs writes to kube-system/aws-auth with bodies.
            level: "RequestResponse",
            request: Some(aws_auth.clone()),
            response: Some(aws_auth),
            ..write(
                &admin,
                "update",
                "configmaps",
                Some("kube-system"),
                "aws-auth",
            )
        }),
    );

    // 7. Secrets, by anyone but a kubelet.
    let (path, r) = target("secrets", Some(ns), Some(&secret), None);
    add(
        "secrets-access:get",
        g.one(Call {
            uri: path.clone(),
            object_ref: Some(r.clone()),
            ..dev.clone()
        }),
    );
    let mut no_ip = g.one(Call {
        uri: path,
        object_ref: Some(r),
        ..by_sa(
            &g,
            ns,
            app.sa,
            &format!("RoleBinding \"app-secrets/{ns}\" of Role \"app-secrets\""),
        )
    });
    no_ip.as_object_mut().unwrap().remove("sourceIPs");
    add("secrets-access:get (no sourceIPs)", no_ip);
    let (path, r) = target("secrets", None, None, None);
    add(
        "secrets-access:list (kube-system service account, all namespaces)",
        g.one(Call {
            verb: "list",
            uri: format!("{path}?limit=500&resourceVersion=0"),
            object_ref: Some(r.clone()),
            ..by_sa(
                &g,
                "kube-system",
                "some-sa",
                "ClusterRoleBinding \"some-sa\" of ClusterRole \"cluster-admin\"",
            )
        }),
    );
    let (query, latency_us) = g.watch_query("");
    let mut stages = g.two(
        Call {
            verb: "watch",
            uri: format!("{path}?{query}"),
            object_ref: Some(r),
            latency_us,
            ..by_sa(&g, "cert-manager", "cert-manager", "ClusterRoleBinding \"cert-manager-controller-certificates\" of ClusterRole \"cert-manager-controller-certificates\"")
        },
        2_000,
    );
    add(
        "secrets-access:watch (operator service account)",
        stages.remove(0),
    );

    // 8. Permission probes and service account tokens not for a kubelet.
    let (path, r) = target("selfsubjectrulesreviews", None, None, None);
    let probe = json!({
        "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null}, "spec": {"namespace": ns},
        "status": {"resourceRules": null, "nonResourceRules": null, "incomplete": false},
    });
    add(
        "selfsubjectrulesreviews",
        g.one(Call {
            level: "RequestResponse",
            verb: "create",
            uri: path,
            object_ref: Some(r),
            code: 201,
            request: Some(probe.clone()),
            response: Some(probe),
            ..by_sa(
                &g,
                ns,
                app.sa,
                "ClusterRoleBinding \"system:basic-user\" of ClusterRole \"system:basic-user\"",
            )
        }),
    );
    let (path, r) = target("selfsubjectaccessreviews", None, None, None);
    let ask = json!({
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"resourceAttributes": {"namespace": "kube-system", "verb": "create", "resource": "pods", "subresource": "exec"}},
        "status": {"allowed": false},
    });
    add(
        "selfsubjectaccessreviews",
        g.one(Call {
            level: "RequestResponse",
            verb: "create",
            uri: path,
            object_ref: Some(r),
            code: 201,
            request: Some(ask.clone()),
            response: Some(ask),
            ..dev.clone()
        }),
    );
    // `kubectl create token`: a token bound to no object, valid a day.
    let token = json!({
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 86_400, "boundObjectRef": null},
        "status": {"token": "", "expirationTimestamp": null},
    });
    for (class, who, sa) in [
        (
            "serviceaccount-token by non-node",
            admin.clone(),
            "aws-load-balancer-controller",
        ),
        (
            "serviceaccount-token by non-node (kube-system service account)",
            by_sa(
                &g,
                "kube-system",
                "some-operator",
                "ClusterRoleBinding \"some-operator\" of ClusterRole \"some-operator\"",
            ),
            "ebs-csi-controller-sa",
        ),
    ] {
        let (path, r) = target(
            "serviceaccounts",
            Some("kube-system"),
            Some(sa),
            Some("token"),
        );
        add(
            class,
            g.one(Call {
                level: "Request",
                verb: "create",
                uri: path,
                object_ref: Some(r),
                code: 201,
                request: Some(token.clone()),
                ..who
            }),
        );
    }

    // A system principal calling from outside the VPC: a stolen kubelet
    // credential.
    let (path, r) = target("pods", Some(ns), Some(&app.name), None);
    add(
        "system principal from a public IP",
        g.one(Call {
            level: "Request",
            uri: path,
            object_ref: Some(r),
            ips: vec!["203.0.113.50".to_owned()],
            ..by_node(&other)
        }),
    );

    // Lookalikes of the noise that belong to a class all the same.
    let (_, r) = target("leases", Some("kube-node-lease"), Some(&node.name), None);
    add(
        "status>=400 (node lease update, 409)",
        g.one(Call {
            uri: format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{}?timeout=10s", node.name),
            verb: "update",
            object_ref: Some(r),
            code: 409,
            status: Some(failure(409, "Conflict", format!("Operation cannot be fulfilled on leases.coordination.k8s.io \"{}\": the object has been modified; please apply your changes to the latest version and try again", node.name), json!({"name": node.name, "group": "coordination.k8s.io", "kind": "leases"}))),
            ..by_node(&node)
        }),
    );
    let (path, r) = target("pods", None, None, None);
    let (query, latency_us) = g.watch_query("");
    let mut stages = g.two(
        Call {
            level: "Request",
            verb: "watch",
            uri: format!("{path}?{query}"),
            impersonated: Some(json!({"username": "system:serviceaccount:payments:payments-api", "groups": ["system:serviceaccounts", "system:serviceaccounts:payments", "system:authenticated"]})),
            object_ref: Some(r),
            latency_us,
            ..by_sa(&g, "kube-system", "aws-load-balancer-controller", "ClusterRoleBinding \"impersonator\" of ClusterRole \"impersonator\"")
        },
        2_000,
    );
    add(
        "impersonation (kube-system service account watch)",
        stages.remove(0),
    );
    let (path, r) = target("configmaps", Some("kube-system"), None, None);
    let (query, latency_us) = g.watch_query("");
    let mut stages = g.two(
        Call {
            verb: "watch",
            uri: format!("{path}?{query}"),
            user: anonymous,
            ips: vec!["198.51.100.200".to_owned()],
            agent: "kubectl/v1.29.0 (linux/amd64) kubernetes/3f7a50f".to_owned(),
            object_ref: Some(r),
            reason: "RBAC: allowed by ClusterRoleBinding \"anonymous-view\" of ClusterRole \"view\" to User \"system:anonymous\"".to_owned(),
            latency_us,
            ..Call::default()
        },
        2_000,
    );
    add("anonymous-user (watch)", stages.remove(0));
    add(
        "status>=400 (non-resource get /version, 403)",
        g.one(Call {
            uri: "/version".to_owned(),
            code: 403,
            decision: "forbid",
            reason: String::new(),
            status: Some(failure(403, "Forbidden", "forbidden: User \"system:serviceaccount:kube-system:some-sa\" cannot get path \"/version\"".to_owned(), json!({}))),
            ..by_sa(&g, "kube-system", "some-sa", "")
        }),
    );
    // NodeRestriction denies (403) what RBAC allowed: a kubelet setting
    // a label reserved to administrators. The code is a string here.
    let (path, r) = target("nodes", None, Some(&node.name), Some("status"));
    let mut denied = g.one(Call {
        level: "Request",
        verb: "patch",
        uri: path,
        object_ref: Some(r),
        request: Some(json!({"metadata": {"labels": {"node-restriction.kubernetes.io/role": "control-plane"}}})),
        code: 403,
        status: Some(failure(403, "Forbidden", format!("nodes \"{}\" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/role", node.name), json!({"name": node.name, "kind": "nodes"}))),
        ..by_node(&node)
    });
    denied["responseStatus"]["code"] = json!("403");
    add("status>=400 (code as a string, decision allow)", denied);

    // Stolen credentials used from inside the cluster: a system
    // principal's token, from a pod's internal address, with another
    // client than its own. Each is a read the presets drop when the
    // principal's own program makes it.
    let aws_node_call = by_sa(
        &g,
        "kube-system",
        "aws-node",
        "ClusterRoleBinding \"aws-node\" of ClusterRole \"aws-node\"",
    );
    let aws_node = |agent: &str| Call {
        agent: agent.to_owned(),
        ..aws_node_call.clone()
    };
    let (path, r) = target("pods", None, None, None);
    let (query, latency_us) = g.watch_query("");
    let mut stages = g.two(
        Call {
            verb: "watch",
            uri: format!("{path}?{query}"),
            object_ref: Some(r),
            latency_us,
            ..aws_node("curl/8.5.0")
        },
        2_000,
    );
    add(
        "stolen credentials (aws-node's token, curl, watch of pods)",
        stages.remove(0),
    );
    add(
        "stolen credentials (aws-node's token, curl, discovery /apis)",
        g.one(Call {
            uri: "/apis".to_owned(),
            ..aws_node("curl/8.5.0")
        }),
    );
    let (path, r) = target("configmaps", Some("kube-system"), Some("aws-auth"), None);
    add(
        "stolen credentials (aws-node's token, python-requests, get aws-auth)",
        g.one(Call {
            uri: path,
            object_ref: Some(r),
            ..aws_node("python-requests/2.32.3")
        }),
    );
    let (path, r) = target("clusterrolebindings", None, None, None);
    add(
        "stolen credentials (aws-node's token, kubectl, list clusterrolebindings)",
        g.one(Call {
            verb: "list",
            uri: path,
            object_ref: Some(r),
            ..aws_node("kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5")
        }),
    );
    let (path, r) = target("pods", None, None, None);
    add(
        "stolen credentials (a kubelet's token, no user agent, list of pods)",
        g.one(Call {
            verb: "list",
            uri: path,
            object_ref: Some(r),
            agent: String::new(),
            ..by_node(&other)
        }),
    );
    // Lookalikes of the routine classes issue 17 added, told apart only
    // by the client, the principal or the verb.
    let (path, r) = target("subjectaccessreviews", None, None, None);
    add(
        "stolen credentials (aws-node's token, curl, access review)",
        g.one(Call {
            verb: "create",
            uri: path,
            object_ref: Some(r),
            code: 201,
            ..aws_node("curl/8.5.0")
        }),
    );
    let (path, r) = target("pods", None, None, None);
    let mut metrics = g.one(Call {
        verb: "list",
        uri: path.replace("/api/v1/", "/apis/metrics.k8s.io/v1beta1/"),
        object_ref: Some(r),
        ..aws_node("python-requests/2.32.3")
    });
    metrics["objectRef"]["apiGroup"] = json!("metrics.k8s.io");
    metrics["objectRef"]["apiVersion"] = json!("v1beta1");
    add(
        "stolen credentials (aws-node's token, python-requests, metrics list)",
        metrics,
    );
    let (path, r) = target(
        "leases",
        Some("argocd"),
        Some("argocd-application-controller"),
        None,
    );
    add(
        "stolen credentials (an operator's token, kubectl, lease update)",
        g.one(Call {
            verb: "update",
            uri: path,
            object_ref: Some(r),
            agent: "kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5".to_owned(),
            ..by_sa(&g, "argocd", "argocd-application-controller", "")
        }),
    );
    let (path, r) = target("deployments", Some(ns), Some(&app.name), Some("scale"));
    add(
        "workload write (a scale update by a person, beside the autoscaler's reads)",
        g.one(Call {
            verb: "update",
            uri: path,
            object_ref: Some(r),
            ..admin.clone()
        }),
    );
    let (path, r) = target("nodes", None, Some(&node.name), Some("status"));
    add(
        "system principal from a public IP (a node status patch)",
        g.one(Call {
            verb: "patch",
            uri: path,
            object_ref: Some(r),
            ips: vec!["198.51.100.23".to_owned()],
            ..by_node(&node)
        }),
    );

    // The review's counterexamples: command-line clients under other
    // names, a Go tool's default agent on a pinned account, a kubelet's
    // review of a request to its own API, a lease taken in kube-system,
    // and a node relabelling itself.
    let (path, r) = target("pods", None, None, None);
    let (query, latency_us) = g.watch_query("");
    let mut stages = g.two(
        Call {
            verb: "watch",
            uri: format!("{path}?{query}"),
            object_ref: Some(r),
            latency_us,
            agent: "kubectl.exe/v1.31.4 (windows/amd64) kubernetes/a78aa47".to_owned(),
            ..by_sa(&g, "kube-system", "ebs-csi-controller-sa", "")
        },
        2_000,
    );
    add(
        "stolen credentials (ebs-csi's token, kubectl.exe, watch of pods)",
        stages.remove(0),
    );
    let (path, r) = target("configmaps", None, None, None);
    add(
        "stolen credentials (aws-node's token, a Go tool's default agent, watch of configmaps)",
        g.one(Call {
            verb: "watch",
            uri: path,
            object_ref: Some(r),
            ..aws_node("peirates/v0.0.0 (linux/amd64) kubernetes/$Format")
        }),
    );
    let (path, r) = target("subjectaccessreviews", None, None, None);
    add(
        "kubelet API access (a kubelet's access review of nodes/proxy)",
        g.one(Call {
            level: "RequestResponse",
            verb: "create",
            uri: path,
            object_ref: Some(r),
            code: 201,
            request: Some(json!({"kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "spec": {"user": "system:serviceaccount:monitoring:node-exporter", "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "proxy", "name": node.name}}})),
            ..by_node(&node)
        }),
    );
    let (path, r) = target("leases", Some("kube-system"), Some("kube-scheduler"), None);
    add(
        "write to kube-system (an application's token taking the scheduler's lease)",
        g.one(Call {
            verb: "update",
            uri: path,
            object_ref: Some(r),
            agent: "leasehijack/v0.0.0 (linux/amd64) kubernetes/$Format".to_owned(),
            ..by_sa(&g, "payments", "payments-api", "")
        }),
    );
    let (path, r) = target("nodes", None, Some(&node.name), None);
    add(
        "node relabelling itself (a patch of the Node object, not its status)",
        g.one(Call {
            level: "Request",
            verb: "patch",
            uri: path,
            object_ref: Some(r),
            request: Some(json!({"metadata": {"labels": {"karpenter.sh/nodepool": "payments"}}})),
            ..by_node(&node)
        }),
    );

    // A user named like EKS's own, mapped through aws-auth.
    for (verb, agent) in [
        ("list", "kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5"),
        ("watch", "backdoor/v0.0.0 (linux/amd64) kubernetes/$Format"),
    ] {
        let (path, r) = target("pods", None, None, None);
        add(
            "stolen credentials (eks:backdoor, an eks: name EKS does not have)",
            g.one(Call {
                verb,
                uri: path,
                object_ref: Some(r),
                ips: vec![other.ip.clone()],
                agent: agent.to_owned(),
                ..eks_user("eks:backdoor")
            }),
        );
    }
    out
}

/// The call of a person or pipeline.
fn by(h: &Human) -> Call {
    Call {
        user: iam_user(h),
        ips: vec![h.ip.to_owned()],
        agent: h.agent.to_owned(),
        reason: h.reason.to_owned(),
        latency_us: 9_000,
        ..Call::default()
    }
}

/// The call of a service account in a pod, allowed by `binding`.
fn by_sa(g: &Gen, ns: &str, sa: &str, binding: &str) -> Call {
    Call {
        user: sa_user(ns, sa),
        ips: vec![g.host_of(sa).ip],
        agent: format!("{sa}/v1.4.2 (linux/amd64) kubernetes/$Format"),
        reason: if binding.is_empty() {
            String::new()
        } else {
            format!("RBAC: allowed by {binding} to ServiceAccount \"{sa}/{ns}\"")
        },
        ..Call::default()
    }
}

/// The call of one of kube-controller-manager's controllers.
fn kcm_sa(g: &Gen, controller: &str) -> Call {
    Call {
        ips: vec![CONTROL_PLANE_IPS[0].to_owned()],
        agent: format!("{KCM_AGENT}/system:serviceaccount:kube-system:{controller}"),
        reason: format!(
            "RBAC: allowed by ClusterRoleBinding \"system:controller:{controller}\" of ClusterRole \"system:controller:{controller}\" to ServiceAccount \"{controller}/kube-system\""
        ),
        ..by_sa(g, "kube-system", controller, "")
    }
}

/// The call of an EKS control-plane component.
fn eks_user(name: &str) -> Call {
    Call {
        user: control_user(name),
        ips: vec![CONTROL_PLANE_IPS[1].to_owned()],
        agent: format!("{}/v0.0.0 (linux/amd64) kubernetes/$Format", &name[4..]),
        reason: format!(
            "RBAC: allowed by ClusterRoleBinding \"{name}\" of ClusterRole \"{name}\" to User \"{name}\""
        ),
        ..Call::default()
    }
}

fn by_node(node: &Node) -> Call {
    Call {
        user: node_user(node),
        ips: vec![node.ip.clone()],
        agent: KUBELET_AGENT.to_owned(),
        ..Call::default()
    }
}

/// `verb` on object `name` of `resource` by the principal of `base`, at
/// the level EKS's policy logs it; the caller adds the bodies.
fn write(base: &Call, verb: &'static str, resource: &str, ns: Option<&str>, name: &str) -> Call {
    let (path, r) = target(resource, ns, Some(name), None);
    let (uri, code) = match verb {
        "create" => (
            format!(
                "{}?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
                path.rsplit_once('/').unwrap().0
            ),
            201,
        ),
        "patch" => (format!("{path}?fieldManager=kubectl-patch"), 200),
        _ => (
            format!("{path}?fieldManager=kubectl-edit&fieldValidation=Strict"),
            200,
        ),
    };
    Call {
        level: level(resource, verb),
        verb,
        uri,
        object_ref: Some(r),
        code,
        ..base.clone()
    }
}

impl Call {
    /// The same call on subresource `sub` of its object.
    fn sub(mut self, sub: &str) -> Self {
        let path = self.uri.split('?').next().unwrap_or_default().to_owned();
        self.uri = format!("{path}/{sub}");
        if let Some(Value::Object(r)) = &mut self.object_ref {
            r.insert("subresource".into(), json!(sub));
        }
        self
    }
}

impl Gen {
    /// One event of `c` (ResponseComplete), a little after the last.
    fn one(&mut self, c: Call) -> Value {
        self.now_us += self.rng.u64(400_000..3_000_000);
        self.emit(c).remove(0)
    }

    /// Both stages of `c`, a little after the last event.
    fn two(&mut self, c: Call, started_us: u64) -> Vec<Value> {
        self.now_us += self.rng.u64(400_000..3_000_000);
        self.emit_two(c, started_us)
    }
}

/// A workload object of `kind` running a single container.
fn workload(kind: &str, ns: &str, name: &str, replicas: Option<u32>) -> Value {
    let (group_version, app) = match kind {
        "Job" | "CronJob" => (
            "batch/v1",
            name.trim_end_matches(char::is_numeric)
                .trim_end_matches('-'),
        ),
        _ => ("apps/v1", name.split('-').next().unwrap_or(name)),
    };
    let labels = json!({"app.kubernetes.io/name": app});
    let mut pod = json!({
        "containers": [container(app, 1, None)], "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler",
    });
    if kind == "DaemonSet" {
        pod["hostPID"] = json!(true);
        pod["hostNetwork"] = json!(true);
    }
    let template = json!({"metadata": {"creationTimestamp": null, "labels": labels}, "spec": pod});
    let mut spec = json!({"selector": {"matchLabels": labels}, "template": template});
    if let Some(n) = replicas {
        spec["replicas"] = json!(n);
    }
    let spec = match kind {
        "Job" => {
            let mut t = template.clone();
            t["spec"]["restartPolicy"] = json!("OnFailure");
            json!({"backoffLimit": 2, "template": t})
        }
        "CronJob" => {
            let mut t = template.clone();
            t["spec"]["restartPolicy"] = json!("OnFailure");
            json!({"schedule": "0 3 * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {"backoffLimit": 2, "template": t}}})
        }
        _ => spec,
    };
    json!({"kind": kind, "apiVersion": group_version, "metadata": {"name": name, "namespace": ns, "creationTimestamp": null, "labels": labels}, "spec": spec, "status": {}})
}
