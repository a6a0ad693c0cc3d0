//! A second model of EKS audit traffic, written independently of
//! `traffic.rs`: four cluster profiles, each with its traffic derived from
//! stated assumptions as requests per hour per source, and a time slice of
//! it as audit events. Deterministic (seeded `fastrand`).
//!
//! Issue 17 asks for the noise preset's reduction as a range per cluster
//! profile. [`generate`] draws a slice of `events` audit events of one
//! [`Profile`] under one [`Scenario`] of the uncertain assumptions. Each
//! event carries its [`Class`]: the source and activity, the rows of the
//! tables `tests/noise_profiles.rs` prints and BENCHMARKS.md quotes.
//!
//! # What gets logged: EKS's audit policy
//!
//! EKS's policy is the reference policy of Kubernetes' GCE helper script
//! (`configure-helper.sh`) plus a `RequestResponse` rule for aws-auth
//! writes (EKS best practices guide, "Auditing and logging"). Its
//! consequences for the model:
//!
//! - **Never logged** (level `None`): events (all verbs), `/healthz*`,
//!   `/version`, `/swagger*`, gets of nodes and `nodes/status` by the
//!   `system:nodes` group, the controller manager's own gets and lists of
//!   `metrics.k8s.io`, `system:kube-proxy`'s watches of services and
//!   endpoints. So a kubelet's `get` of its own node every 10 s, which
//!   precedes each status update, is not in the logs, nor is any event
//!   write. [`policy_level`] refuses these, so the model cannot make one.
//! - `Request` (the request body, no response): `update`/`patch` of
//!   `nodes/status` and `pods/status` by nodes; `get`, `list`, `watch` of
//!   the known API groups (the core group, `apps`, `autoscaling`, `batch`,
//!   `metrics.k8s.io`, `policy`, `rbac`, `storage`, ...: [`KNOWN_GROUPS`]).
//!   A read has no request body, so these are the size of a `Metadata`
//!   event.
//! - `Metadata`: secrets, configmaps, `serviceaccounts/token`,
//!   `tokenreviews`; every group the policy does not know, which includes
//!   `coordination.k8s.io` (leases), `discovery.k8s.io` (EndpointSlices),
//!   `external.metrics.k8s.io` and every custom resource (operators' CRs);
//!   non-resource URLs such as `/api`, `/apis`, `/metrics`.
//! - `RequestResponse`: other verbs of the known groups: pod creates (the
//!   pod both ways, about 9 KB), ReplicaSet, Deployment and HPA status
//!   updates, Endpoints updates, SubjectAccessReviews (`authorization`
//!   is known), bindings, deletes.
//! - `RequestReceived` is omitted; a watch logs `ResponseStarted` when it
//!   opens and `ResponseComplete` when it ends, both with the same audit
//!   ID, so each watch request is two events. Other requests are one
//!   `ResponseComplete` event.
//!
//! # Common assumptions (every profile)
//!
//! - Kubernetes 1.31 (`v1.31.2`, commit `5864a46` in agents), 2 API server
//!   instances, and 2 instances of each leader-elected control-plane
//!   component (leader and one standby).
//! - **Watches**: client-go reflectors end a watch after a random 5 to 10
//!   minutes and open the next, so each informer makes 8 watch requests
//!   an hour (16 events). Lists happen at start and after errors: left
//!   out, except where named.
//! - **Leader election** (client-go): the leader renews every retry period
//!   with one `update` (the fast path); each standby `get`s the lease every
//!   retry period. kube-controller-manager, kube-scheduler and
//!   `eks:cloud-controller-manager`: 2 s. CSI sidecars (EBS): 5 s.
//!   controller-runtime operators: 2 s. cert-manager: 15 s. Istio: 5 s.
//!   The other EKS controllers (`eks:certificate-controller`,
//!   `eks:vpc-resource-controller`): unknown, 5 s (2 to 10 s in the
//!   scenarios). Leader election does not grow with node count.
//! - **Kubelets** (`system:node:ip-...`, `kubelet/v1.31.2 (linux/amd64)
//!   kubernetes/5864a46`, IAM-authenticated, so `user.extra` carries the
//!   node role's ARN and session):
//!   - node lease `update` every 10 s (360 an hour);
//!   - `nodes/status` patch when something changed or every 5 min:
//!     every 60 s on average (40 s to 300 s); 1 in 10 carries the image
//!     list (about 6 KB);
//!   - watches: its node, its pods, services, RuntimeClasses, CSIDrivers,
//!     and one watch per distinct ConfigMap and Secret its pods mount
//!     (kubelet's watch-based ConfigMap/Secret manager), each with
//!     `fieldSelector=metadata.name=...`: `kube-root-ca.crt` per namespace,
//!     1 ConfigMap and 0.6 Secrets per Deployment (0.5 to 2 and 0.3 to 1.2);
//!   - a projected service account token per pod every 48 min (80 % of
//!     the 3,607 s the kubelet asks for): 1.25 `serviceaccounts/token`
//!     creates per pod an hour, plus one per new pod;
//!   - delegated authentication of scrapes of its port 10250: metrics-server
//!     every 15 s, Prometheus (where installed) every 30 s. With the
//!     kubelet's caches (2 min for TokenReviews, 5 min for allowed
//!     SubjectAccessReviews) that is 30 TokenReviews and 12 SARs per node
//!     per scraper an hour;
//!   - on a pod's start and end: 6 `pods/status` patches, each after a
//!     `get` of the pod (the status manager reads the pod before
//!     patching), the final `delete` of the pod, a `list` of a newly
//!     mounted ConfigMap (1 in 2 pods) or Secret (1 in 5);
//!   - readiness changes: 0.05 status patches per pod an hour.
//! - **Pod churn**: 5 % of application pods replaced an hour (2 % to
//!   15 %). Each replaced pod: the ReplicaSet controller creates the new
//!   pod and deletes the old one, 2 ReplicaSet status updates, 2 Endpoints
//!   and 2 EndpointSlice updates, half a Deployment status update, one
//!   scheduler binding, and the kubelet's share above.
//! - **Jobs**: the profile's CronJob runs an hour. Each: the CronJob
//!   controller creates the Job and updates the CronJob's status, the Job
//!   controller creates the pod, updates the Job's status 3 times and
//!   patches the pod (finalizer), the TTL controller deletes the Job and
//!   the garbage collector the pod; the pod's binding and kubelet traffic.
//! - **kube-controller-manager** (`--use-service-account-credentials`,
//!   so each controller calls as `system:serviceaccount:kube-system:<c>`
//!   with agent `kube-controller-manager/v1.31.2 (linux/amd64)
//!   kubernetes/5864a46/system:serviceaccount:kube-system:<c>`): one
//!   informer per type of [`BUILTIN`] (46 built-in types, Secrets among
//!   them, and the VPC CNI's 3 CRDs) and one metadata informer per other
//!   CRD (the garbage collector), as
//!   `system:kube-controller-manager`; the garbage collector's and the
//!   quota controller's discovery every 30 s (`GET /api` and `/apis`,
//!   aggregated discovery); a token request per controller (30) every
//!   48 min.
//! - **HPA controller** (`horizontal-pod-autoscaler`), every 15 s per HPA:
//!   `get` of `deployments/scale`, one `list` of `pods.metrics.k8s.io`
//!   per resource metric (3 in 10 HPAs have two; KEDA's HPAs list
//!   `external.metrics.k8s.io` instead), and an `update` of
//!   `horizontalpodautoscalers/status` when the status changed: 80 % of
//!   syncs (50 % to 100 %), as the current metric values move. 2 scale
//!   updates per HPA an hour.
//! - **metrics-server** (`metrics-server/v0.7.2 (linux/amd64)
//!   kubernetes/$Format`): watches nodes, pods and its authentication
//!   ConfigMap; one SubjectAccessReview per caller and namespace at most
//!   every 10 s (its authorization cache): per namespace with HPAs
//!   min(240 × metric lists, 360) an hour, plus 120 for the aggregator's
//!   availability checks. KEDA's metrics server likewise for its HPAs.
//! - **kube-scheduler**: both instances watch 13 types; a binding per pod.
//! - **kube-apiserver** (`system:apiserver` from 127.0.0.1): its identity
//!   lease every 10 s, and watches of 20 types, per instance.
//! - **EKS's users** (client-go agents `<program>/v0.0.0 (linux/amd64)
//!   kubernetes/$Format`, from the control plane's addresses; the program
//!   names are assumptions: `aws-cloud-controller-manager`,
//!   `eks-certificates-controller`, `controller` (the binary of
//!   amazon-vpc-resource-controller-k8s), `k8s-metrics`,
//!   `eks-addon-manager`, `aws-iam-authenticator`,
//!   `amazon-eks-pod-identity-webhook`):
//!   `eks:cloud-controller-manager` (lease, watches of nodes and
//!   services), `eks:certificate-controller` (lease, CSR watch),
//!   `eks:vpc-resource-controller` (lease, node and pod watches),
//!   `eks:k8s-metrics` (`GET /metrics` every 60 s per API server, lists of
//!   4 types every 5 min), `eks:addon-manager` (gets of each managed
//!   add-on's 6 objects every 15 min, an apply of one of them an hour),
//!   `eks:authenticator` (watch of aws-auth),
//!   `eks:pod-identity-mutating-webhook` (service account watch).
//! - **kube-system DaemonSets** per node: aws-node (ipamd,
//!   `amazon-vpc-cni-k8s/v1.19.0 ...`: watches of its pods, its node, its
//!   CNINode, ENIConfigs, 2 gets of its node an hour; the network policy
//!   agent, `controller/v0.0.0 ...`: PolicyEndpoints), kube-proxy
//!   (services, EndpointSlices, its node). The EBS CSI node plugin and the
//!   Pod Identity agent read the API only at start: nothing in steady
//!   state. CoreDNS: 2 replicas watching services, EndpointSlices,
//!   namespaces.
//! - **EBS CSI controller** (where installed): 4 sidecars with leases
//!   (5 s, 2 replicas) and 13 watches by the leaders.
//! - **Operators** in their own namespaces, `system:serviceaccount:<ns>:
//!   <name>`: see [`components`] for each one's leases, watches, reads and
//!   writes. Scaled by 1 (0.5 to 2) for their reads and writes.
//! - **People and CI** (IAM roles and SSO sessions from private
//!   addresses: VPN and self-hosted runners): kubectl, k9s, Helm,
//!   Terraform; discovery, reads, logs, exec, port-forward, secret reads,
//!   403s and 404s, applies and Helm releases. Scaled by 1 (0.5 to 2).
//!
//! # Scenarios
//!
//! [`Scenario::Central`] takes the central value of every uncertain
//! assumption. [`Scenario::Low`] takes each at the end that leaves the
//! presets more to keep: more pod churn, mounted Secrets, people's and
//! operators' activity; fewer mounted ConfigMaps and slower EKS lease
//! renewals; and more status writes (a node status patch every 40 s, an
//! HPA status write at every sync), which pull the other way wherever a
//! preset drops them. [`Scenario::High`] takes the other end. The
//! reduction is reported as the range over the three.

use std::collections::{BTreeSet, HashMap};

use fastrand::Rng;
use serde_json::{Value, json};

const VERSION: &str = "v1.31.2";
const COMMIT: &str = "5864a46";
const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
/// Watch requests per informer an hour: a watch lasts 5 to 10 minutes.
const WATCHES_PER_HOUR: f64 = 8.0;

/// The API groups EKS's audit policy (the reference policy) knows: reads
/// of them are logged at `Request`, other verbs at `RequestResponse`.
pub const KNOWN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "extensions",
    "metrics.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
];

/// Where an event comes from and what it does: a row of the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Class {
    pub source: &'static str,
    pub activity: &'static str,
}

/// The source of people's and CI's requests, which must all survive.
pub const PEOPLE: &str = "people and CI";

/// One audit event of the model.
#[derive(Debug, Clone)]
pub struct Event {
    pub class: Class,
    /// `auditID/stage`: a watch's two events share the audit ID.
    pub key: String,
    /// The audit event as JSON text, as the API server writes it.
    pub message: String,
}

/// The operators the profiles install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    ArgoCd,
    CertManager,
    Keda,
    Prometheus,
    ExternalDns,
    ExternalSecrets,
    Istio,
    Kyverno,
    Velero,
    Karpenter,
    AwsLoadBalancer,
    Strimzi,
}

/// A cluster profile: its size and what runs in it.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: &'static str,
    pub nodes: usize,
    /// Pods in all, DaemonSet and add-on pods included.
    pub pods: usize,
    pub hpas: usize,
    /// Namespaces the HPAs are spread over.
    pub hpa_namespaces: usize,
    pub app_namespaces: usize,
    /// Of the HPAs, those KEDA's ScaledObjects own.
    pub keda_scaled_objects: usize,
    pub cronjob_runs_per_hour: f64,
    pub operators: Vec<Operator>,
    /// The EBS CSI driver add-on (controller and node plugin).
    pub ebs_csi: bool,
    pub argo_applications: usize,
    pub service_monitors: usize,
    pub external_secrets: usize,
    pub kafka_clusters: usize,
    /// People's and CI's requests an hour, before the scenario's factor.
    pub people_per_hour: f64,
}

impl Profile {
    /// 10 nodes, about 150 pods, no HPAs, one operator (cert-manager), the
    /// default add-ons (VPC CNI, kube-proxy, CoreDNS, Pod Identity agent)
    /// and metrics-server; a few people.
    pub fn lean() -> Self {
        Self {
            name: "lean",
            nodes: 10,
            pods: 150,
            hpas: 0,
            hpa_namespaces: 0,
            app_namespaces: 6,
            keda_scaled_objects: 0,
            cronjob_runs_per_hour: 3.0,
            operators: vec![Operator::CertManager],
            ebs_csi: false,
            argo_applications: 0,
            service_monitors: 0,
            external_secrets: 0,
            kafka_clusters: 0,
            people_per_hour: 150.0,
        }
    }

    /// 40 nodes, about 1,000 pods, 20 HPAs (5 of them KEDA's) in 8
    /// namespaces; Argo CD (40 applications), cert-manager, KEDA,
    /// kube-prometheus-stack (25 ServiceMonitors); the default add-ons,
    /// EBS CSI and metrics-server.
    pub fn typical() -> Self {
        Self {
            name: "typical",
            nodes: 40,
            pods: 1_000,
            hpas: 20,
            hpa_namespaces: 8,
            app_namespaces: 15,
            keda_scaled_objects: 5,
            cronjob_runs_per_hour: 20.0,
            operators: vec![
                Operator::ArgoCd,
                Operator::CertManager,
                Operator::Keda,
                Operator::Prometheus,
            ],
            ebs_csi: true,
            argo_applications: 40,
            service_monitors: 25,
            external_secrets: 0,
            kafka_clusters: 0,
            people_per_hour: 600.0,
        }
    }

    /// The typical cluster's size with 12 operators and 60 HPAs (15 of
    /// them KEDA's) in 20 namespaces.
    pub fn operator_heavy() -> Self {
        Self {
            name: "operator-heavy",
            nodes: 40,
            pods: 1_000,
            hpas: 60,
            hpa_namespaces: 20,
            app_namespaces: 25,
            keda_scaled_objects: 15,
            cronjob_runs_per_hour: 30.0,
            operators: vec![
                Operator::ArgoCd,
                Operator::CertManager,
                Operator::Keda,
                Operator::Prometheus,
                Operator::ExternalDns,
                Operator::ExternalSecrets,
                Operator::Istio,
                Operator::Kyverno,
                Operator::Velero,
                Operator::Karpenter,
                Operator::AwsLoadBalancer,
                Operator::Strimzi,
            ],
            ebs_csi: true,
            argo_applications: 60,
            service_monitors: 40,
            external_secrets: 80,
            kafka_clusters: 2,
            people_per_hour: 600.0,
        }
    }

    /// 500 nodes, 12,000 pods, 100 HPAs (10 of them KEDA's) in 30
    /// namespaces, the typical cluster's operators (150 Argo CD
    /// applications, 40 ServiceMonitors), more people.
    pub fn large() -> Self {
        Self {
            name: "large",
            nodes: 500,
            pods: 12_000,
            hpas: 100,
            hpa_namespaces: 30,
            app_namespaces: 40,
            keda_scaled_objects: 10,
            cronjob_runs_per_hour: 100.0,
            operators: vec![
                Operator::ArgoCd,
                Operator::CertManager,
                Operator::Keda,
                Operator::Prometheus,
            ],
            ebs_csi: true,
            argo_applications: 150,
            service_monitors: 40,
            external_secrets: 0,
            kafka_clusters: 0,
            people_per_hour: 1_500.0,
        }
    }

    pub fn all() -> Vec<Self> {
        vec![
            Self::lean(),
            Self::typical(),
            Self::operator_heavy(),
            Self::large(),
        ]
    }

    fn has(&self, op: Operator) -> bool {
        self.operators.contains(&op)
    }
}

/// Where in their ranges the uncertain assumptions are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Each at the end that leaves the presets more to keep.
    Low,
    Central,
    /// Each at the other end.
    High,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Low, Scenario::Central, Scenario::High];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Low => "low",
            Scenario::Central => "central",
            Scenario::High => "high",
        }
    }
}

/// The uncertain assumptions, with their ranges.
#[derive(Clone, Copy, Debug)]
pub struct Knobs {
    /// Mean seconds between a kubelet's `nodes/status` patches: 40 / 60 / 300.
    pub node_status_period: f64,
    /// Share of application pods replaced an hour: 0.15 / 0.05 / 0.02.
    pub pod_churn: f64,
    /// Share of HPA syncs that write the status: 1.0 / 0.8 / 0.5.
    pub hpa_status_share: f64,
    /// Retry period of the EKS controllers' leases: 10 / 5 / 2 s.
    pub eks_lease_period: f64,
    /// Mounted ConfigMaps per Deployment besides kube-root-ca.crt: 0.5 / 1 / 2.
    pub configmaps_per_deployment: f64,
    /// Mounted Secrets per Deployment: 1.2 / 0.6 / 0.3.
    pub secrets_per_deployment: f64,
    /// Factor on people's and CI's requests: 2 / 1 / 0.5.
    pub people: f64,
    /// Factor on operators' reads and writes (not leases or watches): 2 / 1 / 0.5.
    pub operators: f64,
}

impl Knobs {
    pub fn of(scenario: Scenario) -> Self {
        match scenario {
            Scenario::Low => Self {
                node_status_period: 40.0,
                pod_churn: 0.15,
                hpa_status_share: 1.0,
                eks_lease_period: 10.0,
                configmaps_per_deployment: 0.5,
                secrets_per_deployment: 1.2,
                people: 2.0,
                operators: 2.0,
            },
            Scenario::Central => Self {
                node_status_period: 60.0,
                pod_churn: 0.05,
                hpa_status_share: 0.8,
                eks_lease_period: 5.0,
                configmaps_per_deployment: 1.0,
                secrets_per_deployment: 0.6,
                people: 1.0,
                operators: 1.0,
            },
            Scenario::High => Self {
                node_status_period: 300.0,
                pod_churn: 0.02,
                hpa_status_share: 0.5,
                eks_lease_period: 2.0,
                configmaps_per_deployment: 2.0,
                secrets_per_deployment: 0.3,
                people: 0.5,
                operators: 0.5,
            },
        }
    }
}

// ---------------------------------------------------------------------
// Resources and requests

/// An API resource: group, version, plural.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Res {
    pub group: &'static str,
    pub version: &'static str,
    pub resource: &'static str,
}

const fn r(group: &'static str, version: &'static str, resource: &'static str) -> Res {
    Res {
        group,
        version,
        resource,
    }
}

