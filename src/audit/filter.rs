//! Filtering: `DD_AUDIT_INCLUDE`, `DD_AUDIT_EXCLUDE` (queries in
//! [`crate::audit::query`]'s syntax) and the opt-in noise presets of
//! `DD_AUDIT_NOISE_FILTER`, on the event's fields; then the Datadog
//! Forwarder's `INCLUDE_AT_MATCH` / `EXCLUDE_AT_MATCH` (exclude wins) on
//! the message as text.
//!
//! The presets are queries too, written out below and in docs/audit.md, so
//! what they drop can be read, not guessed. Each is a pair: what counts as
//! noise, and a guard of what a detection rule needs. An event is dropped
//! as noise only when it matches the first and not the guard. The guard
//! follows `AUDIT_TRAFFIC.md`'s "never drop" list, taken from Datadog's,
//! Falco's, Elastic's and Sigma's Kubernetes audit rules.
//!
//! Only audit events are filtered: a message that is not a JSON object (an
//! authenticator or scheduler log line in the same log group) passes.

use regex::Regex;

use super::query::{AuditEvent, AuditQuery, FieldCache};
use super::{AuditMessage, AuditRule, AuditTally, DropReason, EventRef, Step};

/// `DD_AUDIT_NOISE_FILTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseLevel {
    /// Heartbeats, watches and discovery by system principals.
    Standard,
    /// Also their reads, kubelet token and status writes, and review calls.
    Aggressive,
}

