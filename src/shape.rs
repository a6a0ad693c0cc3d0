//! One Datadog log object per CloudWatch log event.
//!
//! The object keeps the Datadog Forwarder's shape (`message`, `ddsource`,
//! `ddsourcecategory`, `service`, `host`, `ddtags`, `id`, `timestamp`, `aws`)
//! so existing pipelines, facets and detection rules work unchanged. What is
//! the same for every event of a document is serialized once per document;
//! per event only the message (spliced in as the already-escaped JSON string
//! CloudWatch delivered), the id and the timestamp are written.

use crate::FORWARDER_VERSION;
use crate::decode::{CloudWatchLogEvent, SubscriptionDocument};

/// What the configuration sets of every log's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapeSettings {
    /// `DD_TAGS` as given, comma-separated, empty entries removed.
    pub tags: Vec<String>,
    /// `DD_SOURCE`: replaces the source derived from the log stream.
    pub source_override: Option<String>,
    /// The function's name, lower-cased as the Datadog Forwarder writes
    /// it: the `forwardername` tag.
    pub forwarder_name: String,
    /// The function's region (`AWS_REGION`): the `region` tag of EKS logs
    /// from a subscription. A CloudWatch Logs destination takes only log
    /// groups of its own region, and each region's stack has its own
    /// destination and stream (docs/fleet.md).
    pub region: Option<String>,
}

/// The `ddsource` for a log stream, by the EKS control-plane stream prefixes
/// (checked in this order: `kube-apiserver-audit-` also starts with
/// `kube-apiserver-`).
pub fn source_for(log_group: &str, log_stream: &str) -> &'static str {
    const EKS_STREAMS: [(&str, &str); 6] = [
        ("kube-apiserver-audit-", "kubernetes.audit"),
        ("kube-apiserver-", "kube-apiserver"),
        ("authenticator-", "aws-iam-authenticator"),
        ("kube-controller-manager-", "kube-controller-manager"),
        ("cloud-controller-manager-", "cloud-controller-manager"),
        ("kube-scheduler-", "kube_scheduler"),
    ];
    if !log_group.starts_with("/aws/eks/") {
        return "cloudwatch";
    }
    EKS_STREAMS
        .iter()
        .find(|(prefix, _)| log_stream.starts_with(prefix))
        .map_or("eks", |(_, source)| source)
}

/// `<cluster>` of a `/aws/eks/<cluster>/cluster` log group.
pub fn cluster_name(log_group: &str) -> Option<&str> {
    let name = log_group
        .strip_prefix("/aws/eks/")?
        .strip_suffix("/cluster")?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// The per-configuration part of the shape, built once at start-up.
#[derive(Debug, Clone)]
pub struct LogShaper {
    /// `DD_TAGS` joined with commas, without the `service:` tags after the
    /// first.
    user_tags: String,
    /// The first `service:` tag of `DD_TAGS`.
    service: Option<String>,
    source_override: Option<String>,
    function_name: String,
    region: Option<String>,
}

/// Marks a log whose message the forwarder had to shrink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Bytes of the log object before it was shrunk.
    pub original_size: usize,
}

impl LogShaper {
    pub fn new(settings: &ShapeSettings) -> Self {
        let mut service = None;
        let user_tags = take_service(&settings.tags, &mut service).join(",");
        let service = service.map(str::to_owned);
        Self {
            user_tags,
            service,
            source_override: settings.source_override.clone(),
            function_name: settings.forwarder_name.clone(),
            region: settings.region.clone(),
        }
    }