impl Res {
    fn base(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The collection's path, in `ns` or across namespaces.
    fn collection(&self, ns: Option<&str>) -> String {
        match ns {
            Some(ns) => format!("{}/namespaces/{ns}/{}", self.base(), self.resource),
            None => format!("{}/{}", self.base(), self.resource),
        }
    }

    fn object(&self, ns: Option<&str>, name: &str, sub: Option<&str>) -> String {
        let mut uri = format!("{}/{name}", self.collection(ns));
        if let Some(sub) = sub {
            uri.push('/');
            uri.push_str(sub);
        }
        uri
    }

    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const PODS: Res = r("", "v1", "pods");
const NODES: Res = r("", "v1", "nodes");
const SERVICES: Res = r("", "v1", "services");
const ENDPOINTS: Res = r("", "v1", "endpoints");
const CONFIGMAPS: Res = r("", "v1", "configmaps");
const SECRETS: Res = r("", "v1", "secrets");
const SERVICEACCOUNTS: Res = r("", "v1", "serviceaccounts");
const NAMESPACES: Res = r("", "v1", "namespaces");
const DEPLOYMENTS: Res = r("apps", "v1", "deployments");
const REPLICASETS: Res = r("apps", "v1", "replicasets");
const JOBS: Res = r("batch", "v1", "jobs");
const CRONJOBS: Res = r("batch", "v1", "cronjobs");
const HPAS: Res = r("autoscaling", "v2", "horizontalpodautoscalers");
const LEASES: Res = r("coordination.k8s.io", "v1", "leases");
const ENDPOINTSLICES: Res = r("discovery.k8s.io", "v1", "endpointslices");
const TOKENREVIEWS: Res = r("authentication.k8s.io", "v1", "tokenreviews");
const SARS: Res = r("authorization.k8s.io", "v1", "subjectaccessreviews");
const SSARS: Res = r("authorization.k8s.io", "v1", "selfsubjectaccessreviews");
const SSRRS: Res = r("authorization.k8s.io", "v1", "selfsubjectrulesreviews");
const POD_METRICS: Res = r("metrics.k8s.io", "v1beta1", "pods");
const CSRS: Res = r("certificates.k8s.io", "v1", "certificatesigningrequests");
const INGRESSES: Res = r("networking.k8s.io", "v1", "ingresses");
const CNINODES: Res = r("vpcresources.k8s.aws", "v1alpha1", "cninodes");
const ENICONFIGS: Res = r("crd.k8s.amazonaws.com", "v1alpha1", "eniconfigs");
const POLICYENDPOINTS: Res = r("networking.k8s.aws", "v1alpha1", "policyendpoints");
const RUNTIMECLASSES: Res = r("node.k8s.io", "v1", "runtimeclasses");
const CSIDRIVERS: Res = r("storage.k8s.io", "v1", "csidrivers");
const CSINODES: Res = r("storage.k8s.io", "v1", "csinodes");
const PVS: Res = r("", "v1", "persistentvolumes");
const PVCS: Res = r("", "v1", "persistentvolumeclaims");
const STORAGECLASSES: Res = r("storage.k8s.io", "v1", "storageclasses");
const VOLUMEATTACHMENTS: Res = r("storage.k8s.io", "v1", "volumeattachments");
const CRDS: Res = r("apiextensions.k8s.io", "v1", "customresourcedefinitions");
const MUTATING: Res = r(
    "admissionregistration.k8s.io",
    "v1",
    "mutatingwebhookconfigurations",
);
const VALIDATING: Res = r(
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
);

/// The built-in types a cluster serves (events left out: the policy does
/// not log them), plus the VPC CNI's CRDs every EKS cluster has.
pub const BUILTIN: &[Res] = &[
    PODS,
    NODES,
    SERVICES,
    ENDPOINTS,
    CONFIGMAPS,
    SECRETS,
    SERVICEACCOUNTS,
    NAMESPACES,
    PVS,
    PVCS,
    r("", "v1", "replicationcontrollers"),
    r("", "v1", "resourcequotas"),
    r("", "v1", "limitranges"),
    r("", "v1", "podtemplates"),
    DEPLOYMENTS,
    REPLICASETS,
    r("apps", "v1", "statefulsets"),
    r("apps", "v1", "daemonsets"),
    r("apps", "v1", "controllerrevisions"),
    JOBS,
    CRONJOBS,
    HPAS,
    r("policy", "v1", "poddisruptionbudgets"),
    INGRESSES,
    r("networking.k8s.io", "v1", "ingressclasses"),
    r("networking.k8s.io", "v1", "networkpolicies"),
    ENDPOINTSLICES,
    r("rbac.authorization.k8s.io", "v1", "roles"),
    r("rbac.authorization.k8s.io", "v1", "rolebindings"),
    r("rbac.authorization.k8s.io", "v1", "clusterroles"),
    r("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
    STORAGECLASSES,
    CSINODES,
    CSIDRIVERS,
    VOLUMEATTACHMENTS,
    r("storage.k8s.io", "v1", "csistoragecapacities"),
    LEASES,
    MUTATING,
    VALIDATING,
    CRDS,
    r("apiregistration.k8s.io", "v1", "apiservices"),
    CSRS,
    RUNTIMECLASSES,
    r("scheduling.k8s.io", "v1", "priorityclasses"),
    r("flowcontrol.apiserver.k8s.io", "v1", "flowschemas"),
    r(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
    ),
    CNINODES,
    ENICONFIGS,
    POLICYENDPOINTS,
];

#[derive(Clone, Debug)]
struct ObjRef {
    res: Res,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<&'static str>,
}

/// Who asks: the user, where from, with what client, and the
/// authorizer's reason.
#[derive(Clone, Debug)]
struct Actor {
    user: Value,
    ip: String,
    agent: String,
    reason: String,
    node: bool,
}

impl Actor {
    fn username(&self) -> &str {
        self.user["username"].as_str().unwrap_or_default()
    }
}

/// One request, before the policy decides what of it is logged.
#[derive(Clone, Debug)]
struct Req {
    actor: Actor,
    verb: &'static str,
    uri: String,
    obj: Option<ObjRef>,
    code: u16,
    request: Option<Value>,
    response: Option<Value>,
    /// Seconds from receipt to the response (for a watch, its duration).
    latency: f64,
    annotations: Vec<(&'static str, Value)>,
}

fn req(actor: &Actor, verb: &'static str, uri: String, obj: Option<ObjRef>, code: u16) -> Req {
    Req {
        actor: actor.clone(),
        verb,
        uri,
        obj,
        code,
        request: None,
        response: None,
        latency: 0.002,
        annotations: Vec::new(),
    }
}

impl Req {
    fn bodies(mut self, request: Option<Value>, response: Option<Value>) -> Self {
        self.request = request;
        self.response = response;
        self
    }
    fn latency(mut self, secs: f64) -> Self {
        self.latency = secs;
        self
    }
}

/// The level EKS's audit policy gives `req`; `None` for what it does not
/// log (the model must not make those).
fn policy_level(req: &Req) -> Option<&'static str> {
    let (verb, user, node) = (req.verb, req.actor.username(), req.actor.node);
    let Some(o) = &req.obj else {
        let path = req.uri.split('?').next().unwrap_or(&req.uri);
        if path.starts_with("/healthz") || path == "/version" || path.starts_with("/swagger") {
            return None;
        }
        return Some("Metadata");
    };
    let (group, resource, sub) = (o.res.group, o.res.resource, o.sub);
    let (ns, name) = (o.ns.as_deref(), o.name.as_deref());
    let write = matches!(verb, "update" | "patch" | "delete");
    if resource == "configmaps" && ns == Some("kube-system") && name == Some("aws-auth") && write {
        return Some("RequestResponse");
    }
    if resource == "events" {
        return None;
    }
    if node && resource == "nodes" && verb == "get" {
        return None;
    }
    if user == "system:kube-proxy"
        && verb == "watch"
        && matches!(resource, "endpoints" | "services")
    {
        return None;
    }
    if matches!(
        user,
        "system:kube-controller-manager" | "system:kube-scheduler"
    ) && resource == "endpoints"
        && ns == Some("kube-system")
        && matches!(verb, "get" | "update")
    {
        return None;
    }
    if user == "system:apiserver" && resource == "namespaces" && verb == "get" {
        return None;
    }
    if user == "system:kube-controller-manager"
        && group == "metrics.k8s.io"
        && matches!(verb, "get" | "list")
    {
        return None;
    }
    if node
        && matches!(verb, "update" | "patch")
        && matches!(resource, "nodes" | "pods")
        && sub == Some("status")
    {
        return Some("Request");
    }
    if matches!(resource, "secrets" | "configmaps" | "tokenreviews")
        || (resource == "serviceaccounts" && sub == Some("token"))
    {
        return Some("Metadata");
    }
    if !KNOWN_GROUPS.contains(&group) {
        return Some("Metadata");
    }
    if matches!(verb, "get" | "list" | "watch") {
        return Some("Request");
    }
    Some("RequestResponse")
}

fn level_of(req: &Req) -> &'static str {
    policy_level(req)
        .unwrap_or_else(|| panic!("EKS's audit policy does not log {} {}", req.verb, req.uri))
}

// ---------------------------------------------------------------------
// Identifiers

const BASE_SECONDS: f64 = 10.0 * 3600.0;

/// `2026-11-30T10:00:00Z` plus `secs`.
fn timestamp(secs: f64) -> String {
    let micros = ((BASE_SECONDS + secs).max(0.0) * 1e6) as u64;
    let (s, frac) = (micros / 1_000_000, micros % 1_000_000);
    let day = 30 + s / 86_400;
    let s = s % 86_400;
    let (month, day) = if day > 30 { (12, day - 30) } else { (11, day) };
    format!(
        "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

fn uuid(rng: &mut Rng) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        rng.u32(..),
        rng.u16(..),
        rng.u16(..0x1000),
        8 + rng.u8(..4),
        rng.u16(..0x1000),
        rng.u64(..1 << 48)
    )
}

fn rv(rng: &mut Rng) -> String {
    rng.u64(180_000_000..260_000_000).to_string()
}

fn suffix(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len)
        .map(|_| CHARS[rng.usize(..CHARS.len())] as char)
        .collect()
}

fn hex(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(rng.u32(..16), 16).unwrap())
        .collect()
}

fn upper(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    (0..len)
        .map(|_| CHARS[rng.usize(..CHARS.len())] as char)
        .collect()
}

/// `?allowWatchBookmarks=true&...&watch=true` with a client-go timeout of
/// 5 to 10 minutes; and that timeout.
fn watch_query(rng: &mut Rng, selector: Option<String>) -> (String, f64) {
    let secs = rng.u32(300..600);
    let selector = selector.map(|s| format!("&{s}")).unwrap_or_default();
    (
        format!(
            "?allowWatchBookmarks=true{selector}&resourceVersion={}&timeout={}m{}s&timeoutSeconds={secs}&watch=true",
            rv(rng),
            secs / 60,
            secs % 60
        ),
        f64::from(secs),
    )
}

fn field_name(name: &str) -> String {
    format!("fieldSelector=metadata.name%3D{name}")
}

fn agent(program: &str, version: &str) -> String {
    format!("{program}/{version} (linux/amd64) kubernetes/$Format")
}

fn kube_agent(program: &str) -> String {
    format!("{program}/{VERSION} (linux/amd64) kubernetes/{COMMIT}")
}

fn rbac(binding: &str, role: &str, subject: &str) -> String {
    format!(
        "RBAC: allowed by ClusterRoleBinding \"{binding}\" of ClusterRole \"{role}\" to {subject}"
    )
}

// ---------------------------------------------------------------------
// The cluster

#[derive(Debug, Clone)]
struct Node {
    name: String,
    actor: Actor,
}

#[derive(Debug, Clone)]
struct Pod {
    name: String,
    ns: String,
    node: usize,
    uid: String,
    ip: String,
    sa: String,
    deployment: Option<usize>,
}

#[derive(Debug, Clone)]
struct Hpa {
    metrics: usize,
    keda: bool,
}

#[derive(Debug, Clone)]
struct Deployment {
    name: String,
    ns: String,
    replicas: usize,
    configmaps: Vec<String>,
    secrets: Vec<String>,
    hpa: Option<Hpa>,
    image: String,
    hash: String,
}

struct World {
    nodes: Vec<Node>,
    pods: Vec<Pod>,
    app_pods: Vec<usize>,
    deployments: Vec<Deployment>,
    app_namespaces: Vec<String>,
    /// (node, namespace, name) of each ConfigMap / Secret a node watches.
    node_configmaps: Vec<(usize, String, String)>,
    node_secrets: Vec<(usize, String, String)>,
    hpas: Vec<usize>,
    /// Every type a cluster-wide cache watches: built-in and CRDs.
    all_types: Vec<Res>,
    crds: Vec<Res>,
    control_plane_ips: [String; 2],
}

const NAMESPACES_POOL: &[&str] = &[
    "checkout",
    "payments",
    "catalog",
    "search",
    "accounts",
    "orders",
    "shipping",
    "notifications",
    "recommendations",
    "inventory",
    "pricing",
    "reviews",
    "media",
    "identity",
    "gateway",
    "analytics",
    "reporting",
    "billing",
    "support",
    "loyalty",
    "ads",
    "fraud",
    "ledger",
    "returns",
    "partners",
    "events",
    "ml-serving",
    "etl",
    "cms",
    "chat",
    "maps",
    "tax",
    "quotes",
    "subscriptions",
    "feeds",
    "exports",
    "imports",
    "audit",
    "email",
    "sms",
];

const ROLES: &[&str] = &[
    "api",
    "worker",
    "web",
    "consumer",
    "sync",
    "grpc",
    "cache",
    "scheduler",
];

fn node_actor(name: &str, rng: &mut Rng) -> Actor {
    let instance = format!("i-0{}", hex(rng, 16));
    let principal = "AROAYQ2EXAMPLENODEROLE";
    Actor {
        user: json!({
            "username": format!("system:node:{name}"),
            "uid": format!("aws-iam-authenticator:{ACCOUNT}:{principal}"),
            "groups": ["system:bootstrappers", "system:nodes", "system:authenticated"],
            "extra": {
                "accessKeyId": [format!("ASIAYQ2{}", upper(rng, 13))],
                "arn": [format!("arn:aws:sts::{ACCOUNT}:assumed-role/eks-node-group-role/{instance}")],
                "canonicalArn": [format!("arn:aws:iam::{ACCOUNT}:role/eks-node-group-role")],
                "principalId": [principal],
                "sessionName": [instance],
                "sigs.k8s.io/aws-iam-authenticator/principalId": [principal],
            }
        }),
        ip: String::new(),
        agent: kube_agent("kubelet"),
        reason: String::new(),
        node: true,
    }
}

/// A service account's token bound to a pod (projected), as a pod's
/// process presents it.
fn pod_sa_actor(
    ns: &str,
    sa: &str,
    pod: &str,
    node: &str,
    ip: &str,
    agent: String,
    rng: &mut Rng,
) -> Actor {
    Actor {
        user: json!({
            "username": format!("system:serviceaccount:{ns}:{sa}"),
            "uid": uuid(rng),
            "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"],
            "extra": {
                "authentication.kubernetes.io/credential-id": [format!("JTI={}", uuid(rng))],
                "authentication.kubernetes.io/node-name": [node],
                "authentication.kubernetes.io/node-uid": [uuid(rng)],
                "authentication.kubernetes.io/pod-name": [pod],
                "authentication.kubernetes.io/pod-uid": [uuid(rng)],
            }
        }),
        ip: ip.to_owned(),
        agent,
        reason: rbac(sa, sa, &format!("ServiceAccount \"{sa}/{ns}\"")),
        node: false,
    }
}

/// A controller of the controller manager, with its own service account.
fn controller_actor(w: &World, controller: &str, rng: &mut Rng) -> Actor {
    Actor {
        user: json!({
            "username": format!("system:serviceaccount:kube-system:{controller}"),
            "uid": uuid(rng),
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": [format!("JTI={}", uuid(rng))]}
        }),
        ip: w.control_plane_ips[0].clone(),
        agent: format!(
            "{}/system:serviceaccount:kube-system:{controller}",
            kube_agent("kube-controller-manager")
        ),
        reason: rbac(
            &format!("system:controller:{controller}"),
            &format!("system:controller:{controller}"),
            &format!("ServiceAccount \"{controller}/kube-system\""),
        ),
        node: false,
    }
}

fn plain_actor(user: &str, ip: &str, agent: String, reason: String) -> Actor {
    Actor {
        user: json!({"username": user, "groups": ["system:authenticated"]}),
        ip: ip.to_owned(),
        agent,
        reason,
        node: false,
    }
}

impl World {
    fn build(p: &Profile, k: &Knobs, rng: &mut Rng) -> Self {
        // Nodes over three subnets (AZs) of a 10.0.0.0/16 VPC.
        let mut used = BTreeSet::new();
        let mut nodes = Vec::new();
        let mut node_ips = Vec::new();
        while nodes.len() < p.nodes {
            let third = 32 * (1 + nodes.len() % 3) as u32 + rng.u32(..32);
            let fourth = rng.u32(4..255);
            if !used.insert((third, fourth)) {
                continue;
            }
            let name = format!("ip-10-0-{third}-{fourth}.{REGION}.compute.internal");
            let mut actor = node_actor(&name, rng);
            let ip = format!("10.0.{third}.{fourth}");
            actor.ip = ip.clone();
            node_ips.push(ip);
            nodes.push(Node { name, actor });
        }
        let pod_ip = |rng: &mut Rng, node: usize| {
            let base: Vec<u32> = node_ips[node]
                .split('.')
                .map(|x| x.parse().unwrap())
                .collect();
            format!("10.0.{}.{}", base[2], rng.u32(1..255))
        };
        let mut pods = Vec::new();
        // DaemonSet pods: aws-node, kube-proxy, Pod Identity agent, EBS
        // node plugin, node exporter.
        let mut daemonsets = vec!["aws-node", "kube-proxy", "eks-pod-identity-agent"];
        if p.ebs_csi {
            daemonsets.push("ebs-csi-node");
        }
        if p.has(Operator::Prometheus) {
            daemonsets.push("prometheus-node-exporter");
        }
        for (node, node_ip) in node_ips.iter().enumerate() {
            for ds in &daemonsets {
                let ns = if ds.starts_with("prometheus") {
                    "monitoring"
                } else {
                    "kube-system"
                };
                pods.push(Pod {
                    name: format!("{ds}-{}", suffix(rng, 5)),
                    ns: ns.to_owned(),
                    node,
                    uid: uuid(rng),
                    ip: node_ip.clone(),
                    sa: ds.to_string(),
                    deployment: None,
                });
            }
        }
        // Add-on and operator pods: counted, placed, not modelled further.
        let others = 4 + 4 * p.operators.len();
        for i in 0..others {
            let node = rng.usize(..nodes.len());
            pods.push(Pod {
                name: format!("addon-{i}-{}", suffix(rng, 5)),
                ns: "kube-system".to_owned(),
                node,
                uid: uuid(rng),
                ip: pod_ip(rng, node),
                sa: "default".to_owned(),
                deployment: None,
            });
        }
        let app_namespaces: Vec<String> = NAMESPACES_POOL[..p.app_namespaces]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let wanted = p.pods.saturating_sub(pods.len());
        let mut deployments = Vec::new();
        let mut placed = 0;
        let mut i = 0;
        while placed < wanted {
            let ns = &app_namespaces[i % app_namespaces.len()];
            let role = ROLES[(i / app_namespaces.len()) % ROLES.len()];
            let round = i / (app_namespaces.len() * ROLES.len());
            let name = if round == 0 {
                format!("{ns}-{role}")
            } else {
                format!("{ns}-{role}-{round}")
            };
            let replicas = [1, 2, 2, 3, 3, 3, 4, 5, 6, 8][rng.usize(..10)].min(wanted - placed);
            let count = |rng: &mut Rng, mean: f64| -> usize {
                let whole = mean.floor();
                whole as usize + usize::from(rng.f64() < mean - whole)
            };
            let configmaps = (0..count(rng, k.configmaps_per_deployment))
                .map(|j| {
                    format!(
                        "{name}-config{}",
                        if j == 0 {
                            String::new()
                        } else {
                            format!("-{j}")
                        }
                    )
                })
                .collect();
            let secrets = (0..count(rng, k.secrets_per_deployment))
                .map(|j| format!("{name}-{}", ["credentials", "tls", "db", "api-keys"][j % 4]))
                .collect();
            deployments.push(Deployment {
                image: format!(
                    "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{ns}/{role}:2026.11.{}-{}",
                    rng.u32(1..30),
                    hex(rng, 7)
                ),
                hash: suffix(rng, 10),
                name,
                ns: ns.clone(),
                replicas,
                configmaps,
                secrets,
                hpa: None,
            });
            placed += replicas;
            i += 1;
        }
        let mut app_pods = Vec::new();
        for (d, dep) in deployments.iter().enumerate() {
            for _ in 0..dep.replicas {
                let node = rng.usize(..nodes.len());
                app_pods.push(pods.len());
                pods.push(Pod {
                    name: format!("{}-{}-{}", dep.name, dep.hash, suffix(rng, 5)),
                    ns: dep.ns.clone(),
                    node,
                    uid: uuid(rng),
                    ip: pod_ip(rng, node),
                    sa: dep.name.clone(),
                    deployment: Some(d),
                });
            }
        }
        // HPAs: Deployments of two replicas or more in the first
        // `hpa_namespaces` namespaces.
        let mut hpas = Vec::new();
        let hpa_ns: Vec<&String> = app_namespaces.iter().take(p.hpa_namespaces).collect();
        let mut candidates: Vec<usize> = (0..deployments.len())
            .filter(|&d| deployments[d].replicas >= 2 && hpa_ns.contains(&&deployments[d].ns))
            .collect();
        if candidates.len() < p.hpas {
            candidates = (0..deployments.len()).collect();
        }
        for (j, &d) in candidates.iter().take(p.hpas).enumerate() {
            deployments[d].hpa = Some(Hpa {
                metrics: if rng.f64() < 0.3 { 2 } else { 1 },
                keda: j < p.keda_scaled_objects,
            });
            hpas.push(d);
        }
        // What each node's kubelet watches by name.
        let mut node_configmaps = BTreeSet::new();
        let mut node_secrets = BTreeSet::new();
        for pod in &pods {
            node_configmaps.insert((pod.node, pod.ns.clone(), "kube-root-ca.crt".to_owned()));
            if let Some(d) = pod.deployment {
                for cm in &deployments[d].configmaps {
                    node_configmaps.insert((pod.node, pod.ns.clone(), cm.clone()));
                }
                for s in &deployments[d].secrets {
                    node_secrets.insert((pod.node, pod.ns.clone(), s.clone()));
                }
            }
        }
        for node in 0..nodes.len() {
            for cm in ["amazon-vpc-cni", "kube-proxy", "kube-proxy-config"] {
                node_configmaps.insert((node, "kube-system".to_owned(), cm.to_owned()));
            }
        }
        let mut crds = Vec::new();
        if p.ebs_csi {
            crds.extend([
                r("snapshot.storage.k8s.io", "v1", "volumesnapshots"),
                r("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents"),
                r("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses"),
            ]);
        }
        for op in &p.operators {
            crds.extend(operator_crds(*op));
        }
        let mut all_types = BUILTIN.to_vec();
        all_types.extend(crds.iter().copied());
        World {
            nodes,
            pods,
            app_pods,
            deployments,
            app_namespaces,
            node_configmaps: node_configmaps.into_iter().collect(),
            node_secrets: node_secrets.into_iter().collect(),
            hpas,
            all_types,
            crds,
            control_plane_ips: ["10.0.4.21".to_owned(), "10.0.9.144".to_owned()],
        }
    }

