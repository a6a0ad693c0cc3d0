"""What linters miss in template.yaml: the parts the code depends on.

Run by tests/template.rs with the test venv's Python (cfn-lint's parser reads
the CloudFormation short tags). Prints each problem and exits 1 if any.
"""

from __future__ import annotations

import json
import re
import sys
from fnmatch import fnmatchcase
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent

# Variables the template must set for the function to start under Lambda.
REQUIRED_ONE_OF = {"DD_API_KEY_SECRET_ARN", "DD_API_KEY_SSM_NAME", "DD_API_KEY"}

# Parameter values to resolve the template's conditions with: each trigger,
# with and without an S3 source bucket.
SCENARIOS = [
    {"Trigger": trigger, "S3SourceBucketName": bucket}
    for trigger in ("Subscription", "KinesisNewStream", "KinesisExistingStream")
    for bucket in ("", "demo-eks-audit-archive")
]
KINESIS_READ = ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"]
NO_VALUE = object()

# The "Audit processing" parameters: (variable, parameter, AllowedValues or
# None for free text, Default, set only when non-empty). The conditional ones
# must be left unset rather than set to "": the function refuses an empty
# audit query at start-up.
AUDIT_GROUP = "Audit processing"
AUDIT_SETTINGS = [
    ("DD_AUDIT_NOISE_FILTER", "AuditNoiseFilter", {"off", "standard", "aggressive"}, "off", False),
    ("DD_AUDIT_INCLUDE", "AuditInclude", None, "", True),
    ("DD_AUDIT_EXCLUDE", "AuditExclude", None, "", True),
    ("DD_SIEM_ATTRIBUTES", "SiemAttributes", {"true", "false"}, "false", False),
    ("DD_REDACT_SECRETS", "RedactSecrets", {"true", "false"}, "true", False),
    ("DD_REDACT_RESOURCES", "RedactResources", None, "", True),
    ("DD_AUDIT_INTERNAL_NETWORKS", "AuditInternalNetworks", None, "", True),
]


def variables_the_code_reads() -> set[str]:
    """Names src/config.rs reads: through `get` (trimmed, empty as unset),
    `lookup` (as given), and the helpers that read through `lookup`
    (`pattern` for the regular expressions, `audit_query` for the audit
    queries)."""
    names: set[str] = set()
    for path in (ROOT / "src").rglob("*.rs"):
        names.update(
            re.findall(r'(?:get|lookup|pattern|audit_query)\("([A-Z][A-Z0-9_]+)"\)', path.read_text())
        )
    return names


def condition_values(template: dict, params: dict[str, str]) -> dict[str, bool]:
    """Every condition of the template, for these parameter values (defaults
    for the others)."""
    values = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    values.update(params)
    conditions = template.get("Conditions", {})
    done: dict[str, bool] = {}

    def arg(node):
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return values[node["Ref"]]
        return str(node)

    def truth(node) -> bool:
        (fn, args), = node.items()
        if fn == "Condition":
            if args not in done:
                done[args] = truth(conditions[args])
            return done[args]
        if fn == "Fn::Equals":
            return arg(args[0]) == arg(args[1])
        if fn == "Fn::Not":
            return not truth(args[0])
        if fn == "Fn::And":
            return all(truth(a) for a in args)
        if fn == "Fn::Or":
            return any(truth(a) for a in args)
        raise ValueError(f"condition function {fn} is not understood here")

    return {name: truth({"Condition": name}) for name in conditions}