    /// Serializes everything shared by the logs of one origin;
    /// `group_tags` (already in Datadog form) are appended to `ddtags`.
    pub fn for_origin(
        &self,
        origin: &LogOrigin<'_>,
        invoked_function_arn: &str,
        group_tags: &[String],
    ) -> DocumentShape {
        let (log_group, log_stream) = match origin {
            LogOrigin::Subscription {
                log_group,
                log_stream,
                ..
            }
            | LogOrigin::S3Document {
                log_group,
                log_stream,
                ..
            } => (*log_group, *log_stream),
            LogOrigin::S3AuditLines { .. } => ("", ""),
        };
        let source = self.source_override.as_deref().unwrap_or(match origin {
            LogOrigin::S3AuditLines { .. } => "kubernetes.audit",
            _ => source_for(log_group, log_stream),
        });
        // As the Datadog Forwarder: the first `service:` tag names the
        // service, `DD_TAGS` before the log group's, and the others are
        // left out of `ddtags`, so a log has one service.
        let mut service = self.service.as_deref();
        let group_tags = take_service(group_tags, &mut service);
        let service = service.unwrap_or(source);
        let host = match origin {
            LogOrigin::S3AuditLines { bucket, .. } => bucket,
            _ => log_group,
        };

        let mut tags = self.user_tags.clone();
        let mut push_tag = |tag: &str| {
            if !tags.is_empty() {
                tags.push(',');
            }
            tags.push_str(tag);
        };
        if let Some(cluster) = cluster_name(log_group) {
            push_tag(&format!("kube_cluster_name:{cluster}"));
            // Where the cluster runs, so one forwarder can serve a fleet
            // (the Datadog Forwarder tags its Lambda logs so).
            if let LogOrigin::Subscription { owner, .. } = origin {
                if !owner.is_empty() {
                    push_tag(&format!("aws_account:{owner}"));
                }
                if let Some(region) = &self.region {
                    push_tag(&format!("region:{region}"));
                }
            }
        }
        for tag in group_tags {
            push_tag(tag);
        }
        push_tag(&format!("forwardername:{}", self.function_name));
        push_tag(&format!("forwarder_version:{FORWARDER_VERSION}"));
        if self.source_override.is_some() {
            push_tag("source_overridden:true");
        }

        let mut middle = Vec::with_capacity(256);
        middle.extend_from_slice(b",\"ddsource\":");
        write_json_str(&mut middle, source);
        middle.extend_from_slice(b",\"ddsourcecategory\":\"aws\",\"service\":");
        write_json_str(&mut middle, service);
        middle.extend_from_slice(b",\"host\":");
        write_json_str(&mut middle, host);
        middle.extend_from_slice(b",\"ddtags\":");
        write_json_str(&mut middle, &tags);

        let mut tail = Vec::with_capacity(256);
        match origin {
            LogOrigin::Subscription {
                log_group,
                log_stream,
                owner,
            } => {
                tail.extend_from_slice(b",\"aws\":{\"awslogs\":{\"logGroup\":");
                write_json_str(&mut tail, log_group);
                tail.extend_from_slice(b",\"logStream\":");
                write_json_str(&mut tail, log_stream);
                tail.extend_from_slice(b",\"owner\":");
                write_json_str(&mut tail, owner);
            }
            LogOrigin::S3Document { bucket, key, .. } | LogOrigin::S3AuditLines { bucket, key } => {
                tail.extend_from_slice(b",\"aws\":{\"s3\":{\"bucket\":");
                write_json_str(&mut tail, bucket);
                tail.extend_from_slice(b",\"key\":");
                write_json_str(&mut tail, key);
            }
        }
        tail.push(b'}');
        if !invoked_function_arn.is_empty() {
            tail.extend_from_slice(b",\"invoked_function_arn\":");
            write_json_str(&mut tail, invoked_function_arn);
        }
        tail.extend_from_slice(b"}}");

        DocumentShape {
            source: source.to_owned(),
            middle,
            tail,
        }
    }
}

/// `tags` without the `service:` tags but one: the first with a value,
/// which names the service unless `service` already does. Any other
/// `service:` tag is left out.
fn take_service<'t>(tags: &'t [String], service: &mut Option<&'t str>) -> Vec<&'t str> {
    let mut kept = Vec::with_capacity(tags.len());
    for tag in tags {
        match tag.strip_prefix("service:") {
            Some(value) if service.is_none() && !value.is_empty() => {
                *service = Some(value);
                kept.push(tag.as_str());
            }
            Some(_) => {}
            None => kept.push(tag.as_str()),
        }
    }
    kept
}

/// Where a group of logs came from; it decides their source, host, tags and
/// `aws` attribute.
#[derive(Debug, Clone, Copy)]
pub enum LogOrigin<'a> {
    /// A CloudWatch Logs document from a subscription or a Kinesis record.
    Subscription {
        log_group: &'a str,
        log_stream: &'a str,
        owner: &'a str,
    },
    /// A CloudWatch Logs document found in an S3 object (Firehose's output).
    S3Document {
        bucket: &'a str,
        key: &'a str,
        log_group: &'a str,
        log_stream: &'a str,
    },
    /// Audit events, one JSON object each, in an S3 object.
    S3AuditLines { bucket: &'a str, key: &'a str },
}

impl<'a> LogOrigin<'a> {
    pub fn subscription(doc: &'a SubscriptionDocument<'_>) -> Self {
        LogOrigin::Subscription {
            log_group: &doc.log_group,
            log_stream: &doc.log_stream,
            owner: &doc.owner,
        }
    }
}

