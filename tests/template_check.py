"""What linters miss in a template: the parts the code depends on.

Run by tests/template.rs with the test venv's Python (cfn-lint's parser reads
the CloudFormation short tags):

    template_check.py [TEMPLATE] [--packaged] [--src DIR] [--readme FILE]

TEMPLATE defaults to template.yaml; --packaged checks a template made by
scripts/package (its code is a built zip beside it). --src and --readme name
the sources the settings check reads (the repository's by default), so a test
can show that a variable with no template path fails the check. Prints each
problem and exits 1 if any.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from fnmatch import fnmatchcase
from itertools import product
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
NO_VALUE = object()
FUNCTION = "ForwarderFunction"

# The Datadog Forwarder's template names these settings so (its
# aws/logs_monitoring/template.yaml); a user who migrates keeps them.
FORWARDER_PARAMETERS = {
    "DD_API_KEY_SECRET_ARN": "DdApiKeySecretArn",
    "DD_API_KEY_SSM_NAME": "DdApiKeySsmParameterName",
    "DD_SITE": "DdSite",
    "DD_TAGS": "DdTags",
    "DD_SOURCE": "DdSource",
    "DD_URL": "DdUrl",
    "DD_PORT": "DdPort",
    "DD_NO_SSL": "DdNoSsl",
    "DD_USE_COMPRESSION": "DdUseCompression",
    "DD_COMPRESSION_LEVEL": "DdCompressionLevel",
    "DD_LOG_LEVEL": "DdLogLevel",
    "DD_FETCH_LOG_GROUP_TAGS": "DdFetchLogGroupTags",
    "DD_TAGS_CACHE_TTL_SECONDS": "TagsCacheTTLSeconds",
    "DD_ENRICH_CLOUDWATCH_TAGS": "DdEnrichCloudwatchTags",
    "DD_ENRICH_S3_TAGS": "DdEnrichS3Tags",
    "DD_S3_BUCKET_NAME": "DdForwarderExistingBucketName",
    "REDACT_IP": "RedactIp",
    "REDACT_EMAIL": "RedactEmail",
    "DD_SCRUBBING_RULE": "DdScrubbingRule",
    "DD_SCRUBBING_RULE_REPLACEMENT": "DdScrubbingRuleReplacement",
    "EXCLUDE_AT_MATCH": "ExcludeAtMatch",
    "INCLUDE_AT_MATCH": "IncludeAtMatch",
    "HTTPS_PROXY": "DdHttpProxyURL",
    "HTTP_PROXY": "DdHttpProxyURL",
    "NO_PROXY": "DdNoProxy",
}
# The Forwarder's names for controls that set no variable.
FORWARDER_CONTROLS = [
    "PermissionsBoundaryArn",
    "ReservedConcurrency",
    "LogRetentionInDays",
    "VPCSubnetIds",
    "VPCSecurityGroupIds",
    "MemorySize",
    "Timeout",
]

# The "Audit processing" parameters: (variable, parameter, AllowedValues or
# None for free text, Default).
AUDIT_GROUP = "Audit processing"
AUDIT_SETTINGS = [
    ("DD_AUDIT_NOISE_FILTER", "AuditNoiseFilter", {"off", "standard", "aggressive"}, "off"),
    ("DD_AUDIT_INCLUDE", "AuditInclude", None, ""),
    ("DD_AUDIT_EXCLUDE", "AuditExclude", None, ""),
    ("DD_SIEM_ATTRIBUTES", "SiemAttributes", {"true", "false"}, "false"),
    ("DD_REDACT_SECRETS", "RedactSecrets", {"true", "false"}, "true"),
    ("DD_REDACT_RESOURCES", "RedactResources", None, ""),
    ("DD_AUDIT_INTERNAL_NETWORKS", "AuditInternalNetworks", None, ""),
    ("DD_AUDIT_SYSTEM_CLIENTS", "AuditSystemClients", None, ""),
]

KINESIS_READ = ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"]
KEY = "arn:aws:kms:eu-west-1:111122223333:key/{}"
# Everything optional turned on, to resolve the template's conditions with.
EVERYTHING = {
    "DdFetchLogGroupTags": "true",
    "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/boundary",
    "ApiKeyKmsKeyArn": KEY.format("api"),
    "KinesisKmsKeyArn": KEY.format("stream"),
    "S3SourceKmsKeyArn": KEY.format("source"),
    "FailedEventsKmsKeyArn": KEY.format("kept"),
    "VPCSubnetIds": "subnet-1,subnet-2",
    "VPCSecurityGroupIds": "sg-1",
    "ReservedConcurrency": "10",
    "AlarmTopicArn": "arn:aws:sns:eu-west-1:111122223333:alarms",
    "CreateLogGroup": "true",
    "DdHttpProxyURL": "http://proxy.internal:3128",
    "DdNoProxy": ".amazonaws.com",
    "DdForwarderExistingBucketName": "kept-logs",
}
# Everything on, with the bucket the stack creates.
EVERYTHING_CREATED_BUCKET = {k: v for k, v in EVERYTHING.items() if k != "DdForwarderExistingBucketName"}
KEY_ROUTES = [
    {"DdApiKey": "0123456789abcdef0123456789abcdef"},
    {"DdApiKeySecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:dd-AbCdEf"},
    {"DdApiKeySsmParameterName": "/datadog/api-key"},
    {"DdApiKeySsmParameterName": "datadog-api-key"},
    {"DdApiKeySsmParameterName": "arn:aws:ssm:eu-west-1:111122223333:parameter/datadog/api-key"},
]
OPTIONS = {"none": {}, "all": EVERYTHING, "all, created bucket": EVERYTHING_CREATED_BUCKET}
SCENARIOS = [
    {"ClusterName": "prod", "Trigger": trigger, "S3SourceBucketName": bucket, **route, **OPTIONS[options], "_options": options}
    for (trigger, bucket, options), route in zip(
        product(("Subscription", "KinesisNewStream", "KinesisExistingStream"), ("", "demo-eks-audit-archive"), OPTIONS),
        KEY_ROUTES * 4,
    )
]
# A central account: a CloudWatch Logs destination for the stream, open to
# an organization or to listed accounts.
SCENARIOS += [
    {"ClusterName": "prod", "Trigger": trigger, "S3SourceBucketName": "", **members, **route, **OPTIONS[options], "_options": options}
    for (trigger, members, options), route in zip(
        product(
            ("KinesisNewStream", "KinesisExistingStream"),
            ({"LogsDestinationOrganizationId": "o-a1b2c3d4e5"}, {"LogsDestinationAccountIds": "111122223333,444455556666"}),
            ("none", "all"),
        ),
        KEY_ROUTES * 2,
    )
]
for scenario in SCENARIOS:
    if scenario["Trigger"] == "KinesisExistingStream":
        scenario["KinesisStreamName"] = "eks-audit"


class Unresolvable(Exception):
    pass


def substitute(node, identifier: str, value: str):
    """`node` with the loop variable `identifier` replaced as
    AWS::LanguageExtensions does: `${X}` by the value, `&{X}` by its letters
    and digits, `{"Ref": X}` by the value; a Fn::Sub left with no variable
    becomes its plain text."""
    if isinstance(node, str):
        return node.replace(f"${{{identifier}}}", value).replace(
            f"&{{{identifier}}}", re.sub(r"[^A-Za-z0-9]", "", value)
        )
    if isinstance(node, list):
        return [substitute(n, identifier, value) for n in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return value
        out = {substitute(k, identifier, value): substitute(v, identifier, value) for k, v in node.items()}
        if set(out) == {"Fn::Sub"} and isinstance(out["Fn::Sub"], str) and "${" not in out["Fn::Sub"]:
            return out["Fn::Sub"]
        return out
    return node


def expand_for_each(section: dict, values: dict) -> dict:
    """A Resources or Conditions section with each Fn::ForEach loop
    replaced by its copies, for these parameter values (a collection is a
    list or a Ref to a CommaDelimitedList)."""
    out = {}
    for key, node in section.items():
        if not key.startswith("Fn::ForEach::"):
            out[key] = node
            continue
        identifier, collection, fragment = node
        items = values[collection["Ref"]] if isinstance(collection, dict) else collection
        for item in items:
            for k, v in expand_for_each(substitute(fragment, identifier, item), values).items():
                if k in out:
                    raise Unresolvable(f"{key} makes {k} twice")
                out[k] = v
    return out


def expanded(template: dict, params: dict[str, str]) -> dict:
    """The template as CloudFormation sees it after AWS::LanguageExtensions,
    for these parameter values."""
    values = parameter_values(template, params)
    out = dict(template)
    for section in ("Conditions", "Resources"):
        out[section] = expand_for_each(template.get(section, {}), values)
    return out


def parameter_values(template: dict, params: dict[str, str]) -> dict:
    values = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    values.update(params)
    for name, p in template.get("Parameters", {}).items():
        if p.get("Type") == "CommaDelimitedList":
            values[name] = values[name].split(",")
    return values


def evaluate(node, values: dict):
    """A value built from parameters: Ref, Fn::Join, Fn::Select, Fn::Split."""
    if isinstance(node, dict) and len(node) == 1:
        (fn, args), = node.items()
        if fn == "Ref":
            if args not in values:
                raise Unresolvable(f"Ref {args}")
            return values[args]
        if fn == "Fn::Join":
            return args[0].join(evaluate(a, values) for a in evaluate(args[1], values))
        if fn == "Fn::Select":
            return evaluate(args[1], values)[int(args[0])]
        if fn == "Fn::Split":
            return evaluate(args[1], values).split(args[0])
        raise Unresolvable(fn)
    if isinstance(node, list):
        return [evaluate(n, values) for n in node]
    return str(node)


def truth(node, values: dict, conditions: dict, done: dict) -> bool:
    """A condition or rule assertion, for these parameter values."""
    (fn, args), = node.items()
    if fn == "Condition":
        if args not in done:
            done[args] = truth(conditions[args], values, conditions, done)
        return done[args]
    if fn == "Fn::Equals":
        return evaluate(args[0], values) == evaluate(args[1], values)
    if fn == "Fn::Not":
        return not truth(args[0], values, conditions, done)
    if fn == "Fn::And":
        return all(truth(a, values, conditions, done) for a in args)
    if fn == "Fn::Or":
        return any(truth(a, values, conditions, done) for a in args)
    if fn == "Fn::Contains":
        return evaluate(args[1], values) in evaluate(args[0], values)
    if fn == "Fn::EachMemberEquals":
        return all(v == evaluate(args[1], values) for v in evaluate(args[0], values))
    raise Unresolvable(f"function {fn}")


def condition_values(template: dict, params: dict[str, str]) -> dict[str, bool]:
    values = parameter_values(template, params)
    conditions = template.get("Conditions", {})
    done: dict[str, bool] = {}
    return {name: truth({"Condition": name}, values, conditions, done) for name in conditions}


def broken_rules(template: dict, params: dict[str, str]) -> list[str]:
    """The template's Rules these parameter values break, by name."""
    values = parameter_values(template, params)
    broken = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not truth(rule["RuleCondition"], values, {}, {}):
            continue
        if not all(truth(a["Assert"], values, {}, {}) for a in rule.get("Assertions", [])):
            broken.append(name)
    return broken


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


