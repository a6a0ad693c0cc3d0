#!/usr/bin/env python3
"""Regenerate the sample Lambda events in ``events/``.

Each ``events/*.json`` file is the event a CloudWatch Logs subscription hands
to the ``eks-audit-forwarder`` Lambda function::

    {"awslogs": {"data": "<base64 of gzip of the subscription document>"}}

It also writes sample events of the Kinesis and S3 triggers, and the S3
objects they name (``events/s3/``).

The documents hold realistic Amazon EKS control-plane logs of a cluster named
``demo``: Kubernetes audit events (``kube-apiserver-audit-*`` stream), plain
klog / logrus lines of the other control-plane streams, a CloudWatch Logs
control message, and an audit document with one event larger than the
Datadog intake's 1,000,000-byte per-log limit. ``events/README.md`` is
written too.

The output is byte-for-byte deterministic: fixed timestamps (from
2026-11-26T10:00:00Z), ids and auditIDs derived from fixed names, stable key
order, and gzip with mtime=0. Running the script twice changes nothing.

Usage (from any directory):

    python3 scripts/make_events.py          # (re)write events/
    python3 scripts/make_events.py --check  # write nothing; exit 1 and name
                                            # every file that is missing or
                                            # differs, else exit 0

Files in ``events/`` that this script does not generate are left alone.
Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

# --- Fixed facts of the sample cluster ---------------------------------------

ACCOUNT = "123456789012"
REGION = "eu-west-1"
LOG_GROUP = "/aws/eks/demo/cluster"
SUBSCRIPTION_FILTER = "eks-audit-forwarder"
STREAM_SUFFIX = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

AUDIT_STREAM = f"kube-apiserver-audit-{STREAM_SUFFIX}"
APISERVER_STREAM = f"kube-apiserver-{STREAM_SUFFIX}"
AUTHENTICATOR_STREAM = f"authenticator-{STREAM_SUFFIX}"
KCM_STREAM = f"kube-controller-manager-{STREAM_SUFFIX}"
CCM_STREAM = f"cloud-controller-manager-{STREAM_SUFFIX}"
SCHEDULER_STREAM = f"kube-scheduler-{STREAM_SUFFIX}"

# Every time in the samples is an offset from this instant. Epoch
# milliseconds (CloudWatch's `timestamp`) and the text times inside the
# messages are both derived from it, so they always agree.
BASE = datetime(2026, 11, 26, 10, 0, 0, tzinfo=timezone.utc)
BASE_MS = int(BASE.timestamp()) * 1000  # 1795687200000

# Every generated UUID (auditIDs, object uids) is a uuid5 under this namespace.
UUID_NAMESPACE = uuid.UUID("6f1d3c52-9a0e-4b7f-8c21-5e4d3b2a1908")

NODE = "ip-10-0-1-23.eu-west-1.compute.internal"
NODE_INSTANCE = "i-0a1b2c3d4e5f60718"
KUBECTL_UA = "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"
KUBELET_UA = "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46"
HUMAN_IP = "198.51.100.23"

# The oversize document's big message must land in this byte range.
OVERSIZE_MIN = 1_300_000
OVERSIZE_MAX = 1_600_000
OVERSIZE_POD_COUNT = 215


def fixed_uuid(name: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, name))


def at(offset_us: int) -> datetime:
    return BASE + timedelta(microseconds=offset_us)


def rfc3339_us(t: datetime) -> str:
    """`2026-11-26T10:00:00.123456Z`, as the audit backend writes it."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_s(t: datetime) -> str:
    """`2026-11-26T10:00:00Z`, as object metadata holds it."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(t: datetime) -> int:
    delta = t - BASE
    return BASE_MS + (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) // 1000


def cloudwatch_id(stream: str, index: int, timestamp_ms: int) -> str:
    """A deterministic 56-digit decimal id, the form CloudWatch Logs uses."""
    digest = hashlib.sha256(f"{stream}/{index}/{timestamp_ms}".encode()).digest()
    value = int.from_bytes(digest, "big") % (9 * 10**55) + 10**55
    text = str(value)
    assert len(text) == 56
    return text


def compact(obj: Any) -> str:
    """Compact JSON, non-ASCII kept as UTF-8: how EKS writes audit events."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# --- Identities ---------------------------------------------------------------