/// The per-log fields besides the message.
#[derive(Debug, Clone, Copy)]
pub struct EventKey<'a> {
    pub id: &'a str,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// Further top-level attributes, serialized, each as `,"name":value`
    /// (`crate::audit::siem`); empty for none.
    pub attributes: &'a str,
}

impl<'a> From<&'a CloudWatchLogEvent<'_>> for EventKey<'a> {
    fn from(event: &'a CloudWatchLogEvent<'_>) -> Self {
        EventKey {
            id: &event.id,
            timestamp: event.timestamp,
            attributes: "",
        }
    }
}

/// The serialized parts of a log object shared by one document's events.
#[derive(Debug, Clone)]
pub struct DocumentShape {
    source: String,
    middle: Vec<u8>,
    tail: Vec<u8>,
}

impl DocumentShape {
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Appends the log object for `event` to `out`, with `message_json` (a
    /// JSON string, quotes included) as its message.
    pub fn write_log(
        &self,
        event: EventKey<'_>,
        message_json: &str,
        truncation: Option<Truncation>,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b"{\"message\":");
        out.extend_from_slice(message_json.as_bytes());
        out.extend_from_slice(&self.middle);
        out.extend_from_slice(b",\"id\":");
        write_json_str(out, event.id);
        out.extend_from_slice(b",\"timestamp\":");
        out.extend_from_slice(itoa::Buffer::new().format(event.timestamp).as_bytes());
        out.extend_from_slice(event.attributes.as_bytes());
        if let Some(t) = truncation {
            out.extend_from_slice(b",\"truncated\":true,\"original_size\":");
            out.extend_from_slice(itoa::Buffer::new().format(t.original_size).as_bytes());
        }
        out.extend_from_slice(&self.tail);
    }

    /// Bytes of the log object for `event` apart from its message.
    pub fn envelope_len(&self, event: EventKey<'_>, truncation: Option<Truncation>) -> usize {
        let mut scratch = Vec::with_capacity(self.middle.len() + self.tail.len() + 96);
        self.write_log(event, "", truncation, &mut scratch);
        scratch.len()
    }
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail, and a &str always serializes.
    serde_json::to_writer(out, s).expect("serializing a str into a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::decode::parse_document;

    fn config(vars: &[(&str, &str)]) -> ShapeSettings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
            .unwrap()
            .shape
    }