/// The system principals, each with the client it normally uses: the
/// first clause of both presets (a macro, so the presets stay constants
/// the docs can show whole).
macro_rules! system_principals {
    () => {
        r"(
  (@user.username:system\:node\:* @userAgent:(kubelet/* OR kube-proxy/*))
  OR (@user.username:system\:kube-controller-manager @userAgent:kube-controller-manager/*)
  OR (@user.username:system\:kube-scheduler @userAgent:kube-scheduler/*)
  OR (@user.username:system\:kube-proxy @userAgent:kube-proxy/*)
  OR (@user.username:system\:apiserver @userAgent:kube-apiserver/*)
  OR (@user.username:system\:serviceaccount\:kube-system\:aws-node @userAgent:(aws-node* OR ./aws-k8s-agent* OR aws-k8s-agent/* OR amazon-vpc-cni-k8s/* OR controller/*))
  OR (@user.username:system\:serviceaccount\:kube-system\:coredns @userAgent:(CoreDNS/* OR coredns/*))
  OR (@user.username:system\:serviceaccount\:kube-system\:kube-proxy @userAgent:kube-proxy/*)
  OR (@user.username:system\:serviceaccount\:kube-system\:* @userAgent:kube-controller-manager/*)
  OR (@user.username:system\:serviceaccount\:kube-system\:metrics-server @userAgent:metrics-server/*)
  OR (@user.username:(system\:serviceaccount\:kube-system\:ebs-csi-controller-sa OR system\:serviceaccount\:kube-system\:ebs-csi-node-sa OR system\:serviceaccount\:kube-system\:efs-csi-controller-sa OR system\:serviceaccount\:kube-system\:efs-csi-node-sa) @userAgent:(csi-* OR aws-ebs-csi-driver/* OR aws-efs-csi-driver/*))
  OR (@user.username:system\:serviceaccount\:kube-system\:cluster-autoscaler @userAgent:cluster-autoscaler/*)
  OR (@user.username:system\:serviceaccount\:kube-system\:aws-load-balancer-controller @userAgent:(aws-load-balancer-controller/* OR controller/*))
  OR (@user.username:(system\:serviceaccount\:kube-system\:karpenter OR system\:serviceaccount\:karpenter\:karpenter) @userAgent:karpenter/*)
  OR (@user.username:system\:serviceaccount\:kube-system\:coredns-autoscaler @userAgent:cluster-proportional-autoscaler/*)
  OR (@user.username:(eks\:addon-manager OR eks\:authenticator OR eks\:az-poller OR eks\:certificate-controller OR eks\:cloud-controller-manager OR eks\:cloudwatch-agent OR eks\:cluster-event-watcher OR eks\:coredns-autoscaler OR eks\:fargate-manager OR eks\:fargate-scheduler OR eks\:k8s-metrics OR eks\:kms-storage-migrator OR eks\:network-policy-controller OR eks\:node-manager OR eks\:nodewatcher OR eks\:pod-identity-mutating-webhook OR eks\:vpc-resource-controller)
    @userAgent:(eks-* OR aws-* OR amazon-* OR controller/*))
)"
    };
}

/// Operators: service accounts outside kube-system through a Kubernetes
/// client library's agent (`<program>/<version> (linux/<arch>)
/// kubernetes/<commit>`), not kubectl or another command-line client.
/// The presets drop only their lease renewals outside kube-system
/// (standard) and watches of anything but secrets (aggressive). A tool
/// that sends such an agent cannot be told from an operator: that is
/// the limit of this clause (docs/audit.md).
macro_rules! operators {
    () => {
        r"(@user.username:system\:serviceaccount\:* -@user.username:system\:serviceaccount\:kube-system\:*
  @userAgent:*\(linux/*\)\ kubernetes/* -@userAgent:(*kubectl* OR oc/* OR k9s/* OR helm/* OR Helm/*))"
    };
}

/// The operators' clause of the presets.
pub const OPERATORS: &str = operators!();

/// The system principals' clause of the presets, as they are without
/// `DD_AUDIT_SYSTEM_CLIENTS`.
pub const SYSTEM_PRINCIPALS: &str = system_principals!();

/// What the standard preset drops: answered 2xx, asked by a system
/// principal through the client it normally uses, and one of: a lease
/// heartbeat, a watch (of anything but secrets), an API discovery or
/// health request, an event write, a token or access review, a kubelet's
/// token request or node status, the autoscaler's reads of scale and
/// metrics and its status writes; and operators' lease renewals.
///
/// A system principal is a node, a control-plane component, one of the
/// `eks:` users EKS has (the list of docs/audit.md, with its sources: an
/// unknown `eks:` name is a user like any other), or a kube-system service
/// account the table knows. Its usual client is its own program's:
/// `kubelet/...` for nodes, `kube-controller-manager/...` for the
/// controller manager and its per-controller accounts, the VPC CNI's
/// agents for `aws-node`, and so on (docs/audit.md has the table). The
/// same token used through `curl`, `python-requests`, `kubectl`, a
/// generic Go tool or no agent at all, as stolen credentials are, is not
/// noise. `DD_AUDIT_SYSTEM_CLIENTS` adds a user's own principals.
pub const NOISE_STANDARD: &str = concat!(
    "(",
    system_principals!(),
    r"
@responseStatus.code:[200 TO 299]
(
  (@objectRef.resource:leases @verb:(get OR update OR patch))
  OR (@verb:watch -@objectRef.resource:secrets)
  OR (@verb:get -@objectRef:* @requestURI:(/api OR /api/* OR /apis OR /apis/* OR /openapi/* OR /livez* OR /readyz* OR /healthz* OR /metrics OR /version))
  OR (@objectRef.resource:events @verb:(create OR update OR patch))
  OR (@user.username:(system\:node\:* OR system\:serviceaccount\:kube-system\:metrics-server) @verb:create @objectRef.resource:(tokenreviews OR subjectaccessreviews))
  OR (@user.username:system\:node\:* @verb:create @objectRef.resource:serviceaccounts @objectRef.subresource:token)
  OR (@user.username:system\:node\:* @objectRef.resource:nodes (@verb:get OR (@verb:patch @objectRef.subresource:status)))
  OR (@verb:get @objectRef.resource:deployments @objectRef.subresource:scale)
  OR (@verb:(get OR list) @objectRef.apiGroup:metrics.k8s.io)
  OR (@verb:(update OR patch) @objectRef.resource:horizontalpodautoscalers @objectRef.subresource:status)
))
OR (",
    operators!(),
    r"
@responseStatus.code:[200 TO 299]
@objectRef.resource:leases @verb:(get OR update OR patch) -@objectRef.namespace:kube-system)"
);

/// What the aggressive preset drops besides: the same principals' `get`
/// and `list` (of anything but secrets), kubelets' pod status patches,
/// and operators' watches (of anything but secrets).
pub const NOISE_AGGRESSIVE_EXTRA: &str = concat!(
    "(",
    system_principals!(),
    r"
@responseStatus.code:[200 TO 299]
(
  (@verb:(get OR list) -@objectRef.resource:secrets)
  OR (@user.username:system\:node\:* @verb:patch @objectRef.resource:pods @objectRef.subresource:status)
))
OR (",
    operators!(),
    r"
@responseStatus.code:[200 TO 299]
@verb:watch -@objectRef.resource:secrets)"
);

/// What no preset drops, whatever it looks like.
pub const NEVER_DROP: &str = r"@responseStatus.code:>=400
OR @annotations.authorization.k8s.io/decision:forbid
OR @user.username:system\:anonymous OR @user.groups:system\:unauthenticated
OR @impersonatedUser:*
OR @objectRef.subresource:(exec OR attach OR portforward OR ephemeralcontainers OR proxy)
OR @objectRef.resource:secrets
OR (@verb:(create OR update OR patch OR delete OR deletecollection) (
  (-@user.username:(system\:node\:* OR system\:kube-* OR system\:apiserver OR eks\:* OR system\:serviceaccount\:kube-system\:*) -@objectRef.resource:leases)
  OR (@verb:create @objectRef.resource:pods -@objectRef.subresource:*)
  OR @objectRef.resource:(deployments OR daemonsets OR statefulsets OR replicasets OR jobs OR cronjobs)
  OR @objectRef.resource:(roles OR clusterroles OR rolebindings OR clusterrolebindings OR namespaces OR services)
  OR @objectRef.resource:(mutatingwebhookconfigurations OR validatingwebhookconfigurations OR customresourcedefinitions OR certificatesigningrequests)
  OR (@objectRef.resource:serviceaccounts -@objectRef.subresource:token)
  OR (@objectRef.resource:configmaps @objectRef.namespace:kube-system @objectRef.name:aws-auth)
))
OR (@verb:create @objectRef.resource:(selfsubjectrulesreviews OR selfsubjectaccessreviews))
OR (@objectRef.resource:serviceaccounts @objectRef.subresource:token -@user.username:system\:node\:*)
OR (@objectRef.resource:subjectaccessreviews (@responseObject.status.allowed:false OR @requestObject.spec.resourceAttributes.subresource:(proxy OR exec OR attach OR portforward)))
OR PUBLIC_IP(@sourceIPs) OR -@sourceIPs:*";

/// A principal of the user's own, counted as a system principal when it
/// calls with one of its clients (`DD_AUDIT_SYSTEM_CLIENTS`): patterns
/// with `*` and `?` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemClient {
    pub user: String,
    pub agents: Vec<String>,
}

/// `pattern` as a query value: every character the query syntax reads
/// is escaped, except the wildcards, and a value that is a keyword of
/// the syntax (`NOT`, `OR`, ...) is escaped too, so no value can be read
/// as an operator.
fn query_value(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    if matches!(pattern, "NOT" | "AND" | "OR" | "TO") {
        out.push('\\');
    }
    for c in pattern.chars() {
        if !(c.is_alphanumeric() || matches!(c, '*' | '?' | '/' | '.' | '_')) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The system principals' clause with the user's own principals added.
pub(crate) fn system_principals_text(clients: &[SystemClient]) -> String {
    let open = SYSTEM_PRINCIPALS
        .strip_suffix("\n)")
        .expect("the clause ends with its parenthesis");
    let mut principals = open.to_owned();
    for client in clients {
        let agents: Vec<String> = client.agents.iter().map(|a| query_value(a)).collect();
        principals.push_str(&format!(
            "\n  OR (@user.username:{} @userAgent:({}))",
            query_value(&client.user),
            agents.join(" OR ")
        ));
    }
    principals.push_str("\n)");
    principals
}

/// The operators' clause without the user's own principals, whose clients
/// are pinned: through another client they are never noise.
pub(crate) fn operators_text(clients: &[SystemClient]) -> String {
    if clients.is_empty() {
        return OPERATORS.to_owned();
    }
    let users: Vec<String> = clients.iter().map(|c| query_value(&c.user)).collect();
    let open = OPERATORS
        .strip_suffix(')')
        .expect("the clause ends with its parenthesis");
    format!("{open} -@user.username:({}))", users.join(" OR "))
}

/// A preset's text with the user's principals added to its system
/// principals, and taken out of its operators.
pub(crate) fn preset_text(preset: &str, clients: &[SystemClient]) -> String {
    if clients.is_empty() {
        return preset.to_owned();
    }
    preset
        .replacen(SYSTEM_PRINCIPALS, &system_principals_text(clients), 1)
        .replacen(OPERATORS, &operators_text(clients), 1)
}

/// Whether the presets still parse with `clients` added: the setting is
/// checked at start-up, never found wrong at the first event.
pub fn check_system_clients(clients: &[SystemClient]) -> Result<(), super::query::QueryError> {
    for preset in [NOISE_STANDARD, NOISE_AGGRESSIVE_EXTRA] {
        preset_text(preset, clients).parse::<AuditQuery>()?;
    }
    Ok(())
}

/// The guard, with the deployment's internal networks added to its
/// public-address test.
pub(crate) fn guard_text(internal_networks: &[String]) -> String {
    if internal_networks.is_empty() {
        return NEVER_DROP.to_owned();
    }
    NEVER_DROP.replace(
        "PUBLIC_IP(@sourceIPs)",
        &format!("PUBLIC_IP(@sourceIPs, {})", internal_networks.join(", ")),
    )
}

/// What happens to one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditVerdict {
    Keep,
    /// Matched `DD_AUDIT_EXCLUDE`, or not `DD_AUDIT_INCLUDE`.
    Excluded,
    /// Dropped by the noise preset.
    Noise,
}

#[derive(Debug, Clone)]
struct NoisePreset {
    noise: Vec<AuditQuery>,
    guard: AuditQuery,
}

/// The audit filters, set once from the configuration.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    include: Option<AuditQuery>,
    exclude: Option<AuditQuery>,
    noise: Option<NoisePreset>,
    /// `DD_AUDIT_NOISE_FILTER`, `DD_AUDIT_INTERNAL_NETWORKS` and
    /// `DD_AUDIT_SYSTEM_CLIENTS` as given, for the noise report.
    level: Option<NoiseLevel>,
    internal_networks: Vec<String>,
    system_clients: Vec<SystemClient>,
}

impl AuditFilter {
    /// `internal_networks` (`DD_AUDIT_INTERNAL_NETWORKS`, already checked)
    /// count as internal for the guard's public-address clause: a NAT
    /// gateway's public address, the VPC's IPv6 ranges. `system_clients`
    /// (`DD_AUDIT_SYSTEM_CLIENTS`) are the user's own principals the
    /// presets treat as system ones, with their clients.
    pub fn new(
        include: Option<AuditQuery>,
        exclude: Option<AuditQuery>,
        noise: Option<NoiseLevel>,
        internal_networks: &[String],
        system_clients: &[SystemClient],
    ) -> Self {
        let preset = |text: &str| -> AuditQuery {
            text.parse()
                .unwrap_or_else(|e| panic!("a built-in preset must parse: {e}"))
        };
        let noise_level = noise;
        let noise = noise.map(|level| NoisePreset {
            noise: match level {
                NoiseLevel::Standard => vec![preset(&preset_text(NOISE_STANDARD, system_clients))],
                NoiseLevel::Aggressive => vec![
                    preset(&preset_text(NOISE_STANDARD, system_clients)),
                    preset(&preset_text(NOISE_AGGRESSIVE_EXTRA, system_clients)),
                ],
            },
            guard: preset(&guard_text(internal_networks)),
        });
        let mut filter = Self {
            include,
            exclude,
            level: noise_level,
            noise,
            internal_networks: internal_networks.to_vec(),
            system_clients: system_clients.to_vec(),
        };
        // The queries read many of the same fields (the guard most of
        // the preset's): one table, so each is looked up once per event.
        let mut table = Vec::new();
        for query in filter.queries_mut() {
            query.share_fields(&mut table);
        }
        filter
    }

    fn queries_mut(&mut self) -> impl Iterator<Item = &mut AuditQuery> {
        let preset = self
            .noise
            .iter_mut()
            .flat_map(|p| p.noise.iter_mut().chain(std::iter::once(&mut p.guard)));
        self.include
            .iter_mut()
            .chain(self.exclude.iter_mut())
            .chain(preset)
    }

    pub fn is_active(&self) -> bool {
        self.include.is_some() || self.exclude.is_some() || self.noise.is_some()
    }

    /// The noise report for `level` (else the configured level, else
    /// standard), with this deployment's networks and system clients.
    pub fn noise_report(&self, level: Option<NoiseLevel>) -> super::noise_report::NoiseReport {
        super::noise_report::NoiseReport::new(
            level.or(self.level).unwrap_or(NoiseLevel::Standard),
            &self.internal_networks,
            &self.system_clients,
        )
    }

    /// The verdict on a message given as its JSON string literal. The
    /// user's queries come first, then the preset.
    pub fn verdict(&self, message_json: &str) -> AuditVerdict {
        self.verdict_of(&mut AuditMessage::new(message_json))
    }

    fn verdict_of(&self, message: &mut AuditMessage<'_>) -> AuditVerdict {
        // Cheap test first: an audit event's literal starts with `"{`.
        if !self.is_active() || !message.looks_like_event() {
            return AuditVerdict::Keep;
        }
        match message.event() {
            Some(event) => self.verdict_on(&event),
            None => AuditVerdict::Keep,
        }
    }

    fn verdict_on(&self, event: &AuditEvent<'_>) -> AuditVerdict {
        let mut cache = FieldCache::default();
        let mut matches = |query: &AuditQuery| query.matches_cached(event, &mut cache);
        if self.exclude.as_ref().is_some_and(&mut matches)
            || self.include.as_ref().is_some_and(|q| !matches(q))
        {
            return AuditVerdict::Excluded;
        }
        if let Some(preset) = &self.noise
            && preset.noise.iter().any(&mut matches)
            && !matches(&preset.guard)
        {
            return AuditVerdict::Noise;
        }
        AuditVerdict::Keep
    }
}

impl AuditRule for AuditFilter {
    fn apply(&self, message: &mut AuditMessage<'_>, _: EventRef<'_>, _: &mut AuditTally) -> Step {
        // The filters read the event as it arrived, before any rule can
        // change the fields they select on.
        match self.verdict_of(message) {
            AuditVerdict::Keep => Step::Continue,
            AuditVerdict::Excluded => Step::Drop(DropReason::Query),
            AuditVerdict::Noise => Step::Drop(DropReason::Noise),
        }
    }
}

/// `INCLUDE_AT_MATCH` and `EXCLUDE_AT_MATCH`.
#[derive(Debug, Clone, Default)]
pub struct MatchFilter {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
}

impl MatchFilter {
    pub fn is_active(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    /// Whether the message goes on: it matches the include pattern (if
    /// any) and does not match the exclude pattern.
    pub fn keeps(&self, message: &str) -> bool {
        if self.exclude.as_ref().is_some_and(|r| r.is_match(message)) {
            return false;
        }
        self.include.as_ref().is_none_or(|r| r.is_match(message))
    }
}

impl AuditRule for MatchFilter {
    fn apply(&self, message: &mut AuditMessage<'_>, _: EventRef<'_>, _: &mut AuditTally) -> Step {
        // The Datadog Forwarder's filter reads the message as text.
        if self.keeps(message.text()) {
            Step::Continue
        } else {
            Step::Drop(DropReason::Match)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn verdict(filter: &AuditFilter, event: &Value) -> AuditVerdict {
        filter.verdict(&serde_json::to_string(&event.to_string()).unwrap())
    }

    /// The client `user` normally calls the API server with.
    fn usual_agent(user: &str) -> String {
        if user.starts_with("system:node:") {
            "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46".into()
        } else if let Some(sa) = user.strip_prefix("system:serviceaccount:kube-system:") {
            format!("{sa}/v1.2.0 (linux/amd64) kubernetes/$Format")
        } else if let Some(component) = user.strip_prefix("system:") {
            format!("{component}/v1.31.2 (linux/amd64) kubernetes/5864a46")
        } else if let Some(name) = user.strip_prefix("eks:") {
            format!("eks-{name}/v0.0.0 (linux/amd64) kubernetes/$Format")
        } else {
            "kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5".into()
        }
    }

    fn event(user: &str, verb: &str, resource: &str, code: u16) -> Value {
        json!({
            "kind": "Event", "verb": verb, "stage": "ResponseComplete",
            "requestURI": format!("/api/v1/{resource}"),
            "user": {"username": user, "groups": ["system:authenticated"]},
            "userAgent": usual_agent(user),
            "sourceIPs": ["10.0.1.23"],
            "objectRef": {"resource": resource, "namespace": "default", "name": "x"},
            "responseStatus": {"code": code},
        })
    }

    const NODE: &str = "system:node:ip-10-0-1-23.eu-west-1.compute.internal";

    #[test]
    fn the_docs_show_the_presets_as_they_are() {
        let readme = include_str!("../../docs/audit.md");
        for preset in [NOISE_STANDARD, NOISE_AGGRESSIVE_EXTRA, NEVER_DROP] {
            assert!(
                readme.contains(&format!("```text\n{preset}\n```")),
                "docs/audit.md must show this preset as it is:\n{preset}"
            );
        }
    }

    /// Stolen credentials: a system principal's token used with another
    /// client than its own is not noise; neither is an `eks:` name EKS
    /// does not have.
    #[test]
    fn system_principals_are_noise_only_with_their_usual_client() {
        let filter = AuditFilter::new(None, None, Some(NoiseLevel::Aggressive), &[], &[]);
        let aws_node = "system:serviceaccount:kube-system:aws-node";
        for (user, verb, resource) in [
            (aws_node, "watch", "pods"),
            (aws_node, "list", "clusterrolebindings"),
            (NODE, "watch", "pods"),
            ("system:kube-controller-manager", "get", "leases"),
            ("eks:certificate-controller", "list", "pods"),
        ] {
            let mut e = event(user, verb, resource, 200);
            if user == aws_node {
                e["userAgent"] =
                    json!("amazon-vpc-cni-k8s/v1.19.0 (linux/amd64) kubernetes/$Format");
            }
            assert_eq!(verdict(&filter, &e), AuditVerdict::Noise, "{user} {verb}");
            for agent in [
                json!("curl/8.5.0"),
                json!("python-requests/2.32.3"),
                json!("kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5"),
                json!(""),
                Value::Null,
            ] {
                e["userAgent"] = agent.clone();
                assert_eq!(
                    verdict(&filter, &e),
                    AuditVerdict::Keep,
                    "{user} {verb} {agent}"
                );
            }
        }
        // A node's token from another node program than kubelet or
        // kube-proxy, and a name EKS does not have.
        let mut e = event(NODE, "watch", "pods", 200);
        e["userAgent"] = json!("kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46");
        assert_eq!(verdict(&filter, &e), AuditVerdict::Keep);
        let e = event("eks:backdoor", "watch", "pods", 200);
        assert_eq!(verdict(&filter, &e), AuditVerdict::Keep);
    }

    /// `DD_AUDIT_SYSTEM_CLIENTS`: an operator's routine traffic becomes
    /// noise with its own client, and only with it.
    #[test]
    fn system_clients_extend_the_principals() {
        let argocd = "system:serviceaccount:argocd:argocd-application-controller";
        let mut e = event(argocd, "watch", "deployments", 200);
        e["userAgent"] =
            json!("argocd-application-controller/v2.13.1 (linux/amd64) kubernetes/$Format");
        let plain = AuditFilter::new(None, None, Some(NoiseLevel::Standard), &[], &[]);
        assert_eq!(verdict(&plain, &e), AuditVerdict::Keep);
        let clients = [SystemClient {
            user: "system:serviceaccount:argocd:*".into(),
            agents: vec!["argocd-*/*".into(), "argocd (v2.13)".into()],
        }];
        let extended = AuditFilter::new(None, None, Some(NoiseLevel::Standard), &[], &clients);
        assert_eq!(verdict(&extended, &e), AuditVerdict::Noise);
        // Characters of the query syntax in a pattern are literal.
        e["userAgent"] = json!("argocd (v2.13)");
        assert_eq!(verdict(&extended, &e), AuditVerdict::Noise);
        for agent in [
            "curl/8.5.0",
            "kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5",
            "",
        ] {
            e["userAgent"] = json!(agent);
            assert_eq!(verdict(&extended, &e), AuditVerdict::Keep, "{agent}");
        }
        // A keyword is a value, not an operator: `NOT` as an agent makes
        // no agent a usual one.
        let odd = [SystemClient {
            user: "system:serviceaccount:argocd:*".into(),
            agents: vec!["argocd-*/*".into(), "NOT".into(), "OR".into()],
        }];
        check_system_clients(&odd).unwrap();
        let odd = AuditFilter::new(None, None, Some(NoiseLevel::Standard), &[], &odd);
        e["userAgent"] = json!("curl/8.5.0");
        assert_eq!(verdict(&odd, &e), AuditVerdict::Keep);
        e["userAgent"] = json!("NOT");
        assert_eq!(verdict(&odd, &e), AuditVerdict::Noise);
        // The guard still wins: the operator's secrets watch is kept.
        let mut secrets = event(argocd, "watch", "secrets", 200);
        secrets["userAgent"] = json!("argocd-application-controller/v2.13.1");
        assert_eq!(verdict(&extended, &secrets), AuditVerdict::Keep);
    }

    #[test]
    fn presets_parse() {
        let filter = AuditFilter::new(None, None, Some(NoiseLevel::Aggressive), &[], &[]);
        assert!(filter.is_active());
        assert!(!AuditFilter::default().is_active());
    }

    #[test]
    fn the_standard_preset_drops_heartbeats_and_watches_only() {
        let f = AuditFilter::new(None, None, Some(NoiseLevel::Standard), &[], &[]);
        assert_eq!(
            verdict(&f, &event(NODE, "update", "leases", 200)),
            AuditVerdict::Noise
        );
        assert_eq!(
            verdict(&f, &event(NODE, "watch", "pods", 200)),
            AuditVerdict::Noise
        );
        assert_eq!(
            verdict(&f, &event(NODE, "get", "pods", 200)),
            AuditVerdict::Keep,
            "a read is noise only for the aggressive preset"
        );
        let a = AuditFilter::new(None, None, Some(NoiseLevel::Aggressive), &[], &[]);
        assert_eq!(
            verdict(&a, &event(NODE, "get", "pods", 200)),
            AuditVerdict::Noise
        );
    }

    #[test]
    fn guards_keep_what_looks_like_noise() {
        let f = AuditFilter::new(None, None, Some(NoiseLevel::Aggressive), &[], &[]);
        let kept = [
            event(NODE, "update", "leases", 409),
            event(NODE, "watch", "secrets", 200),
            event("system:anonymous", "watch", "pods", 200),
            {
                let mut e = event(NODE, "get", "pods", 200);
                e["sourceIPs"] = json!(["203.0.113.50"]);
                e
            },
            {
                let mut e = event("system:serviceaccount:kube-system:x", "watch", "pods", 200);
                e["impersonatedUser"] = json!({"username": "alice"});
                e
            },
            {
                let mut e = event(NODE, "get", "pods", 200);
                e["annotations"] = json!({"authorization.k8s.io/decision": "forbid"});
                e
            },
        ];
        for e in kept {
            assert_eq!(verdict(&f, &e), AuditVerdict::Keep, "{e}");
        }
    }

    /// Review findings: a private address put first with
    /// `X-Forwarded-For` must not hide the public one; a service account
    /// outside kube-system is not a system principal.
    #[test]
    fn spoofed_addresses_and_application_service_accounts_are_kept() {
        let f = AuditFilter::new(None, None, Some(NoiseLevel::Aggressive), &[], &[]);
        let mut spoofed = event(NODE, "watch", "pods", 200);
        spoofed["sourceIPs"] = json!(["10.0.1.23", "203.0.113.50"]);
        assert_eq!(verdict(&f, &spoofed), AuditVerdict::Keep);
        // A service account outside kube-system is an application's or an
        // operator's: only its lease renewals (standard) and watches
        // (aggressive) through a client library are noise.
        let app = "system:serviceaccount:default:webapp";
        for (verb, resource) in [
            ("create", "events"),
            ("create", "tokenreviews"),
            ("create", "subjectaccessreviews"),
            ("list", "pods"),
            ("get", "configmaps"),
        ] {
            assert_eq!(
                verdict(&f, &event(app, verb, resource, 200)),
                AuditVerdict::Keep,
                "{verb} {resource}"
            );
        }
        let standard = AuditFilter::new(None, None, Some(NoiseLevel::Standard), &[], &[]);
        for (verb, resource) in [("update", "leases"), ("watch", "pods")] {
            let mut e = event(app, verb, resource, 200);
            e["userAgent"] = json!("webapp/v1.4.2 (linux/amd64) kubernetes/$Format");
            assert_eq!(verdict(&f, &e), AuditVerdict::Noise, "{verb} {resource}");
            let kept = if resource == "leases" {
                AuditVerdict::Noise
            } else {
                AuditVerdict::Keep
            };
            assert_eq!(verdict(&standard, &e), kept, "standard: {verb} {resource}");
            e["userAgent"] = json!("kubectl/v1.31.1 (linux/amd64) kubernetes/948afe5");
            assert_eq!(
                verdict(&f, &e),
                AuditVerdict::Keep,
                "kubectl: {verb} {resource}"
            );
        }
        let system = "system:serviceaccount:kube-system:aws-node";
        assert_eq!(
            verdict(&f, &event(system, "watch", "pods", 200)),
            AuditVerdict::Noise
        );
    }

    /// Nodes behind a NAT gateway, or in an IPv6 cluster, call from
    /// public addresses; naming those networks lets the preset work.
    #[test]
    fn internal_networks_are_not_public_to_the_guard() {
        let mut natted = event(NODE, "watch", "pods", 200);
        natted["sourceIPs"] = json!(["52.95.110.7"]);
        let mut v6 = event(NODE, "update", "leases", 200);
        v6["sourceIPs"] = json!(["2600:1f18:4b2:8c00::17"]);
        let mut outsider = event(NODE, "watch", "pods", 200);
        outsider["sourceIPs"] = json!(["203.0.113.50"]);
        let plain = AuditFilter::new(None, None, Some(NoiseLevel::Standard), &[], &[]);
        let nets = [
            "52.95.110.7/32".to_owned(),
            "2600:1f18:4b2:8c00::/56".to_owned(),
        ];
        let with = AuditFilter::new(None, None, Some(NoiseLevel::Standard), &nets, &[]);
        for e in [&natted, &v6] {
            assert_eq!(verdict(&plain, e), AuditVerdict::Keep);
            assert_eq!(verdict(&with, e), AuditVerdict::Noise);
        }
        assert_eq!(verdict(&with, &outsider), AuditVerdict::Keep);
    }

    #[test]
    fn user_queries_come_first_and_exclude_wins() {
        let include: AuditQuery = "@verb:(get OR watch)".parse().unwrap();
        let exclude: AuditQuery = "@objectRef.resource:leases".parse().unwrap();
        let f = AuditFilter::new(Some(include), Some(exclude), None, &[], &[]);
        assert_eq!(
            verdict(&f, &event("alice", "get", "pods", 200)),
            AuditVerdict::Keep
        );
        assert_eq!(
            verdict(&f, &event("alice", "delete", "pods", 200)),
            AuditVerdict::Excluded
        );
        assert_eq!(
            verdict(&f, &event(NODE, "get", "leases", 200)),
            AuditVerdict::Excluded
        );
    }

    #[test]
    fn messages_that_are_not_audit_events_pass() {
        let include: AuditQuery = "@verb:get".parse().unwrap();
        let f = AuditFilter::new(Some(include), None, Some(NoiseLevel::Aggressive), &[], &[]);
        for literal in [
            r#""time=\"2026-11-26T10:00:00Z\" level=info msg=\"access granted\"""#,
            r#""[1,2]""#,
            r#""{not json""#,
            "17",
        ] {
            assert_eq!(f.verdict(literal), AuditVerdict::Keep, "{literal}");
        }
    }

    #[test]
    fn exclude_wins_over_include() {
        let filter = MatchFilter {
            include: Some(Regex::new("verb\":\"(create|delete)").unwrap()),
            exclude: Some(Regex::new("system:node:").unwrap()),
        };
        assert!(filter.keeps(r#"{"verb":"create","user":{"username":"alice"}}"#));
        assert!(!filter.keeps(r#"{"verb":"get","user":{"username":"alice"}}"#));
        assert!(!filter.keeps(r#"{"verb":"create","user":{"username":"system:node:ip-1"}}"#));
        assert!(MatchFilter::default().keeps("anything"));
    }
}