def iam_user(
    username: str,
    role: str,
    session: str,
    principal_id: str,
    access_key_id: str,
    groups: list[str],
) -> dict[str, Any]:
    """An IAM principal as aws-iam-authenticator presents it to Kubernetes."""
    return {
        "username": username,
        "uid": f"aws-iam-authenticator:{ACCOUNT}:{principal_id}",
        "groups": groups,
        "extra": {
            "accessKeyId": [access_key_id],
            "arn": [f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"],
            "canonicalArn": [f"arn:aws:iam::{ACCOUNT}:role/{role}"],
            "principalId": [principal_id],
            "sessionName": [session],
            "sigs.k8s.io/aws-iam-authenticator/principalId": [principal_id],
        },
    }


ALICE = iam_user(
    username=f"arn:aws:iam::{ACCOUNT}:role/platform-admin",
    role="platform-admin",
    session="alice",
    principal_id="AROAEXAMPLEPLATFORM01",
    access_key_id="ASIAEXAMPLEALICE0001",
    groups=["platform-admins", "system:authenticated"],
)
CLUSTER_CREATOR = iam_user(
    username="kubernetes-admin",
    role="eks-cluster-creator",
    session="bob",
    principal_id="AROAEXAMPLECREATOR001",
    access_key_id="ASIAEXAMPLEBOB000001",
    groups=["system:masters", "system:authenticated"],
)
NODE_USER = iam_user(
    username=f"system:node:{NODE}",
    role="eks-demo-node-role",
    session=NODE_INSTANCE,
    principal_id="AROAEXAMPLENODEROLE01",
    access_key_id="ASIAEXAMPLENODE00001",
    groups=["system:nodes", "system:authenticated"],
)
ANONYMOUS = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
CLUSTER_AUTOSCALER = {
    "username": "system:serviceaccount:kube-system:cluster-autoscaler",
    "uid": fixed_uuid("serviceaccount/kube-system/cluster-autoscaler"),
    "groups": [
        "system:serviceaccounts",
        "system:serviceaccounts:kube-system",
        "system:authenticated",
    ],
    "extra": {
        "authentication.kubernetes.io/credential-id": [
            "JTI=" + fixed_uuid("token/cluster-autoscaler")
        ],
        "authentication.kubernetes.io/node-name": ["ip-10-0-2-41.eu-west-1.compute.internal"],
        "authentication.kubernetes.io/node-uid": [fixed_uuid("node/ip-10-0-2-41")],
        "authentication.kubernetes.io/pod-name": ["cluster-autoscaler-6c9f8d7b5-q7w2e"],
        "authentication.kubernetes.io/pod-uid": [fixed_uuid("pod/cluster-autoscaler-6c9f8d7b5-q7w2e")],
    },
}
CLUSTER_AUTOSCALER_UA = "cluster-autoscaler/v1.31.0 (linux/amd64) kubernetes/$Format"


def allow(reason: str) -> dict[str, str]:
    return {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": reason}


RBAC_ADMIN = allow('RBAC: allowed by ClusterRoleBinding "platform-admins" of ClusterRole "cluster-admin" to Group "platform-admins"')
RBAC_MASTERS = allow('RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"')


# --- Audit events -------------------------------------------------------------


def audit_event(
    *,
    name: str,
    level: str,
    stage: str,
    request_uri: str,
    verb: str,
    user: dict[str, Any],
    source_ips: list[str],
    user_agent: str,
    object_ref: dict[str, Any],
    response_status: dict[str, Any],
    received_us: int,
    stage_us: int,
    annotations: dict[str, str],
    request_object: Any = None,
    response_object: Any = None,
) -> tuple[int, dict[str, Any]]:
    """An audit.k8s.io/v1 Event, keys in the order the API server writes them.

    Returns the CloudWatch timestamp (the stage time, in ms) and the event.
    `name` names the request: events of one request share their auditID.
    """
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": fixed_uuid(f"audit/{name}"),
        "stage": stage,
        "requestURI": request_uri,
        "verb": verb,
        "user": user,
        "sourceIPs": source_ips,
        "userAgent": user_agent,
        "objectRef": object_ref,
        "responseStatus": response_status,
    }
    if request_object is not None:
        event["requestObject"] = request_object
    if response_object is not None:
        event["responseObject"] = response_object
    event["requestReceivedTimestamp"] = rfc3339_us(at(received_us))
    event["stageTimestamp"] = rfc3339_us(at(stage_us))
    event["annotations"] = annotations
    return epoch_ms(at(stage_us)), event


OK = {"metadata": {}, "code": 200}
CREATED = {"metadata": {}, "code": 201}


def web_deployment_request() -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app.kubernetes.io/name": "web"},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "public.ecr.aws/nginx/nginx:1.27",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                        }
                    ]
                },
            },
        },
    }