def role_statements(resources: dict, role: str) -> list[dict]:
    found = []
    for policy in as_list(resources.get(role, {}).get("Properties", {}).get("Policies", [])):
        document = policy.get("PolicyDocument", {}) if isinstance(policy, dict) else {}
        found.extend(s for s in as_list(document.get("Statement", [])) if isinstance(s, dict))
    return found


def grants(statements: list[dict], action: str, resource_ok) -> bool:
    """Whether an Allow statement gives `action` on a resource that
    `resource_ok` accepts (or on "*")."""
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if not any(fnmatchcase(action.lower(), str(a).lower()) for a in as_list(statement.get("Action", []))):
            continue
        if any(r == "*" or resource_ok(r) for r in as_list(statement.get("Resource", []))):
            return True
    return False


def granted_resources(statements: list[dict], action: str) -> list:
    return [
        r
        for s in statements
        if s.get("Effect") == "Allow" and action in as_list(s.get("Action", []))
        for r in as_list(s.get("Resource", []))
    ]


def sub_text(node) -> str:
    """The template string of a Fn::Sub (either form), else ""."""
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        value = node["Fn::Sub"]
        return value if isinstance(value, str) else str(value[0])
    return ""


def text_of(node, values: dict) -> str:
    """A string built with Ref and Fn::Sub (either form) from parameter
    values; pseudo parameters (`${AWS::Region}`) stay as written."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return str(values.get(node["Ref"], "${" + node["Ref"] + "}"))
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        value = node["Fn::Sub"]
        text, names = (value, {}) if isinstance(value, str) else (value[0], value[1])
        local = {**values, **{k: text_of(v, values) for k, v in names.items()}}
        return re.sub(r"\$\{([\w:]+)\}", lambda m: str(local.get(m.group(1), m.group(0))), text)
    if isinstance(node, dict) and set(node) == {"Fn::Join"}:
        separator, items = node["Fn::Join"]
        items = values.get(items["Ref"], []) if isinstance(items, dict) and set(items) == {"Ref"} else items
        return separator.join(text_of(i, values) for i in items)
    return json.dumps(node)


def is_function_arn(node) -> bool:
    return node == {"Fn::GetAtt": [FUNCTION, "Arn"]}


def mentions(node, wanted) -> bool:
    """Whether `wanted` is `node` or sits anywhere inside it."""
    if node == wanted:
        return True
    if isinstance(node, dict):
        return any(mentions(v, wanted) for v in node.values())
    if isinstance(node, list):
        return any(mentions(v, wanted) for v in node)
    return False


def refs(node) -> set[str]:
    """The names every Ref (or `${Name}` of a Fn::Sub) inside `node` points at."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return {node["Ref"]}
        if set(node) == {"Fn::Sub"}:
            return set(re.findall(r"\$\{([A-Za-z0-9]+)\}", sub_text(node))) | refs(node["Fn::Sub"])
        return set().union(*(refs(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node)) if node else set()
    return set()


def in_config(src: Path, path: Path) -> bool:
    """Whether `path` belongs to the module that reads the environment."""
    return path.relative_to(src).parts[0] in ("config", "config.rs")


def variables_the_code_reads(src: Path) -> dict[str, str]:
    """Every environment variable the function reads, with where: the names
    spelled in the module that reads the environment (src/config/: each
    string literal shaped like a variable name), and any `env::var("...")`
    elsewhere. A read through anything else is reported as a problem by
    `reads_outside_config`."""
    names: dict[str, str] = {}
    shaped = re.compile(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"')
    for path in sorted(src.rglob("*.rs")):
        text = path.read_text()
        where = str(path.relative_to(src.parent))
        if in_config(src, path):
            for name in shaped.findall(text):
                names.setdefault(name, where)
        for name in re.findall(r'env::var(?:_os)?\(\s*"([A-Za-z0-9_]+)"', text):
            names.setdefault(name, where)
    return names


def reads_outside_config(src: Path) -> list[str]:
    """Environment reads the derivation above cannot see: a variable named
    by anything but a literal, outside src/config/."""
    found = []
    for path in sorted(src.rglob("*.rs")):
        if in_config(src, path):
            continue
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r'env::var(?:_os)?\(\s*[^"\s)]', line):
                found.append(f"{path.relative_to(src.parent)}:{line_no}")
    return found


def readme_settings(readme: Path) -> dict[str, str]:
    """The Configuration table of the README: variable -> its "Template
    parameter" cell."""
    rows = {}
    for line in readme.read_text().splitlines():
        m = re.match(r"\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*([^|]+?)\s*\|", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def check_settings(template: dict, variables: dict, src: Path, readme: Path, expect) -> None:
    """Every variable the code reads can be set from the template (from a
    parameter named as the Datadog Forwarder names it, where it has one), or
    the README says why not; a free-text parameter left empty leaves its
    variable unset."""
    params = template.get("Parameters", {})
    conditions = template.get("Conditions", {})
    documented = readme_settings(readme)
    read = variables_the_code_reads(src)
    for where in reads_outside_config(src):
        expect(False, f"{where} reads the environment by a computed name; read settings in src/config/")
    for var, where in sorted(read.items()):
        row = documented.get(var)
        expect(row is not None, f"{var} (read in {where}) is missing from the README's Configuration table")
        value = variables.get(var)
        from_params = sorted(refs(value) & set(params)) if value is not None else []
        if not from_params:
            # A variable the template does not set from a parameter: the
            # README's "Template parameter" cell gives the reason.
            expect(
                row is not None and row.lower().startswith("none"),
                f"{var} (read in {where}) has no template parameter and no documented reason "
                f"(a README row whose Template parameter cell reads 'none: <why>')",
            )
            continue
        if row is not None:
            expect(
                all(f"`{p}`" in row for p in from_params),
                f"the README's row for {var} must name its template parameter {from_params}, not {row!r}",
            )
        wanted = FORWARDER_PARAMETERS.get(var)
        if wanted:
            expect(wanted in from_params, f"{var} must come from the parameter {wanted} (the Datadog Forwarder's name), not {from_params}")
        for param in from_params:
            p = params[param]
            free_text = p.get("Type") == "String" and "AllowedValues" not in p and p.get("Default", "") == ""
            # Always set: an alternative to a parameter, or a list that
            # names LogGroupName beside LogGroupPrefixes (never empty).
            if not free_text or var in ("DD_API_KEY_SECRET_ARN", "DD_API_KEY_SSM_NAME", "DD_S3_BUCKET_NAME", "DD_LOG_GROUP_PREFIXES"):
                continue
            # !If [HasX, !Ref X, !Ref AWS::NoValue], HasX true exactly when X is not "".
            shape = isinstance(value, dict) and set(value) == {"Fn::If"} and len(value["Fn::If"]) == 3
            cond = value["Fn::If"][0] if shape else None
            expect(
                shape and value["Fn::If"][1:] == [{"Ref": param}, {"Ref": "AWS::NoValue"}] and cond in conditions,
                f"{var} must be unset when {param} is empty: !If [<condition>, !Ref {param}, !Ref AWS::NoValue], not {value!r}",
            )
            if shape and cond in conditions:
                try:
                    when_empty = condition_values(template, {param: ""})[cond]
                    when_set = condition_values(template, {param: "x"})[cond]
                except (KeyError, Unresolvable) as e:
                    expect(False, f"the condition {cond} (of {var}) could not be decided: {e!r}")
                    continue
                expect(
                    not when_empty and when_set,
                    f"the condition {cond} (of {var}) must be true exactly when {param} is not empty",
                )
    for var in sorted(set(variables) - set(read)):
        expect(False, f"the template sets {var}, which the code never reads")
    for var, param in FORWARDER_PARAMETERS.items():
        expect(param in params, f"the Datadog Forwarder's parameter {param} (for {var}) is missing")
    for param in FORWARDER_CONTROLS:
        expect(param in params, f"the Datadog Forwarder's parameter {param} is missing")

    groups = template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {}).get("ParameterGroups", [])
    grouped = [p for g in groups for p in g.get("Parameters", [])]
    for param in params:
        expect(grouped.count(param) == 1, f"{param} must be in exactly one parameter group, not {grouped.count(param)}")
    audit = [g for g in groups if g.get("Label", {}).get("default") == AUDIT_GROUP]
    expect(len(audit) == 1, f"exactly one parameter group labelled {AUDIT_GROUP!r}")
    for group in audit:
        missing = [param for _, param, *_ in AUDIT_SETTINGS if param not in group.get("Parameters", [])]
        expect(not missing, f"the {AUDIT_GROUP!r} parameter group must list {missing}")
    for var, param, allowed, default in AUDIT_SETTINGS:
        p = params.get(param, {})
        expect(p.get("Type") == "String", f"{param} must be a String")
        given = set(map(str, p.get("AllowedValues", []))) or None
        expect(given == allowed, f"{param} must allow exactly {allowed}, not {given}")
        expect(p.get("Default") == default, f"{param} defaults to {default!r}")


def check_scenario(template: dict, params: dict[str, str], expect) -> None:
    """What each combination of trigger and options needs, with the
    template's conditions decided."""
    route = next(k for k in ("DdApiKey", "DdApiKeySecretArn", "DdApiKeySsmParameterName") if params.get(k))
    where = (
        f"Trigger={params['Trigger']}, S3SourceBucketName={params['S3SourceBucketName'] or '-'}, "
        f"key={route}, options={params['_options']}, members={params.get('LogsDestinationOrganizationId') or params.get('LogsDestinationAccountIds') or '-'}"
    )
    params = {k: v for k, v in params.items() if not k.startswith("_")}
    expect(not broken_rules(template, params), f"[{where}] the rules refuse it: {broken_rules(template, params)}")
    template = expanded(template, params)
    conditions = condition_values(template, params)
    resources = {
        name: resolved(r, conditions)
        for name, r in template["Resources"].items()
        if conditions.get(r.get("Condition"), True)
    }
    props = resources[FUNCTION]["Properties"]
    role = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
    expect(role in resources, f"[{where}] the function's Role must be a role of the stack")
    statements = role_statements(resources, role)
    variables = props.get("Environment", {}).get("Variables", {})

    def of_type(kind: str) -> dict[str, dict]:
        return {n: r.get("Properties", {}) for n, r in resources.items() if r["Type"] == kind}

    def permitted(principal: str, source_ok) -> bool:
        return any(
            p.get("Principal") == principal
            and p.get("FunctionName") in ({"Ref": FUNCTION}, {"Fn::GetAtt": [FUNCTION, "Arn"]})
            and source_ok(p.get("SourceArn"))
            for p in of_type("AWS::Lambda::Permission").values()
        )

    # The key: exactly one route, with the permission to read it.
    routes = [v for v in ("DD_API_KEY_SECRET_ARN", "DD_API_KEY_SSM_NAME", "DD_API_KEY") if v in variables]
    expect(len(routes) == 1 and "DD_API_KEY" not in routes, f"[{where}] one key route, never the key itself: {routes}")
    if "DD_API_KEY_SSM_NAME" in variables:
        name = params["DdApiKeySsmParameterName"]
        arn = name if name.startswith("arn:") else f"arn:aws:ssm:eu-west-1:111122223333:parameter/{name.lstrip('/')}"
        built = [
            name if r == {"Ref": "DdApiKeySsmParameterName"}
            else sub_text(r).replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "eu-west-1")
            .replace("${AWS::AccountId}", "111122223333").replace("${DdApiKeySsmParameterName}", name)
            for r in granted_resources(statements, "ssm:GetParameter")
        ]
        expect(built == [arn], f"[{where}] ssm:GetParameter must be on the parameter's ARN {arn}, not {built}")
    else:
        secrets = granted_resources(statements, "secretsmanager:GetSecretValue")
        wanted = [{"Ref": "ApiKeySecret"}] if params.get("DdApiKey") else [{"Fn::Sub": "${DdApiKeySecretArn}*"}]
        # `*`: GetSecretValue takes an ARN without the random suffix too.
        expect(secrets == wanted, f"[{where}] secretsmanager:GetSecretValue must be on {wanted}, not {secrets}")

    fetch = params.get("DdFetchLogGroupTags") == "true"
    expect(
        grants(statements, "logs:ListTagsForResource", lambda r: ":log-group:" in sub_text(r)) == fetch,
        f"[{where}] logs:ListTagsForResource must be granted exactly when DdFetchLogGroupTags is true",
    )

    # Every role the stack creates takes the permissions boundary.
    boundary = params.get("PermissionsBoundaryArn")
    for name, r in of_type("AWS::IAM::Role").items():
        got = r.get("PermissionsBoundary")
        expect(
            got == ({"Ref": "PermissionsBoundaryArn"} if boundary else None),
            f"[{where}] {name}: PermissionsBoundary must be PermissionsBoundaryArn when set, absent otherwise; is {got!r}",
        )
    vpc = bool(params.get("VPCSubnetIds"))
    expect(("VpcConfig" in props) == vpc, f"[{where}] VpcConfig exactly when VPCSubnetIds is set")
    managed = [sub_text(a) for a in resources[role]["Properties"].get("ManagedPolicyArns", [])]
    expect(
        any("AWSLambdaVPCAccessExecutionRole" in m for m in managed) == vpc,
        f"[{where}] the VPC access policy exactly when the function is in a VPC",
    )
    reserved = bool(params.get("ReservedConcurrency"))
    expect(("ReservedConcurrentExecutions" in props) == reserved, f"[{where}] ReservedConcurrentExecutions exactly when set")

    # kms:Decrypt on exactly the keys in use, never on "*".
    in_use = {"ApiKeyKmsKeyArn", "FailedEventsKmsKeyArn"}
    if params["Trigger"] != "Subscription":
        in_use.add("KinesisKmsKeyArn")
    if params.get("S3SourceBucketName"):
        in_use.add("S3SourceKmsKeyArn")
    wanted = sorted(k for k in in_use if params.get(k))
    granted = granted_resources(statements, "kms:Decrypt")
    got = sorted(r["Ref"] if isinstance(r, dict) and set(r) == {"Ref"} else repr(r) for r in granted)
    expect(got == wanted, f"[{where}] kms:Decrypt must be on exactly the keys given ({wanted}), not {got}")
    # Writing to a bucket encrypted with a customer managed key.
    encrypt = granted_resources(statements, "kms:GenerateDataKey")
    wanted = [{"Ref": "FailedEventsKmsKeyArn"}] if params.get("FailedEventsKmsKeyArn") else []
    expect(encrypt == wanted, f"[{where}] kms:GenerateDataKey must be on {wanted}, not {encrypt}")
    if "FailedEventsBucket" in resources and params.get("FailedEventsKmsKeyArn"):
        sse = resources["FailedEventsBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        expect(
            sse[0].get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID") == {"Ref": "FailedEventsKmsKeyArn"},
            f"[{where}] the created bucket must be encrypted with FailedEventsKmsKeyArn",
        )

    # The bucket, when the stack makes it: kept, TLS only.
    if "FailedEventsBucket" in resources:
        bucket = template["Resources"]["FailedEventsBucket"]
        expect(bucket.get("DeletionPolicy") == "RetainExceptOnCreate", "the bucket's DeletionPolicy is RetainExceptOnCreate")
        policies = [p for p in of_type("AWS::S3::BucketPolicy").values() if p.get("Bucket") == {"Ref": "FailedEventsBucket"}]
        expect(
            any(
                s.get("Effect") == "Deny"
                and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                for p in policies
                for s in p.get("PolicyDocument", {}).get("Statement", [])
            ),
            f"[{where}] the bucket's policy must deny requests without TLS (aws:SecureTransport false)",
        )
    single = params.get("LogGroupName") or f"/aws/eks/{params['ClusterName']}/cluster"
    expect(
        ("ClusterLogGroup" in resources) == (params.get("CreateLogGroup") == "true"),
        f"[{where}] the cluster's log group is the stack's exactly when CreateLogGroup is true",
    )
    if "ClusterLogGroup" in resources:
        expect(
            template["Resources"]["ClusterLogGroup"].get("DeletionPolicy") == "RetainExceptOnCreate",
            "the cluster's log group is kept when the stack goes, and not left behind by a failed creation",
        )
    logging = props.get("LoggingConfig", {}).get("LogGroup")
    expect(
        isinstance(logging, dict) and resources.get(logging.get("Ref"), {}).get("Type") == "AWS::Logs::LogGroup"
        and "RetentionInDays" in resources[logging["Ref"]]["Properties"],
        f"[{where}] the function logs to a log group of the stack, with a retention",
    )

    # Alarms on the failure queue and on kept logs, notifying the topic when given.
    alarms = of_type("AWS::CloudWatch::Alarm")
    metrics = {(a.get("Namespace") if isinstance(a.get("Namespace"), str) else json.dumps(a.get("Namespace")), a.get("MetricName")) for a in alarms.values()}
    expect(("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics, f"[{where}] an alarm on the failure queue")
    expect((json.dumps({"Ref": "DdMetricsNamespace"}), "LogsStored") in metrics, f"[{where}] an alarm on LogsStored")
    for name, alarm in alarms.items():
        if alarm.get("MetricName") in ("LogsStored", "LogsDeadLettered"):
            expect(
                alarm.get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}],
                f"[{where}] {name}: the dimension FunctionName is the function's name, as the EMF line writes it",
            )
        expect(
            alarm.get("AlarmActions") == ([{"Ref": "AlarmTopicArn"}] if params.get("AlarmTopicArn") else None),
            f"[{where}] {name}: AlarmActions is the AlarmTopicArn topic when given, none otherwise",
        )

    filters = of_type("AWS::Logs::SubscriptionFilter")
    mappings = {
        n: m
        for n, m in of_type("AWS::Lambda::EventSourceMapping").items()
        if m.get("FunctionName") in ({"Ref": FUNCTION}, {"Fn::GetAtt": [FUNCTION, "Arn"]})
    }
    # One filter per group: two would deliver every log twice (or hit the
    # log group's limit of two).
    values = parameter_values(template, params)
    values["ClusterLogGroup"] = single

    def group_of(f: dict):
        return text_of(f.get("LogGroupName"), values)

    found = [str(group_of(f)) for f in filters.values()]
    expect(found == [single], f"[{where}] one subscription filter, on {single}; found {found} ({sorted(filters)})")
    for name, f in filters.items():
        if params.get("CreateLogGroup") == "true" and group_of(f) == single:
            expect(f.get("LogGroupName") == {"Ref": "ClusterLogGroup"}, f"[{where}] {name} must wait for the created log group")
    if params["Trigger"] == "Subscription":
        permissions = of_type("AWS::Lambda::Permission")
        for name, f in filters.items():
            destination = f.get("DestinationArn")
            # A listed cluster's filter picks the function out of a list that
            # also names its permission (the order DependsOn would give).
            chosen = destination["Fn::Select"][1][int(destination["Fn::Select"][0])] if isinstance(destination, dict) and "Fn::Select" in destination else destination
            expect(is_function_arn(chosen), f"[{where}] {name} must target the function")
            expect({"LogGroupName", "FilterPattern"} <= set(f), f"[{where}] {name} needs LogGroupName, FilterPattern")
            group = group_of(f)
            # The permission for exactly this group, made before the filter.
            own = [
                p for p, r in permissions.items()
                if r.get("Principal") == "logs.amazonaws.com"
                and text_of(r.get("SourceArn"), values).endswith(f":log-group:{group}:*")
            ]
            expect(len(own) == 1, f"[{where}] exactly one invoke permission for {group}, found {own}")
            ordered = [
                p for p in own
                if template["Resources"][name].get("DependsOn") == p or mentions(f, {"Fn::GetAtt": [p, "Id"]})
            ]
            expect(bool(ordered), f"[{where}] {name} must wait for its permission {own}")
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
            expect(grants(statements, action, lambda r: r == stream), f"[{where}] the role must grant {action} on {name}'s stream")
        for fname, f in filters.items():
            expect(f.get("DestinationArn") == stream, f"[{where}] {fname} must write to {name}'s stream")
            expect(bool(f.get("RoleArn")), f"[{where}] {fname} needs a RoleArn to write to the stream")
        if params.get("KinesisKmsKeyArn"):
            logs_role = next(iter(filters.values())).get("RoleArn", {}).get("Fn::GetAtt", [None])[0]
            expect(
                grants(role_statements(resources, logs_role), "kms:GenerateDataKey", lambda r: r == {"Ref": "KinesisKmsKeyArn"}),
                f"[{where}] CloudWatch Logs' role must be able to encrypt for the stream's key",
            )

    # The central account's destination: the stream's, its policy open to
    # the members and no one else.
    org = params.get("LogsDestinationOrganizationId")
    accounts = [a for a in params.get("LogsDestinationAccountIds", "").split(",") if a]
    destinations = of_type("AWS::Logs::Destination")
    expect(
        len(destinations) == (1 if org or accounts else 0),
        f"[{where}] a CloudWatch Logs destination exactly when members are named, found {sorted(destinations)}",
    )
    for name, d in destinations.items():
        stream = next(iter(mappings.values()), {}).get("EventSourceArn")
        expect(d.get("TargetArn") == stream, f"[{where}] {name} must write to the mapping's stream")
        role = d.get("RoleArn", {}).get("Fn::GetAtt", [None])[0]
        expect(
            grants(role_statements(resources, role), "kinesis:PutRecord", lambda r: r == stream),
            f"[{where}] {name}'s role must be able to put records on the stream",
        )
        trust = resources.get(role, {}).get("Properties", {}).get("AssumeRolePolicyDocument", {}).get("Statement", [])
        expect(
            all(t.get("Principal") == {"Service": "logs.amazonaws.com"} and t.get("Condition") for t in trust),
            f"[{where}] {name}'s role is for CloudWatch Logs only, with a condition on the source",
        )
        if params.get("KinesisKmsKeyArn"):
            expect(
                grants(role_statements(resources, role), "kms:GenerateDataKey", lambda r: r == {"Ref": "KinesisKmsKeyArn"}),
                f"[{where}] {name}'s role must be able to encrypt for the stream's key",
            )
        sample = {**values, "AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "999988887777", "AWS::StackName": "central"}
        policy = json.loads(text_of(d.get("DestinationPolicy"), sample).replace("${AWS::Partition}", "aws"))
        (statement,) = policy["Statement"]
        expect(
            sorted(statement["Action"]) == ["logs:PutAccountPolicy", "logs:PutSubscriptionFilter"],
            f"[{where}] {name}'s policy allows subscription filters and account policies, not {statement['Action']}",
        )
        if org:
            expect(
                statement["Principal"] == "*" and statement.get("Condition") == {"StringEquals": {"aws:PrincipalOrgID": org}},
                f"[{where}] {name}'s policy admits the organization {org} only: {statement}",
            )
        else:
            expect(statement["Principal"] == {"AWS": accounts}, f"[{where}] {name}'s policy admits exactly {accounts}: {statement}")
        expect(
            statement["Resource"].endswith(":destination:eks-audit-forwarder-central"),
            f"[{where}] {name}'s policy is on the destination itself: {statement['Resource']}",
        )

    if params["S3SourceBucketName"]:
        expect(
            grants(statements, "s3:GetObject", lambda r: "${S3SourceBucketName}/" in sub_text(r)),
            f"[{where}] the role must grant s3:GetObject on the S3SourceBucketName bucket's objects",
        )
        rules = {
            n: r for n, r in of_type("AWS::Events::Rule").items() if r.get("EventPattern", {}).get("detail-type") == ["Object Created"]
        }
        expect(len(rules) == 1, f"[{where}] exactly one EventBridge rule for Object Created, found {sorted(rules)}")
        for name, rule in rules.items():
            pattern = rule["EventPattern"]
            expect(pattern.get("source") == ["aws.s3"], f"[{where}] {name} must match source aws.s3")
            expect(
                pattern.get("detail", {}).get("bucket", {}).get("name") == [{"Ref": "S3SourceBucketName"}],
                f"[{where}] {name} must match the bucket S3SourceBucketName",
            )
            expect(any(is_function_arn(t.get("Arn")) for t in rule.get("Targets", [])), f"[{where}] {name} must target the function")
            expect(
                permitted("events.amazonaws.com", lambda arn: arn == {"Fn::GetAtt": [name, "Arn"]}),
                f"[{where}] EventBridge must be allowed to invoke the function from {name}",
            )


def check_rules(template: dict, expect) -> None:
    """The Rules refuse what would fail only after the deploy."""
    base = {"ClusterName": "prod", "DdApiKey": "k"}
    refused = [
        ({"ClusterName": ""}, "SourceGiven"),
        ({"DdApiKey": ""}, "ApiKeyGivenOnce"),
        ({"DdApiKeySsmParameterName": "/dd/key"}, "ApiKeyGivenOnce"),
        ({"DdCompressionLevel": "13"}, "GzipLevelFits"),
        ({"DdCompression": "zstd", "DdCompressionLevel": "0"}, "ZstdLevelFits"),
        ({"VPCSubnetIds": "subnet-1"}, "VpcGivenWhole"),
        ({"Trigger": "KinesisExistingStream"}, "KinesisStreamGiven"),
        ({"S3SourceBucketName": "same", "DdForwarderExistingBucketName": "same"}, "S3SourceIsNotTheFailedEventsBucket"),
        ({"LogsDestinationAccountIds": "111122223333"}, "LogsDestinationFromKinesis"),
        ({"Trigger": "KinesisNewStream", "LogsDestinationAccountIds": "111122223333", "LogsDestinationOrganizationId": "o-a1b2c3d4e5"}, "LogsDestinationFromKinesis"),
    ]
    for change, rule in refused:
        broken = broken_rules(template, {**base, **change})
        expect(rule in broken, f"the rule {rule} must refuse {change}, but the rules broken are {broken}")
    for fine in (
        {"DdCompression": "zstd", "DdCompressionLevel": "19"},
        {"DdCompressionLevel": ""},
        {},
        {"Trigger": "KinesisNewStream", "LogsDestinationOrganizationId": "o-a1b2c3d4e5"},
    ):
        broken = broken_rules(template, {**base, **fine})
        expect(not broken, f"the rules must accept {fine}, but {broken} refuse it")


CLUSTER_DESTINATIONS = {
    "Function": ("arn:aws:lambda:eu-west-1:111122223333:function:fwd", ""),
    "Stream": ("arn:aws:kinesis:eu-west-1:111122223333:stream/eks-audit", "arn:aws:iam::111122223333:role/logs-to-stream"),
    "Destination": ("arn:aws:logs:eu-west-1:999988887777:destination:eks-audit-forwarder-central", ""),
}


def cluster_params(kind: str, listed: str, policy: bool) -> dict[str, str]:
    arn, role = CLUSTER_DESTINATIONS[kind]
    params = {"DestinationType": kind, "DestinationArn": arn, "RoleArn": role, "ClusterNames": listed}
    if policy:
        params["AccountPolicy"] = "true"
        if kind != "Destination":
            params["ExcludedLogGroups"] = "/aws/lambda/eks-audit-forwarder/fwd"
    return params


def live_resources(template: dict, params: dict[str, str]) -> dict[str, dict]:
    """The resources CloudFormation creates for these values: loops
    expanded, conditions decided."""
    t = expanded(template, params)
    conditions = condition_values(t, params)
    return {n: resolved(r, conditions) for n, r in t["Resources"].items() if conditions.get(r.get("Condition"), True)}


def check_selection(policy: dict, params: dict[str, str], values: dict, where: str, expect) -> None:
    """An account policy leaves out exactly ExcludedLogGroups, and names
    no group at all when there is none to leave out."""
    excluded = [g for g in params.get("ExcludedLogGroups", "").split(",") if g]
    if not excluded:
        expect("SelectionCriteria" not in policy, f"{where}: no SelectionCriteria without groups to leave out")
        return
    criteria = text_of(policy.get("SelectionCriteria"), values)
    listed = json.loads(criteria.removeprefix("LogGroupName NOT IN ")) if criteria.startswith("LogGroupName NOT IN [") else None
    expect(listed == excluded, f"{where} must leave out exactly {excluded}: {criteria}")


def check_members(template: dict, expect) -> None:
    """templates/members.yaml: a transform-free account policy to a
    central destination, its document valid JSON whatever the accepted
    values."""
    expect("Transform" not in template, "members: StackSets with service-managed permissions take no transform")
    arn = CLUSTER_DESTINATIONS["Destination"][0]
    for excluded in ("", "/aws/lambda/busy", "/aws/lambda/busy,/aws/eks/prod/cluster"):
        for pattern in ("", "{ $.verb = create }", "[ip, user, ...]"):
            params = {"DestinationArn": arn, "ExcludedLogGroups": excluded, "FilterPattern": pattern}
            where = f"members: ExcludedLogGroups=[{excluded}], FilterPattern={pattern!r}"
            expect(not broken_rules(template, params), f"[{where}] the rules refuse it")
            for param, value in params.items():
                allowed = template["Parameters"][param].get("AllowedPattern")
                items = value.split(",") if template["Parameters"][param]["Type"] == "CommaDelimitedList" else [value]
                expect(
                    allowed is None or all(re.fullmatch(allowed, i) for i in items),
                    f"[{where}] {param}={value!r} must be accepted",
                )
            values = parameter_values(template, params)
            resources = live_resources(template, params)
            policies = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::Logs::AccountPolicy"}
            expect(len(policies) == 1, f"[{where}] one account policy, found {sorted(policies)}")
            for name, p in policies.items():
                expect(p.get("PolicyType") == "SUBSCRIPTION_FILTER_POLICY", f"[{where}] {name} must be a subscription filter policy")
                document = json.loads(text_of(p.get("PolicyDocument"), values))
                expect(
                    document == {"DestinationArn": arn, "FilterPattern": pattern, "Distribution": "Random"},
                    f"[{where}] {name}'s document: {document}",
                )
                check_selection(p, params, values, f"[{where}] {name}", expect)
    # Values the document cannot hold as text are refused before the deploy.
    for param, value in (("FilterPattern", '{ $.verb = "create" }'), ("FilterPattern", "a\\b"), ("ExcludedLogGroups", 'x"y')):
        allowed = template["Parameters"][param].get("AllowedPattern")
        expect(
            allowed is not None and not re.fullmatch(allowed, value),
            f"members: {param}={value!r} must be refused (it would break the policy's JSON)",
        )
    expect(
        not re.fullmatch(template["Parameters"]["DestinationArn"]["AllowedPattern"], CLUSTER_DESTINATIONS["Stream"][0]),
        "members: DestinationArn takes a destination only",
    )


def check_clusters(template: dict, expect) -> None:
    """templates/clusters.yaml: what each kind of destination needs, for a
    list of clusters and for the account policy."""
    refused = [
        (cluster_params("Function", "", False), "SomethingSubscribed"),
        (cluster_params("Function", "a,,b", False), "ClusterNamesWhole"),
        (cluster_params("Function", "a,", False), "ClusterNamesWhole"),
        ({**cluster_params("Stream", "a", False), "RoleArn": ""}, "StreamNeedsRole"),
        ({**cluster_params("Function", "a", False), "RoleArn": CLUSTER_DESTINATIONS["Stream"][1]}, "RoleOnlyForStream"),
        ({**cluster_params("Function", "a", True), "ExcludedLogGroups": ""}, "LocalForwarderExcluded"),
        ({**cluster_params("Stream", "", True), "ExcludedLogGroups": ""}, "LocalForwarderExcluded"),
    ]
    for params, rule in refused:
        broken = broken_rules(template, params)
        expect(rule in broken, f"clusters: the rule {rule} must refuse {params}, but the rules broken are {broken}")

    for kind, listed, policy in product(CLUSTER_DESTINATIONS, ("alpha,beta-2", ""), (False, True)):
        if not listed and not policy:
            continue
        params = cluster_params(kind, listed, policy)
        where = f"clusters: DestinationType={kind}, ClusterNames=[{listed}], AccountPolicy={policy}"
        expect(not broken_rules(template, params), f"[{where}] the rules refuse it: {broken_rules(template, params)}")
        values = parameter_values(template, params)
        resources = live_resources(template, params)

        def of_type(kind_: str) -> dict[str, dict]:
            return {n: r.get("Properties", {}) for n, r in resources.items() if r["Type"] == kind_}

        arn, role = CLUSTER_DESTINATIONS[kind]
        filters = of_type("AWS::Logs::SubscriptionFilter")
        groups = [f"/aws/eks/{n}/cluster" for n in listed.split(",") if n]
        found = sorted(text_of(f.get("LogGroupName"), values) for f in filters.values())
        expect(found == sorted(groups), f"[{where}] one subscription per listed cluster {groups}, found {found}")
        permissions = of_type("AWS::Lambda::Permission")
        for name, f in filters.items():
            destination = f.get("DestinationArn")
            if isinstance(destination, dict) and "Fn::Select" in destination:
                index, choices = destination["Fn::Select"]
                destination = choices[int(index)]
            expect(text_of(destination, values) == arn, f"[{where}] {name} must send to {arn}, not {destination}")
            expect(text_of(f.get("RoleArn", ""), values) == role, f"[{where}] {name}: RoleArn must be {role!r}")
            expect(
                f.get("Distribution") == (None if kind == "Function" else "Random"),
                f"[{where}] {name}: Distribution Random towards a stream (directly or through a destination), none for a function",
            )
            group = text_of(f.get("LogGroupName"), values)
            own = [
                p for p, r in permissions.items()
                if text_of(r.get("SourceArn"), values).endswith(f":log-group:{group}:*")
            ]
            if kind == "Function":
                expect(len(own) == 1, f"[{where}] exactly one invoke permission for {group}, found {own}")
                expect(
                    all(text_of(permissions[p].get("FunctionName"), values) == arn and permissions[p].get("Principal") == "logs.amazonaws.com" for p in own),
                    f"[{where}] {own} must let CloudWatch Logs invoke {arn}",
                )
                expect(
                    any(mentions(f, {"Fn::GetAtt": [p, "Id"]}) for p in own),
                    f"[{where}] {name} must wait for its permission {own}",
                )
            else:
                expect(not own, f"[{where}] no invoke permission without a function, found {own}")

        policies = of_type("AWS::Logs::AccountPolicy")
        expect(len(policies) == int(policy), f"[{where}] an account policy exactly when AccountPolicy is true, found {sorted(policies)}")
        for name, p in policies.items():
            expect(p.get("PolicyType") == "SUBSCRIPTION_FILTER_POLICY", f"[{where}] {name} must be a subscription filter policy")
            document = p.get("PolicyDocument", {}).get("Fn::ToJsonString", {})
            expect(text_of(document.get("DestinationArn"), values) == arn, f"[{where}] {name} must send to {arn}")
            expect(text_of(document.get("RoleArn", ""), values) == role, f"[{where}] {name}: RoleArn must be {role!r}")
            check_selection(p, params, values, f"[{where}] {name}", expect)
            if kind == "Function":
                everywhere = [q for q, r in permissions.items() if text_of(r.get("SourceArn"), values).endswith(":log-group:*")]
                expect(len(everywhere) == 1, f"[{where}] the policy needs a permission for every group of the account, found {everywhere}")
                expect(
                    template["Resources"][name].get("DependsOn") in everywhere,
                    f"[{where}] {name} must wait for the account-wide permission {everywhere}",
                )

    # Adding or removing a name adds or removes only that cluster's
    # resources: the others keep their logical ids, so their subscriptions
    # stay in place through the update.
    for kind in CLUSTER_DESTINATIONS:
        ids = {
            listed: set(live_resources(template, cluster_params(kind, listed, False)))
            for listed in ("alpha,beta-2", "alpha", "alpha,beta-2,gamma")
        }
        per_cluster = 2 if kind == "Function" else 1
        expect(len(ids["alpha"]) == per_cluster, f"[clusters: {kind}] one cluster makes {per_cluster} resources, not {sorted(ids['alpha'])}")
        expect(ids["alpha"] < ids["alpha,beta-2"] < ids["alpha,beta-2,gamma"], f"[clusters: {kind}] the clusters' logical ids must be stable: {ids}")
        expect(
            len(ids["alpha,beta-2,gamma"]) == 3 * per_cluster,
            f"[clusters: {kind}] each cluster has its own resources: {sorted(ids['alpha,beta-2,gamma'])}",
        )


def check_function(template: dict, packaged: bool, template_path: Path, expect) -> dict:
    function = template["Resources"].get(FUNCTION)
    if function is None:
        expect(False, f"no {FUNCTION}")
        return {}
    props = function["Properties"]
    expect(props.get("Runtime") == "provided.al2023", f"{FUNCTION}: Runtime must be provided.al2023")
    expect(props.get("Handler") == "bootstrap", f"{FUNCTION}: Handler must be bootstrap")
    params = template["Parameters"]
    arch = params.get("Architecture", {})
    expect(props.get("Architectures") == [{"Ref": "Architecture"}], f"{FUNCTION}: Architectures must be [!Ref Architecture]")
    # One architecture per template: the one its binary was built for, so a
    # deploy cannot pick another (an exec format error at the first event).
    allowed = arch.get("AllowedValues", [])
    expect(len(allowed) == 1 and allowed == [arch.get("Default")], f"Architecture allows exactly its default, not {allowed}")
    metadata = function.get("Metadata", {})
    if packaged:
        code = props.get("CodeUri")
        expect(isinstance(code, str) and code.endswith(".zip"), f"{FUNCTION}: CodeUri must be the built zip, not {code!r}")
        if isinstance(code, str):
            zip_path = template_path.parent / code
            expect(zip_path.is_file(), f"{FUNCTION}: {code} is not beside the template")
            expect(f"-{arch.get('Default')}.zip" in code, f"{FUNCTION}: {code} is not the {arch.get('Default')} zip")
        expect("BuildMethod" not in metadata, f"{FUNCTION}: a packaged template builds nothing (no BuildMethod)")
    else:
        expect(metadata.get("BuildMethod") == "rust-cargolambda", f"{FUNCTION}: Metadata.BuildMethod must be rust-cargolambda")
        expect(metadata.get("BuildProperties", {}).get("Binary") == "eks-audit-forwarder", f"{FUNCTION}: BuildProperties.Binary must name the crate's binary")
    for param, default in (("MemorySize", 128), ("Timeout", 60)):
        expect(params[param].get("Default") == default, f"{param} defaults to {default}")

    events = props.get("Events", {})
    sources = [n for n, e in events.items() if e.get("Type") in ("CloudWatchLogs", "Kinesis", "S3", "EventBridgeRule")]
    expect(not sources, f"{FUNCTION}: log sources must be conditional resources, not SAM events: {sources}")
    schedules = [e for e in events.values() if e.get("Type") == "Schedule"]
    expect(len(schedules) == 1, "exactly one Schedule event (replay)")
    for event in schedules:
        given = event.get("Properties", {}).get("Input")
        expect(given is not None and json.loads(given) == {"retry": "true"}, 'the schedule sends {"retry":"true"}')
    destination = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
    expect(destination.get("Type") == "SQS", "an on-failure SQS destination")

    variables = props.get("Environment", {}).get("Variables", {})
    expect("DD_API_KEY" not in variables, "the API key must not be a plain environment variable")
    expect(variables.get("DD_STORE_FAILED_EVENTS") == "true", "DD_STORE_FAILED_EVENTS is always true: the stack's guarantee rests on the bucket")
    expect("DD_S3_BUCKET_NAME" in variables, "DD_STORE_FAILED_EVENTS needs DD_S3_BUCKET_NAME")

    for name, output in template.get("Outputs", {}).items():
        expect("Export" in output, f"the output {name} must be exported")

    sar = template.get("Metadata", {}).get("AWS::ServerlessRepo::Application", {})
    version = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    expect(sar.get("SemanticVersion") == version, f"the application's SemanticVersion must be the crate's, {version}")
    for field in ("LicenseUrl", "ReadmeUrl"):
        value = sar.get(field)
        expect(isinstance(value, str) and (template_path.parent / value).is_file(), f"{field} must name a file beside the template")
    for field in ("Name", "Description", "Author", "SpdxLicenseId"):
        expect(bool(sar.get(field)), f"the application metadata needs {field}")
    return variables


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("template", nargs="?", default=str(ROOT / "template.yaml"))
    parser.add_argument("--packaged", action="store_true")
    parser.add_argument("--clusters", action="store_true", help="TEMPLATE is templates/clusters.yaml")
    parser.add_argument("--members", action="store_true", help="TEMPLATE is templates/members.yaml")
    parser.add_argument("--src", default=str(ROOT / "src"))
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    args = parser.parse_args()
    template_path = Path(args.template)
    template, matches = decode(str(template_path))
    if template is None:
        print(f"{template_path} does not parse:", matches)
        return 1
    problems: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    try:
        if args.clusters:
            check_clusters(template, expect)
        elif args.members:
            check_members(template, expect)
        else:
            variables = check_function(template, args.packaged, template_path, expect)
            check_settings(template, variables, Path(args.src), Path(args.readme), expect)
            check_rules(template, expect)
            for scenario in SCENARIOS:
                check_scenario(template, scenario, expect)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, Unresolvable) as e:
        problems.append(f"the template could not be resolved: {e!r}")

    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