def resolved(node, conditions: dict[str, bool]):
    """`node` with every Fn::If decided and AWS::NoValue dropped."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return resolved(yes if conditions[name] else no, conditions)
        if node == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        out = {k: resolved(v, conditions) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}
    if isinstance(node, list):
        out = [resolved(v, conditions) for v in node]
        return [v for v in out if v is not NO_VALUE]
    return node


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statements(function_props: dict) -> list[dict]:
    """The statements of the function's inline policies (SAM policy templates
    and managed policies are not looked into)."""
    found = []
    for policy in as_list(function_props.get("Policies", [])):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(s for s in as_list(policy["Statement"]) if isinstance(s, dict))
    return found


def grants(function_props: dict, action: str, resource_ok) -> bool:
    """Whether an Allow statement gives `action` on a resource that
    `resource_ok` accepts (or on "*")."""
    for statement in statements(function_props):
        if statement.get("Effect") != "Allow":
            continue
        if not any(fnmatchcase(action.lower(), str(a).lower()) for a in as_list(statement.get("Action", []))):
            continue
        if any(r == "*" or resource_ok(r) for r in as_list(statement.get("Resource", []))):
            return True
    return False


def sub_text(node) -> str:
    """The template string of a Fn::Sub (either form), else ""."""
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        value = node["Fn::Sub"]
        return value if isinstance(value, str) else str(value[0])
    return ""


def is_function_arn(node, function: str) -> bool:
    return node == {"Fn::GetAtt": [function, "Arn"]}


def mentions(node, wanted) -> bool:
    """Whether `wanted` is `node` or sits anywhere inside it."""
    if node == wanted:
        return True
    if isinstance(node, dict):
        return any(mentions(v, wanted) for v in node.values())
    if isinstance(node, list):
        return any(mentions(v, wanted) for v in node)
    return False


def check_audit_processing(template: dict, variables: dict, expect) -> None:
    """The audit-processing variables come from their parameters, with the
    values the code accepts, and the parameters form one console group."""
    params = template.get("Parameters", {})
    conditions = template.get("Conditions", {})
    for var, param, allowed, default, optional in AUDIT_SETTINGS:
        p = params.get(param)
        if p is None:
            expect(False, f"the template needs the parameter {param} (for {var})")
            continue
        expect(p.get("Type") == "String", f"{param} must be a String")
        if allowed is None:
            expect("AllowedValues" not in p, f"{param} is free text: no AllowedValues")
        else:
            given = set(map(str, p.get("AllowedValues", [])))
            expect(given == allowed, f"{param} must allow exactly {sorted(allowed)}, not {sorted(given)}")
        expect(p.get("Default") == default, f"{param} defaults to {default!r}, not {p.get('Default')!r}")

        value = variables.get(var)
        if not optional:
            expect(value == {"Ref": param}, f"{var} must be set from the parameter {param}, not {value!r}")
            continue
        # !If [HasX, !Ref X, !Ref AWS::NoValue], with HasX true exactly when X is not "".
        shape = isinstance(value, dict) and set(value) == {"Fn::If"} and len(value["Fn::If"]) == 3
        cond = value["Fn::If"][0] if shape else None
        expect(
            shape and value["Fn::If"][1:] == [{"Ref": param}, {"Ref": "AWS::NoValue"}] and cond in conditions,
            f"{var} must be set only when {param} is not empty (unset, not \"\"): "
            f"!If [<condition>, !Ref {param}, !Ref AWS::NoValue], not {value!r}",
        )
        if not (shape and cond in conditions):
            continue
        definition = conditions[cond]
        expect(
            mentions(definition, {"Fn::Equals": [{"Ref": param}, ""]})
            or mentions(definition, {"Fn::Equals": ["", {"Ref": param}]}),
            f"the condition {cond} (of {var}) must test {param} against \"\", not {definition!r}",
        )
        try:
            when_empty = condition_values(template, {param: ""})[cond]
            when_set = condition_values(template, {param: "configmaps"})[cond]
        except (KeyError, ValueError, TypeError) as e:
            expect(False, f"the condition {cond} (of {var}) could not be decided: {e!r}")
            continue
        expect(
            not when_empty and when_set,
            f"the condition {cond} (of {var}) must be true exactly when {param} is not empty "
            f"(it is {when_empty} for \"\" and {when_set} for a value)",
        )

    groups = template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {}).get("ParameterGroups", [])
    audit = [g for g in groups if g.get("Label", {}).get("default") == AUDIT_GROUP]
    expect(len(audit) == 1, f"exactly one parameter group labelled {AUDIT_GROUP!r}, found {len(audit)}")
    for group in audit:
        members = group.get("Parameters", [])
        missing = [param for _, param, *_ in AUDIT_SETTINGS if param not in members]
        expect(not missing, f"the {AUDIT_GROUP!r} parameter group must list {missing}")
    for group in groups:
        label = group.get("Label", {}).get("default")
        if label == AUDIT_GROUP:
            continue
        strays = [param for _, param, *_ in AUDIT_SETTINGS if param in group.get("Parameters", [])]
        expect(not strays, f"{strays} belong in the {AUDIT_GROUP!r} parameter group, not {label!r}")


def check_scenario(template: dict, params: dict[str, str], function: str, expect) -> None:
    """What each trigger needs, with the template's conditions decided."""
    conditions = condition_values(template, params)
    resources = {
        name: resolved(r, conditions)
        for name, r in template["Resources"].items()
        if conditions.get(r.get("Condition"), True)
    }
    where = ", ".join(f"{k}={v!r}" for k, v in params.items())
    props = resources[function]["Properties"]

    def of_type(kind: str) -> dict[str, dict]:
        return {n: r.get("Properties", {}) for n, r in resources.items() if r["Type"] == kind}

    def permitted(principal: str, source_ok) -> bool:
        return any(
            p.get("Principal") == principal
            and p.get("FunctionName") in ({"Ref": function}, {"Fn::GetAtt": [function, "Arn"]})
            and source_ok(p.get("SourceArn"))
            for p in of_type("AWS::Lambda::Permission").values()
        )

    expect(
        grants(props, "logs:ListTagsForResource", lambda r: ":log-group:" in sub_text(r)),
        f"[{where}] the function's role must grant logs:ListTagsForResource on the log group (log-group tags)",
    )

    filters = of_type("AWS::Logs::SubscriptionFilter")
    mappings = {
        n: m
        for n, m in of_type("AWS::Lambda::EventSourceMapping").items()
        if m.get("FunctionName") in ({"Ref": function}, {"Fn::GetAtt": [function, "Arn"]})
    }
    # Two filters would deliver every log twice (or hit the log group's limit of two).
    expect(len(filters) == 1, f"[{where}] exactly one subscription filter, found {sorted(filters)}")
    if params["Trigger"] == "Subscription":
        for name, f in filters.items():
            expect(is_function_arn(f.get("DestinationArn"), function), f"[{where}] {name} must target the function")
            expect({"LogGroupName", "FilterPattern"} <= set(f), f"[{where}] {name} needs LogGroupName, FilterPattern")
        expect(
            permitted("logs.amazonaws.com", lambda arn: ":log-group:" in sub_text(arn)),
            f"[{where}] CloudWatch Logs must be allowed to invoke the function",
        )
        expect(not mappings, f"[{where}] no event source mapping in Subscription mode, found {sorted(mappings)}")
    else:
        expect(len(mappings) == 1, f"[{where}] exactly one event source mapping to the function: {sorted(mappings)}")
    for name, m in mappings.items():
        stream = m.get("EventSourceArn")
        # Without it Lambda ignores batchItemFailures and takes every batch
        # as done: the records the function names as failed would be lost.
        expect(
            "ReportBatchItemFailures" in as_list(m.get("FunctionResponseTypes", [])),
            f"[{where}] {name}: FunctionResponseTypes must contain ReportBatchItemFailures",
        )
        expect(
            bool(m.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")),
            f"[{where}] {name}: an on-failure destination, so batches Lambda gives up on are named somewhere",
        )
        for action in KINESIS_READ:
            expect(
                grants(props, action, lambda r: r == stream),
                f"[{where}] the function's role must grant {action} on {name}'s stream",
            )
        for fname, f in filters.items():
            expect(f.get("DestinationArn") == stream, f"[{where}] {fname} must write to {name}'s stream")
            expect(bool(f.get("RoleArn")), f"[{where}] {fname} needs a RoleArn to write to the stream")

    if params["S3SourceBucketName"]:
        expect(
            grants(props, "s3:GetObject", lambda r: "${S3SourceBucketName}/" in sub_text(r)),
            f"[{where}] the function's role must grant s3:GetObject on the S3SourceBucketName bucket's objects",
        )
        rules = {
            n: r
            for n, r in of_type("AWS::Events::Rule").items()
            if r.get("EventPattern", {}).get("detail-type") == ["Object Created"]
        }
        expect(len(rules) == 1, f"[{where}] exactly one EventBridge rule for Object Created, found {sorted(rules)}")
        for name, rule in rules.items():
            pattern = rule["EventPattern"]
            expect(pattern.get("source") == ["aws.s3"], f"[{where}] {name} must match source aws.s3")
            expect(
                pattern.get("detail", {}).get("bucket", {}).get("name") == [{"Ref": "S3SourceBucketName"}],
                f"[{where}] {name} must match the bucket S3SourceBucketName",
            )
            expect(
                any(is_function_arn(t.get("Arn"), function) for t in rule.get("Targets", [])),
                f"[{where}] {name} must target the function",
            )
            expect(
                permitted("events.amazonaws.com", lambda arn: arn == {"Fn::GetAtt": [name, "Arn"]}),
                f"[{where}] EventBridge must be allowed to invoke the function from {name}",
            )


def main() -> int:
    template, matches = decode(str(ROOT / "template.yaml"))
    if template is None:
        print("template.yaml does not parse:", matches)
        return 1
    problems: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    functions = {
        name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    expect(len(functions) == 1, f"expected one function, found {sorted(functions)}")
    for name, function in functions.items():
        props = function["Properties"]
        expect(props.get("Runtime") == "provided.al2023", f"{name}: Runtime must be provided.al2023")
        expect(props.get("Handler") == "bootstrap", f"{name}: Handler must be bootstrap")
        expect(
            function.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda",
            f"{name}: Metadata.BuildMethod must be rust-cargolambda",
        )
        binary = function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        expect(binary == "eks-audit-forwarder", f"{name}: BuildProperties.Binary must name the crate's binary")

        arch = props.get("Architectures")
        expect(arch == [{"Ref": "Architecture"}], f"{name}: Architectures must be [!Ref Architecture]")
        allowed = set(template["Parameters"]["Architecture"].get("AllowedValues", []))
        expect(allowed == {"arm64", "x86_64"}, f"Architecture must allow exactly arm64 and x86_64, not {allowed}")
        expect(template["Parameters"]["Architecture"].get("Default") == "arm64", "Architecture defaults to arm64")
        for param, default in (("MemorySize", 128), ("Timeout", 60)):
            expect(template["Parameters"][param].get("Default") == default, f"{param} defaults to {default}")

        events = props.get("Events", {})
        # SAM events cannot be conditional, and the triggers depend on Trigger
        # and S3SourceBucketName: they are plain resources, checked per scenario.
        trigger_types = ("CloudWatchLogs", "Kinesis", "S3", "EventBridgeRule")
        sources = [n for n, e in events.items() if e.get("Type") in trigger_types]
        expect(not sources, f"{name}: log sources must be conditional resources, not SAM events: {sources}")
        schedules = [e for e in events.values() if e.get("Type") == "Schedule"]
        expect(len(schedules) == 1, "exactly one Schedule event (replay)")
        for event in schedules:
            given = event.get("Properties", {}).get("Input")
            expect(given is not None and json.loads(given) == {"retry": "true"}, 'the schedule sends {"retry":"true"}')

        destination = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
        expect(destination.get("Type") == "SQS", "an on-failure SQS destination")

        env = set(props.get("Environment", {}).get("Variables", {}))
        read = variables_the_code_reads()
        for var in sorted(env - read):
            problems.append(f"the template sets {var}, which the code never reads")
        expect(bool(env & REQUIRED_ONE_OF), f"the template sets none of {sorted(REQUIRED_ONE_OF)}")
        expect("DD_API_KEY" not in env, "the API key must not be a plain environment variable")
        if "DD_STORE_FAILED_EVENTS" in env:
            expect("DD_S3_BUCKET_NAME" in env, "DD_STORE_FAILED_EVENTS needs DD_S3_BUCKET_NAME")

        # Log-group tags: set from parameters, with values the code accepts
        # (a value it refuses would stop the function at start-up).
        variables = props.get("Environment", {}).get("Variables", {})
        params = template["Parameters"]
        expect(
            variables.get("DD_FETCH_LOG_GROUP_TAGS") == {"Ref": "FetchLogGroupTags"},
            "DD_FETCH_LOG_GROUP_TAGS must be set from the parameter FetchLogGroupTags",
        )
        fetch = params.get("FetchLogGroupTags", {})
        expect(set(fetch.get("AllowedValues", [])) == {"true", "false"}, "FetchLogGroupTags allows just true, false")
        expect(fetch.get("Default") == "false", "FetchLogGroupTags defaults to false")
        expect(
            variables.get("DD_TAGS_CACHE_TTL_SECONDS") == {"Ref": "TagsCacheTtlSeconds"},
            "DD_TAGS_CACHE_TTL_SECONDS must be set from the parameter TagsCacheTtlSeconds",
        )
        ttl = params.get("TagsCacheTtlSeconds", {})
        expect(
            ttl.get("Type") == "Number"
            and 0 <= int(ttl.get("MinValue", -1))
            and int(ttl.get("MaxValue", 86401)) <= 86400,
            "TagsCacheTtlSeconds must be a Number with MinValue and MaxValue within 0..86400 (what the code accepts)",
        )

        check_audit_processing(template, variables, expect)

        trigger = params.get("Trigger", {})
        expect(
            set(trigger.get("AllowedValues", [])) == {s["Trigger"] for s in SCENARIOS}
            and trigger.get("Default") == "Subscription",
            "Trigger must allow Subscription (the default), KinesisNewStream and KinesisExistingStream",
        )
        expect(params.get("S3SourceBucketName", {}).get("Default") == "", "S3SourceBucketName defaults to empty")
        for scenario in SCENARIOS:
            try:
                check_scenario(template, scenario, name, expect)
            except (KeyError, ValueError, TypeError, AttributeError) as e:
                problems.append(f"{scenario}: the template could not be resolved: {e!r}")

    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
