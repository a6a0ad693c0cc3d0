//! Builders for CloudWatch Logs subscription events.

use std::io::Write;

use base64::Engine;
use flate2::{Compression, write::GzEncoder};
use serde_json::json;

pub const AUDIT_GROUP: &str = "/aws/eks/prod/cluster";
pub const AUDIT_STREAM: &str = "kube-apiserver-audit-0a1b2c3d4e5f";

/// The decoded subscription document for `messages`.
pub fn document(log_group: &str, log_stream: &str, messages: &[String]) -> String {
    let events: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("{:056}", 37_000_000 + i), "timestamp": 1_764_151_200_000u64 + i as u64, "message": m}))
        .collect();
    json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": log_group, "logStream": log_stream,
        "subscriptionFilters": ["eks-audit-forwarder"], "logEvents": events,
    })
    .to_string()
}

/// `{"awslogs":{"data":...}}` around any bytes.
pub fn wrap(decoded: &[u8]) -> String {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(decoded).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap());
    json!({"awslogs": {"data": data}}).to_string()
}

/// A Lambda event carrying `messages` from the audit stream.
pub fn audit_event(messages: &[String]) -> String {
    wrap(document(AUDIT_GROUP, AUDIT_STREAM, messages).as_bytes())
}

/// A small audit event with a distinct verb and name.
pub fn audit_message(i: usize) -> String {
    json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": format!("00000000-0000-4000-8000-{i:012}"), "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/default/pods/web-{i}"), "verb": "get",
        "user": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "sourceIPs": ["203.0.113.7"], "userAgent": "kubectl/v1.31.2",
        "objectRef": {"resource": "pods", "namespace": "default", "name": format!("web-{i}"), "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2026-11-26T10:00:00.000000Z", "stageTimestamp": "2026-11-26T10:00:00.004000Z",
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}
    })
    .to_string()
}

/// A RequestResponse `list` of pods whose message is about `bytes` long.
pub fn oversize_audit_message(bytes: usize) -> String {
    let pod = json!({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}, "status": {"phase": "Running"}});
    let per = pod.to_string().len() + 1;
    let items: Vec<_> = (0..bytes / per).map(|_| pod.clone()).collect();
    json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": "11111111-2222-4333-8444-555555555555", "stage": "ResponseComplete",
        "requestURI": "/api/v1/pods?limit=500", "verb": "list",
        "user": {"username": "system:serviceaccount:kube-system:cluster-autoscaler", "groups": ["system:serviceaccounts"]},
        "sourceIPs": ["10.0.3.4"], "userAgent": "cluster-autoscaler/v1.31.0",
        "objectRef": {"resource": "pods", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestObject": {"kind": "ListOptions", "limit": 500},
        "responseObject": {"kind": "PodList", "apiVersion": "v1", "items": items},
        "requestReceivedTimestamp": "2026-11-26T10:00:00.000000Z", "stageTimestamp": "2026-11-26T10:00:00.300000Z"
    })
    .to_string()
}