def web_deployment_response(created: datetime) -> dict[str, Any]:
    obj = web_deployment_request()
    obj["metadata"] = {
        "name": "web",
        "namespace": "default",
        "uid": fixed_uuid("deployment/default/web"),
        "resourceVersion": "184467",
        "generation": 1,
        "creationTimestamp": rfc3339_s(created),
        "labels": {"app.kubernetes.io/name": "web"},
        "annotations": {"deployment.kubernetes.io/revision": "1"},
    }
    spec = obj["spec"]
    spec["template"]["metadata"]["creationTimestamp"] = None
    container = spec["template"]["spec"]["containers"][0]
    container.update(
        {
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        }
    )
    spec["template"]["spec"].update(
        {
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {},
            "schedulerName": "default-scheduler",
        }
    )
    spec["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    spec["revisionHistoryLimit"] = 10
    spec["progressDeadlineSeconds"] = 600
    obj["status"] = {}
    return obj


def audit_sample_events() -> list[tuple[int, dict[str, Any]]]:
    pod = "web-7d4b9c-x2k8p"
    events = [
        # A human reads one pod.
        audit_event(
            name="get-pod",
            level="Metadata",
            stage="ResponseComplete",
            request_uri=f"/api/v1/namespaces/default/pods/{pod}",
            verb="get",
            user=ALICE,
            source_ips=[HUMAN_IP],
            user_agent=KUBECTL_UA,
            object_ref={"resource": "pods", "namespace": "default", "name": pod, "apiVersion": "v1"},
            response_status=OK,
            received_us=312_408,
            stage_us=318_951,
            annotations=RBAC_ADMIN,
        ),
        # The same human lists namespaces.
        audit_event(
            name="list-namespaces",
            level="Metadata",
            stage="ResponseComplete",
            request_uri="/api/v1/namespaces?limit=500",
            verb="list",
            user=ALICE,
            source_ips=[HUMAN_IP],
            user_agent=KUBECTL_UA,
            object_ref={"resource": "namespaces", "apiVersion": "v1"},
            response_status=OK,
            received_us=1_104_226,
            stage_us=1_109_874,
            annotations=RBAC_ADMIN,
        ),
        # The kubelet starts watching a configmap its pods mount.
        audit_event(
            name="watch-configmaps",
            level="Metadata",
            stage="ResponseStarted",
            request_uri=(
                "/api/v1/namespaces/kube-system/configmaps?allowWatchBookmarks=true"
                "&fieldSelector=metadata.name%3Dkube-proxy&resourceVersion=184211"
                "&timeout=7m53s&timeoutSeconds=473&watch=true"
            ),
            verb="watch",
            user=NODE_USER,
            source_ips=["10.0.1.23"],
            user_agent=KUBELET_UA,
            object_ref={"resource": "configmaps", "namespace": "kube-system", "name": "kube-proxy", "apiVersion": "v1"},
            response_status=OK,
            received_us=1_873_015,
            stage_us=1_874_402,
            annotations=allow(""),
        ),
        # The kubelet renews its node lease.
        audit_event(
            name="update-lease",
            level="Metadata",
            stage="ResponseComplete",
            request_uri=f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}?timeout=10s",
            verb="update",
            user=NODE_USER,
            source_ips=["10.0.1.23"],
            user_agent=KUBELET_UA,
            object_ref={
                "resource": "leases",
                "namespace": "kube-node-lease",
                "name": NODE,
                "uid": fixed_uuid(f"lease/{NODE}"),
                "apiGroup": "coordination.k8s.io",
                "apiVersion": "v1",
                "resourceVersion": "184455",
            },
            response_status=OK,
            received_us=2_450_117,
            stage_us=2_456_630,
            annotations=allow(""),
        ),
        # A human creates a deployment; the policy logs bodies for it.
        audit_event(
            name="create-deployment",
            level="RequestResponse",
            stage="ResponseComplete",
            request_uri="/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-create&fieldValidation=Strict",
            verb="create",
            user=ALICE,
            source_ips=[HUMAN_IP],
            user_agent=KUBECTL_UA,
            object_ref={
                "resource": "deployments",
                "namespace": "default",
                "name": "web",
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
            response_status=CREATED,
            received_us=3_020_554,
            stage_us=3_041_208,
            annotations=RBAC_ADMIN,
            request_object=web_deployment_request(),
            response_object=web_deployment_response(at(3_020_554)),
        ),
        # A human annotates it (kubectl annotate): a merge patch with
        # non-ASCII text.
        audit_event(
            name="patch-deployment",
            level="Request",
            stage="ResponseComplete",
            request_uri="/apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl-annotate",
            verb="patch",
            user=ALICE,
            source_ips=[HUMAN_IP],
            user_agent=KUBECTL_UA,
            object_ref={
                "resource": "deployments",
                "namespace": "default",
                "name": "web",
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
            response_status=OK,
            received_us=4_207_730,
            stage_us=4_219_045,
            annotations=RBAC_ADMIN,
            request_object={
                "metadata": {
                    "annotations": {"example.com/owner": "équipe: plateforme ✓ 日本"}
                }
            },
        ),
        # A human deletes a secret: Metadata level, never the data.
        audit_event(
            name="delete-secret",
            level="Metadata",
            stage="ResponseComplete",
            request_uri="/api/v1/namespaces/default/secrets/db-credentials",
            verb="delete",
            user=ALICE,
            source_ips=[HUMAN_IP],
            user_agent=KUBECTL_UA,
            object_ref={"resource": "secrets", "namespace": "default", "name": "db-credentials", "apiVersion": "v1"},
            response_status=OK,
            received_us=5_318_402,
            stage_us=5_327_116,
            annotations=RBAC_ADMIN,
        ),
    ]

    # A human opens a shell in a pod: one request, two stages.
    exec_fields = dict(
        name="exec-pod",
        level="Metadata",
        request_uri=f"/api/v1/namespaces/default/pods/{pod}/exec?command=sh&container=web&stdin=true&stdout=true&tty=true",
        verb="create",
        user=ALICE,
        source_ips=[HUMAN_IP],
        user_agent=KUBECTL_UA,
        object_ref={
            "resource": "pods",
            "namespace": "default",
            "name": pod,
            "apiVersion": "v1",
            "subresource": "exec",
        },
        response_status={"metadata": {}, "code": 101},
        received_us=6_102_331,
        annotations=RBAC_ADMIN,
    )
    events.append(audit_event(stage="ResponseStarted", stage_us=6_141_870, **exec_fields))

    events += [
        # Someone on the internet tries to read a secret without credentials.
        audit_event(
            name="anonymous-get-secret",
            level="Metadata",
            stage="ResponseComplete",
            request_uri="/api/v1/namespaces/kube-system/secrets/eks-admin-token",
            verb="get",
            user=ANONYMOUS,
            source_ips=["203.0.113.45"],
            user_agent="curl/8.5.0",
            object_ref={"resource": "secrets", "namespace": "kube-system", "name": "eks-admin-token", "apiVersion": "v1"},
            response_status={
                "metadata": {},
                "status": "Failure",
                "message": (
                    'secrets "eks-admin-token" is forbidden: User "system:anonymous" cannot get '
                    'resource "secrets" in API group "" in the namespace "kube-system"'
                ),
                "reason": "Forbidden",
                "details": {"name": "eks-admin-token", "kind": "secrets"},
                "code": 403,
            },
            received_us=7_904_518,
            stage_us=7_905_203,
            annotations={"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""},
        ),
        # The cluster creator makes alice cluster-admin.
        audit_event(
            name="create-clusterrolebinding",
            level="RequestResponse",
            stage="ResponseComplete",
            request_uri="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create&fieldValidation=Strict",
            verb="create",
            user=CLUSTER_CREATOR,
            source_ips=["198.51.100.77"],
            user_agent=KUBECTL_UA,
            object_ref={
                "resource": "clusterrolebindings",
                "name": "alice-cluster-admin",
                "apiGroup": "rbac.authorization.k8s.io",
                "apiVersion": "v1",
            },
            response_status=CREATED,
            received_us=9_480_012,
            stage_us=9_487_391,
            annotations=RBAC_MASTERS,
            request_object={
                "kind": "ClusterRoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "alice-cluster-admin", "creationTimestamp": None},
                "subjects": [
                    {
                        "kind": "User",
                        "apiGroup": "rbac.authorization.k8s.io",
                        "name": f"arn:aws:iam::{ACCOUNT}:role/platform-admin",
                    }
                ],
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
            },
            response_object={
                "kind": "ClusterRoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {
                    "name": "alice-cluster-admin",
                    "uid": fixed_uuid("clusterrolebinding/alice-cluster-admin"),
                    "resourceVersion": "184702",
                    "creationTimestamp": rfc3339_s(at(9_480_012)),
                },
                "subjects": [
                    {
                        "kind": "User",
                        "apiGroup": "rbac.authorization.k8s.io",
                        "name": f"arn:aws:iam::{ACCOUNT}:role/platform-admin",
                    }
                ],
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
            },
        ),
        # The shell session ends.
        audit_event(stage="ResponseComplete", stage_us=48_733_905, **exec_fields),
    ]
    return events


# --- The oversize PodList -----------------------------------------------------

WORKLOADS = [
    # (namespace, app, image, container port, cpu, memory)
    ("checkout", "checkout-api", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout-api:2.14.3", 8080, "250m", "512Mi"),
    ("checkout", "cart-worker", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cart-worker:2.14.3", 9090, "200m", "256Mi"),
    ("payments", "payments-gateway", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments-gateway:5.2.0", 8443, "500m", "1Gi"),
    ("payments", "ledger", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ledger:5.2.0", 8080, "300m", "768Mi"),
    ("search", "search-indexer", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/search-indexer:0.98.1", 9200, "1", "2Gi"),
    ("default", "web", "public.ecr.aws/nginx/nginx:1.27", 80, "100m", "128Mi"),
    ("monitoring", "otel-collector", "public.ecr.aws/aws-observability/aws-otel-collector:v0.41.1", 4317, "200m", "400Mi"),
    ("ingress-nginx", "ingress-nginx-controller", "registry.k8s.io/ingress-nginx/controller:v1.11.3", 443, "100m", "90Mi"),
]
# Node `ip-10-0-<subnet>-<host>`; subnet 1, 2, 3 is one per availability zone.
SUBNETS = (1, 2, 3)
NODES = [f"ip-10-0-{subnet}-{host}.eu-west-1.compute.internal" for subnet in SUBNETS for host in (23, 41, 87, 112)]
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def pod_suffix(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(NAME_ALPHABET[b % len(NAME_ALPHABET)] for b in digest[:length])


def node_of(i: int) -> str:
    return NODES[(i * 7) % len(NODES)]


def pod_items(count: int) -> list[dict[str, Any]]:
    """`count` pods spread over the nodes, each with its own pod IP."""
    next_ip = {subnet: 130 for subnet in SUBNETS}
    items = []
    for i in range(count):
        subnet = int(node_of(i).split("-")[3])
        items.append(pod_item(i, f"10.0.{subnet}.{next_ip[subnet]}"))
        next_ip[subnet] += 1
    return items


def pod_item(i: int, pod_ip: str) -> dict[str, Any]:
    """One realistic pod of a PodList, as a list response serializes it."""
    namespace, app, image, port, cpu, memory = WORKLOADS[i % len(WORKLOADS)]
    template_hash = pod_suffix(f"rs/{app}", 10)
    name = f"{app}-{template_hash}-{pod_suffix(f'pod/{i}', 5)}"
    node = node_of(i)
    subnet = int(node.split("-")[3])
    host = int(node.split("-")[4].split(".")[0])
    created = BASE - timedelta(days=2, seconds=(i * 97) % 86_400)
    started = created + timedelta(seconds=4)
    ready = created + timedelta(seconds=11)
    uid = fixed_uuid(f"pod/{namespace}/{name}")
    rs_name = f"{app}-{template_hash}"
    labels = {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": namespace,
        "app.kubernetes.io/version": image.rsplit(":", 1)[1],
        "pod-template-hash": template_hash,
    }
    container_status_time = rfc3339_s(started)
    fields_time = rfc3339_s(ready)
    return {
        "metadata": {
            "name": name,
            "generateName": f"{rs_name}-",
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": str(150_000 + i * 37),
            "creationTimestamp": rfc3339_s(created),
            "labels": labels,
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": rfc3339_s(created - timedelta(minutes=3)),
                "prometheus.io/port": str(port),
                "prometheus.io/scrape": "true",
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs_name,
                    "uid": fixed_uuid(f"replicaset/{namespace}/{rs_name}"),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": rfc3339_s(created),
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {
                            "f:annotations": {
                                ".": {},
                                "f:kubectl.kubernetes.io/restartedAt": {},
                                "f:prometheus.io/port": {},
                                "f:prometheus.io/scrape": {},
                            },
                            "f:generateName": {},
                            "f:labels": {
                                ".": {},
                                "f:app.kubernetes.io/name": {},
                                "f:app.kubernetes.io/part-of": {},
                                "f:app.kubernetes.io/version": {},
                                "f:pod-template-hash": {},
                            },
                            "f:ownerReferences": {
                                ".": {},
                                f'k:{{"uid":"{fixed_uuid(f"replicaset/{namespace}/{rs_name}")}"}}': {},
                            },
                        },
                        "f:spec": {
                            "f:containers": {
                                f'k:{{"name":"{app}"}}': {
                                    ".": {},
                                    "f:env": {
                                        ".": {},
                                        'k:{"name":"POD_NAME"}': {".": {}, "f:name": {}, "f:valueFrom": {".": {}, "f:fieldRef": {}}},
                                        'k:{"name":"POD_NAMESPACE"}': {".": {}, "f:name": {}, "f:valueFrom": {".": {}, "f:fieldRef": {}}},
                                        'k:{"name":"OTEL_EXPORTER_OTLP_ENDPOINT"}': {".": {}, "f:name": {}, "f:value": {}},
                                    },
                                    "f:image": {},
                                    "f:imagePullPolicy": {},
                                    "f:name": {},
                                    "f:ports": {
                                        ".": {},
                                        f'k:{{"containerPort":{port},"protocol":"TCP"}}': {
                                            ".": {},
                                            "f:containerPort": {},
                                            "f:name": {},
                                            "f:protocol": {},
                                        },
                                    },
                                    "f:readinessProbe": {
                                        ".": {},
                                        "f:failureThreshold": {},
                                        "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}},
                                        "f:periodSeconds": {},
                                        "f:successThreshold": {},
                                        "f:timeoutSeconds": {},
                                    },
                                    "f:resources": {
                                        ".": {},
                                        "f:limits": {".": {}, "f:memory": {}},
                                        "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}},
                                    },
                                    "f:securityContext": {
                                        ".": {},
                                        "f:allowPrivilegeEscalation": {},
                                        "f:readOnlyRootFilesystem": {},
                                        "f:runAsNonRoot": {},
                                    },
                                    "f:terminationMessagePath": {},
                                    "f:terminationMessagePolicy": {},
                                }
                            },
                            "f:dnsPolicy": {},
                            "f:enableServiceLinks": {},
                            "f:restartPolicy": {},
                            "f:schedulerName": {},
                            "f:securityContext": {},
                            "f:serviceAccount": {},
                            "f:serviceAccountName": {},
                            "f:terminationGracePeriodSeconds": {},
                        },
                    },
                },
                {
                    "manager": "kubelet",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": fields_time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:status": {
                            "f:conditions": {
                                'k:{"type":"ContainersReady"}': {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                                'k:{"type":"Initialized"}': {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                                'k:{"type":"PodReadyToStartContainers"}': {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                                'k:{"type":"Ready"}': {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                            },
                            "f:containerStatuses": {},
                            "f:hostIP": {},
                            "f:hostIPs": {},
                            "f:phase": {},
                            "f:podIP": {},
                            "f:podIPs": {".": {}, f'k:{{"ip":"{pod_ip}"}}': {".": {}, "f:ip": {}}},
                            "f:startTime": {},
                        }
                    },
                    "subresource": "status",
                },
            ],
        },
        "spec": {
            "volumes": [
                {
                    "name": f"kube-api-access-{pod_suffix(f'vol/{i}', 5)}",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                            {
                                "downwardAPI": {
                                    "items": [
                                        {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                                    ]
                                }
                            },
                        ],
                        "defaultMode": 420,
                    },
                }
            ],
            "containers": [
                {
                    "name": app,
                    "image": image,
                    "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
                    "env": [
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
                        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.monitoring.svc.cluster.local:4317"},
                    ],
                    "resources": {"limits": {"memory": memory}, "requests": {"cpu": cpu, "memory": memory}},
                    "volumeMounts": [
                        {
                            "name": f"kube-api-access-{pod_suffix(f'vol/{i}', 5)}",
                            "readOnly": True,
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        }
                    ],
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
                        "timeoutSeconds": 1,
                        "periodSeconds": 10,
                        "successThreshold": 1,
                        "failureThreshold": 3,
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                    "securityContext": {
                        "runAsNonRoot": True,
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                    },
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": app,
            "serviceAccount": app,
            "nodeName": node,
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": None, "lastTransitionTime": rfc3339_s(started)},
                {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": rfc3339_s(created)},
                {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": rfc3339_s(ready)},
                {"type": "ContainersReady", "status": "True", "lastProbeTime": None, "lastTransitionTime": rfc3339_s(ready)},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": rfc3339_s(created)},
            ],
            "hostIP": f"10.0.{subnet}.{host}",
            "hostIPs": [{"ip": f"10.0.{subnet}.{host}"}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": rfc3339_s(created),
            "containerStatuses": [
                {
                    "name": app,
                    "state": {"running": {"startedAt": container_status_time}},
                    "lastState": {},
                    "ready": True,
                    "restartCount": 0,
                    "image": image,
                    "imageID": image.rsplit(":", 1)[0]
                    + "@sha256:"
                    + hashlib.sha256(image.encode()).hexdigest(),
                    "containerID": "containerd://" + hashlib.sha256(f"container/{uid}".encode()).hexdigest(),
                    "started": True,
                    "volumeMounts": [
                        {
                            "name": f"kube-api-access-{pod_suffix(f'vol/{i}', 5)}",
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "readOnly": True,
                            "recursiveReadOnly": "Disabled",
                        }
                    ],
                }
            ],
            "qosClass": "Burstable",
        },
    }


def oversize_events() -> list[tuple[int, dict[str, Any]]]:
    small = audit_event(
        name="oversize/get-configmap",
        level="Metadata",
        stage="ResponseComplete",
        request_uri="/api/v1/namespaces/kube-system/configmaps/cluster-autoscaler-status",
        verb="get",
        user=CLUSTER_AUTOSCALER,
        source_ips=["10.0.2.41"],
        user_agent=CLUSTER_AUTOSCALER_UA,
        object_ref={
            "resource": "configmaps",
            "namespace": "kube-system",
            "name": "cluster-autoscaler-status",
            "apiVersion": "v1",
        },
        response_status=OK,
        received_us=20_104_377,
        stage_us=20_107_021,
        annotations=allow('RBAC: allowed by RoleBinding "cluster-autoscaler/kube-system" of Role "cluster-autoscaler" to ServiceAccount "cluster-autoscaler/kube-system"'),
    )
    big = audit_event(
        name="oversize/list-pods",
        level="RequestResponse",
        stage="ResponseComplete",
        request_uri="/api/v1/pods?limit=500",
        verb="list",
        user=CLUSTER_AUTOSCALER,
        source_ips=["10.0.2.41"],
        user_agent=CLUSTER_AUTOSCALER_UA,
        object_ref={"resource": "pods", "apiVersion": "v1"},
        response_status=OK,
        received_us=20_311_604,
        stage_us=20_489_770,
        annotations=allow('RBAC: allowed by ClusterRoleBinding "cluster-autoscaler" of ClusterRole "cluster-autoscaler" to ServiceAccount "cluster-autoscaler/kube-system"'),
        response_object={
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "184990"},
            "items": pod_items(OVERSIZE_POD_COUNT),
        },
    )
    return [small, big]


# --- Plain-text control-plane logs --------------------------------------------


def klog(severity: str, offset_us: int, pid: int, source: str, text: str) -> tuple[int, str]:
    """A klog header line: `I1126 10:00:01.123456      10 file.go:42] text`."""
    t = at(offset_us)
    header = f"{severity}{t:%m%d %H:%M:%S}.{t.microsecond:06d} {pid:7d} {source}] "
    return epoch_ms(t), header + text


def logrus(offset_us: int, level: str, msg: str, fields: str) -> tuple[int, str]:
    """An aws-iam-authenticator (logrus text formatter) line."""
    t = at(offset_us)
    return epoch_ms(t), f'time="{rfc3339_s(t)}" level={level} msg="{msg}" {fields}'


def apiserver_lines() -> list[tuple[int, str]]:
    return [
        klog("I", 1_123_456, 10, "controller.go:615", "quota admission added evaluator for: leases.coordination.k8s.io"),
        klog("I", 3_045_871, 10, "alloc.go:330", '"allocated clusterIPs" service="default/web" clusterIPs={"IPv4":"172.20.143.12"}'),
        klog("W", 5_602_114, 10, "dispatcher.go:225", 'Failed calling webhook, failing closed vpc-resource-validating-webhook.k8s.aws: failed calling webhook "vpc-resource-validating-webhook.k8s.aws": failed to call webhook: Post "https://vpc-resource-controller-webhook.kube-system.svc:443/validate-v1-pod?timeout=10s": context deadline exceeded'),
        klog("E", 7_905_880, 10, "authentication.go:73", '"Unable to authenticate the request" err="[invalid bearer token, token lookup failed]"'),
    ]


def authenticator_lines() -> list[tuple[int, str]]:
    alice_fields = (
        'accesskeyid=ASIAEXAMPLEALICE0001 accountid=123456789012 '
        'arn="arn:aws:sts::123456789012:assumed-role/platform-admin/alice" '
        'client="127.0.0.1:45678" method=POST path=/authenticate session=alice userid=AROAEXAMPLEPLATFORM01'
    )
    return [
        logrus(310_000, "info", "STS response", alice_fields),
        logrus(
            311_000,
            "info",
            "access granted",
            'arn="arn:aws:iam::123456789012:role/platform-admin" client="127.0.0.1:45678" '
            'groups="[platform-admins]" method=POST path=/authenticate sts=sts.eu-west-1.amazonaws.com '
            'uid="aws-iam-authenticator:123456789012:AROAEXAMPLEPLATFORM01" '
            'username="arn:aws:iam::123456789012:role/platform-admin"',
        ),
        logrus(
            9_478_000,
            "info",
            "access granted",
            'arn="arn:aws:iam::123456789012:role/eks-cluster-creator" client="127.0.0.1:45702" '
            'groups="[system:masters]" method=POST path=/authenticate sts=sts.eu-west-1.amazonaws.com '
            'uid="aws-iam-authenticator:123456789012:AROAEXAMPLECREATOR001" username=kubernetes-admin',
        ),
        logrus(
            12_640_000,
            "warning",
            "access denied",
            'client="127.0.0.1:45731" error="sts getCallerIdentity failed: error from AWS (expected 200, got 403). '
            'Body: {\\"Error\\":{\\"Code\\":\\"ExpiredToken\\",\\"Message\\":\\"The security token included in the request is expired\\",\\"Type\\":\\"Sender\\"}}" '
            "method=POST path=/authenticate",
        ),
    ]


def controller_manager_lines() -> list[tuple[int, str]]:
    return [
        klog("I", 3_052_311, 11, "event.go:389", '"Event occurred" object="default/web" fieldPath="" kind="Deployment" apiVersion="apps/v1" type="Normal" reason="ScalingReplicaSet" message="Scaled up replica set web-7d4b9c to 3"'),
        klog("I", 3_071_906, 11, "event.go:389", '"Event occurred" object="default/web-7d4b9c" fieldPath="" kind="ReplicaSet" apiVersion="apps/v1" type="Normal" reason="SuccessfulCreate" message="Created pod: web-7d4b9c-x2k8p"'),
        klog("I", 14_220_478, 11, "garbagecollector.go:826", '"Deleting item" item="[v1/Pod, namespace: checkout, name: checkout-api-5b8f7c6d9d-p4r7t, uid: 3f1c0a2e-8d4b-4c6e-9f1a-2b3c4d5e6f70]" propagationPolicy="Background"'),
    ]


def cloud_controller_manager_lines() -> list[tuple[int, str]]:
    node = "ip-10-0-3-87.eu-west-1.compute.internal"
    return [
        klog("I", 2_004_118, 12, "node_controller.go:431", f"Initializing node {node} with cloud provider"),
        klog("I", 2_318_560, 12, "node_controller.go:502", f"Successfully initialized node {node} with cloud provider"),
        klog("I", 3_560_002, 12, "controller.go:388", "Ensuring load balancer for service default/web"),
        klog("I", 5_981_447, 12, "event.go:389", '"Event occurred" object="default/web" fieldPath="" kind="Service" apiVersion="v1" type="Normal" reason="EnsuredLoadBalancer" message="Ensured load balancer"'),
    ]


def scheduler_lines() -> list[tuple[int, str]]:
    return [
        klog("I", 3_080_215, 10, "schedule_one.go:314", f'"Successfully bound pod to node" pod="default/web-7d4b9c-x2k8p" node="{NODE}" evaluatedNodes=12 feasibleNodes=12'),
        klog("I", 3_081_390, 10, "schedule_one.go:314", '"Successfully bound pod to node" pod="default/web-7d4b9c-m9q4z" node="ip-10-0-2-41.eu-west-1.compute.internal" evaluatedNodes=12 feasibleNodes=12'),
        klog("I", 15_770_901, 10, "schedule_one.go:1055", '"Unable to schedule pod; no fit; waiting" pod="search/search-indexer-7f9c8b6d54-zr2xk" err="0/12 nodes are available: 12 Insufficient memory. preemption: 0/12 nodes are available: 12 No preemption victims found for incoming pod."'),
    ]


# --- Documents and files -------------------------------------------------------


def data_document(stream: str, messages: list[tuple[int, str]]) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": LOG_GROUP,
        "logStream": stream,
        "subscriptionFilters": [SUBSCRIPTION_FILTER],
        "logEvents": [
            {"id": cloudwatch_id(stream, index, ts), "timestamp": ts, "message": message}
            for index, (ts, message) in enumerate(messages)
        ],
    }


def audit_document(events: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    return data_document(AUDIT_STREAM, [(ts, compact(event)) for ts, event in events])


def control_document() -> dict[str, Any]:
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": BASE_MS,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            }
        ],
    }


def lambda_event(document: dict[str, Any]) -> bytes:
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    data = base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")
    return (json.dumps({"awslogs": {"data": data}}, indent=2) + "\n").encode("utf-8")


# --- Kinesis and S3 triggers ---------------------------------------------------

KINESIS_STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/eks-demo-audit"
ARCHIVE_BUCKET = "demo-eks-audit-archive"
FIREHOSE_KEY = "firehose/2026/11/26/10/eks-demo-audit-1-2026-11-26-10-00-00-5f0c1d2e.gz"
LINES_KEY = "audit lines/demo/2026-11-26T10.jsonl"


def sequence_number(index: int) -> str:
    """A 56-digit Kinesis sequence number, increasing with ``index``."""
    return str(49_657_043_291_130_548_283_614_302_118_460_071_094_251_760_136_742_600_000 + index * 1_000_000)


def kinesis_record(index: int, payload: bytes) -> dict[str, Any]:
    seq = sequence_number(index)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": hashlib.sha256(f"partition/{index}".encode()).hexdigest()[:32],
            "sequenceNumber": seq,
            "data": base64.b64encode(payload).decode("ascii"),
            "approximateArrivalTimestamp": (BASE_MS + 1_000 + index) / 1000,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/eks-audit-forwarder",
        "awsRegion": REGION,
        "eventSourceARN": KINESIS_STREAM_ARN,
    }


def gz(document: dict[str, Any]) -> bytes:
    return gzip.compress(compact(document).encode("utf-8"), mtime=0)


def kinesis_event(payloads: list[bytes]) -> bytes:
    records = [kinesis_record(i, p) for i, p in enumerate(payloads)]
    return (json.dumps({"Records": records}, indent=2) + "\n").encode("utf-8")


def kinesis_documents() -> list[dict[str, Any]]:
    """What CloudWatch Logs puts on the stream: a control message when the
    subscription is created, then the audit events in two documents."""
    events = audit_sample_events()
    return [control_document(), audit_document(events[:6]), audit_document(events[6:])]


def firehose_object() -> bytes:
    """What Firehose writes to S3 from a CloudWatch Logs stream without
    decompression: the gzip records, concatenated (a multi-member gzip)."""
    return b"".join(gz(doc) for doc in kinesis_documents())


def audit_lines_object() -> bytes:
    """JSON lines of audit events, as an audit webhook or an export writes them."""
    return "".join(compact(event) + "\n" for _, event in audit_sample_events()).encode("utf-8")


def s3_notification(bucket: str, key: str, size: int) -> bytes:
    from urllib.parse import quote_plus

    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2026-11-26T10:05:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLEFIREHOSE"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "5F0C1D2E3F405162", "x-amz-id-2": "example"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "eks-audit-forwarder",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3EXAMPLE"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            # S3 notifications carry the key form-encoded.
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": "0" * 32, "sequencer": "0067455A3C1E2F3A4B"},
        },
    }
    return (json.dumps({"Records": [record]}, indent=2) + "\n").encode("utf-8")


def s3_eventbridge(bucket: str, key: str, size: int) -> bytes:
    event = {
        "version": "0",
        "id": str(fixed_uuid("eventbridge/object-created")),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2026-11-26T10:05:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            # EventBridge carries the key as it is.
            "object": {"key": key, "size": size, "etag": "0" * 32, "sequencer": "0067455A3C1E2F3A4C"},
            "request-id": "5F0C1D2E3F405163",
            "requester": ACCOUNT,
            "source-ip-address": "10.0.0.1",
            "reason": "PutObject",
        },
    }
    return (json.dumps(event, indent=2) + "\n").encode("utf-8")


README = """\
# Sample Lambda events

CloudWatch Logs subscription events (`{"awslogs": {"data": "<base64 gzip>"}}`)
from the log group `/aws/eks/demo/cluster`, for trying the forwarder locally
and for tests. Generated by `scripts/make_events.py`; do not edit by hand.

- `eks-audit.json`: 11 Kubernetes audit events (stream `kube-apiserver-audit-*`): get, list, watch, lease update, deployment create (RequestResponse), patch with non-ASCII text, secret delete, exec (two stages), an anonymous 403, a clusterrolebinding create. Forwarded with `ddsource:kubernetes.audit`.
- `eks-kube-apiserver.json`: API server klog lines (stream `kube-apiserver-*`). Forwarded with `ddsource:kube-apiserver`.
- `eks-authenticator.json`: aws-iam-authenticator lines (stream `authenticator-*`). Forwarded with `ddsource:aws-iam-authenticator`.
- `eks-kube-controller-manager.json`: controller-manager klog lines (stream `kube-controller-manager-*`). Forwarded with `ddsource:kube-controller-manager`.
- `eks-cloud-controller-manager.json`: cloud-controller-manager klog lines (stream `cloud-controller-manager-*`). Forwarded with `ddsource:cloud-controller-manager`.
- `eks-kube-scheduler.json`: scheduler klog lines (stream `kube-scheduler-*`). Forwarded with `ddsource:kube_scheduler`.
- `control-message.json`: a CloudWatch Logs `CONTROL_MESSAGE` (destination health check). Skipped: nothing is sent.
- `eks-audit-oversize.json`: two audit events, a small `get` and a RequestResponse `list` of pods whose message is about 1.4 MB. The forwarder removes the big event's `responseObject` so the log fits the intake's 1,000,000-byte per-log limit, and the log carries `"truncated": true`; the small event is forwarded as is.

Other triggers:

- `kinesis.json`: a Kinesis Data Streams batch of three records, each a gzip CloudWatch Logs document as a subscription to a stream writes them: a control message, then the 11 audit events of `eks-audit.json` in two documents (6 and 5). The response is `{"batchItemFailures":[]}`.
- `kinesis-bad-record.json`: two records, the first of which is not gzip. The first record's sequence number comes back in `batchItemFailures` (with `DD_STORE_FAILED_EVENTS`, its data is kept under `dead_letter/` in the bucket instead, and nothing is retried); the second record's 5 events are forwarded.
- `s3-firehose-object.json`: an S3 `ObjectCreated:Put` notification for `s3://demo-eks-audit-archive/firehose/...gz`, the object in `s3/firehose-eks-audit.gz`: the three documents of `kinesis.json` as Firehose writes them (gzip members back to back).
- `s3-audit-lines-eventbridge.json`: an EventBridge `Object Created` event for `s3://demo-eks-audit-archive/audit lines/demo/2026-11-26T10.jsonl`, the object in `s3/eks-audit.jsonl`: the 11 audit events as JSON lines. (The notification form encodes the space in the key; EventBridge does not.)

To run the S3 events, put the objects in a bucket first (the tests use moto's
server), for example `aws s3 cp events/s3/eks-audit.jsonl "s3://demo-eks-audit-archive/audit lines/demo/2026-11-26T10.jsonl"`.

Regenerate with `python3 scripts/make_events.py`; check that the files are up
to date with `python3 scripts/make_events.py --check` (exits 1 and names the
files that differ).
"""


def build() -> dict[str, bytes]:
    """Every file this script owns, by name inside events/, with its bytes."""
    oversize = oversize_events()
    big_message = compact(oversize[1][1])
    size = len(big_message.encode("utf-8"))
    if not OVERSIZE_MIN <= size <= OVERSIZE_MAX:
        raise SystemExit(
            f"make_events: the oversize message is {size} bytes, outside "
            f"{OVERSIZE_MIN}..{OVERSIZE_MAX}; adjust OVERSIZE_POD_COUNT"
        )
    return {
        "eks-audit.json": lambda_event(audit_document(audit_sample_events())),
        "eks-kube-apiserver.json": lambda_event(data_document(APISERVER_STREAM, apiserver_lines())),
        "eks-authenticator.json": lambda_event(data_document(AUTHENTICATOR_STREAM, authenticator_lines())),
        "eks-kube-controller-manager.json": lambda_event(data_document(KCM_STREAM, controller_manager_lines())),
        "eks-cloud-controller-manager.json": lambda_event(data_document(CCM_STREAM, cloud_controller_manager_lines())),
        "eks-kube-scheduler.json": lambda_event(data_document(SCHEDULER_STREAM, scheduler_lines())),
        "control-message.json": lambda_event(control_document()),
        "eks-audit-oversize.json": lambda_event(audit_document(oversize)),
        "kinesis.json": kinesis_event([gz(doc) for doc in kinesis_documents()]),
        "kinesis-bad-record.json": kinesis_event(
            [b"this record is not gzip", gz(kinesis_documents()[2])]
        ),
        "s3/firehose-eks-audit.gz": firehose_object(),
        "s3/eks-audit.jsonl": audit_lines_object(),
        "s3-firehose-object.json": s3_notification(ARCHIVE_BUCKET, FIREHOSE_KEY, len(firehose_object())),
        "s3-audit-lines-eventbridge.json": s3_eventbridge(ARCHIVE_BUCKET, LINES_KEY, len(audit_lines_object())),
        "README.md": README.encode("utf-8"),
    }


def decoded(content: bytes) -> Any:
    """What a file means, for --check: the subscription document inside a
    Lambda event, or the text itself. Compressed bytes are not compared, as
    another zlib (zlib-ng, say) compresses the same document differently."""
    if content[:2] == b"\x1f\x8b":
        return gzip.decompress(content)
    try:
        event = json.loads(content)
    except ValueError:
        return content
    if not isinstance(event, dict):
        return content
    if "awslogs" in event:
        return json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    records = event.get("Records")
    if isinstance(records, list) and records and "kinesis" in records[0]:
        out = []
        for record in records:
            raw = base64.b64decode(record["kinesis"]["data"])
            out.append(json.loads(gzip.decompress(raw)) if raw[:2] == b"\x1f\x8b" else raw)
            record["kinesis"]["data"] = None
        return [event, out]
    return event


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a file in events/ is missing or differs",
    )
    args = parser.parse_args(argv)

    files = build()
    if args.check:
        stale = []
        for name, content in files.items():
            path = EVENTS_DIR / name
            if not path.is_file():
                stale.append(f"missing: events/{name}")
            elif decoded(path.read_bytes()) != decoded(content):
                stale.append(f"differs: events/{name}")
        for line in stale:
            print(line)
        if stale:
            print("run `python3 scripts/make_events.py` to regenerate", file=sys.stderr)
            return 1
        print(f"events/ is up to date ({len(files)} files)")
        return 0

    EVENTS_DIR.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = EVENTS_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.read_bytes() == content:
            print(f"unchanged: events/{name}")
            continue
        path.write_bytes(content)
        print(f"wrote:     events/{name} ({len(content)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