    fn app_pod(&self, rng: &mut Rng) -> &Pod {
        &self.pods[self.app_pods[rng.usize(..self.app_pods.len())]]
    }

    fn node(&self, rng: &mut Rng) -> &Node {
        &self.nodes[rng.usize(..self.nodes.len())]
    }

    fn app_ns(&self, rng: &mut Rng) -> &str {
        &self.app_namespaces[rng.usize(..self.app_namespaces.len())]
    }
}

// ---------------------------------------------------------------------
// Objects (request and response bodies)

fn managed(manager: &str, op: &str, api_version: &str, fields: Value, sub: Option<&str>) -> Value {
    let mut entry = json!({
        "manager": manager,
        "operation": op,
        "apiVersion": api_version,
        "time": "2026-11-29T17:42:08Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    });
    if let Some(sub) = sub {
        entry["subresource"] = json!(sub);
    }
    entry
}

fn pod_template(d: &Deployment) -> Value {
    let cms: Vec<Value> = d
        .configmaps
        .iter()
        .map(|c| json!({"name": c, "configMap": {"name": c, "defaultMode": 420}}))
        .collect();
    let secrets: Vec<Value> = d
        .secrets
        .iter()
        .map(|s| json!({"name": s, "secret": {"secretName": s, "defaultMode": 420}}))
        .collect();
    let mut volumes = cms;
    volumes.extend(secrets);
    json!({
        "metadata": {"labels": {"app.kubernetes.io/name": d.name, "app.kubernetes.io/part-of": d.ns, "pod-template-hash": d.hash}},
        "spec": {
            "volumes": volumes,
            "containers": [{
                "name": "app",
                "image": d.image,
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                "env": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.monitoring:4317"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                    {"name": "AWS_REGION", "value": REGION}
                ],
                "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "384Mi"}},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false}
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": d.name,
            "serviceAccount": d.name,
            "securityContext": {"fsGroup": 1000},
            "schedulerName": "default-scheduler",
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app.kubernetes.io/name": d.name}}}]
        }
    })
}

fn pod_object(w: &World, pod: &Pod, rng: &mut Rng, stored: bool) -> Value {
    let d = &w.deployments[pod.deployment.unwrap_or(0)];
    let mut obj = pod_template(d);
    obj["kind"] = json!("Pod");
    obj["apiVersion"] = json!("v1");
    let mut meta = json!({
        "name": pod.name,
        "generateName": format!("{}-{}-", d.name, d.hash),
        "namespace": pod.ns,
        "labels": obj["metadata"]["labels"].clone(),
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{}-{}", d.name, d.hash), "uid": uuid(rng), "controller": true, "blockOwnerDeletion": true}],
    });
    if stored {
        meta["uid"] = json!(pod.uid);
        meta["resourceVersion"] = json!(rv(rng));
        meta["creationTimestamp"] = json!("2026-11-30T10:03:12Z");
        meta["managedFields"] = json!([managed(
            "kube-controller-manager",
            "Update",
            "v1",
            json!({"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app.kubernetes.io/name": {}, "f:app.kubernetes.io/part-of": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}, format!("k:{{\"uid\":\"{}\"}}", uuid(rng)): {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:livenessProbe": {}, "f:name": {}, "f:ports": {}, "f:readinessProbe": {}, "f:resources": {}, "f:securityContext": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}}, "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:serviceAccount": {}, "f:serviceAccountName": {}, "f:terminationGracePeriodSeconds": {}, "f:topologySpreadConstraints": {}, "f:volumes": {}}}),
            None
        )]);
        obj["spec"]["nodeName"] = json!(w.nodes[pod.node].name);
        obj["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": format!("kube-api-access-{}", suffix(rng, 5)), "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}, {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}], "defaultMode": 420}}));
        obj["spec"]["tolerations"] = json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]);
        obj["spec"]["priority"] = json!(0);
        obj["spec"]["enableServiceLinks"] = json!(true);
        obj["spec"]["preemptionPolicy"] = json!("PreemptLowerPriority");
        obj["status"] = json!({"phase": "Running", "hostIP": w.nodes[pod.node].actor.ip, "podIP": pod.ip, "qosClass": "Burstable", "startTime": "2026-11-30T10:03:12Z"});
    } else {
        obj["status"] = json!({});
    }
    obj["metadata"] = meta;
    obj
}

fn replicaset_object(d: &Deployment, rng: &mut Rng) -> Value {
    json!({
        "kind": "ReplicaSet", "apiVersion": "apps/v1",
        "metadata": {
            "name": format!("{}-{}", d.name, d.hash), "namespace": d.ns, "uid": uuid(rng), "resourceVersion": rv(rng),
            "generation": 14, "creationTimestamp": "2026-11-12T08:15:40Z",
            "labels": {"app.kubernetes.io/name": d.name, "pod-template-hash": d.hash},
            "annotations": {"deployment.kubernetes.io/desired-replicas": d.replicas.to_string(), "deployment.kubernetes.io/max-replicas": (d.replicas + 1).to_string(), "deployment.kubernetes.io/revision": "14"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": d.name, "uid": uuid(rng), "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {"replicas": d.replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": d.name, "pod-template-hash": d.hash}}, "template": pod_template(d)},
        "status": {"replicas": d.replicas, "fullyLabeledReplicas": d.replicas, "readyReplicas": d.replicas.saturating_sub(1), "availableReplicas": d.replicas.saturating_sub(1), "observedGeneration": 14}
    })
}

fn deployment_object(d: &Deployment, rng: &mut Rng) -> Value {
    json!({
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {
            "name": d.name, "namespace": d.ns, "uid": uuid(rng), "resourceVersion": rv(rng), "generation": 14,
            "creationTimestamp": "2026-03-02T11:20:05Z",
            "labels": {"app.kubernetes.io/name": d.name, "app.kubernetes.io/instance": d.ns, "argocd.argoproj.io/instance": d.ns},
            "annotations": {"deployment.kubernetes.io/revision": "14"}
        },
        "spec": {
            "replicas": d.replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": d.name}}, "template": pod_template(d),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600
        },
        "status": {
            "observedGeneration": 14, "replicas": d.replicas, "updatedReplicas": d.replicas, "readyReplicas": d.replicas, "availableReplicas": d.replicas,
            "conditions": [
                {"type": "Available", "status": "True", "lastUpdateTime": "2026-11-29T06:01:44Z", "lastTransitionTime": "2026-11-29T06:01:44Z", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "lastUpdateTime": "2026-11-30T10:03:40Z", "lastTransitionTime": "2026-03-02T11:20:05Z", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{}-{}\" has successfully progressed.", d.name, d.hash)}
            ]
        }
    })
}

fn endpoints_object(w: &World, d: &Deployment, rng: &mut Rng) -> Value {
    let addresses: Vec<Value> = (0..d.replicas.max(1))
        .map(|_| {
            let pod = w.app_pod(rng);
            json!({"ip": pod.ip, "nodeName": w.nodes[pod.node].name, "targetRef": {"kind": "Pod", "namespace": d.ns, "name": pod.name, "uid": pod.uid}})
        })
        .collect();
    json!({
        "kind": "Endpoints", "apiVersion": "v1",
        "metadata": {"name": d.name, "namespace": d.ns, "uid": uuid(rng), "resourceVersion": rv(rng), "creationTimestamp": "2026-03-02T11:20:05Z",
            "labels": {"app.kubernetes.io/name": d.name, "endpoints.kubernetes.io/managed-by": "endpoint-controller"},
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-11-30T10:03:40Z"}},
        "subsets": [{"addresses": addresses, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP"}]}]
    })
}

fn hpa_object(d: &Deployment, rng: &mut Rng) -> Value {
    let current = d.replicas.max(2);
    let mut metrics = vec![
        json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}),
    ];
    let mut current_metrics = vec![
        json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": format!("{}m", rng.u32(120..480)), "averageUtilization": rng.u32(40..95)}}}),
    ];
    if d.hpa.as_ref().is_some_and(|h| h.metrics > 1) {
        metrics.push(json!({"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}}));
        current_metrics.push(json!({"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": format!("{}Mi", rng.u32(200..400)), "averageUtilization": rng.u32(50..90)}}}));
    }
    json!({
        "kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
        "metadata": {
            "name": d.name, "namespace": d.ns, "uid": uuid(rng), "resourceVersion": rv(rng), "creationTimestamp": "2026-03-02T11:20:05Z",
            "labels": {"app.kubernetes.io/name": d.name, "app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": d.ns, "meta.helm.sh/release-namespace": d.ns},
            "managedFields": [
                managed("helm", "Update", "autoscaling/v2", json!({"f:metadata": {"f:annotations": {".": {}, "f:meta.helm.sh/release-name": {}, "f:meta.helm.sh/release-namespace": {}}, "f:labels": {".": {}, "f:app.kubernetes.io/managed-by": {}, "f:app.kubernetes.io/name": {}}}, "f:spec": {"f:maxReplicas": {}, "f:metrics": {}, "f:minReplicas": {}, "f:scaleTargetRef": {}}}), None),
                managed("kube-controller-manager", "Update", "autoscaling/v2", json!({"f:status": {"f:conditions": {".": {}, "k:{\"type\":\"AbleToScale\"}": {".": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}}, "k:{\"type\":\"ScalingActive\"}": {".": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}}, "k:{\"type\":\"ScalingLimited\"}": {".": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}}}, "f:currentMetrics": {}, "f:currentReplicas": {}, "f:desiredReplicas": {}}}), Some("status"))
            ]
        },
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": d.name, "apiVersion": "apps/v1"}, "minReplicas": 2, "maxReplicas": 20, "metrics": metrics},
        "status": {
            "currentReplicas": current, "desiredReplicas": current, "currentMetrics": current_metrics,
            "conditions": [
                {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-11-30T09:41:16Z", "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
                {"type": "ScalingActive", "status": "True", "lastTransitionTime": "2026-11-02T14:08:51Z", "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
                {"type": "ScalingLimited", "status": "False", "lastTransitionTime": "2026-11-30T08:12:37Z", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range"}
            ]
        }
    })
}

fn job_object(name: &str, ns: &str, rng: &mut Rng, stored: bool) -> Value {
    let mut job = json!({
        "kind": "Job", "apiVersion": "batch/v1",
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": name}, "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-11-30T10:00:00Z"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": name.rsplit_once('-').map(|(a, _)| a).unwrap_or(name), "uid": uuid(rng), "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 3, "ttlSecondsAfterFinished": 3600, "completionMode": "NonIndexed", "suspend": false,
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": {"containers": [{"name": "job", "image": format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{ns}/batch:2026.11.{}", rng.u32(1..30)), "args": ["--run", "nightly-reconcile"], "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}], "restartPolicy": "OnFailure", "serviceAccountName": "batch"}}},
        "status": {}
    });
    if stored {
        job["metadata"]["uid"] = json!(uuid(rng));
        job["metadata"]["resourceVersion"] = json!(rv(rng));
        job["metadata"]["creationTimestamp"] = json!("2026-11-30T10:00:00Z");
        job["status"] = json!({"active": 1, "startTime": "2026-11-30T10:00:00Z", "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}});
    }
    job
}

fn sar_body(user: &Value, attributes: Value, allowed: Option<&str>) -> Value {
    let mut spec = json!({"user": user["username"], "groups": user["groups"]});
    if let Some(uid) = user.get("uid") {
        spec["uid"] = uid.clone();
    }
    if let Some(extra) = user.get("extra") {
        spec["extra"] = extra.clone();
    }
    if attributes.get("path").is_some() {
        spec["nonResourceAttributes"] = attributes;
    } else {
        spec["resourceAttributes"] = attributes;
    }
    let status = match allowed {
        Some(reason) => json!({"allowed": true, "reason": reason}),
        None => json!({"allowed": false}),
    };
    json!({"kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {"creationTimestamp": null}, "spec": spec, "status": status})
}

fn node_status_patch(rng: &mut Rng, images: bool) -> Value {
    let beat = timestamp(rng.f64() * 60.0);
    let mut status = json!({
        "$setElementOrder/conditions": [{"type": "MemoryPressure"}, {"type": "DiskPressure"}, {"type": "PIDPressure"}, {"type": "Ready"}],
        "conditions": [
            {"lastHeartbeatTime": beat, "type": "MemoryPressure"},
            {"lastHeartbeatTime": beat, "type": "DiskPressure"},
            {"lastHeartbeatTime": beat, "type": "PIDPressure"},
            {"lastHeartbeatTime": beat, "type": "Ready"}
        ]
    });
    if images {
        let list: Vec<Value> = (0..28)
            .map(|i| json!({"names": [format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}/{}@sha256:{}", NAMESPACES_POOL[i % NAMESPACES_POOL.len()], ROLES[i % ROLES.len()], hex(rng, 64)), format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}/{}:2026.11.{}", NAMESPACES_POOL[i % NAMESPACES_POOL.len()], ROLES[i % ROLES.len()], i)], "sizeBytes": rng.u64(20_000_000..400_000_000)}))
            .collect();
        status["images"] = json!(list);
    }
    json!({"status": status})
}

fn pod_status_patch(pod: &Pod, rng: &mut Rng) -> Value {
    let t = timestamp(rng.f64() * 600.0);
    json!({
        "metadata": {"uid": pod.uid},
        "status": {
            "$setElementOrder/conditions": [{"type": "PodReadyToStartContainers"}, {"type": "Initialized"}, {"type": "Ready"}, {"type": "ContainersReady"}, {"type": "PodScheduled"}],
            "conditions": [{"lastTransitionTime": t, "status": "True", "type": "Ready"}, {"lastTransitionTime": t, "status": "True", "type": "ContainersReady"}],
            "containerStatuses": [{"containerID": format!("containerd://{}", hex(rng, 64)), "image": "app", "imageID": format!("sha256:{}", hex(rng, 64)), "lastState": {}, "name": "app", "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": t}}, "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": format!("kube-api-access-{}", suffix(rng, 5)), "readOnly": true, "recursiveReadOnly": "Disabled"}]}],
            "podIP": pod.ip, "podIPs": [{"ip": pod.ip}]
        }
    })
}

fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

// ---------------------------------------------------------------------
// Rendering

fn render(req: &Req, id: &str, stage: &str, received: f64, at: f64) -> String {
    let level = level_of(req);
    let mut event = serde_json::Map::new();
    event.insert("kind".into(), json!("Event"));
    event.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
    event.insert("level".into(), json!(level));
    event.insert("auditID".into(), json!(id));
    event.insert("stage".into(), json!(stage));
    event.insert("requestURI".into(), json!(req.uri));
    event.insert("verb".into(), json!(req.verb));
    event.insert("user".into(), req.actor.user.clone());
    event.insert("sourceIPs".into(), json!([req.actor.ip]));
    event.insert("userAgent".into(), json!(req.actor.agent));
    if let Some(o) = &req.obj {
        let mut obj = serde_json::Map::new();
        obj.insert("resource".into(), json!(o.res.resource));
        if let Some(ns) = &o.ns {
            obj.insert("namespace".into(), json!(ns));
        }
        if let Some(name) = &o.name {
            obj.insert("name".into(), json!(name));
        }
        if !o.res.group.is_empty() {
            obj.insert("apiGroup".into(), json!(o.res.group));
        }
        obj.insert("apiVersion".into(), json!(o.res.version));
        if let Some(sub) = o.sub {
            obj.insert("subresource".into(), json!(sub));
        }
        event.insert("objectRef".into(), Value::Object(obj));
    }
    let status = if req.code < 400 {
        json!({"metadata": {}, "code": req.code})
    } else {
        let (reason, message) = match req.code {
            403 => (
                "Forbidden",
                format!(
                    "{} is forbidden: User \"{}\" cannot {} resource \"{}\"",
                    req.obj
                        .as_ref()
                        .map(|o| o.res.resource)
                        .unwrap_or("request"),
                    req.actor.username(),
                    req.verb,
                    req.obj
                        .as_ref()
                        .map(|o| o.res.resource)
                        .unwrap_or("")
                ),
            ),
            404 => ("NotFound", "the server could not find the requested resource".to_owned()),
            _ => ("Conflict", "the object has been modified; please apply your changes to the latest version and try again".to_owned()),
        };
        json!({"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": req.code})
    };
    event.insert("responseStatus".into(), status);
    if matches!(level, "Request" | "RequestResponse")
        && let Some(body) = &req.request
    {
        event.insert("requestObject".into(), body.clone());
    }
    if level == "RequestResponse"
        && stage == "ResponseComplete"
        && let Some(body) = &req.response
    {
        event.insert("responseObject".into(), body.clone());
    }
    event.insert(
        "requestReceivedTimestamp".into(),
        json!(timestamp(received)),
    );
    event.insert("stageTimestamp".into(), json!(timestamp(at)));
    let mut annotations = serde_json::Map::new();
    let forbidden = req.code == 403;
    annotations.insert(
        "authorization.k8s.io/decision".into(),
        json!(if forbidden { "forbid" } else { "allow" }),
    );
    annotations.insert(
        "authorization.k8s.io/reason".into(),
        json!(if forbidden { "" } else { &req.actor.reason }),
    );
    for (k, v) in &req.annotations {
        annotations.insert((*k).into(), v.clone());
    }
    event.insert("annotations".into(), Value::Object(annotations));
    Value::Object(event).to_string()
}

// ---------------------------------------------------------------------
// Streams: requests per hour per source

type Make = Box<dyn Fn(&World, &mut Rng) -> Req>;

struct Stream {
    class: Class,
    /// Requests an hour.
    rate: f64,
    /// A watch: two events per request.
    watch: bool,
    make: Make,
}

struct Streams(Vec<Stream>);

impl Streams {
    fn add(
        &mut self,
        source: &'static str,
        activity: &'static str,
        rate: f64,
        make: impl Fn(&World, &mut Rng) -> Req + 'static,
    ) {
        if rate > 0.0 {
            self.0.push(Stream {
                class: Class { source, activity },
                rate,
                watch: false,
                make: Box::new(make),
            });
        }
    }

    fn watch(
        &mut self,
        source: &'static str,
        activity: &'static str,
        rate: f64,
        make: impl Fn(&World, &mut Rng) -> Req + 'static,
    ) {
        if rate > 0.0 {
            self.0.push(Stream {
                class: Class { source, activity },
                rate,
                watch: true,
                make: Box::new(make),
            });
        }
    }
}

/// A watch request of `res` (in `ns` or across namespaces) by `actor`.
fn watch_req(
    actor: &Actor,
    res: Res,
    ns: Option<&str>,
    selector: Option<String>,
    rng: &mut Rng,
) -> Req {
    let (query, secs) = watch_query(rng, selector);
    req(
        actor,
        "watch",
        format!("{}{query}", res.collection(ns)),
        Some(ObjRef {
            res,
            ns: ns.map(str::to_owned),
            name: None,
            sub: None,
        }),
        200,
    )
    .latency(secs)
}

fn obj(
    res: Res,
    ns: Option<&str>,
    name: Option<&str>,
    sub: Option<&'static str>,
) -> Option<ObjRef> {
    Some(ObjRef {
        res,
        ns: ns.map(str::to_owned),
        name: name.map(str::to_owned),
        sub,
    })
}

fn get_req(
    actor: &Actor,
    res: Res,
    ns: Option<&str>,
    name: &str,
    sub: Option<&'static str>,
) -> Req {
    req(
        actor,
        "get",
        res.object(ns, name, sub),
        obj(res, ns, Some(name), sub),
        200,
    )
}

fn list_req(actor: &Actor, res: Res, ns: Option<&str>, query: &str) -> Req {
    req(
        actor,
        "list",
        format!("{}{query}", res.collection(ns)),
        obj(res, ns, None, None),
        200,
    )
    .latency(0.012)
}

/// A lease renewal by a leader (`update`) or a standby's look (`get`).
fn lease_req(actor: &Actor, ns: &str, name: &str, leader: bool, rng: &mut Rng) -> Req {
    let timeout = if actor.node { "10s" } else { "5s" };
    let verb = if leader { "update" } else { "get" };
    req(
        actor,
        verb,
        format!("{}?timeout={timeout}", LEASES.object(Some(ns), name, None)),
        obj(LEASES, Some(ns), Some(name), None),
        200,
    )
    .latency(0.003 + rng.f64() * 0.004)
}

/// The leader's renewals and the standbys' gets of a lease: two
/// streams.
fn leases(
    s: &mut Streams,
    source: &'static str,
    actor: Actor,
    ns: &'static str,
    name: String,
    period: f64,
    replicas: usize,
) {
    let activity = "leader election leases";
    let per_hour = 3600.0 / period;
    let a = actor.clone();
    let n = name.clone();
    s.add(source, activity, per_hour, move |_, rng| {
        lease_req(&a, ns, &n, true, rng)
    });
    s.add(
        source,
        activity,
        per_hour * replicas.saturating_sub(1) as f64,
        move |_, rng| lease_req(&actor, ns, &name, false, rng),
    );
}

fn streams(p: &Profile, k: &Knobs, w: &World, rng: &mut Rng) -> Streams {
    let mut s = Streams(Vec::new());
    kubelets(&mut s, p, k, w);
    control_plane(&mut s, p, k, w, rng);
    hpa_controller(&mut s, p, k, w);
    eks_users(&mut s, p, k, w);
    kube_system(&mut s, p, w, rng);
    for op in &p.operators {
        for c in components(*op, p, w) {
            operator_streams(&mut s, c, k, w, rng);
        }
    }
    people(&mut s, p, k);
    s
}

const KUBELET: &str = "kubelet";

fn kubelets(s: &mut Streams, p: &Profile, k: &Knobs, w: &World) {
    let n = w.nodes.len() as f64;
    s.add(KUBELET, "node lease updates", n * 360.0, |w, rng| {
        let node = w.node(rng);
        lease_req(&node.actor, "kube-node-lease", &node.name, true, rng)
    });
    s.add(
        KUBELET,
        "nodes/status patches",
        n * 3600.0 / k.node_status_period,
        |w, rng| {
            let node = w.node(rng);
            let images = rng.f64() < 0.1;
            req(
                &node.actor,
                "patch",
                format!(
                    "{}?timeout=10s",
                    NODES.object(None, &node.name, Some("status"))
                ),
                obj(NODES, None, Some(&node.name), Some("status")),
                200,
            )
            .bodies(Some(node_status_patch(rng, images)), None)
            .latency(0.008)
        },
    );
    type Selector = fn(&str) -> String;
    let own: [(Res, Selector); 5] = [
        (NODES, |n| field_name(n)),
        (PODS, |n| format!("fieldSelector=spec.nodeName%3D{n}")),
        (SERVICES, |_| {
            "labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name".to_owned()
        }),
        (RUNTIMECLASSES, |_| String::new()),
        (CSIDRIVERS, |_| String::new()),
    ];
    for (res, selector) in own {
        s.watch(
            KUBELET,
            "watches of its node, pods, services and mounted ConfigMaps",
            n * WATCHES_PER_HOUR,
            move |w, rng| {
                let node = w.node(rng);
                let sel = selector(&node.name);
                watch_req(
                    &node.actor,
                    res,
                    None,
                    (!sel.is_empty()).then_some(sel),
                    rng,
                )
            },
        );
    }
    s.watch(
        KUBELET,
        "watches of its node, pods, services and mounted ConfigMaps",
        w.node_configmaps.len() as f64 * WATCHES_PER_HOUR,
        |w, rng| {
            let (node, ns, name) = &w.node_configmaps[rng.usize(..w.node_configmaps.len())];
            watch_req(
                &w.nodes[*node].actor,
                CONFIGMAPS,
                Some(ns),
                Some(field_name(name)),
                rng,
            )
        },
    );
    s.watch(
        KUBELET,
        "watches of mounted Secrets",
        w.node_secrets.len() as f64 * WATCHES_PER_HOUR,
        |w, rng| {
            let (node, ns, name) = &w.node_secrets[rng.usize(..w.node_secrets.len())];
            watch_req(
                &w.nodes[*node].actor,
                SECRETS,
                Some(ns),
                Some(field_name(name)),
                rng,
            )
        },
    );
    // Tokens: every 48 min per pod, and one per new pod.
    let churned = churned_pods(k, w);
    let pods = w.pods.len() as f64;
    s.add(
        KUBELET,
        "serviceaccounts/token creates",
        pods * 1.25 + churned + p.cronjob_runs_per_hour,
        |w, rng| {
            let pod = &w.pods[rng.usize(..w.pods.len())];
            let node = &w.nodes[pod.node];
            let mut r = req(
                &node.actor,
                "create",
                SERVICEACCOUNTS.object(Some(&pod.ns), &pod.sa, Some("token")),
                obj(SERVICEACCOUNTS, Some(&pod.ns), Some(&pod.sa), Some("token")),
                201,
            )
            .latency(0.006);
            r.annotations.push((
                "authentication.kubernetes.io/issued-credential-id",
                json!(format!("JTI={}", uuid(rng))),
            ));
            r
        },
    );
    // Delegated authentication and authorization of scrapes.
    let scrapers: Vec<(&'static str, &'static str)> = if p.has(Operator::Prometheus) {
        vec![
            ("kube-system", "metrics-server"),
            ("monitoring", "kube-prometheus-stack-prometheus"),
        ]
    } else {
        vec![("kube-system", "metrics-server")]
    };
    let scrapers_n = scrapers.len() as f64;
    s.add(
        KUBELET,
        "TokenReviews and SubjectAccessReviews (scrapes)",
        n * 30.0 * scrapers_n,
        |w, rng| {
            let node = w.node(rng);
            req(
                &node.actor,
                "create",
                TOKENREVIEWS.collection(None),
                obj(TOKENREVIEWS, None, None, None),
                201,
            )
            .latency(0.004)
        },
    );
    s.add(
        KUBELET,
        "TokenReviews and SubjectAccessReviews (scrapes)",
        n * 12.0 * scrapers_n,
        move |w, rng| {
            let node = w.node(rng);
            let (ns, sa) = scrapers[rng.usize(..scrapers.len())];
            let pod = format!("{sa}-{}-{}", suffix(rng, 10), suffix(rng, 5));
            let caller = pod_sa_actor(ns, sa, &pod, &node.name, "", String::new(), rng);
            let attrs = json!({"verb": "get", "version": "v1", "resource": "nodes", "subresource": "metrics", "name": node.name});
            let reason = rbac(sa, "system:kubelet-api-admin", &format!("ServiceAccount \"{sa}/{ns}\""));
            req(
                &node.actor,
                "create",
                SARS.collection(None),
                obj(SARS, None, None, None),
                201,
            )
            .bodies(
                Some(sar_body(&caller.user, attrs.clone(), None)),
                Some(sar_body(&caller.user, attrs, Some(&reason))),
            )
            .latency(0.003)
        },
    );
    // Pod starts and ends: status patches, each after a get; final delete.
    let starts = churned + p.cronjob_runs_per_hour;
    let patches = starts * 6.0 + pods * 0.05;
    s.add(
        KUBELET,
        "pods/status patches, pod gets and deletes",
        patches,
        |w, rng| {
            let pod = w.app_pod(rng);
            let node = &w.nodes[pod.node];
            req(
                &node.actor,
                "patch",
                PODS.object(Some(&pod.ns), &pod.name, Some("status")),
                obj(PODS, Some(&pod.ns), Some(&pod.name), Some("status")),
                200,
            )
            .bodies(Some(pod_status_patch(pod, rng)), None)
            .latency(0.007)
        },
    );
    s.add(
        KUBELET,
        "pods/status patches, pod gets and deletes",
        patches,
        |w, rng| {
            let pod = w.app_pod(rng);
            get_req(
                &w.nodes[pod.node].actor,
                PODS,
                Some(&pod.ns),
                &pod.name,
                None,
            )
        },
    );
    s.add(
        KUBELET,
        "pods/status patches, pod gets and deletes",
        starts,
        |w, rng| {
            let pod = w.app_pod(rng);
            req(
                &w.nodes[pod.node].actor,
                "delete",
                PODS.object(Some(&pod.ns), &pod.name, None),
                obj(PODS, Some(&pod.ns), Some(&pod.name), None),
                200,
            )
            .bodies(
                Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": {"uid": pod.uid}})),
                Some(pod_object(w, pod, rng, true)),
            )
            .latency(0.011)
        },
    );
    s.add(
        KUBELET,
        "watches of its node, pods, services and mounted ConfigMaps",
        starts * 0.5,
        |w, rng| {
            let (node, ns, name) = &w.node_configmaps[rng.usize(..w.node_configmaps.len())];
            list_req(
                &w.nodes[*node].actor,
                CONFIGMAPS,
                Some(ns),
                &format!("?{}&limit=500&resourceVersion=0", field_name(name)),
            )
        },
    );
    if !w.node_secrets.is_empty() {
        s.add(
            KUBELET,
            "watches of mounted Secrets",
            starts * 0.2,
            |w, rng| {
                let (node, ns, name) = &w.node_secrets[rng.usize(..w.node_secrets.len())];
                list_req(
                    &w.nodes[*node].actor,
                    SECRETS,
                    Some(ns),
                    &format!("?{}&limit=500&resourceVersion=0", field_name(name)),
                )
            },
        );
    }
}

fn churned_pods(k: &Knobs, w: &World) -> f64 {
    w.app_pods.len() as f64 * k.pod_churn
}

const KCM: &str = "kube-controller-manager";
const SCHEDULER: &str = "kube-scheduler";
const APISERVER: &str = "kube-apiserver (loopback)";

fn control_plane(s: &mut Streams, p: &Profile, k: &Knobs, w: &World, rng: &mut Rng) {
    let kcm = Actor {
        user: json!({"username": "system:kube-controller-manager", "groups": ["system:authenticated"]}),
        ip: w.control_plane_ips[0].clone(),
        agent: format!("{}/leader-election", kube_agent("kube-controller-manager")),
        reason: "RBAC: allowed by RoleBinding \"system::leader-locking-kube-controller-manager/kube-system\" of Role \"system::leader-locking-kube-controller-manager\" to User \"system:kube-controller-manager\"".to_owned(),
        node: false,
    };
    leases(
        s,
        KCM,
        kcm.clone(),
        "kube-system",
        "kube-controller-manager".into(),
        2.0,
        2,
    );
    let scheduler = Actor {
        user: json!({"username": "system:kube-scheduler", "groups": ["system:authenticated"]}),
        ip: w.control_plane_ips[1].clone(),
        agent: format!("{}/leader-election", kube_agent("kube-scheduler")),
        reason: "RBAC: allowed by ClusterRoleBinding \"system:kube-scheduler\" of ClusterRole \"system:kube-scheduler\" to User \"system:kube-scheduler\"".to_owned(),
        node: false,
    };
    leases(
        s,
        SCHEDULER,
        scheduler.clone(),
        "kube-system",
        "kube-scheduler".into(),
        2.0,
        2,
    );
    // The controller manager's informers.
    let mut shared = kcm.clone();
    shared.agent = format!("{}/shared-informers", kube_agent("kube-controller-manager"));
    shared.reason = rbac(
        "system:kube-controller-manager",
        "system:kube-controller-manager",
        "User \"system:kube-controller-manager\"",
    );
    let mut metadata = shared.clone();
    metadata.agent = format!(
        "{}/metadata-informers",
        kube_agent("kube-controller-manager")
    );
    let types = BUILTIN.len() as f64;
    s.watch(
        KCM,
        "watches (shared and metadata informers)",
        types * WATCHES_PER_HOUR,
        move |_, rng| {
            watch_req(
                &shared,
                BUILTIN[rng.usize(..BUILTIN.len())],
                None,
                None,
                rng,
            )
        },
    );
    s.watch(
        KCM,
        "watches (shared and metadata informers)",
        w.crds.len() as f64 * WATCHES_PER_HOUR,
        move |w, rng| {
            watch_req(
                &metadata,
                w.crds[rng.usize(..w.crds.len())],
                None,
                None,
                rng,
            )
        },
    );
    // Discovery by the garbage collector and the quota controller.
    s.add(KCM, "discovery (GC, quota)", 2.0 * 2.0 * 120.0, |w, rng| {
        let c = ["generic-garbage-collector", "resourcequota-controller"][rng.usize(..2)];
        let mut a = controller_actor(w, c, rng);
        a.reason = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"".to_owned();
        let path = ["/api", "/apis"][rng.usize(..2)];
        req(&a, "get", path.to_owned(), None, 200).latency(0.001)
    });
    // Its controllers' tokens (TokenRequest, 1 h, renewed at 80 %).
    s.add(KCM, "token requests for its controllers", 30.0 * 1.25, |w, rng| {
        let c = [
            "replicaset-controller", "deployment-controller", "endpoint-controller",
            "endpointslice-controller", "job-controller", "cronjob-controller",
            "horizontal-pod-autoscaler", "generic-garbage-collector", "namespace-controller",
            "daemon-set-controller", "statefulset-controller", "node-controller",
            "persistent-volume-binder", "attachdetach-controller", "disruption-controller",
        ][rng.usize(..15)];
        let mut a = plain_actor(
            "system:kube-controller-manager",
            &w.control_plane_ips[0],
            kube_agent("kube-controller-manager"),
            rbac("system:kube-controller-manager", "system:kube-controller-manager", "User \"system:kube-controller-manager\""),
        );
        a.user = json!({"username": "system:kube-controller-manager", "groups": ["system:authenticated"]});
        req(
            &a,
            "create",
            SERVICEACCOUNTS.object(Some("kube-system"), c, Some("token")),
            obj(SERVICEACCOUNTS, Some("kube-system"), Some(c), Some("token")),
            201,
        )
        .latency(0.005)
    });
    // Writes on pod churn.
    let churned = churned_pods(k, w);
    const CHURN: &str = "writes on pod churn (pods, ReplicaSets, Endpoints, slices)";
    s.add(KCM, CHURN, churned, |w, rng| {
        let pod = w.app_pod(rng);
        let a = controller_actor(w, "replicaset-controller", rng);
        let mut r = req(
            &a,
            "create",
            PODS.collection(Some(&pod.ns)),
            obj(PODS, Some(&pod.ns), Some(&pod.name), None),
            201,
        )
        .bodies(Some(pod_object(w, pod, rng, false)), Some(pod_object(w, pod, rng, true)))
        .latency(0.014);
        r.annotations.push(("pod-security.kubernetes.io/enforce-policy", json!("privileged:latest")));
        r.annotations.push((
            "mutation.webhook.admission.k8s.io/round_0_index_0",
            json!("{\"configuration\":\"pod-identity-webhook\",\"webhook\":\"iam-for-pods.amazonaws.com\",\"mutated\":false}"),
        ));
        r
    });
    s.add(KCM, CHURN, churned, |w, rng| {
        let pod = w.app_pod(rng);
        let a = controller_actor(w, "replicaset-controller", rng);
        req(
            &a,
            "delete",
            PODS.object(Some(&pod.ns), &pod.name, None),
            obj(PODS, Some(&pod.ns), Some(&pod.name), None),
            200,
        )
        .bodies(
            Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": pod.uid}})),
            Some(pod_object(w, pod, rng, true)),
        )
        .latency(0.009)
    });
    s.add(KCM, CHURN, churned * 2.0, |w, rng| {
        let d = &w.deployments[rng.usize(..w.deployments.len())];
        let a = controller_actor(w, "replicaset-controller", rng);
        let name = format!("{}-{}", d.name, d.hash);
        let body = replicaset_object(d, rng);
        req(
            &a,
            "update",
            REPLICASETS.object(Some(&d.ns), &name, Some("status")),
            obj(REPLICASETS, Some(&d.ns), Some(&name), Some("status")),
            200,
        )
        .bodies(Some(body.clone()), Some(body))
        .latency(0.006)
    });
    s.add(KCM, CHURN, churned * 2.0, |w, rng| {
        let d = &w.deployments[rng.usize(..w.deployments.len())];
        let a = controller_actor(w, "endpoint-controller", rng);
        let body = endpoints_object(w, d, rng);
        req(
            &a,
            "update",
            ENDPOINTS.object(Some(&d.ns), &d.name, None),
            obj(ENDPOINTS, Some(&d.ns), Some(&d.name), None),
            200,
        )
        .bodies(Some(body.clone()), Some(body))
        .latency(0.005)
    });
    s.add(KCM, CHURN, churned * 2.0, |w, rng| {
        let d = &w.deployments[rng.usize(..w.deployments.len())];
        let a = controller_actor(w, "endpointslice-controller", rng);
        let name = format!("{}-{}", d.name, suffix(rng, 5));
        req(
            &a,
            "update",
            ENDPOINTSLICES.object(Some(&d.ns), &name, None),
            obj(ENDPOINTSLICES, Some(&d.ns), Some(&name), None),
            200,
        )
        .latency(0.005)
    });
    s.add(KCM, CHURN, churned * 0.5, |w, rng| {
        let d = &w.deployments[rng.usize(..w.deployments.len())];
        let a = controller_actor(w, "deployment-controller", rng);
        let body = deployment_object(d, rng);
        req(
            &a,
            "update",
            DEPLOYMENTS.object(Some(&d.ns), &d.name, Some("status")),
            obj(DEPLOYMENTS, Some(&d.ns), Some(&d.name), Some("status")),
            200,
        )
        .bodies(Some(body.clone()), Some(body))
        .latency(0.007)
    });
    // CronJobs.
    const JOBS_CLASS: &str = "Jobs and CronJobs";
    let runs = p.cronjob_runs_per_hour;
    let job_name = |w: &World, rng: &mut Rng| -> (String, String) {
        let ns = w.app_ns(rng).to_owned();
        (
            format!("{ns}-nightly-{}", rng.u32(29_000_000..29_100_000)),
            ns,
        )
    };
    s.add(KCM, JOBS_CLASS, runs, move |w, rng| {
        let (name, ns) = job_name(w, rng);
        let a = controller_actor(w, "cronjob-controller", rng);
        req(
            &a,
            "create",
            JOBS.collection(Some(&ns)),
            obj(JOBS, Some(&ns), Some(&name), None),
            201,
        )
        .bodies(
            Some(job_object(&name, &ns, rng, false)),
            Some(job_object(&name, &ns, rng, true)),
        )
        .latency(0.01)
    });
    s.add(KCM, JOBS_CLASS, runs * 3.0, move |w, rng| {
        let (name, ns) = job_name(w, rng);
        let a = controller_actor(w, "job-controller", rng);
        let body = job_object(&name, &ns, rng, true);
        req(
            &a,
            "update",
            JOBS.object(Some(&ns), &name, Some("status")),
            obj(JOBS, Some(&ns), Some(&name), Some("status")),
            200,
        )
        .bodies(Some(body.clone()), Some(body))
        .latency(0.006)
    });
    s.add(KCM, JOBS_CLASS, runs, move |w, rng| {
        let (name, ns) = job_name(w, rng);
        let a = controller_actor(w, "cronjob-controller", rng);
        let cron = name.rsplit_once('-').map(|(a, _)| a.to_owned()).unwrap_or_default();
        let body = json!({"kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"name": cron, "namespace": ns, "uid": uuid(rng), "resourceVersion": rv(rng)}, "spec": {"schedule": "0 * * * *", "concurrencyPolicy": "Forbid", "jobTemplate": job_object(&name, &ns, rng, false)["spec"].clone()}, "status": {"active": [{"kind": "Job", "namespace": ns, "name": name, "uid": uuid(rng), "apiVersion": "batch/v1"}], "lastScheduleTime": "2026-11-30T10:00:00Z"}});
        req(&a, "update", CRONJOBS.object(Some(&ns), &cron, Some("status")), obj(CRONJOBS, Some(&ns), Some(&cron), Some("status")), 200)
            .bodies(Some(body.clone()), Some(body))
            .latency(0.006)
    });
    s.add(KCM, JOBS_CLASS, runs, move |w, rng| {
        let (name, ns) = job_name(w, rng);
        let a = controller_actor(w, "job-controller", rng);
        let pod = format!("{name}-{}", suffix(rng, 5));
        let mut r = req(
            &a,
            "create",
            PODS.collection(Some(&ns)),
            obj(PODS, Some(&ns), Some(&pod), None),
            201,
        )
        .bodies(
            Some(job_object(&name, &ns, rng, false)["spec"]["template"].clone()),
            Some(job_object(&name, &ns, rng, true)["spec"]["template"].clone()),
        )
        .latency(0.012);
        r.annotations.push((
            "pod-security.kubernetes.io/enforce-policy",
            json!("privileged:latest"),
        ));
        r
    });
    s.add(KCM, JOBS_CLASS, runs, move |w, rng| {
        let (name, ns) = job_name(w, rng);
        let a = controller_actor(w, "job-controller", rng);
        let pod = format!("{name}-{}", suffix(rng, 5));
        req(&a, "patch", PODS.object(Some(&ns), &pod, None), obj(PODS, Some(&ns), Some(&pod), None), 200)
            .bodies(Some(json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["batch.kubernetes.io/job-tracking"]}})), Some(job_object(&name, &ns, rng, true)["spec"]["template"].clone()))
            .latency(0.006)
    });
    s.add(KCM, JOBS_CLASS, runs, move |w, rng| {
        let (name, ns) = job_name(w, rng);
        let a = controller_actor(w, "ttl-after-finished-controller", rng);
        req(&a, "delete", JOBS.object(Some(&ns), &name, None), obj(JOBS, Some(&ns), Some(&name), None), 200)
            .bodies(Some(json!({"kind": "DeleteOptions", "apiVersion": "batch/v1", "propagationPolicy": "Background"})), Some(job_object(&name, &ns, rng, true)))
            .latency(0.008)
    });
    s.add(KCM, JOBS_CLASS, runs, move |w, rng| {
        let (name, ns) = job_name(w, rng);
        let a = controller_actor(w, "generic-garbage-collector", rng);
        let pod = format!("{name}-{}", suffix(rng, 5));
        req(&a, "delete", PODS.object(Some(&ns), &pod, None), obj(PODS, Some(&ns), Some(&pod), None), 200)
            .bodies(Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})), None)
            .latency(0.008)
    });
    // The scheduler: informers on both instances, a binding per new pod.
    let mut informers = scheduler.clone();
    informers.agent = format!("{}/scheduler", kube_agent("kube-scheduler"));
    let scheduler_types = [
        PODS,
        NODES,
        PVS,
        PVCS,
        STORAGECLASSES,
        CSINODES,
        CSIDRIVERS,
        r("storage.k8s.io", "v1", "csistoragecapacities"),
        SERVICES,
        r("", "v1", "replicationcontrollers"),
        REPLICASETS,
        r("apps", "v1", "statefulsets"),
        NAMESPACES,
    ];
    s.watch(
        SCHEDULER,
        "watches",
        2.0 * scheduler_types.len() as f64 * WATCHES_PER_HOUR,
        move |_, rng| {
            let res = scheduler_types[rng.usize(..scheduler_types.len())];
            let sel = (res == PODS).then(|| {
                "fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed".to_owned()
            });
            watch_req(&informers, res, None, sel, rng)
        },
    );
    let mut binder = scheduler;
    binder.agent = format!("{}/scheduler", kube_agent("kube-scheduler"));
    s.add(SCHEDULER, "pods/binding creates", churned + runs, move |w, rng| {
        let pod = w.app_pod(rng);
        let node = &w.nodes[pod.node].name;
        req(
            &binder,
            "create",
            PODS.object(Some(&pod.ns), &pod.name, Some("binding")),
            obj(PODS, Some(&pod.ns), Some(&pod.name), Some("binding")),
            201,
        )
        .bodies(
            Some(json!({"kind": "Binding", "apiVersion": "v1", "metadata": {"name": pod.name, "namespace": pod.ns, "uid": pod.uid, "creationTimestamp": null}, "target": {"kind": "Node", "name": node}})),
            Some(success(201)),
        )
        .latency(0.006)
    });
    // The API servers' identity leases and informers (loopback).
    let apiserver = Actor {
        user: json!({"username": "system:apiserver", "uid": uuid(rng), "groups": ["system:authenticated", "system:masters"]}),
        ip: "127.0.0.1".to_owned(),
        agent: kube_agent("kube-apiserver"),
        reason: String::new(),
        node: false,
    };
    let a = apiserver.clone();
    let ids = [
        format!("apiserver-{}", suffix(rng, 26)),
        format!("apiserver-{}", suffix(rng, 26)),
    ];
    s.add(APISERVER, "identity leases", 2.0 * 360.0, move |_, rng| {
        lease_req(&a, "kube-system", &ids[rng.usize(..2)], true, rng)
    });
    let apiserver_types: Vec<Res> = BUILTIN
        .iter()
        .copied()
        .filter(|t| {
            matches!(
                t.group,
                "rbac.authorization.k8s.io"
                    | "admissionregistration.k8s.io"
                    | "apiextensions.k8s.io"
                    | "apiregistration.k8s.io"
                    | "flowcontrol.apiserver.k8s.io"
                    | "scheduling.k8s.io"
                    | "storage.k8s.io"
                    | "node.k8s.io"
            ) || matches!(
                t.resource,
                "namespaces"
                    | "serviceaccounts"
                    | "secrets"
                    | "resourcequotas"
                    | "limitranges"
                    | "services"
                    | "endpoints"
                    | "pods"
                    | "nodes"
                    | "configmaps"
            )
        })
        .take(20)
        .collect();
    s.watch(
        APISERVER,
        "watches",
        2.0 * apiserver_types.len() as f64 * WATCHES_PER_HOUR,
        move |_, rng| {
            watch_req(
                &apiserver,
                apiserver_types[rng.usize(..apiserver_types.len())],
                None,
                None,
                rng,
            )
        },
    );
}

const HPA: &str = "HPA controller";
const METRICS_SERVER: &str = "metrics-server";

fn hpa_controller(s: &mut Streams, p: &Profile, k: &Knobs, w: &World) {
    if w.hpas.is_empty() {
        metrics_server(s, w, &[]);
        return;
    }
    let hpas = w.hpas.len() as f64;
    let syncs = 240.0;
    s.add(
        HPA,
        "deployments/scale gets, metrics lists",
        hpas * syncs,
        |w, rng| {
            let d = &w.deployments[w.hpas[rng.usize(..w.hpas.len())]];
            let a = controller_actor(w, "horizontal-pod-autoscaler", rng);
            get_req(&a, DEPLOYMENTS, Some(&d.ns), &d.name, Some("scale")).latency(0.003)
        },
    );
    let resource_lists: f64 = w
        .hpas
        .iter()
        .filter_map(|&d| w.deployments[d].hpa.as_ref())
        .map(|h| if h.keda { 1.0 } else { h.metrics as f64 })
        .sum();
    s.add(
        HPA,
        "deployments/scale gets, metrics lists",
        resource_lists * syncs,
        |w, rng| {
            let d = &w.deployments[w.hpas[rng.usize(..w.hpas.len())]];
            let a = controller_actor(w, "horizontal-pod-autoscaler", rng);
            if d.hpa.as_ref().is_some_and(|h| h.keda) {
                let res = r("external.metrics.k8s.io", "v1beta1", "s0-prometheus");
                list_req(
                    &a,
                    res,
                    Some(&d.ns),
                    &format!("?labelSelector=scaledobject.keda.sh%2Fname%3D{}", d.name),
                )
            } else {
                list_req(
                    &a,
                    POD_METRICS,
                    Some(&d.ns),
                    &format!("?labelSelector=app.kubernetes.io%2Fname%3D{}", d.name),
                )
            }
            .latency(0.02)
        },
    );
    s.add(
        HPA,
        "HPA status updates",
        hpas * syncs * k.hpa_status_share,
        |w, rng| {
            let d = &w.deployments[w.hpas[rng.usize(..w.hpas.len())]];
            let a = controller_actor(w, "horizontal-pod-autoscaler", rng);
            let body = hpa_object(d, rng);
            req(
                &a,
                "update",
                HPAS.object(Some(&d.ns), &d.name, Some("status")),
                obj(HPAS, Some(&d.ns), Some(&d.name), Some("status")),
                200,
            )
            .bodies(Some(body.clone()), Some(body))
            .latency(0.006)
        },
    );
    s.add(HPA, "scale updates", hpas * 2.0, |w, rng| {
        let d = &w.deployments[w.hpas[rng.usize(..w.hpas.len())]];
        let a = controller_actor(w, "horizontal-pod-autoscaler", rng);
        let scale = json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": d.name, "namespace": d.ns, "uid": uuid(rng), "resourceVersion": rv(rng), "creationTimestamp": "2026-03-02T11:20:05Z"}, "spec": {"replicas": d.replicas + 1}, "status": {"replicas": d.replicas, "selector": format!("app.kubernetes.io/name={}", d.name)}});
        req(
            &a,
            "update",
            DEPLOYMENTS.object(Some(&d.ns), &d.name, Some("scale")),
            obj(DEPLOYMENTS, Some(&d.ns), Some(&d.name), Some("scale")),
            200,
        )
        .bodies(Some(scale.clone()), Some(scale))
        .latency(0.008)
    });
    // The metrics servers' authorization of the HPA's requests: one SAR
    // per namespace at most every 10 s.
    let mut by_ns: HashMap<(String, bool), f64> = HashMap::new();
    for &d in &w.hpas {
        let dep = &w.deployments[d];
        let h = dep.hpa.as_ref().unwrap();
        let lists = if h.keda { 1.0 } else { h.metrics as f64 };
        *by_ns.entry((dep.ns.clone(), h.keda)).or_default() += lists * syncs;
    }
    let mut ms: Vec<(String, f64)> = Vec::new();
    let mut keda: Vec<(String, f64)> = Vec::new();
    let mut keys: Vec<_> = by_ns.into_iter().collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for ((ns, is_keda), rate) in keys {
        let sar = rate.min(360.0);
        if is_keda {
            keda.push((ns, sar));
        } else {
            ms.push((ns, sar));
        }
    }
    metrics_server(s, w, &ms);
    if p.has(Operator::Keda) && !keda.is_empty() {
        let total: f64 = keda.iter().map(|(_, r)| r).sum();
        s.add(
            "operators",
            "KEDA metrics server: SubjectAccessReviews",
            total,
            move |w, rng| {
                let (ns, _) = &keda[rng.usize(..keda.len())];
                hpa_sar(
                    w,
                    "keda",
                    "keda-operator-metrics-apiserver",
                    "keda-metrics-apiserver/v2.16.0 (linux/amd64) kubernetes/$Format",
                    ns,
                    "external.metrics.k8s.io",
                    "s0-prometheus",
                    rng,
                )
            },
        );
    }
}

/// A SubjectAccessReview a metrics API server (`sa` in `ns_sa`) makes
/// for the HPA controller's list in `ns`.
#[allow(clippy::too_many_arguments)]
fn hpa_sar(
    w: &World,
    ns_sa: &str,
    sa: &str,
    agent: &str,
    ns: &str,
    group: &str,
    resource: &str,
    rng: &mut Rng,
) -> Req {
    let pod = format!("{sa}-{}-{}", suffix(rng, 10), suffix(rng, 5));
    let node = w.node(rng).name.clone();
    let ip = w.app_pod(rng).ip.clone();
    let a = pod_sa_actor(ns_sa, sa, &pod, &node, &ip, agent.to_owned(), rng);
    let hpa = controller_actor(w, "horizontal-pod-autoscaler", rng);
    let attrs = json!({"namespace": ns, "verb": "list", "group": group, "version": "v1beta1", "resource": resource});
    let reason = rbac(
        "system:controller:horizontal-pod-autoscaler",
        "system:controller:horizontal-pod-autoscaler",
        "ServiceAccount \"horizontal-pod-autoscaler/kube-system\"",
    );
    let mut r = req(
        &a,
        "create",
        SARS.collection(None),
        obj(SARS, None, None, None),
        201,
    )
    .bodies(
        Some(sar_body(&hpa.user, attrs.clone(), None)),
        Some(sar_body(&hpa.user, attrs, Some(&reason))),
    )
    .latency(0.003);
    r.actor.reason = rbac(
        &format!("{sa}:system:auth-delegator"),
        "system:auth-delegator",
        &format!("ServiceAccount \"{sa}/{ns_sa}\""),
    );
    r
}

fn metrics_server(s: &mut Streams, w: &World, sar_per_ns: &[(String, f64)]) {
    let ms_agent = "metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format";
    let node = w.nodes[0].name.clone();
    let pod = "metrics-server-7f6c7d9b8d-q2x7k";
    let mut r0 = Rng::with_seed(0x6d73);
    let ip = w
        .app_pods
        .first()
        .map(|&i| w.pods[i].ip.clone())
        .unwrap_or_default();
    let a = pod_sa_actor(
        "kube-system",
        "metrics-server",
        pod,
        &node,
        &ip,
        ms_agent.to_owned(),
        &mut r0,
    );
    let watcher = a.clone();
    s.watch(
        METRICS_SERVER,
        "watches",
        3.0 * WATCHES_PER_HOUR,
        move |_, rng| match rng.usize(..3) {
            0 => watch_req(&watcher, NODES, None, None, rng),
            1 => watch_req(&watcher, PODS, None, None, rng),
            _ => watch_req(
                &watcher,
                CONFIGMAPS,
                Some("kube-system"),
                Some(field_name("extension-apiserver-authentication")),
                rng,
            ),
        },
    );
    // The aggregator's availability checks of the APIService.
    s.add(METRICS_SERVER, "SubjectAccessReviews", 120.0, move |_, _| {
        let caller = json!({"username": "system:kube-aggregator", "groups": ["system:authenticated"]});
        let attrs = json!({"path": "/apis/metrics.k8s.io/v1beta1", "verb": "get"});
        req(&a, "create", SARS.collection(None), obj(SARS, None, None, None), 201)
            .bodies(Some(sar_body(&caller, attrs.clone(), None)), Some(sar_body(&caller, attrs, Some("RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\""))))
            .latency(0.003)
    });
    if !sar_per_ns.is_empty() {
        let total: f64 = sar_per_ns.iter().map(|(_, r)| r).sum();
        let per_ns = sar_per_ns.to_vec();
        s.add(
            METRICS_SERVER,
            "SubjectAccessReviews",
            total,
            move |w, rng| {
                // Weighted by namespace.
                let mut x = rng.f64() * total;
                let mut ns = &per_ns[0].0;
                for (n, r) in &per_ns {
                    ns = n;
                    if x < *r {
                        break;
                    }
                    x -= r;
                }
                hpa_sar(
                    w,
                    "kube-system",
                    "metrics-server",
                    ms_agent,
                    ns,
                    "metrics.k8s.io",
                    "pods",
                    rng,
                )
            },
        );
    }
}

const EKS: &str = "EKS's users (eks:*)";

fn eks_users(s: &mut Streams, p: &Profile, k: &Knobs, w: &World) {
    let eks = |user: &str, program: &str, w: &World| -> Actor {
        plain_actor(
            user,
            &w.control_plane_ips[1],
            agent(program, "v0.0.0"),
            rbac(user, user, &format!("User \"{user}\"")),
        )
    };
    leases(
        s,
        EKS,
        eks(
            "eks:cloud-controller-manager",
            "aws-cloud-controller-manager",
            w,
        ),
        "kube-system",
        "cloud-controller-manager".into(),
        2.0,
        2,
    );
    leases(
        s,
        EKS,
        eks(
            "eks:certificate-controller",
            "eks-certificates-controller",
            w,
        ),
        "kube-system",
        "eks-certificates-controller".into(),
        k.eks_lease_period,
        2,
    );
    leases(
        s,
        EKS,
        eks("eks:vpc-resource-controller", "controller", w),
        "kube-system",
        "cp-vpc-resource-controller".into(),
        k.eks_lease_period,
        2,
    );
    let watchers: Vec<(Actor, Res, Option<&'static str>, Option<String>)> = vec![
        (
            eks(
                "eks:cloud-controller-manager",
                "aws-cloud-controller-manager",
                w,
            ),
            NODES,
            None,
            None,
        ),
        (
            eks(
                "eks:cloud-controller-manager",
                "aws-cloud-controller-manager",
                w,
            ),
            SERVICES,
            None,
            None,
        ),
        (
            eks(
                "eks:certificate-controller",
                "eks-certificates-controller",
                w,
            ),
            CSRS,
            None,
            None,
        ),
        (
            eks("eks:vpc-resource-controller", "controller", w),
            NODES,
            None,
            None,
        ),
        (
            eks("eks:vpc-resource-controller", "controller", w),
            PODS,
            None,
            None,
        ),
        (
            eks("eks:authenticator", "aws-iam-authenticator", w),
            CONFIGMAPS,
            Some("kube-system"),
            Some(field_name("aws-auth")),
        ),
        (
            eks(
                "eks:pod-identity-mutating-webhook",
                "amazon-eks-pod-identity-webhook",
                w,
            ),
            SERVICEACCOUNTS,
            None,
            None,
        ),
    ];
    let n = watchers.len() as f64;
    s.watch(EKS, "watches", n * WATCHES_PER_HOUR, move |_, rng| {
        let (a, res, ns, sel) = &watchers[rng.usize(..watchers.len())];
        watch_req(a, *res, *ns, sel.clone(), rng)
    });
    let metrics = eks("eks:k8s-metrics", "k8s-metrics", w);
    let m = metrics.clone();
    s.add(
        EKS,
        "reads (k8s-metrics, addon-manager)",
        120.0,
        move |_, _| req(&m, "get", "/metrics".to_owned(), None, 200).latency(0.04),
    );
    s.add(
        EKS,
        "reads (k8s-metrics, addon-manager)",
        4.0 * 12.0,
        move |_, rng| {
            let res = [NODES, PODS, NAMESPACES, DEPLOYMENTS][rng.usize(..4)];
            list_req(&metrics, res, None, "?limit=500").latency(0.08)
        },
    );
    let mut addons: Vec<(&'static str, Res, &'static str)> = vec![
        ("vpc-cni", r("apps", "v1", "daemonsets"), "aws-node"),
        ("kube-proxy", r("apps", "v1", "daemonsets"), "kube-proxy"),
        ("coredns", DEPLOYMENTS, "coredns"),
        (
            "eks-pod-identity-agent",
            r("apps", "v1", "daemonsets"),
            "eks-pod-identity-agent",
        ),
        ("metrics-server", DEPLOYMENTS, "metrics-server"),
    ];
    if p.ebs_csi {
        addons.push(("aws-ebs-csi-driver", DEPLOYMENTS, "ebs-csi-controller"));
    }
    let manager = eks("eks:addon-manager", "eks-addon-manager", w);
    let objects = |addon: &(&'static str, Res, &'static str),
                   i: usize|
     -> (Res, Option<&'static str>, String) {
        match i {
            0 => (addon.1, Some("kube-system"), addon.2.to_owned()),
            1 => (SERVICEACCOUNTS, Some("kube-system"), addon.2.to_owned()),
            2 => (
                r("rbac.authorization.k8s.io", "v1", "clusterroles"),
                None,
                format!("eks:{}", addon.0),
            ),
            3 => (
                r("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
                None,
                format!("eks:{}", addon.0),
            ),
            4 => (
                CONFIGMAPS,
                Some("kube-system"),
                format!("{}-config", addon.2),
            ),
            _ => (SERVICES, Some("kube-system"), addon.2.to_owned()),
        }
    };
    let (mgr, list) = (manager.clone(), addons.clone());
    s.add(
        EKS,
        "reads (k8s-metrics, addon-manager)",
        addons.len() as f64 * 6.0 * 4.0,
        move |_, rng| {
            let addon = &list[rng.usize(..list.len())];
            let (res, ns, name) = objects(addon, rng.usize(..6));
            get_req(&mgr, res, ns, &name, None)
        },
    );
    s.add(EKS, "addon-manager applies", addons.len() as f64, move |_, rng| {
        let addon = &addons[rng.usize(..addons.len())];
        let (res, ns, name) = objects(addon, rng.usize(..6));
        let patch = json!({"apiVersion": res.api_version(), "kind": "Object", "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "EKS", "eks.amazonaws.com/component": addon.0}}});
        req(
            &manager,
            "patch",
            format!("{}?fieldManager=eks&force=true", res.object(ns, &name, None)),
            obj(res, ns, Some(&name), None),
            200,
        )
        .bodies(Some(patch.clone()), Some(patch))
        .latency(0.01)
    });
}

const DAEMONSETS: &str = "kube-system DaemonSets";
const KS_CONTROLLERS: &str = "kube-system controllers (EBS CSI, LB)";

fn kube_system(s: &mut Streams, p: &Profile, w: &World, rng: &mut Rng) {
    let n = w.nodes.len() as f64;
    // aws-node per node: ipamd and the network policy agent.
    let ds_actor = |w: &World, node: usize, sa: &str, agent: String, rng: &mut Rng| -> Actor {
        let pod = w
            .pods
            .iter()
            .find(|p| p.node == node && p.sa == sa)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| format!("{sa}-{}", suffix(rng, 5)));
        pod_sa_actor(
            "kube-system",
            sa,
            &pod,
            &w.nodes[node].name,
            &w.nodes[node].actor.ip,
            agent,
            rng,
        )
    };
    let ipamd = agent("amazon-vpc-cni-k8s", "v1.19.0");
    s.watch(
        DAEMONSETS,
        "aws-node watches and gets",
        n * 4.0 * WATCHES_PER_HOUR,
        move |w, rng| {
            let node = rng.usize(..w.nodes.len());
            let a = ds_actor(w, node, "aws-node", ipamd.clone(), rng);
            let name = w.nodes[node].name.clone();
            match rng.usize(..4) {
                0 => watch_req(
                    &a,
                    PODS,
                    None,
                    Some(format!("fieldSelector=spec.nodeName%3D{name}")),
                    rng,
                ),
                1 => watch_req(&a, NODES, None, Some(field_name(&name)), rng),
                2 => watch_req(&a, CNINODES, None, Some(field_name(&name)), rng),
                _ => watch_req(&a, ENICONFIGS, None, None, rng),
            }
        },
    );
    let npa = agent("controller", "v0.0.0");
    s.watch(
        DAEMONSETS,
        "aws-node watches and gets",
        n * WATCHES_PER_HOUR,
        move |w, rng| {
            let node = rng.usize(..w.nodes.len());
            let a = ds_actor(w, node, "aws-node", npa.clone(), rng);
            watch_req(&a, POLICYENDPOINTS, None, None, rng)
        },
    );
    let ipamd = agent("amazon-vpc-cni-k8s", "v1.19.0");
    s.add(
        DAEMONSETS,
        "aws-node watches and gets",
        n * 2.0,
        move |w, rng| {
            let node = rng.usize(..w.nodes.len());
            let a = ds_actor(w, node, "aws-node", ipamd.clone(), rng);
            get_req(&a, NODES, None, &w.nodes[node].name, None)
        },
    );
    s.watch(DAEMONSETS, "kube-proxy watches", n * 3.0 * WATCHES_PER_HOUR, move |w, rng| {
        let node = rng.usize(..w.nodes.len());
        let a = ds_actor(w, node, "kube-proxy", kube_agent("kube-proxy"), rng);
        match rng.usize(..3) {
            0 => watch_req(&a, SERVICES, None, Some("labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name".to_owned()), rng),
            1 => watch_req(&a, ENDPOINTSLICES, None, Some("labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name".to_owned()), rng),
            _ => watch_req(&a, NODES, None, Some(field_name(&w.nodes[node].name)), rng),
        }
    });
    // CoreDNS: 2 replicas.
    let coredns: Vec<Actor> = (0..2)
        .map(|_| {
            let node = rng.usize(..w.nodes.len());
            let pod = format!("coredns-5d9b7f6c8d-{}", suffix(rng, 5));
            let ip = format!("10.0.{}.{}", 32 + rng.u32(..96), rng.u32(1..255));
            pod_sa_actor(
                "kube-system",
                "coredns",
                &pod,
                &w.nodes[node].name,
                &ip,
                "CoreDNS/1.11.4 (linux/amd64) kubernetes/$Format".to_owned(),
                rng,
            )
        })
        .collect();
    s.watch(
        "CoreDNS",
        "watches",
        2.0 * 3.0 * WATCHES_PER_HOUR,
        move |_, rng| {
            let a = &coredns[rng.usize(..2)];
            let res = [SERVICES, ENDPOINTSLICES, NAMESPACES][rng.usize(..3)];
            watch_req(a, res, None, None, rng)
        },
    );
    if p.ebs_csi {
        let sidecars: [(&str, &str, &[Res]); 4] = [
            (
                "csi-provisioner",
                "ebs-csi-aws-com",
                &[
                    PVCS,
                    PVS,
                    STORAGECLASSES,
                    CSINODES,
                    NODES,
                    VOLUMEATTACHMENTS,
                ],
            ),
            (
                "csi-attacher",
                "external-attacher-leader-ebs-csi-aws-com",
                &[VOLUMEATTACHMENTS, PVS, CSINODES],
            ),
            (
                "csi-resizer",
                "external-resizer-ebs-csi-aws-com",
                &[PVCS, PVS],
            ),
            (
                "csi-snapshotter",
                "external-snapshotter-leader-ebs-csi-aws-com",
                &[
                    r("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents"),
                    r("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses"),
                ],
            ),
        ];
        for (program, lease, types) in sidecars {
            let node = rng.usize(..w.nodes.len());
            let pod = format!("ebs-csi-controller-6c9d8b7f5d-{}", suffix(rng, 5));
            let ip = format!("10.0.{}.{}", 32 + rng.u32(..96), rng.u32(1..255));
            let a = pod_sa_actor(
                "kube-system",
                "ebs-csi-controller-sa",
                &pod,
                &w.nodes[node].name,
                &ip,
                agent(program, "v5.1.0"),
                rng,
            );
            leases(
                s,
                KS_CONTROLLERS,
                a.clone(),
                "kube-system",
                lease.to_owned(),
                5.0,
                2,
            );
            let types = types.to_vec();
            s.watch(
                KS_CONTROLLERS,
                "watches",
                types.len() as f64 * WATCHES_PER_HOUR,
                move |_, rng| watch_req(&a, types[rng.usize(..types.len())], None, None, rng),
            );
        }
    }
}

// ---------------------------------------------------------------------
// Operators

fn operator_crds(op: Operator) -> Vec<Res> {
    let list: &[(&'static str, &'static str, &'static str)] = match op {
        Operator::ArgoCd => &[
            ("argoproj.io", "v1alpha1", "applications"),
            ("argoproj.io", "v1alpha1", "applicationsets"),
            ("argoproj.io", "v1alpha1", "appprojects"),
        ],
        Operator::CertManager => &[
            ("cert-manager.io", "v1", "certificates"),
            ("cert-manager.io", "v1", "certificaterequests"),
            ("cert-manager.io", "v1", "issuers"),
            ("cert-manager.io", "v1", "clusterissuers"),
            ("acme.cert-manager.io", "v1", "orders"),
            ("acme.cert-manager.io", "v1", "challenges"),
        ],
        Operator::Keda => &[
            ("keda.sh", "v1alpha1", "scaledobjects"),
            ("keda.sh", "v1alpha1", "scaledjobs"),
            ("keda.sh", "v1alpha1", "triggerauthentications"),
            ("keda.sh", "v1alpha1", "clustertriggerauthentications"),
            ("eventing.keda.sh", "v1alpha1", "cloudeventsources"),
            ("eventing.keda.sh", "v1alpha1", "clustercloudeventsources"),
        ],
        Operator::Prometheus => &[
            ("monitoring.coreos.com", "v1", "prometheuses"),
            ("monitoring.coreos.com", "v1", "alertmanagers"),
            ("monitoring.coreos.com", "v1", "servicemonitors"),
            ("monitoring.coreos.com", "v1", "podmonitors"),
            ("monitoring.coreos.com", "v1", "probes"),
            ("monitoring.coreos.com", "v1", "prometheusrules"),
            ("monitoring.coreos.com", "v1", "thanosrulers"),
            ("monitoring.coreos.com", "v1alpha1", "scrapeconfigs"),
            ("monitoring.coreos.com", "v1alpha1", "alertmanagerconfigs"),
            ("monitoring.coreos.com", "v1alpha1", "prometheusagents"),
        ],
        Operator::ExternalDns => &[("externaldns.k8s.io", "v1alpha1", "dnsendpoints")],
        Operator::ExternalSecrets => &[
            ("external-secrets.io", "v1beta1", "externalsecrets"),
            ("external-secrets.io", "v1beta1", "secretstores"),
            ("external-secrets.io", "v1beta1", "clustersecretstores"),
            ("external-secrets.io", "v1beta1", "clusterexternalsecrets"),
            ("external-secrets.io", "v1alpha1", "pushsecrets"),
            (
                "generators.external-secrets.io",
                "v1alpha1",
                "ecrauthorizationtokens",
            ),
            ("generators.external-secrets.io", "v1alpha1", "passwords"),
            ("generators.external-secrets.io", "v1alpha1", "webhooks"),
        ],
        Operator::Istio => &[
            ("networking.istio.io", "v1", "virtualservices"),
            ("networking.istio.io", "v1", "destinationrules"),
            ("networking.istio.io", "v1", "gateways"),
            ("networking.istio.io", "v1", "serviceentries"),
            ("networking.istio.io", "v1", "sidecars"),
            ("networking.istio.io", "v1", "workloadentries"),
            ("networking.istio.io", "v1", "workloadgroups"),
            ("networking.istio.io", "v1alpha3", "envoyfilters"),
            ("security.istio.io", "v1", "authorizationpolicies"),
            ("security.istio.io", "v1", "peerauthentications"),
            ("security.istio.io", "v1", "requestauthentications"),
            ("telemetry.istio.io", "v1", "telemetries"),
            ("extensions.istio.io", "v1alpha1", "wasmplugins"),
            ("gateway.networking.k8s.io", "v1", "gateways"),
            ("gateway.networking.k8s.io", "v1", "httproutes"),
            ("gateway.networking.k8s.io", "v1", "grpcroutes"),
            ("gateway.networking.k8s.io", "v1", "gatewayclasses"),
            ("gateway.networking.k8s.io", "v1beta1", "referencegrants"),
        ],
        Operator::Kyverno => &[
            ("kyverno.io", "v1", "clusterpolicies"),
            ("kyverno.io", "v1", "policies"),
            ("kyverno.io", "v2", "policyexceptions"),
            ("kyverno.io", "v2", "updaterequests"),
            ("kyverno.io", "v2", "cleanuppolicies"),
            ("kyverno.io", "v2", "clustercleanuppolicies"),
            ("kyverno.io", "v2alpha1", "globalcontextentries"),
            ("reports.kyverno.io", "v1", "ephemeralreports"),
            ("reports.kyverno.io", "v1", "clusterephemeralreports"),
            ("wgpolicyk8s.io", "v1alpha2", "policyreports"),
            ("wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports"),
        ],
        Operator::Velero => &[
            ("velero.io", "v1", "backups"),
            ("velero.io", "v1", "restores"),
            ("velero.io", "v1", "schedules"),
            ("velero.io", "v1", "backupstoragelocations"),
            ("velero.io", "v1", "volumesnapshotlocations"),
            ("velero.io", "v1", "podvolumebackups"),
            ("velero.io", "v1", "podvolumerestores"),
            ("velero.io", "v1", "backuprepositories"),
            ("velero.io", "v1", "deletebackuprequests"),
            ("velero.io", "v1", "downloadrequests"),
            ("velero.io", "v1", "serverstatusrequests"),
            ("velero.io", "v2alpha1", "datauploads"),
            ("velero.io", "v2alpha1", "datadownloads"),
        ],
        Operator::Karpenter => &[
            ("karpenter.sh", "v1", "nodepools"),
            ("karpenter.sh", "v1", "nodeclaims"),
            ("karpenter.k8s.aws", "v1", "ec2nodeclasses"),
        ],
        Operator::AwsLoadBalancer => &[
            ("elbv2.k8s.aws", "v1beta1", "targetgroupbindings"),
            ("elbv2.k8s.aws", "v1beta1", "ingressclassparams"),
        ],
        Operator::Strimzi => &[
            ("kafka.strimzi.io", "v1beta2", "kafkas"),
            ("kafka.strimzi.io", "v1beta2", "kafkatopics"),
            ("kafka.strimzi.io", "v1beta2", "kafkausers"),
            ("kafka.strimzi.io", "v1beta2", "kafkaconnects"),
            ("kafka.strimzi.io", "v1beta2", "kafkaconnectors"),
            ("kafka.strimzi.io", "v1beta2", "kafkamirrormaker2s"),
            ("kafka.strimzi.io", "v1beta2", "kafkabridges"),
            ("kafka.strimzi.io", "v1beta2", "kafkarebalances"),
            ("kafka.strimzi.io", "v1beta2", "kafkanodepools"),
            ("core.strimzi.io", "v1beta2", "strimzipodsets"),
        ],
    };
    list.iter().map(|&(g, v, res)| r(g, v, res)).collect()
}

/// What an operator's component does besides leases and watches, per
/// hour (before the scenario's factor).
#[derive(Clone, Debug)]
enum Act {
    /// `patch` of a CR's status (custom resources: `Metadata`).
    StatusPatch(Res),
    Get(Res),
    List(Res),
    /// `get` of a Secret.
    SecretGet,
    /// `update` of a Secret.
    SecretUpdate,
    Create(Res),
    Delete(Res),
    /// `patch` of an object in the applications' namespaces (a sync).
    Patch(Res),
    /// `GET /api` or `/apis`.
    Discovery,
    /// `get` of a Deployment's `scale`.
    ScaleGet,
    /// `GET /metrics` of the API server (Prometheus).
    Metrics,
}

/// One component (Deployment or StatefulSet) of an operator.
struct Component {
    ns: &'static str,
    sa: &'static str,
    agent: String,
    replicas: usize,
    /// (namespace, name, retry period in s).
    leases: Vec<(&'static str, String, f64)>,
    /// Types it watches, on every replica (`watch_replicas`).
    watches: Vec<Res>,
    watch_replicas: usize,
    /// Namespaces it watches Secrets in (`None`: all).
    secret_watches: Vec<Option<&'static str>>,
    /// Watches that end sooner than client-go's: (type, requests an hour).
    fast_watches: Vec<(Res, f64)>,
    acts: Vec<(Act, f64)>,
    /// In its own namespace's objects or in the applications' ones.
    own_objects: bool,
}

impl Component {
    fn new(ns: &'static str, sa: &'static str, agent: String) -> Self {
        Self {
            ns,
            sa,
            agent,
            replicas: 1,
            leases: Vec::new(),
            watches: Vec::new(),
            watch_replicas: 1,
            secret_watches: Vec::new(),
            fast_watches: Vec::new(),
            acts: Vec::new(),
            own_objects: false,
        }
    }
}

fn crd(op: Operator, resource: &str) -> Res {
    operator_crds(op)
        .into_iter()
        .find(|r| r.resource == resource)
        .unwrap_or_else(|| panic!("{resource}"))
}

/// Each operator's components, with their assumptions.
fn components(op: Operator, p: &Profile, w: &World) -> Vec<Component> {
    let all = w.all_types.clone();
    match op {
        // Argo CD: the application controller caches every type of the
        // cluster (a watch each) and refreshes each Application every
        // 3 min, patching its status (reconciledAt changes); the server,
        // ApplicationSet and notifications controllers watch their CRs
        // and the argocd namespace's ConfigMaps and Secrets. No leader
        // election (one replica each).
        Operator::ArgoCd => {
            let apps = p.argo_applications as f64;
            let mut controller = Component::new(
                "argocd",
                "argocd-application-controller",
                agent("argocd-application-controller", "v2.13.1"),
            );
            // Argo CD's default resource exclusions leave out
            // Endpoints, EndpointSlices, Leases and CSRs.
            controller.watches = all
                .into_iter()
                .filter(|t| {
                    !matches!(
                        t.resource,
                        "secrets"
                            | "endpoints"
                            | "endpointslices"
                            | "leases"
                            | "certificatesigningrequests"
                    )
                })
                .collect();
            controller.secret_watches = vec![None];
            controller.own_objects = true;
            controller.acts = vec![
                (Act::StatusPatch(crd(op, "applications")), apps * 20.0),
                (Act::Get(crd(op, "applications")), apps * 1.0),
                (Act::Patch(DEPLOYMENTS), apps * 0.1),
                (Act::Discovery, 12.0),
            ];
            let mut server =
                Component::new("argocd", "argocd-server", agent("argocd-server", "v2.13.1"));
            server.watches = vec![
                crd(op, "applications"),
                crd(op, "appprojects"),
                crd(op, "applicationsets"),
                CONFIGMAPS,
            ];
            server.secret_watches = vec![Some("argocd")];
            server.own_objects = true;
            server.acts = vec![
                (Act::Get(crd(op, "applications")), 60.0),
                (Act::List(crd(op, "applications")), 30.0),
            ];
            let mut appset = Component::new(
                "argocd",
                "argocd-applicationset-controller",
                agent("argocd-applicationset-controller", "v2.13.1"),
            );
            appset.watches = vec![crd(op, "applicationsets"), crd(op, "applications")];
            appset.secret_watches = vec![Some("argocd")];
            let mut notifications = Component::new(
                "argocd",
                "argocd-notifications-controller",
                agent("argocd-notifications-controller", "v2.13.1"),
            );
            notifications.watches =
                vec![crd(op, "applications"), crd(op, "appprojects"), CONFIGMAPS];
            notifications.secret_watches = vec![Some("argocd")];
            vec![controller, server, appset, notifications]
        }
        // cert-manager: controller and cainjector each hold a lease in
        // kube-system (their default) renewed every 15 s; the controller
        // watches its CRs, ingresses, pods and services, and Secrets; the
        // webhook watches its CA Secret.
        Operator::CertManager => {
            let mut controller = Component::new(
                "cert-manager",
                "cert-manager",
                agent("cert-manager-controller", "v1.16.2"),
            );
            controller.leases = vec![("kube-system", "cert-manager-controller".into(), 15.0)];
            controller.watches = operator_crds(op);
            controller.watches.extend([INGRESSES, PODS, SERVICES]);
            controller.secret_watches = vec![None];
            controller.acts = vec![
                (Act::StatusPatch(crd(op, "certificates")), 2.0),
                (Act::Get(crd(op, "certificates")), 4.0),
                (Act::Discovery, 2.0),
            ];
            let mut cainjector = Component::new(
                "cert-manager",
                "cert-manager-cainjector",
                agent("cainjector", "v1.16.2"),
            );
            cainjector.leases = vec![(
                "kube-system",
                "cert-manager-cainjector-leader-election".into(),
                15.0,
            )];
            cainjector.watches = vec![
                MUTATING,
                VALIDATING,
                CRDS,
                r("apiregistration.k8s.io", "v1", "apiservices"),
                crd(op, "certificates"),
            ];
            cainjector.secret_watches = vec![None];
            let mut webhook = Component::new(
                "cert-manager",
                "cert-manager-webhook",
                agent("webhook", "v1.16.2"),
            );
            webhook.secret_watches = vec![Some("cert-manager")];
            vec![controller, cainjector, webhook]
        }
        // KEDA: the operator (controller-runtime lease, 2 s) watches its
        // CRs, HPAs and Jobs, reads each ScaledObject's target scale every
        // polling interval (30 s) and the TriggerAuthentications' Secrets,
        // patches ScaledObject status on activity changes; its metrics
        // server and webhooks watch ScaledObjects.
        Operator::Keda => {
            let sos = p.keda_scaled_objects as f64;
            let mut operator =
                Component::new("keda", "keda-operator", agent("keda-operator", "v2.16.0"));
            operator.leases = vec![("keda", "operator.keda.sh".into(), 2.0)];
            operator.watches = operator_crds(op);
            operator.watches.extend([HPAS, JOBS]);
            operator.acts = vec![
                (Act::ScaleGet, sos * 120.0),
                (Act::SecretGet, sos * 2.0),
                (Act::StatusPatch(crd(op, "scaledobjects")), sos * 2.0),
                (Act::Discovery, 2.0),
            ];
            let mut metrics = Component::new(
                "keda",
                "keda-operator-metrics-apiserver",
                agent("keda-metrics-apiserver", "v2.16.0"),
            );
            metrics.watches = vec![crd(op, "scaledobjects"), CONFIGMAPS];
            let mut webhooks = Component::new(
                "keda",
                "keda-webhook",
                agent("keda-admission-webhooks", "v2.16.0"),
            );
            webhooks.watches = vec![crd(op, "scaledobjects"), HPAS];
            vec![operator, metrics, webhooks]
        }
        // kube-prometheus-stack: the operator (no leader election) watches
        // its CRs, StatefulSets, namespaces, ConfigMaps, Secrets and
        // updates its CRs' status on resync; Prometheus (`Prometheus/...`)
        // discovers targets with 3 watches per ServiceMonitor (endpoints,
        // services, pods) and one of nodes, and scrapes both API servers'
        // /metrics every 30 s; kube-state-metrics watches 28 types (with
        // Secrets); Grafana's sidecars (Python client) watch ConfigMaps
        // and Secrets with 60 s timeouts.
        Operator::Prometheus => {
            let sms = p.service_monitors as f64;
            let mut operator = Component::new(
                "monitoring",
                "kube-prometheus-stack-operator",
                agent("prometheus-operator", "v0.78.2"),
            );
            operator.watches = operator_crds(op);
            operator
                .watches
                .extend([r("apps", "v1", "statefulsets"), NAMESPACES, CONFIGMAPS]);
            operator.secret_watches = vec![None];
            operator.acts = vec![
                (Act::StatusPatch(crd(op, "prometheuses")), 12.0),
                (Act::StatusPatch(crd(op, "alertmanagers")), 12.0),
                (Act::SecretUpdate, 2.0),
                (Act::Discovery, 2.0),
            ];
            operator.own_objects = true;
            let mut prometheus = Component::new(
                "monitoring",
                "kube-prometheus-stack-prometheus",
                "Prometheus/2.55.1".to_owned(),
            );
            prometheus.fast_watches = vec![
                (ENDPOINTS, sms * WATCHES_PER_HOUR),
                (SERVICES, sms * WATCHES_PER_HOUR),
                (PODS, sms * WATCHES_PER_HOUR),
                (NODES, WATCHES_PER_HOUR),
            ];
            prometheus.acts = vec![(Act::Metrics, 240.0)];
            let mut ksm = Component::new(
                "monitoring",
                "kube-state-metrics",
                agent("kube-state-metrics", "v2.14.0"),
            );
            ksm.watches = BUILTIN
                .iter()
                .copied()
                .filter(|t| {
                    !matches!(
                        t.group,
                        "flowcontrol.apiserver.k8s.io"
                            | "apiregistration.k8s.io"
                            | "vpcresources.k8s.aws"
                            | "crd.k8s.amazonaws.com"
                            | "networking.k8s.aws"
                            | "coordination.k8s.io"
                            | "rbac.authorization.k8s.io"
                            | "node.k8s.io"
                            | "scheduling.k8s.io"
                    ) && t.resource != "secrets"
                })
                .take(27)
                .collect();
            ksm.secret_watches = vec![None];
            let mut grafana = Component::new(
                "monitoring",
                "kube-prometheus-stack-grafana",
                "OpenAPI-Generator/31.0.0/python".to_owned(),
            );
            grafana.fast_watches = vec![(CONFIGMAPS, 120.0), (SECRETS, 120.0)];
            grafana.acts = vec![(Act::List(CONFIGMAPS), 4.0)];
            vec![operator, prometheus, ksm, grafana]
        }
        Operator::ExternalDns => {
            let mut c = Component::new(
                "external-dns",
                "external-dns",
                agent("external-dns", "v0.15.0"),
            );
            c.watches = vec![
                SERVICES,
                INGRESSES,
                PODS,
                NODES,
                ENDPOINTS,
                crd(op, "dnsendpoints"),
            ];
            c.acts = vec![(Act::Discovery, 2.0)];
            vec![c]
        }
        // External Secrets: refreshes each ExternalSecret every hour
        // (reads its Secret, updates it, patches the status).
        Operator::ExternalSecrets => {
            let es = p.external_secrets as f64;
            let mut controller = Component::new(
                "external-secrets",
                "external-secrets",
                agent("external-secrets", "v0.10.7"),
            );
            controller.watches = operator_crds(op);
            controller.secret_watches = vec![None];
            controller.acts = vec![
                (Act::StatusPatch(crd(op, "externalsecrets")), es),
                (Act::SecretGet, es),
                (Act::SecretUpdate, es * 0.2),
            ];
            let mut cert = Component::new(
                "external-secrets",
                "external-secrets-cert-controller",
                agent("external-secrets-cert-controller", "v0.10.7"),
            );
            cert.watches = vec![CRDS, VALIDATING];
            cert.secret_watches = vec![Some("external-secrets")];
            cert.acts = vec![(Act::Get(CRDS), 12.0 * 8.0)];
            let mut webhook = Component::new(
                "external-secrets",
                "external-secrets-webhook",
                agent("external-secrets-webhook", "v0.10.7"),
            );
            webhook.secret_watches = vec![Some("external-secrets")];
            vec![controller, cert, webhook]
        }
        // Istio: istiod (2 replicas) holds 5 leader elections (5 s) and
        // each replica watches 26 built-in types and Istio's and the
        // Gateway API's CRDs, and Secrets.
        Operator::Istio => {
            let mut istiod =
                Component::new("istio-system", "istiod", agent("pilot-discovery", "1.24.1"));
            istiod.replicas = 2;
            istiod.leases = [
                "istio-leader",
                "istio-namespace-controller-election",
                "istio-gateway-deployment-default",
                "istio-gateway-status-leader",
                "istio-validation-controller-election",
            ]
            .into_iter()
            .map(|n| ("istio-system", n.to_owned(), 5.0))
            .collect();
            istiod.watches = BUILTIN
                .iter()
                .copied()
                .filter(|t| t.resource != "secrets")
                .take(26)
                .collect();
            istiod.watches.extend(operator_crds(op));
            istiod.watch_replicas = 2;
            istiod.secret_watches = vec![None, None];
            istiod.acts = vec![(Act::Discovery, 4.0), (Act::Get(CONFIGMAPS), 60.0)];
            vec![istiod]
        }
        // Kyverno: admission controller (3 replicas), background, cleanup
        // and reports controllers hold leases (2 s); the admission
        // controller also renews a health lease every 10 s; the reports
        // controller writes an ephemeral report per changed resource and
        // rescans every hour (create and delete), updating policy reports.
        Operator::Kyverno => {
            let scanned = (w.pods.len() + w.deployments.len()) as f64;
            let mut admission = Component::new(
                "kyverno",
                "kyverno-admission-controller",
                agent("kyverno", "v1.13.2"),
            );
            admission.replicas = 3;
            admission.leases = vec![
                ("kyverno", "kyverno".into(), 2.0),
                ("kyverno", "kyverno-health".into(), 10.0),
            ];
            admission.watches = vec![
                crd(op, "clusterpolicies"),
                crd(op, "policies"),
                crd(op, "policyexceptions"),
                crd(op, "globalcontextentries"),
                CONFIGMAPS,
                MUTATING,
                VALIDATING,
                NAMESPACES,
                CRDS,
            ];
            admission.watch_replicas = 3;
            admission.secret_watches = vec![Some("kyverno"), Some("kyverno"), Some("kyverno")];
            let mut background = Component::new(
                "kyverno",
                "kyverno-background-controller",
                agent("kyverno", "v1.13.2"),
            );
            background.leases = vec![("kyverno", "kyverno-background-controller".into(), 2.0)];
            background.watches = vec![
                crd(op, "clusterpolicies"),
                crd(op, "policies"),
                crd(op, "updaterequests"),
                NAMESPACES,
                CONFIGMAPS,
            ];
            let mut cleanup = Component::new(
                "kyverno",
                "kyverno-cleanup-controller",
                agent("kyverno", "v1.13.2"),
            );
            cleanup.leases = vec![("kyverno", "kyverno-cleanup-controller".into(), 2.0)];
            cleanup.watches = vec![
                crd(op, "cleanuppolicies"),
                crd(op, "clustercleanuppolicies"),
            ];
            let mut reports = Component::new(
                "kyverno",
                "kyverno-reports-controller",
                agent("kyverno", "v1.13.2"),
            );
            reports.leases = vec![("kyverno", "kyverno-reports-controller".into(), 2.0)];
            reports.watches = vec![
                crd(op, "ephemeralreports"),
                crd(op, "clusterephemeralreports"),
                crd(op, "policyreports"),
                crd(op, "clusterpolicyreports"),
                crd(op, "clusterpolicies"),
                crd(op, "policies"),
                PODS,
                DEPLOYMENTS,
                REPLICASETS,
                r("apps", "v1", "statefulsets"),
                r("apps", "v1", "daemonsets"),
                JOBS,
                CRONJOBS,
                SERVICES,
                NAMESPACES,
                INGRESSES,
                SERVICEACCOUNTS,
                r("rbac.authorization.k8s.io", "v1", "rolebindings"),
            ];
            reports.acts = vec![
                (Act::Create(crd(op, "ephemeralreports")), scanned * 0.5),
                (Act::Delete(crd(op, "ephemeralreports")), scanned * 0.5),
                (
                    Act::StatusPatch(crd(op, "policyreports")),
                    w.app_namespaces.len() as f64 * 6.0,
                ),
            ];
            vec![admission, background, cleanup, reports]
        }
        // Velero: watches its CRs, validates each backup location every
        // minute (status patch), and every 6 hours a backup lists every
        // type in every namespace.
        Operator::Velero => {
            let mut c = Component::new("velero", "velero", agent("velero-server", "v1.15.0"));
            c.watches = operator_crds(op);
            c.own_objects = true;
            c.acts = vec![
                (Act::StatusPatch(crd(op, "backupstoragelocations")), 60.0),
                (
                    Act::List(PODS),
                    (w.all_types.len() * w.app_namespaces.len()) as f64 / 6.0,
                ),
                (Act::SecretGet, 2.0),
            ];
            vec![c]
        }
        // Karpenter (in its own namespace, 2 replicas, lease 2 s): watches
        // its CRs and what scheduling needs; updates NodePool and
        // NodeClaim status.
        Operator::Karpenter => {
            let mut c = Component::new("karpenter", "karpenter", agent("karpenter", "v1.1.0"));
            c.replicas = 2;
            c.leases = vec![("karpenter", "karpenter-leader-election".into(), 2.0)];
            c.watches = operator_crds(op);
            c.watches.extend([
                NODES,
                PODS,
                r("policy", "v1", "poddisruptionbudgets"),
                r("apps", "v1", "daemonsets"),
                PVS,
                PVCS,
                STORAGECLASSES,
                CSINODES,
                NAMESPACES,
            ]);
            c.acts = vec![
                (Act::StatusPatch(crd(op, "nodeclaims")), 60.0),
                (Act::StatusPatch(crd(op, "nodepools")), 20.0),
                (Act::Get(NODES), 30.0),
            ];
            c.own_objects = true;
            vec![c]
        }
        // AWS Load Balancer Controller: a kube-system service account
        // with a client-go agent, so a system principal to the presets.
        Operator::AwsLoadBalancer => {
            let mut c = Component::new(
                "kube-system",
                "aws-load-balancer-controller",
                agent("aws-load-balancer-controller", "v2.10.1"),
            );
            c.replicas = 2;
            c.leases = vec![(
                "kube-system",
                "aws-load-balancer-controller-leader".into(),
                2.0,
            )];
            c.watches = vec![
                INGRESSES,
                SERVICES,
                ENDPOINTSLICES,
                PODS,
                NODES,
                r("networking.k8s.io", "v1", "ingressclasses"),
                crd(op, "targetgroupbindings"),
                crd(op, "ingressclassparams"),
            ];
            c.acts = vec![(Act::StatusPatch(crd(op, "targetgroupbindings")), 20.0)];
            vec![c]
        }
        // Strimzi: the cluster operator (lease 2 s) reconciles each Kafka
        // cluster every 2 min with ~30 reads (8 of Secrets) and a status
        // patch; the entity operator reconciles topics and users.
        Operator::Strimzi => {
            let clusters = p.kafka_clusters as f64;
            let mut co = Component::new(
                "kafka",
                "strimzi-cluster-operator",
                "fabric8-kubernetes-client/6.13.4".to_owned(),
            );
            co.leases = vec![("kafka", "strimzi-cluster-operator".into(), 2.0)];
            co.watches = operator_crds(op);
            co.watches.extend([PODS, r("apps", "v1", "statefulsets")]);
            co.own_objects = true;
            co.acts = vec![
                (Act::Get(CONFIGMAPS), clusters * 30.0 * 6.0),
                (Act::Get(SERVICES), clusters * 30.0 * 6.0),
                (Act::Get(crd(op, "strimzipodsets")), clusters * 30.0 * 4.0),
                (Act::Get(PODS), clusters * 30.0 * 6.0),
                (Act::SecretGet, clusters * 30.0 * 8.0),
                (Act::StatusPatch(crd(op, "kafkas")), clusters * 30.0),
            ];
            let mut eo = Component::new(
                "kafka",
                "strimzi-entity-operator",
                "fabric8-kubernetes-client/6.13.4".to_owned(),
            );
            eo.watches = vec![crd(op, "kafkatopics"), crd(op, "kafkausers")];
            eo.secret_watches = vec![Some("kafka")];
            eo.acts = vec![
                (Act::List(crd(op, "kafkatopics")), 30.0),
                (Act::StatusPatch(crd(op, "kafkatopics")), 30.0),
            ];
            vec![co, eo]
        }
    }
}

const OPERATORS: &str = "operators";

fn cluster_scoped(res: Res) -> bool {
    res.resource.starts_with("cluster")
        || matches!(
            res.resource,
            "nodes"
                | "namespaces"
                | "persistentvolumes"
                | "customresourcedefinitions"
                | "storageclasses"
                | "csinodes"
                | "csidrivers"
                | "mutatingwebhookconfigurations"
                | "validatingwebhookconfigurations"
                | "apiservices"
                | "nodepools"
                | "nodeclaims"
                | "ec2nodeclasses"
                | "ingressclasses"
                | "ingressclassparams"
                | "gatewayclasses"
        )
}

fn singular(res: Res) -> &'static str {
    res.resource.strip_suffix('s').unwrap_or(res.resource)
}

fn operator_streams(s: &mut Streams, c: Component, k: &Knobs, w: &World, rng: &mut Rng) {
    let source = if c.ns == "kube-system" {
        KS_CONTROLLERS
    } else {
        OPERATORS
    };
    let actors: Vec<Actor> = (0..c.replicas.max(c.watch_replicas))
        .map(|_| {
            let node = w.node(rng).name.clone();
            let ip = format!("10.0.{}.{}", 32 + rng.u32(..96), rng.u32(1..255));
            let pod = format!("{}-{}-{}", c.sa, suffix(rng, 10), suffix(rng, 5));
            pod_sa_actor(c.ns, c.sa, &pod, &node, &ip, c.agent.clone(), rng)
        })
        .collect();
    for (ns, name, period) in &c.leases {
        leases(
            s,
            source,
            actors[0].clone(),
            ns,
            name.clone(),
            *period,
            c.replicas,
        );
    }
    if !c.watches.is_empty() {
        let (a, types, n) = (actors.clone(), c.watches.clone(), c.watch_replicas);
        s.watch(
            source,
            "watches",
            (types.len() * n) as f64 * WATCHES_PER_HOUR,
            move |_, rng| {
                let actor = &a[rng.usize(..n)];
                watch_req(actor, types[rng.usize(..types.len())], None, None, rng)
            },
        );
    }
    if !c.secret_watches.is_empty() {
        let (a, namespaces) = (actors.clone(), c.secret_watches.clone());
        s.watch(
            source,
            "watches of Secrets",
            namespaces.len() as f64 * WATCHES_PER_HOUR,
            move |_, rng| {
                let actor = &a[rng.usize(..a.len())];
                watch_req(
                    actor,
                    SECRETS,
                    namespaces[rng.usize(..namespaces.len())],
                    None,
                    rng,
                )
            },
        );
    }
    for (res, rate) in c.fast_watches.clone() {
        let a = actors[0].clone();
        let activity = if res == SECRETS {
            "watches of Secrets"
        } else {
            "watches"
        };
        // Prometheus' discovery watches per namespace; Grafana's sidecars
        // across namespaces with a label selector and a 60 s timeout.
        let python = a.agent.starts_with("OpenAPI");
        s.watch(source, activity, rate, move |w, rng| {
            if python {
                let secs = 60.0;
                req(
                    &a,
                    "watch",
                    format!(
                        "{}?labelSelector=grafana_dashboard%3D1&timeoutSeconds=60&watch=True",
                        res.collection(None)
                    ),
                    obj(res, None, None, None),
                    200,
                )
                .latency(secs)
            } else if res == NODES {
                watch_req(&a, res, None, None, rng)
            } else {
                let ns = w.app_ns(rng).to_owned();
                watch_req(&a, res, Some(&ns), None, rng)
            }
        });
    }
    let own = c.own_objects;
    let ns_of = move |w: &World, rng: &mut Rng, res: Res, own_ns: &'static str| -> Option<String> {
        if cluster_scoped(res) {
            None
        } else if own {
            Some(own_ns.to_owned())
        } else {
            Some(w.app_ns(rng).to_owned())
        }
    };
    for (act, rate) in c.acts {
        let a = actors[0].clone();
        let rate = rate * k.operators;
        let home = c.ns;
        match act {
            Act::StatusPatch(res) => s.add(source, "CR status and other writes", rate, move |w, rng| {
                let ns = ns_of(w, rng, res, home);
                let name = format!("{}-{}", singular(res), rng.usize(..40));
                req(
                    &a,
                    "patch",
                    res.object(ns.as_deref(), &name, Some("status")),
                    obj(res, ns.as_deref(), Some(&name), Some("status")),
                    200,
                )
                .latency(0.005)
            }),
            Act::Create(res) => s.add(source, "CR status and other writes", rate, move |w, rng| {
                let ns = ns_of(w, rng, res, home);
                let name = uuid(rng);
                req(&a, "create", res.collection(ns.as_deref()), obj(res, ns.as_deref(), Some(&name), None), 201)
                    .latency(0.006)
            }),
            Act::Delete(res) => s.add(source, "CR status and other writes", rate, move |w, rng| {
                let ns = ns_of(w, rng, res, home);
                let name = uuid(rng);
                req(&a, "delete", res.object(ns.as_deref(), &name, None), obj(res, ns.as_deref(), Some(&name), None), 200)
                    .latency(0.006)
            }),
            Act::Patch(res) => s.add(source, "CR status and other writes", rate, move |w, rng| {
                let d = &w.deployments[rng.usize(..w.deployments.len())];
                let body = deployment_object(d, rng);
                req(
                    &a,
                    "patch",
                    format!("{}?fieldManager=argocd-controller&force=true", res.object(Some(&d.ns), &d.name, None)),
                    obj(res, Some(&d.ns), Some(&d.name), None),
                    200,
                )
                .bodies(Some(json!({"spec": {"template": {"spec": body["spec"]["template"]["spec"].clone()}}})), Some(body))
                .latency(0.01)
            }),
            Act::Get(res) => s.add(source, "reads and discovery", rate, move |w, rng| {
                let ns = ns_of(w, rng, res, home);
                let name = format!("{}-{}", singular(res), rng.usize(..40));
                get_req(&a, res, ns.as_deref(), &name, None)
            }),
            Act::List(res) => s.add(source, "reads and discovery", rate, move |w, rng| {
                let ns = ns_of(w, rng, res, home);
                list_req(&a, res, ns.as_deref(), "?limit=500")
            }),
            Act::ScaleGet => s.add(source, "reads and discovery", rate, move |w, rng| {
                let keda: Vec<usize> = w
                    .hpas
                    .iter()
                    .copied()
                    .filter(|&d| w.deployments[d].hpa.as_ref().is_some_and(|h| h.keda))
                    .collect();
                let d = &w.deployments[keda[rng.usize(..keda.len())]];
                get_req(&a, DEPLOYMENTS, Some(&d.ns), &d.name, Some("scale"))
            }),
            Act::Discovery => s.add(source, "reads and discovery", rate, move |_, rng| {
                let mut r = req(&a, "get", ["/api", "/apis"][rng.usize(..2)].to_owned(), None, 200);
                r.actor.reason = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"".to_owned();
                r
            }),
            Act::Metrics => s.add(source, "reads and discovery", rate, move |_, _| {
                req(&a, "get", "/metrics".to_owned(), None, 200).latency(0.05)
            }),
            Act::SecretGet => s.add(source, "Secret reads and writes", rate, move |w, rng| {
                let ns = if own { home.to_owned() } else { w.app_ns(rng).to_owned() };
                let name = format!("{}-{}", ["credentials", "tls", "kafka-user", "cluster-ca-cert", "api-token"][rng.usize(..5)], rng.usize(..20));
                get_req(&a, SECRETS, Some(&ns), &name, None)
            }),
            Act::SecretUpdate => s.add(source, "Secret reads and writes", rate, move |w, rng| {
                let ns = if own { home.to_owned() } else { w.app_ns(rng).to_owned() };
                let name = format!("{}-{}", ["credentials", "db", "api-token"][rng.usize(..3)], rng.usize(..20));
                req(&a, "update", SECRETS.object(Some(&ns), &name, None), obj(SECRETS, Some(&ns), Some(&name), None), 200)
                    .latency(0.006)
            }),
        }
    }
}

// ---------------------------------------------------------------------
// People and CI

fn person(
    user: &str,
    groups: &[&str],
    session: &str,
    ip: &str,
    agent: &str,
    reason: String,
    rng: &mut Rng,
) -> Actor {
    let principal = format!("AROAYQ2{}", upper(rng, 13));
    let role = user
        .rsplit_once(":role/")
        .map(|(_, r)| r.to_owned())
        .or_else(|| user.split('/').nth(1).map(str::to_owned))
        .unwrap_or_default();
    let mut all: Vec<&str> = groups.to_vec();
    all.push("system:authenticated");
    Actor {
        user: json!({
            "username": user,
            "uid": format!("aws-iam-authenticator:{ACCOUNT}:{principal}"),
            "groups": all,
            "extra": {
                "accessKeyId": [format!("ASIAYQ2{}", upper(rng, 13))],
                "arn": [format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")],
                "canonicalArn": [format!("arn:aws:iam::{ACCOUNT}:role/{role}")],
                "principalId": [principal],
                "sessionName": [session],
                "sigs.k8s.io/aws-iam-authenticator/principalId": [principal],
            }
        }),
        ip: ip.to_owned(),
        agent: agent.to_owned(),
        reason,
        node: false,
    }
}

fn people(s: &mut Streams, p: &Profile, k: &Knobs) {
    let mut rng = Rng::with_seed(0x7065_6f70);
    let rng = &mut rng;
    let sso = "AWSReservedSSO_PlatformAdmin_5e1c2a7b9d3f4e60";
    let admin_user = format!("arn:aws:sts::{ACCOUNT}:assumed-role/{sso}/alice@example.com");
    let admin = person(
        &admin_user,
        &[],
        "alice@example.com",
        "10.0.176.37",
        "kubectl/v1.31.1 (darwin/arm64) kubernetes/948afe5",
        format!(
            "EKS Access Policy: allowed by ClusterRoleBinding \"arn:aws:sts::{ACCOUNT}:assumed-role/{sso}/{{{{SessionName}}}}+arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy\" of ClusterRole \"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy\" to User \"{admin_user}\""
        ),
        rng,
    );
    let dev = person(
        &format!("arn:aws:iam::{ACCOUNT}:role/Developer"),
        &["developers"],
        "bob@example.com",
        "10.0.176.118",
        "k9s/v0.32.7 (darwin/arm64) kubernetes/$Format",
        rbac("developers-edit", "edit", "Group \"developers\""),
        rng,
    );
    let dev_cli = Actor {
        agent: "kubectl/v1.30.6 (linux/amd64) kubernetes/00f20d4".to_owned(),
        ip: "10.0.176.52".to_owned(),
        ..dev.clone()
    };
    let viewer = person(
        &format!("arn:aws:iam::{ACCOUNT}:role/ReadOnly"),
        &["viewers"],
        "carol@example.com",
        "10.0.176.201",
        "kubectl/v1.31.2 (windows/amd64) kubernetes/5864a46",
        rbac("viewers-view", "view", "Group \"viewers\""),
        rng,
    );
    let ci_helm = person(
        &format!("arn:aws:iam::{ACCOUNT}:role/github-actions-deploy"),
        &["ci:deployers"],
        "GitHubActions-8123456789",
        "10.0.144.23",
        "Helm/3.16.2",
        rbac("ci-deployer", "cluster-admin", "Group \"ci:deployers\""),
        rng,
    );
    let ci_kubectl = Actor {
        agent: "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46".to_owned(),
        ..ci_helm.clone()
    };
    let terraform = person(
        &format!("arn:aws:iam::{ACCOUNT}:role/terraform-platform"),
        &["platform:terraform"],
        "terraform-run-3f9a",
        "10.0.144.61",
        "HashiCorp/1.0 Terraform/1.9.8",
        rbac(
            "terraform-admin",
            "cluster-admin",
            "Group \"platform:terraform\"",
        ),
        rng,
    );
    let everyone = vec![
        admin.clone(),
        dev.clone(),
        dev_cli.clone(),
        viewer.clone(),
        ci_kubectl.clone(),
        terraform.clone(),
    ];
    let rate = p.people_per_hour * k.people;
    let pick = |list: &[Actor], rng: &mut Rng| list[rng.usize(..list.len())].clone();

    let all = everyone.clone();
    s.add(PEOPLE, "discovery", rate * 0.10, move |_, rng| {
        let mut a = pick(&all, rng);
        a.reason = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"".to_owned();
        req(&a, "get", ["/api?timeout=32s", "/apis?timeout=32s"][rng.usize(..2)].to_owned(), None, 200)
    });
    let readers = vec![
        admin.clone(),
        dev.clone(),
        dev_cli.clone(),
        viewer.clone(),
        ci_kubectl.clone(),
        terraform.clone(),
    ];
    s.add(PEOPLE, "reads", rate * 0.46, move |w, rng| {
        let a = pick(&readers, rng);
        let ns = w.app_ns(rng).to_owned();
        let d = &w.deployments[rng.usize(..w.deployments.len())];
        match rng.usize(..8) {
            0 => list_req(&a, PODS, Some(&ns), "?limit=500"),
            1 => get_req(&a, DEPLOYMENTS, Some(&d.ns), &d.name, None),
            2 => list_req(&a, DEPLOYMENTS, Some(&ns), "?limit=500"),
            3 => list_req(&a, NODES, None, "?limit=500"),
            4 => get_req(
                &a,
                CONFIGMAPS,
                Some(&d.ns),
                &format!("{}-config", d.name),
                None,
            ),
            5 => list_req(&a, SERVICES, Some(&ns), "?limit=500"),
            6 => list_req(&a, NAMESPACES, None, "?limit=500"),
            _ => {
                let pod = w.app_pod(rng);
                get_req(&a, PODS, Some(&pod.ns), &pod.name, None)
            }
        }
    });
    let watchers = vec![dev.clone(), viewer.clone()];
    s.watch(PEOPLE, "reads", rate * 0.06 / 2.0, move |w, rng| {
        let a = pick(&watchers, rng);
        let ns = w.app_ns(rng).to_owned();
        watch_req(
            &a,
            [PODS, DEPLOYMENTS, REPLICASETS][rng.usize(..3)],
            Some(&ns),
            None,
            rng,
        )
    });
    let loggers = vec![admin.clone(), dev.clone(), dev_cli.clone(), viewer.clone()];
    s.add(
        PEOPLE,
        "logs, exec, port-forward",
        rate * 0.08,
        move |w, rng| {
            let a = pick(&loggers, rng);
            let pod = w.app_pod(rng);
            let mut r = req(
                &a,
                "get",
                format!(
                    "{}?container=app&follow=true&tailLines=200",
                    PODS.object(Some(&pod.ns), &pod.name, Some("log"))
                ),
                obj(PODS, Some(&pod.ns), Some(&pod.name), Some("log")),
                200,
            );
            r.latency = 40.0;
            r
        },
    );
    let execers = vec![admin.clone(), dev_cli.clone()];
    s.add(
        PEOPLE,
        "logs, exec, port-forward",
        rate * 0.02,
        move |w, rng| {
            let a = pick(&execers, rng);
            let pod = w.app_pod(rng);
            req(
                &a,
                "get",
                format!(
                    "{}?command=%2Fbin%2Fsh&container=app&stdin=true&stdout=true&tty=true",
                    PODS.object(Some(&pod.ns), &pod.name, Some("exec"))
                ),
                obj(PODS, Some(&pod.ns), Some(&pod.name), Some("exec")),
                101,
            )
            .latency(180.0)
        },
    );
    let forwarders = vec![dev_cli.clone(), admin.clone()];
    s.add(
        PEOPLE,
        "logs, exec, port-forward",
        rate * 0.01,
        move |w, rng| {
            let a = pick(&forwarders, rng);
            let pod = w.app_pod(rng);
            req(
                &a,
                "get",
                PODS.object(Some(&pod.ns), &pod.name, Some("portforward")),
                obj(PODS, Some(&pod.ns), Some(&pod.name), Some("portforward")),
                101,
            )
            .latency(600.0)
        },
    );
    let secret_readers = vec![admin.clone(), ci_helm.clone(), terraform.clone()];
    s.add(
        PEOPLE,
        "Secret reads and writes",
        rate * 0.04,
        move |w, rng| {
            let a = pick(&secret_readers, rng);
            let ns = w.app_ns(rng).to_owned();
            if a.agent.starts_with("Helm") {
                list_req(
                    &a,
                    SECRETS,
                    Some(&ns),
                    "?labelSelector=name%3Dcheckout%2Cowner%3Dhelm",
                )
            } else {
                get_req(&a, SECRETS, Some(&ns), &format!("{ns}-credentials"), None)
            }
        },
    );
    let helm = ci_helm.clone();
    s.add(
        PEOPLE,
        "Secret reads and writes",
        rate * 0.02,
        move |w, rng| {
            let ns = w.app_ns(rng).to_owned();
            let name = format!("sh.helm.release.v1.{ns}.v{}", rng.u32(10..400));
            req(
                &helm,
                "create",
                SECRETS.collection(Some(&ns)),
                obj(SECRETS, Some(&ns), Some(&name), None),
                201,
            )
            .latency(0.008)
        },
    );
    let deployers = vec![ci_helm.clone(), ci_kubectl.clone(), admin.clone()];
    s.add(PEOPLE, "applies and changes", rate * 0.08, move |w, rng| {
        let a = pick(&deployers, rng);
        let d = &w.deployments[rng.usize(..w.deployments.len())];
        if rng.f64() < 0.6 {
            let body = deployment_object(d, rng);
            let patch = json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": body.to_string()}}, "spec": {"template": {"spec": {"containers": [{"name": "app", "image": d.image}]}}}});
            req(
                &a,
                "patch",
                format!("{}?fieldManager=kubectl-client-side-apply&fieldValidation=Strict", DEPLOYMENTS.object(Some(&d.ns), &d.name, None)),
                obj(DEPLOYMENTS, Some(&d.ns), Some(&d.name), None),
                200,
            )
            .bodies(Some(patch), Some(body))
            .latency(0.02)
        } else {
            let name = format!("{}-config", d.name);
            req(
                &a,
                "patch",
                CONFIGMAPS.object(Some(&d.ns), &name, None),
                obj(CONFIGMAPS, Some(&d.ns), Some(&name), None),
                200,
            )
            .latency(0.01)
        }
    });
    let devs = vec![dev_cli.clone(), admin.clone()];
    s.add(PEOPLE, "applies and changes", rate * 0.02, move |w, rng| {
        let a = pick(&devs, rng);
        let pod = w.app_pod(rng);
        req(
            &a,
            "delete",
            PODS.object(Some(&pod.ns), &pod.name, None),
            obj(PODS, Some(&pod.ns), Some(&pod.name), None),
            200,
        )
        .bodies(Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})), Some(pod_object(w, pod, rng, true)))
        .latency(0.01)
    });
    let all = everyone.clone();
    s.add(PEOPLE, "access reviews", rate * 0.04, move |_, rng| {
        let a = pick(&all, rng);
        match rng.usize(..3) {
            0 => req(&a, "create", SSARS.collection(None), obj(SSARS, None, None, None), 201)
                .bodies(Some(json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "spec": {"resourceAttributes": {"namespace": "kube-system", "verb": "get", "resource": "secrets"}}})), Some(json!({"status": {"allowed": false}}))),
            1 => req(&a, "create", SSRRS.collection(None), obj(SSRRS, None, None, None), 201)
                .bodies(Some(json!({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1", "spec": {"namespace": "default"}})), Some(json!({"status": {"resourceRules": [], "incomplete": false}}))),
            _ => {
                let res = r("authentication.k8s.io", "v1", "selfsubjectreviews");
                req(&a, "create", res.collection(None), obj(res, None, None, None), 201)
            }
        }
    });
    let denied = vec![dev_cli.clone(), viewer.clone()];
    s.add(
        PEOPLE,
        "denied (403) and missing (404)",
        rate * 0.03,
        move |w, rng| {
            let a = pick(&denied, rng);
            match rng.usize(..3) {
                0 => req(
                    &a,
                    "list",
                    SECRETS.collection(Some("kube-system")),
                    obj(SECRETS, Some("kube-system"), None, None),
                    403,
                ),
                1 => req(
                    &a,
                    "get",
                    r("rbac.authorization.k8s.io", "v1", "clusterroles").object(
                        None,
                        "cluster-admin",
                        None,
                    ),
                    obj(
                        r("rbac.authorization.k8s.io", "v1", "clusterroles"),
                        None,
                        Some("cluster-admin"),
                        None,
                    ),
                    403,
                ),
                _ => {
                    let pod = w.app_pod(rng);
                    req(
                        &a,
                        "create",
                        PODS.object(Some(&pod.ns), &pod.name, Some("exec")),
                        obj(PODS, Some(&pod.ns), Some(&pod.name), Some("exec")),
                        403,
                    )
                }
            }
        },
    );
    let all = everyone.clone();
    s.add(
        PEOPLE,
        "denied (403) and missing (404)",
        rate * 0.02,
        move |w, rng| {
            let a = pick(&all, rng);
            let ns = w.app_ns(rng).to_owned();
            req(
                &a,
                "get",
                DEPLOYMENTS.object(Some(&ns), &format!("{ns}-legacy"), None),
                obj(DEPLOYMENTS, Some(&ns), Some(&format!("{ns}-legacy")), None),
                404,
            )
        },
    );
    let toppers = vec![admin, dev_cli, viewer];
    s.add(PEOPLE, "reads", rate * 0.02, move |w, rng| {
        let a = pick(&toppers, rng);
        let ns = w.app_ns(rng).to_owned();
        list_req(&a, POD_METRICS, Some(&ns), "")
    });
    let jobs = ci_kubectl;
    s.add(PEOPLE, "applies and changes", rate * 0.02, move |w, rng| {
        let ns = w.app_ns(rng).to_owned();
        let name = format!("{ns}-migrate-{}", suffix(rng, 5));
        req(
            &jobs,
            "create",
            JOBS.collection(Some(&ns)),
            obj(JOBS, Some(&ns), Some(&name), None),
            201,
        )
        .bodies(
            Some(job_object(&name, &ns, rng, false)),
            Some(job_object(&name, &ns, rng, true)),
        )
        .latency(0.012)
    });
}

// ---------------------------------------------------------------------
// The sample

/// A time slice of one profile's traffic.
pub struct Sample {
    pub events: Vec<Event>,
    /// The model's audit events an hour (the slice's rate).
    pub per_hour: f64,
    /// The slice's length.
    pub minutes: f64,
}

/// About `events` audit events of `p` under `scenario`, in time order: a
/// slice as long as the model's rates need to make that many.
pub fn generate(p: &Profile, scenario: Scenario, events: usize, seed: u64) -> Sample {
    let k = Knobs::of(scenario);
    let mut rng = Rng::with_seed(seed);
    let w = World::build(p, &k, &mut rng);
    let streams = streams(p, &k, &w, &mut rng);
    let per_hour: f64 = streams
        .0
        .iter()
        .map(|s| s.rate * if s.watch { 2.0 } else { 1.0 })
        .sum();
    let hours = events as f64 / per_hour;
    let secs = hours * 3600.0;
    let mut out: Vec<(f64, Event)> = Vec::with_capacity(events + events / 50);
    for s in &streams.0 {
        let expected = s.rate * hours;
        let n = expected.floor() as usize + usize::from(rng.f64() < expected.fract());
        for _ in 0..n {
            let t = rng.f64() * secs;
            if s.watch {
                // In a steady state a slice holds as many watch ends as
                // starts: one of each, of different watches.
                let started = (s.make)(&w, &mut rng);
                let id = uuid(&mut rng);
                let message = render(&started, &id, "ResponseStarted", t, t + 0.0015);
                out.push((
                    t,
                    Event {
                        class: s.class,
                        key: format!("{id}/ResponseStarted"),
                        message,
                    },
                ));
                let ended = (s.make)(&w, &mut rng);
                let id = uuid(&mut rng);
                let t = rng.f64() * secs;
                let message = render(&ended, &id, "ResponseComplete", t - ended.latency, t);
                out.push((
                    t,
                    Event {
                        class: s.class,
                        key: format!("{id}/ResponseComplete"),
                        message,
                    },
                ));
            } else {
                let one = (s.make)(&w, &mut rng);
                let id = uuid(&mut rng);
                let done = t + one.latency * (0.5 + rng.f64());
                let message = render(&one, &id, "ResponseComplete", t, done);
                out.push((
                    done,
                    Event {
                        class: s.class,
                        key: format!("{id}/ResponseComplete"),
                        message,
                    },
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Sample {
        events: out.into_iter().map(|(_, e)| e).collect(),
        per_hour,
        minutes: secs / 60.0,
    }
}

/// `DD_AUDIT_SYSTEM_CLIENTS` naming the profile's operators (those outside
/// kube-system) with their clients: what a user of the setting would
/// write.
pub fn system_clients(p: &Profile) -> String {
    let k = Knobs::of(Scenario::Central);
    let w = World::build(p, &k, &mut Rng::with_seed(1));
    let mut by_ns: Vec<(&'static str, Vec<String>)> = Vec::new();
    for op in &p.operators {
        for c in components(*op, p, &w) {
            if c.ns == "kube-system" {
                continue;
            }
            let program = c.agent.split('/').next().unwrap_or_default();
            let pattern = format!("{program}/*");
            match by_ns.iter_mut().find(|(ns, _)| *ns == c.ns) {
                Some((_, agents)) => {
                    if !agents.contains(&pattern) {
                        agents.push(pattern);
                    }
                }
                None => by_ns.push((c.ns, vec![pattern])),
            }
        }
    }
    by_ns
        .iter()
        .map(|(ns, agents)| format!("system:serviceaccount:{ns}:*={}", agents.join("|")))
        .collect::<Vec<_>>()
        .join(";")
}