    const DOC: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-0a1b","subscriptionFilters":["f"],"logEvents":[{"id":"3780","timestamp":1764150000000,"message":"{\"kind\":\"Event\",\"verb\":\"get\",\"x\":\"\u00e9\\n\"}"}]}"#;

    fn shape_one(cfg: &ShapeSettings, doc: &str, arn: &str) -> serde_json::Value {
        let doc = parse_document(doc.as_bytes()).unwrap();
        let shape = LogShaper::new(cfg).for_origin(&LogOrigin::subscription(&doc), arn, &[]);
        let mut out = Vec::new();
        let ev = &doc.log_events[0];
        shape.write_log(ev.into(), ev.message.get(), None, &mut out);
        assert_eq!(
            shape.envelope_len(ev.into(), None) + ev.message.get().len(),
            out.len()
        );
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn source_mapping_follows_the_stream_prefixes_in_order() {
        let g = "/aws/eks/prod/cluster";
        assert_eq!(
            source_for(g, "kube-apiserver-audit-0a1b"),
            "kubernetes.audit"
        );
        assert_eq!(source_for(g, "kube-apiserver-0a1b"), "kube-apiserver");
        assert_eq!(source_for(g, "authenticator-0a1b"), "aws-iam-authenticator");
        assert_eq!(
            source_for(g, "kube-controller-manager-0a1b"),
            "kube-controller-manager"
        );
        assert_eq!(
            source_for(g, "cloud-controller-manager-0a1b"),
            "cloud-controller-manager"
        );
        assert_eq!(source_for(g, "kube-scheduler-0a1b"), "kube_scheduler");
        assert_eq!(source_for(g, "something-else"), "eks");
        assert_eq!(
            source_for("/aws/lambda/x", "kube-apiserver-audit-0a1b"),
            "cloudwatch"
        );
    }

    #[test]
    fn cluster_name_only_from_eks_cluster_groups() {
        assert_eq!(cluster_name("/aws/eks/prod/cluster"), Some("prod"));
        assert_eq!(cluster_name("/aws/eks//cluster"), None);
        assert_eq!(cluster_name("/aws/eks/a/b/cluster"), None);
        assert_eq!(cluster_name("/aws/lambda/prod"), None);
    }

    #[test]
    fn log_object_has_the_datadog_forwarder_shape() {
        let v = shape_one(
            &config(&[
                ("DD_TAGS", "env:prod"),
                ("AWS_LAMBDA_FUNCTION_NAME", "Fwd"),
                ("AWS_REGION", "us-east-1"),
            ]),
            DOC,
            "arn:aws:lambda:us-east-1:123456789012:function:Fwd",
        );
        let expected = serde_json::json!({
            "message": "{\"kind\":\"Event\",\"verb\":\"get\",\"x\":\"\u{e9}\\n\"}",
            "ddsource": "kubernetes.audit", "ddsourcecategory": "aws",
            "service": "kubernetes.audit", "host": "/aws/eks/prod/cluster",
            "ddtags": "env:prod,kube_cluster_name:prod,aws_account:123456789012,region:us-east-1,forwardername:fwd,forwarder_version:0.1.0",
            "id": "3780", "timestamp": 1764150000000u64,
            "aws": {"awslogs": {"logGroup": "/aws/eks/prod/cluster", "logStream": "kube-apiserver-audit-0a1b", "owner": "123456789012"},
                    "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:Fwd"}
        });
        assert_eq!(v, expected);
    }

    #[test]
    fn message_is_spliced_byte_for_byte() {
        let doc = parse_document(DOC.as_bytes()).unwrap();
        let shape =
            LogShaper::new(&config(&[])).for_origin(&LogOrigin::subscription(&doc), "", &[]);
        let mut out = Vec::new();
        shape.write_log(
            (&doc.log_events[0]).into(),
            doc.log_events[0].message.get(),
            None,
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                r#"{"message":"{\"kind\":\"Event\",\"verb\":\"get\",\"x\":\"\u00e9\\n\"}","#
            ),
            "{text}"
        );
        assert!(!text.contains("invoked_function_arn"));
    }

    #[test]
    fn service_tag_and_source_override() {
        let v = shape_one(
            &config(&[
                ("DD_TAGS", "team:a,service:audit,service:b"),
                ("DD_SOURCE", "k8s"),
            ]),
            DOC,
            "",
        );
        assert_eq!(v["ddsource"], "k8s");
        assert_eq!(v["service"], "audit");
        assert_eq!(
            v["ddtags"],
            "team:a,service:audit,kube_cluster_name:prod,aws_account:123456789012,forwardername:eks-audit-forwarder,forwarder_version:0.1.0,source_overridden:true"
        );
    }

    /// Issue 12 (b): as the Datadog Forwarder, a `service` tag on the log
    /// group names the service, `DD_TAGS` wins over it, and the other
    /// `service:` tags are left out of `ddtags`.
    #[test]
    fn a_log_group_service_tag_names_the_service_unless_dd_tags_does() {
        let doc = parse_document(DOC.as_bytes()).unwrap();
        let group_tags: Vec<String> = ["service:lg_service", "team:core"]
            .map(str::to_owned)
            .to_vec();
        let shaped = |vars: &[(&str, &str)]| {
            let shape = LogShaper::new(&config(vars)).for_origin(
                &LogOrigin::subscription(&doc),
                "",
                &group_tags,
            );
            let mut out = Vec::new();
            let ev = &doc.log_events[0];
            shape.write_log(ev.into(), ev.message.get(), None, &mut out);
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()
        };
        let v = shaped(&[]);
        assert_eq!(v["service"], "lg_service");
        assert_eq!(
            v["ddtags"],
            "kube_cluster_name:prod,aws_account:123456789012,service:lg_service,team:core,forwardername:eks-audit-forwarder,forwarder_version:0.1.0"
        );
        let v = shaped(&[("DD_TAGS", "env:prod,service:ddtags-svc,team:x")]);
        assert_eq!(v["service"], "ddtags-svc");
        assert_eq!(
            v["ddtags"],
            "env:prod,service:ddtags-svc,team:x,kube_cluster_name:prod,aws_account:123456789012,team:core,forwardername:eks-audit-forwarder,forwarder_version:0.1.0"
        );
    }

    #[test]
    fn truncation_marks_the_object() {
        let doc = parse_document(DOC.as_bytes()).unwrap();
        let shape =
            LogShaper::new(&config(&[])).for_origin(&LogOrigin::subscription(&doc), "", &[]);
        let mut out = Vec::new();
        let t = Some(Truncation {
            original_size: 1_234_567,
        });
        shape.write_log((&doc.log_events[0]).into(), "\"short\"", t, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["original_size"], 1_234_567);
        assert_eq!(
            shape.envelope_len((&doc.log_events[0]).into(), t) + 7,
            out.len()
        );
    }
}
